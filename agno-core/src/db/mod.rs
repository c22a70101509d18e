//! Storage: the [`Db`] trait, [`InMemoryDb`], and [`SqliteDb`] (agno's `agno_sessions`,
//! `agno_runs` and `agno_eval_runs` tables).
//!
//! Every run is saved at its end, `ERROR` runs included, in one call to [`Db::save_run`] that
//! writes the session row and the run row together.

mod memory;
mod sqlite;

use std::sync::Arc;

pub use memory::InMemoryDb;
pub use sqlite::SqliteDb;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::run::RunOutput;
use crate::session::{Session, SessionType};

/// One stored evaluation: a row of agno's `agno_eval_runs` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRun {
    /// The evaluation's own id (a UUID v4).
    pub run_id: String,
    /// What kind of evaluation (`"agent_as_judge"`).
    pub eval_type: String,
    /// The evaluation's name, if it was given one.
    #[serde(default)]
    pub name: Option<String>,
    /// The agent whose run was evaluated.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The team whose run was evaluated (unused by agents).
    #[serde(default)]
    pub team_id: Option<String>,
    /// The workflow whose run was evaluated (unused by agents).
    #[serde(default)]
    pub workflow_id: Option<String>,
    /// The judge model's id.
    #[serde(default)]
    pub model_id: Option<String>,
    /// The judge model's provider.
    #[serde(default)]
    pub model_provider: Option<String>,
    /// The evaluated agent's name.
    #[serde(default)]
    pub evaluated_component_name: Option<String>,
    /// The result (for `agent_as_judge`: input, output, passed, score, reason, criteria, ...).
    pub eval_data: Value,
    /// The evaluation's settings.
    #[serde(default)]
    pub eval_input: Option<Value>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// Which evaluations to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvalRunQuery {
    /// Only this agent's evaluations.
    pub agent_id: Option<String>,
    /// Only evaluations of this type.
    pub eval_type: Option<String>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value could not be (de)serialised.
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The database file or its folder could not be created.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The session belongs to another user.
    #[error("session `{session_id}` belongs to another user")]
    Ownership {
        /// The session.
        session_id: String,
    },
    /// A stored value is not what it should be.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Which sessions to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionQuery {
    /// Only this user's sessions.
    pub user_id: Option<String>,
    /// Only this agent's sessions.
    pub agent_id: Option<String>,
    /// Only this team's sessions.
    pub team_id: Option<String>,
    /// Only this workflow's sessions.
    pub workflow_id: Option<String>,
    /// Only sessions of this type.
    pub session_type: Option<SessionType>,
    /// At most this many, most recently updated first.
    pub limit: Option<usize>,
}

/// Where sessions and runs are kept. Implementations are shared between runs and threads.
pub trait Db: Send + Sync + 'static {
    /// A stable id for this database (shown by AgentOS).
    fn id(&self) -> &str;

    /// A session with its runs (oldest first), or `None`.
    fn get_session(&self, session_id: &str) -> Result<Option<Session>, DbError>;

    /// Sessions matching the query, without their runs.
    fn list_sessions(&self, query: &SessionQuery) -> Result<Vec<Session>, DbError>;

    /// Deletes a session and its runs; `false` if it did not exist.
    fn delete_session(&self, session_id: &str) -> Result<bool, DbError>;

    /// One run by id.
    fn get_run(&self, run_id: &str) -> Result<Option<RunOutput>, DbError>;

    /// The runs of a session, oldest first.
    fn get_runs(&self, session_id: &str) -> Result<Vec<RunOutput>, DbError>;

    /// Saves a run and its session in one step: the session row is inserted or updated (its
    /// `runs` are ignored), the run row inserted or replaced. A session owned by another user is
    /// not touched: [`DbError::Ownership`].
    fn save_run(&self, session: &Session, run: &RunOutput) -> Result<(), DbError>;

    /// Saves several runs of one session in order (a team's member runs, then the team run).
    /// `SqliteDb` writes them in one transaction: all or none. The default saves them one by one.
    fn save_runs(&self, session: &Session, runs: &[&RunOutput]) -> Result<(), DbError> {
        runs.iter().try_for_each(|run| self.save_run(session, run))
    }

    /// Saves an evaluation (inserted, or replaced if its `run_id` is stored already).
    fn save_eval_run(&self, eval_run: &EvalRun) -> Result<(), DbError>;

    /// One evaluation by its id.
    fn get_eval_run(&self, run_id: &str) -> Result<Option<EvalRun>, DbError>;

    /// Evaluations matching the query, newest first.
    fn get_eval_runs(&self, query: &EvalRunQuery) -> Result<Vec<EvalRun>, DbError>;
}

