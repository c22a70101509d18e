//! Setting up a SQLite file that other processes may be setting up at the same moment.
//!
//! Switching a new file to WAL and creating its tables takes locks for which SQLite does not
//! always call the busy handler (it returns `database is locked` at once where waiting could
//! deadlock), so the busy timeout alone does not cover several processes opening one new file
//! together. [`retry_busy`] runs such a step again, with a short pause, until the timeout.

use std::time::{Duration, Instant};

/// Runs `step` until it does not fail with `SQLITE_BUSY` / `SQLITE_LOCKED`, or `timeout` has
/// passed (then its last error is returned).
pub(crate) fn retry_busy<T>(timeout: Duration, mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match step() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                    && Instant::now() + pause < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_step_is_retried_until_it_succeeds_or_the_time_is_up() {
        let busy = || {
            Err::<(), _>(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                Some("database is locked".into()),
            ))
        };
        let mut calls = 0;
        let answer = retry_busy(Duration::from_secs(5), || {
            calls += 1;
            if calls < 4 { busy() } else { Ok(()) }
        });
        assert!(answer.is_ok());
        assert_eq!(calls, 4);
        let mut calls = 0;
        let answer = retry_busy(Duration::from_millis(30), || {
            calls += 1;
            busy()
        });
        assert!(answer.unwrap_err().to_string().contains("locked"));
        assert!(calls > 1, "retried before giving up");
        // Any other error is returned at once.
        let mut calls = 0;
        let answer = retry_busy(Duration::from_secs(5), || {
            calls += 1;
            Err::<(), _>(rusqlite::Error::InvalidQuery)
        });
        assert!(answer.is_err());
        assert_eq!(calls, 1);
    }
}
