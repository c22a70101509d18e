//! What storage calls return: [`DbFuture`], and [`DbError`] when they fail. A leaf module, so
//! a backend's machinery can name them without depending on the rest of storage.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What every [`Db`](super::Db) method returns: a boxed future, so the trait stays object-safe
/// (`Arc<dyn Db>`) and fits backends on async drivers and on threads alike.
pub type DbFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DbError>> + Send + 'a>>;

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
    /// The transaction holding this write (and `writes - 1` others, group-committed with it)
    /// failed, so none of them was stored.
    #[error("the transaction holding this write ({writes} in all) failed, nothing of it was stored: {source}")]
    Batch {
        /// How many writes the transaction held.
        writes: usize,
        /// Why it failed (shared by every write of the transaction).
        source: Arc<rusqlite::Error>,
    },
    /// PostgreSQL failed.
    #[cfg(feature = "postgres")]
    #[error("postgres: {context}: {source}")]
    Postgres {
        /// What was being done.
        context: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// The storage is configured in a way that cannot work (a bad URL, a missing feature).
    #[error("storage configuration: {0}")]
    Config(String),
    /// The backend's worker is gone (it stopped or panicked): nothing more can be stored.
    #[error("storage is closed: {0}")]
    Closed(String),
}

/// A result already known, as a [`DbFuture`] (for backends that answer without waiting).
pub(crate) fn ready<'a, T: Send + 'a>(result: Result<T, DbError>) -> DbFuture<'a, T> {
    Box::pin(std::future::ready(result))
}
