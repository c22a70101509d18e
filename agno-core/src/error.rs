//! The crate's error type: what `agent.run(..)` returns as `Err`.
//!
//! A run rejected by a hook or failed by its model is not an error here: it is an `Ok(RunOutput)`
//! whose status is `ERROR`. [`Error`] is for misconfiguration and for infrastructure (storage).

use crate::db::error::DbError;

/// Errors from building an agent or from the infrastructure a run depends on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The agent (or another component) is misconfigured.
    #[error("configuration error: {0}")]
    Config(String),
    /// Storage failed; the run may not have been saved.
    #[error("storage error: {0}")]
    Db(#[from] DbError),
    /// The session exists and belongs to another user.
    #[error("session `{session_id}` belongs to another user")]
    SessionOwnership {
        /// The session that was asked for.
        session_id: String,
    },
    /// The session exists and belongs to another kind of runner (an agent's session given to a
    /// team run, say); it is left as it is.
    #[error("session `{session_id}` belongs to {found} runs; a {wanted} run cannot continue it")]
    SessionKind {
        /// The session that was asked for.
        session_id: String,
        /// `"agent"`, `"team"` or `"workflow"`: what the session is.
        found: &'static str,
        /// What the run is.
        wanted: &'static str,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