impl<D: Db + ?Sized> Db for Arc<D> {
    fn id(&self) -> &str {
        (**self).id()
    }
    fn get_session(&self, session_id: &str) -> Result<Option<Session>, DbError> {
        (**self).get_session(session_id)
    }
    fn list_sessions(&self, query: &SessionQuery) -> Result<Vec<Session>, DbError> {
        (**self).list_sessions(query)
    }
    fn delete_session(&self, session_id: &str) -> Result<bool, DbError> {
        (**self).delete_session(session_id)
    }
    fn get_run(&self, run_id: &str) -> Result<Option<RunOutput>, DbError> {
        (**self).get_run(run_id)
    }
    fn get_runs(&self, session_id: &str) -> Result<Vec<RunOutput>, DbError> {
        (**self).get_runs(session_id)
    }
    fn save_run(&self, session: &Session, run: &RunOutput) -> Result<(), DbError> {
        (**self).save_run(session, run)
    }
    fn save_runs(&self, session: &Session, runs: &[&RunOutput]) -> Result<(), DbError> {
        (**self).save_runs(session, runs)
    }
    fn save_eval_run(&self, eval_run: &EvalRun) -> Result<(), DbError> {
        (**self).save_eval_run(eval_run)
    }
    fn get_eval_run(&self, run_id: &str) -> Result<Option<EvalRun>, DbError> {
        (**self).get_eval_run(run_id)
    }
    fn get_eval_runs(&self, query: &EvalRunQuery) -> Result<Vec<EvalRun>, DbError> {
        (**self).get_eval_runs(query)
    }
}

/// Whether a session owned by `owner` may be written for `user`: an unowned session or an
/// anonymous writer always may, otherwise the users must match.
pub(crate) fn may_write(owner: Option<&str>, user: Option<&str>) -> bool {
    match (owner, user) {
        (Some(owner), Some(user)) => owner == user,
        _ => true,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    fn eval_run(run_id: &str, agent_id: &str, created_at: i64) -> EvalRun {
        EvalRun {
            run_id: run_id.into(),
            eval_type: "agent_as_judge".into(),
            name: Some("quality".into()),
            agent_id: Some(agent_id.into()),
            team_id: None,
            workflow_id: None,
            model_id: Some("offline".into()),
            model_provider: Some("Offline".into()),
            evaluated_component_name: Some("Helper".into()),
            eval_data: json!({"passed": true, "reason": "fine", "score": null}),
            eval_input: Some(json!({"criteria": "be kind"})),
            created_at,
            updated_at: created_at,
        }
    }

    /// What every [`Db`] must do with evaluations.
    pub(crate) fn eval_runs_contract(db: &dyn Db) {
        assert!(db.get_eval_runs(&EvalRunQuery::default()).unwrap().is_empty());
        db.save_eval_run(&eval_run("e1", "a", 10)).unwrap();
        db.save_eval_run(&eval_run("e2", "b", 20)).unwrap();
        db.save_eval_run(&eval_run("e3", "a", 30)).unwrap();
        assert_eq!(db.get_eval_run("e2").unwrap(), Some(eval_run("e2", "b", 20)));
        assert_eq!(db.get_eval_run("nope").unwrap(), None);
        let ids = |q: EvalRunQuery| db.get_eval_runs(&q).unwrap().into_iter().map(|e| e.run_id).collect::<Vec<_>>();
        assert_eq!(ids(EvalRunQuery::default()), ["e3", "e2", "e1"]);
        assert_eq!(ids(EvalRunQuery { agent_id: Some("a".into()), ..Default::default() }), ["e3", "e1"]);
        assert_eq!(ids(EvalRunQuery { limit: Some(1), ..Default::default() }), ["e3"]);
        assert!(ids(EvalRunQuery { eval_type: Some("accuracy".into()), ..Default::default() }).is_empty());
        // Saving again replaces the row.
        let mut changed = eval_run("e1", "a", 10);
        changed.eval_data = json!({"passed": false});
        db.save_eval_run(&changed).unwrap();
        assert_eq!(db.get_eval_run("e1").unwrap(), Some(changed));
        assert_eq!(db.get_eval_runs(&EvalRunQuery::default()).unwrap().len(), 3);
    }

    #[test]
    fn in_memory_eval_runs() {
        eval_runs_contract(&InMemoryDb::new());
    }
}
