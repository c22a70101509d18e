//! [`InMemoryDb`]: sessions and runs in a map, for tests and short-lived programs.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::{Db, DbError, EvalRun, EvalRunQuery, SessionQuery, may_write};
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
    fn runs_of(&self, session_id: &str) -> Vec<RunOutput> {
        self.order
            .get(session_id)
            .map(|ids| ids.iter().filter_map(|id| self.runs.get(id).cloned()).collect())
            .unwrap_or_default()
    }
}

impl Db for InMemoryDb {
    fn id(&self) -> &str {
        "in-memory"
    }

    fn get_session(&self, session_id: &str) -> Result<Option<Session>, DbError> {
        let state = self.state();
        Ok(state.sessions.get(session_id).map(|s| Session { runs: state.runs_of(session_id), ..s.clone() }))
    }

    fn list_sessions(&self, query: &SessionQuery) -> Result<Vec<Session>, DbError> {
        let state = self.state();
        let mut found: Vec<Session> = state
            .sessions
            .values()
            .filter(|s| query.user_id.is_none() || s.user_id == query.user_id)
            .filter(|s| query.agent_id.is_none() || s.agent_id == query.agent_id)
            .filter(|s| query.team_id.is_none() || s.team_id == query.team_id)
            .filter(|s| query.workflow_id.is_none() || s.workflow_id == query.workflow_id)
            .filter(|s| query.session_type.is_none_or(|t| s.session_type == t))
            .cloned()
            .collect();
        found.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| a.session_id.cmp(&b.session_id)));
        if let Some(limit) = query.limit {
            found.truncate(limit);
        }
        Ok(found)
    }

    fn delete_session(&self, session_id: &str) -> Result<bool, DbError> {
        let mut state = self.state();
        let existed = state.sessions.remove(session_id).is_some();
        for run_id in state.order.remove(session_id).unwrap_or_default() {
            state.runs.remove(&run_id);
        }
        Ok(existed)
    }

    fn get_run(&self, run_id: &str) -> Result<Option<RunOutput>, DbError> {
        Ok(self.state().runs.get(run_id).cloned())
    }

    fn get_runs(&self, session_id: &str) -> Result<Vec<RunOutput>, DbError> {
        Ok(self.state().runs_of(session_id))
    }

    fn save_run(&self, session: &Session, run: &RunOutput) -> Result<(), DbError> {
        let mut state = self.state();
        let row = Session { runs: Vec::new(), ..session.clone() };
        match state.sessions.get_mut(&session.session_id) {
            Some(existing) => {
                if !may_write(existing.user_id.as_deref(), session.user_id.as_deref()) {
                    return Err(DbError::Ownership { session_id: session.session_id.clone() });
                }
                let created_at = existing.created_at;
                *existing = Session { created_at, user_id: existing.user_id.clone().or(row.user_id.clone()), ..row };
            }
            None => {
                state.sessions.insert(session.session_id.clone(), row);
            }
        }
        if state.runs.insert(run.run_id.clone(), run.clone()).is_none() {
            state.order.entry(session.session_id.clone()).or_default().push(run.run_id.clone());
        }
        Ok(())
    }

    fn save_eval_run(&self, eval_run: &EvalRun) -> Result<(), DbError> {
        let mut state = self.state();
        match state.eval_runs.iter_mut().find(|e| e.run_id == eval_run.run_id) {
            Some(existing) => *existing = eval_run.clone(),
            None => state.eval_runs.push(eval_run.clone()),
        }
        Ok(())
    }

    fn get_eval_run(&self, run_id: &str) -> Result<Option<EvalRun>, DbError> {
        Ok(self.state().eval_runs.iter().find(|e| e.run_id == run_id).cloned())
    }

    fn get_eval_runs(&self, query: &EvalRunQuery) -> Result<Vec<EvalRun>, DbError> {
        let state = self.state();
        // Newest first: by creation time, then the later saved first.
        let mut found: Vec<EvalRun> = state
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
        Ok(found)
    }
}
