//! [`default_db`]: the storage a program gets without choosing, as `default_model` is its model:
//! PostgreSQL when `DATABASE_URL` is set, a SQLite file otherwise.

use std::path::Path;
use std::sync::Arc;

use super::{Db, DbError, SqliteDb};

/// [`PostgresDb`](super::PostgresDb) at `DATABASE_URL` when that is set (and not empty), with
/// the `postgres` feature; [`SqliteDb`] at `sqlite_path` otherwise. The choice is logged at
/// `info` level, without the password. With `DATABASE_URL` set but no `postgres` feature it is
/// an error that says so, rather than a silent SQLite file beside the replicas' database.
///
/// ```no_run
/// # fn demo() -> Result<(), agno_core::db::DbError> {
/// let db = agno_core::db::default_db("tmp/agent.db")?;
/// println!("Storage: {}", db.id());
/// # Ok(()) }
/// ```
pub fn default_db(sqlite_path: impl AsRef<Path>) -> Result<Arc<dyn Db>, DbError> {
    choose(std::env::var("DATABASE_URL").ok().as_deref(), sqlite_path.as_ref())
}

/// [`default_db`] with `DATABASE_URL`'s value given.
fn choose(database_url: Option<&str>, sqlite_path: &Path) -> Result<Arc<dyn Db>, DbError> {
    match database_url.map(str::trim) {
        Some(url) if !url.is_empty() => postgres(url),
        _ => {
            let db = SqliteDb::new(sqlite_path)?;
            tracing::info!(db = db.id(), "storage: SQLite at {} (DATABASE_URL is not set)", db.path().display());
            Ok(Arc::new(db))
        }
    }
}

/// The PostgreSQL database at `url`.
#[cfg(feature = "postgres")]
fn postgres(url: &str) -> Result<Arc<dyn Db>, DbError> {
    let db = super::PostgresDb::new(url)?;
    tracing::info!(db = db.id(), "storage: PostgreSQL at {} (DATABASE_URL)", db.describe());
    Ok(Arc::new(db))
}

/// Without the feature, a `DATABASE_URL` is a mistake to report.
#[cfg(not(feature = "postgres"))]
fn postgres(_url: &str) -> Result<Arc<dyn Db>, DbError> {
    Err(DbError::Config(
        "DATABASE_URL is set, but this program was built without PostgreSQL support: build it with the \
         `postgres` feature of `agno` (`cargo run --features postgres ...`), or unset DATABASE_URL to use SQLite"
            .to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_chooses_the_backend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        for unset in [None, Some(""), Some("  ")] {
            let db = choose(unset, &path).unwrap();
            assert!(db.id().starts_with("sqlite:"), "{}", db.id());
            assert!(path.exists());
        }
        let chosen = choose(Some("postgresql://agno:s3cret@127.0.0.1:1/agno"), &path);
        #[cfg(feature = "postgres")]
        {
            let db = chosen.unwrap();
            assert_eq!(db.id(), "postgres:agno@127.0.0.1:1/agno");
        }
        #[cfg(not(feature = "postgres"))]
        {
            let e = chosen.err().unwrap().to_string();
            assert!(e.contains("`postgres` feature") && !e.contains("s3cret"), "{e}");
        }
    }
}
