//! Storage: the [`Db`] trait, [`InMemoryDb`], and [`SqliteDb`] (agno's `agno_sessions` and
//! `agno_runs` tables).
//!
//! Every run is saved at its end, `ERROR` runs included, in one call to [`Db::save_run`] that
//! writes the session row and the run row together.

mod memory;
mod sqlite;

use std::sync::Arc;

pub use memory::InMemoryDb;
pub use sqlite::SqliteDb;

use crate::run::RunOutput;
use crate::session::{Session, SessionType};

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
}

/// Whether a session owned by `owner` may be written for `user`: an unowned session or an
/// anonymous writer always may, otherwise the users must match.
pub(crate) fn may_write(owner: Option<&str>, user: Option<&str>) -> bool {
    match (owner, user) {
        (Some(owner), Some(user)) => owner == user,
        _ => true,
    }
}
