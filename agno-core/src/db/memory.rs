//! [`InMemoryDb`]: sessions and runs in a map, for tests and short-lived programs.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::{
    Db, DbError, DbFuture, EvalRun, EvalRunQuery, RunQuery, SessionPage, SessionQuery, SessionSort, may_write, ready,
};
use crate::run::RunOutput;
use crate::session::Session;

/// Storage in memory; everything is lost when the value is dropped.
#[derive(Default)]
pub struct InMemoryDb {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<String, Session>,
    runs: HashMap<String, RunOutput>,
    order: HashMap<String, Vec<String>>,
    /// Evaluations in the order they were first saved.
    eval_runs: Vec<EvalRun>,
}

impl InMemoryDb {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-written: every write is a
        // single insert or remove.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// The runs of a session that `query` selects, oldest first.
    fn runs_of(&self, session_id: &str, query: &RunQuery) -> Vec<RunOutput> {
        let matching: Vec<&RunOutput> = self
            .order
            .get(session_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.runs.get(id))
            .filter(|run| query.matches(run))
            .collect();
        let from = query.last.map_or(0, |n| matching.len().saturating_sub(n));
        matching[from..]
            .iter()
            .skip(query.offset)
            .take(query.limit.unwrap_or(usize::MAX))
            .map(|run| (*run).clone())
            .collect()
    }

    fn save_runs(&mut self, session: &Session, runs: &[&RunOutput]) -> Result<(), DbError> {
        let row = Session { runs: Vec::new(), ..session.clone() };
        match self.sessions.get_mut(&session.session_id) {
            Some(existing) => {
                if !may_write(existing.user_id.as_deref(), session.user_id.as_deref()) {
                    return Err(DbError::Ownership { session_id: session.session_id.clone() });
                }
                let created_at = existing.created_at;
                *existing = Session { created_at, user_id: existing.user_id.clone().or(row.user_id.clone()), ..row };
            }
            None => {
                self.sessions.insert(session.session_id.clone(), row);
            }
        }
        for run in runs {
            if self.runs.insert(run.run_id.clone(), (*run).clone()).is_none() {
                self.order.entry(session.session_id.clone()).or_default().push(run.run_id.clone());
            }
        }
        Ok(())
    }

    fn list_sessions(&self, query: &SessionQuery) -> SessionPage {
        let mut found: Vec<&Session> = self
            .sessions
            .values()
            .filter(|s| query.user_id.is_none() || s.user_id == query.user_id)
            .filter(|s| query.agent_id.is_none() || s.agent_id == query.agent_id)
            .filter(|s| query.team_id.is_none() || s.team_id == query.team_id)
            .filter(|s| query.workflow_id.is_none() || s.workflow_id == query.workflow_id)
            .filter(|s| {
                query.component_id.as_deref().is_none_or(|c| {
                    [&s.agent_id, &s.team_id, &s.workflow_id].into_iter().any(|id| id.as_deref() == Some(c))
                })
            })
            .filter(|s| query.session_type.is_none_or(|t| s.session_type == t))
            .collect();
        let key = |s: &Session| match query.sort_by {
            SessionSort::UpdatedAt => s.updated_at,
            SessionSort::CreatedAt => s.created_at,
        };
        found.sort_by(|a, b| {
            let order = key(a).cmp(&key(b));
            let order = if query.ascending { order } else { order.reverse() };
            order.then_with(|| a.session_id.cmp(&b.session_id))
        });
        let total = found.len();
        let sessions = found.into_iter().skip(query.offset).take(query.limit.unwrap_or(usize::MAX)).cloned().collect();
        SessionPage { sessions, total }
    }

    fn get_eval_runs(&self, query: &EvalRunQuery) -> Vec<EvalRun> {
        // Newest first: by creation time, then the later saved first.
        let mut found: Vec<EvalRun> = self
            .eval_runs
            .iter()
            .rev()
            .filter(|e| query.agent_id.is_none() || e.agent_id == query.agent_id)
            .filter(|e| query.eval_type.as_ref().is_none_or(|t| &e.eval_type == t))
            .cloned()
            .collect();
        found.sort_by_key(|e| std::cmp::Reverse(e.created_at));
        if let Some(limit) = query.limit {
            found.truncate(limit);
        }
        found
    }
}

impl Db for InMemoryDb {
    fn id(&self) -> &str {
        "in-memory"
    }

    fn get_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, Option<Session>> {
        ready(Ok(self.state().sessions.get(session_id).cloned()))
    }

    fn get_session_with_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, Option<Session>> {
        let state = self.state();
        let found =
            state.sessions.get(session_id).map(|s| Session { runs: state.runs_of(session_id, query), ..s.clone() });
        ready(Ok(found))
    }

    fn list_sessions<'a>(&'a self, query: &'a SessionQuery) -> DbFuture<'a, SessionPage> {
        ready(Ok(self.state().list_sessions(query)))
    }

    fn delete_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, bool> {
        let mut state = self.state();
        let existed = state.sessions.remove(session_id).is_some();
        for run_id in state.order.remove(session_id).unwrap_or_default() {
            state.runs.remove(&run_id);
        }
        ready(Ok(existed))
    }

    fn get_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<RunOutput>> {
        ready(Ok(self.state().runs.get(run_id).cloned()))
    }

    fn get_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, Vec<RunOutput>> {
        ready(Ok(self.state().runs_of(session_id, query)))
    }

    fn count_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, usize> {
        let everything = RunQuery { last: None, offset: 0, limit: None, ..query.clone() };
        ready(Ok(self.state().runs_of(session_id, &everything).len()))
    }

    fn save_runs<'a>(&'a self, session: &'a Session, runs: &'a [&'a RunOutput]) -> DbFuture<'a, ()> {
        ready(self.state().save_runs(session, runs))
    }

    fn save_eval_run<'a>(&'a self, eval_run: &'a EvalRun) -> DbFuture<'a, ()> {
        let mut state = self.state();
        match state.eval_runs.iter_mut().find(|e| e.run_id == eval_run.run_id) {
            // Replaced, keeping when it was first created (as SQLite's upsert does).
            Some(existing) => *existing = EvalRun { created_at: existing.created_at, ..eval_run.clone() },
            None => state.eval_runs.push(eval_run.clone()),
        }
        ready(Ok(()))
    }

    fn get_eval_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<EvalRun>> {
        ready(Ok(self.state().eval_runs.iter().find(|e| e.run_id == run_id).cloned()))
    }

    fn get_eval_runs<'a>(&'a self, query: &'a EvalRunQuery) -> DbFuture<'a, Vec<EvalRun>> {
        ready(Ok(self.state().get_eval_runs(query)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::contract;

    #[tokio::test]
    async fn in_memory_db_keeps_the_contract() {
        contract::db_contract(&InMemoryDb::new()).await;
    }
}
