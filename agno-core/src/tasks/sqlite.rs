//! [`SqliteTaskBackend`]: task results in a SQLite file, so a hook program started once per event
//! can pop what an earlier process added. The rules are documented on the type.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;
use tokio::runtime::Handle;
use tokio::sync::{Notify, oneshot};

use super::backend::{Job, TaskBackend, WaitMode, Work};
use super::executor::{DEFAULT_MAX_WORKERS, Executor, RunStore};
use super::store::{Start, Ticket};
use super::stored::{
    KeyLook, StoredRow, Submission, cancelled, error_json, not_stored, now_ms, or_logged, refuse, resume_stored,
    stored_error, stored_outcome, stored_seq, stored_value, ticket_seq, ttl_ms, wait_answer, wait_deadline,
};
use super::{TaskError, TaskErrorKind, TaskResult, TaskStatus};
use crate::future::BoxFuture;
use crate::registry;
use crate::sqlite_setup::retry_busy;

/// How long a statement waits for another writer before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a wait looks at rows that another process runs.
const FOREIGN_POLL: Duration = Duration::from_millis(50);

/// After how many polls with own rows unfinished and nothing running a worker hands them back.
const STUCK_POLLS: u32 = 50;

/// How often [`SqliteTaskBackend::run_until_idle`] looks for new rows and for rows of its own
/// cancelled elsewhere.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// The table and its indexes, created when missing.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS agno_task_results (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    session_id  TEXT NOT NULL,
    key         TEXT NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    value       TEXT,
    error       TEXT,
    args        TEXT,
    priority    INTEGER NOT NULL,
    ttl_ms      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    expires_at  INTEGER,
    owner       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS idx_agno_task_results_session_key ON agno_task_results (session_id, key);
CREATE INDEX IF NOT EXISTS idx_agno_task_results_expires_at ON agno_task_results (expires_at);
CREATE INDEX IF NOT EXISTS idx_agno_task_results_inflight ON agno_task_results (owner)
    WHERE status IN ('PENDING', 'RUNNING');
";

/// The columns [`decode`] reads, in this order.
const COLUMNS: &str =
    "seq, id, session_id, key, name, status, value, error, priority, ttl_ms, created_at, started_at, finished_at";

/// Why the task store could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum TaskStoreError {
    /// SQLite failed.
    #[error("{context}: sqlite: {source}")]
    Sqlite {
        /// What was being done.
        context: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// A file or folder (the database's, or an owner lock) could not be used.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored row is not what it should be.
    #[error("corrupt task row: {0}")]
    Corrupt(String),
}

/// Adds what was being done to an error.
trait Context<T> {
    fn context(self, context: &str) -> Result<T, TaskStoreError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, context: &str) -> Result<T, TaskStoreError> {
        self.map_err(|source| TaskStoreError::Sqlite { context: context.to_owned(), source })
    }
}

fn io_error(context: String) -> impl FnOnce(std::io::Error) -> TaskStoreError {
    move |source| TaskStoreError::Io { context, source }
}

fn unqueueable_message(name: &str) -> String {
    format!(
        "task `{name}` cannot be handed to a worker process: only registered #[task] functions with serialisable \
         arguments can (a plain closure's code cannot be found again by another process)"
    )
}

/// Whether `s` looks like an owner id (32 hex digits), so it is safe in a file name.
fn is_owner_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `<database>.owners`: where the owner lock files live.
fn owners_dir(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".owners");
    PathBuf::from(name)
}

/// Deletes finished rows whose time is up: an indexed existence check, then one indexed `DELETE`.
fn expire(conn: &Connection, now: i64) -> rusqlite::Result<()> {
    let due: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM agno_task_results WHERE expires_at <= ?1)", [now], |row| {
            row.get(0)
        })?;
    if due {
        let deleted = conn.execute("DELETE FROM agno_task_results WHERE expires_at <= ?1", [now])?;
        tracing::debug!(deleted, "expired task results deleted");
    }
    Ok(())
}

/// How a row ends: its status, and its value or error as stored JSON.
struct Ending<'a> {
    status: TaskStatus,
    value: Option<&'a str>,
    error: Option<&'a str>,
}

impl<'a> Ending<'a> {
    /// Ends without a value (`FAILED` or `CANCELLED`).
    fn error(status: TaskStatus, error: &'a str) -> Self {
        Self { status, value: None, error: Some(error) }
    }
}

/// Finishes a row: it becomes the visible result of its key (older finished rows of the key are
/// deleted) unless a newer submission has already finished, in which case it is dropped.
/// Whether it became visible.
fn settle(
    conn: &Connection,
    seq: i64,
    session_id: &str,
    key: &str,
    end: Ending<'_>,
    now: i64,
) -> rusqlite::Result<bool> {
    let newer: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM agno_task_results
            WHERE session_id = ?1 AND key = ?2 AND seq > ?3 AND status IN ('COMPLETED', 'FAILED', 'CANCELLED'))",
        params![session_id, key, seq],
        |row| row.get(0),
    )?;
    if newer {
        conn.execute("DELETE FROM agno_task_results WHERE seq = ?1", [seq])?;
        tracing::debug!(session_id, key, "a newer result of this key finished first; dropping this one");
        return Ok(false);
    }
    conn.execute(
        "DELETE FROM agno_task_results
         WHERE session_id = ?1 AND key = ?2 AND seq < ?3 AND status IN ('COMPLETED', 'FAILED', 'CANCELLED')",
        params![session_id, key, seq],
    )?;
    conn.execute(
        "UPDATE agno_task_results
         SET status = ?2, value = ?3, error = ?4, finished_at = ?5, expires_at = ?5 + ttl_ms
         WHERE seq = ?1",
        params![seq, end.status.as_str(), end.value, end.error, now],
    )?;
    Ok(true)
}

/// A snapshot from a row selected with [`COLUMNS`].
fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<TaskResult, TaskStoreError>> {
    let stored = StoredRow {
        seq: row.get(0)?,
        id: row.get(1)?,
        session_id: row.get(2)?,
        key: row.get(3)?,
        name: row.get(4)?,
        status: row.get(5)?,
        value: row.get(6)?,
        error: row.get(7)?,
        priority: row.get(8)?,
        ttl_ms: row.get(9)?,
        created_at: row.get(10)?,
        started_at: row.get(11)?,
        finished_at: row.get(12)?,
    };
    Ok(stored.into_result().map_err(TaskStoreError::Corrupt))
}

/// An exclusive lock on `<database>.owners/<owner>.lock`, held while the owner lives; the file is
/// deleted when it is dropped.
struct OwnerLock {
    path: PathBuf,
    file: Option<File>,
}

impl OwnerLock {
    /// Creates and locks the file. It is locked under a temporary name and then renamed, so a
    /// `.lock` file is never seen unlocked while its owner lives.
    fn create(dir: &Path, owner: &str) -> Result<Self, TaskStoreError> {
        std::fs::create_dir_all(dir).map_err(io_error(format!("creating the owner folder {}", dir.display())))?;
        let temporary = dir.join(format!("{owner}.tmp"));
        let path = dir.join(format!("{owner}.lock"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(io_error(format!("creating the owner lock {}", temporary.display())))?;
        file.lock().map_err(io_error(format!("locking {}", temporary.display())))?;
        std::fs::rename(&temporary, &path)
            .map_err(io_error(format!("renaming the owner lock to {}", path.display())))?;
        Ok(Self { path, file: Some(file) })
    }
}

impl Drop for OwnerLock {
    fn drop(&mut self) {
        // Delete while still holding the lock, then close (which releases it).
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::debug!(path = %self.path.display(), error = %e, "cannot delete the owner lock file");
        }
        drop(self.file.take());
    }
}

/// Whether the owner of some rows still runs.
enum Liveness {
    Alive,
    /// Gone; the lock file, if there is one, is held until it is deleted.
    Dead(Option<(PathBuf, File)>),
}

/// Looks at an owner's lock file: missing or lockable means its process is gone.
fn liveness(dir: &Path, owner: Option<&str>) -> Liveness {
    let Some(owner) = owner.filter(|o| is_owner_id(o)) else { return Liveness::Dead(None) };
    let path = dir.join(format!("{owner}.lock"));
    let file = match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Liveness::Dead(None),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot open an owner lock; its tasks are left alone");
            return Liveness::Alive;
        }
    };
    match file.try_lock() {
        Ok(()) => Liveness::Dead(Some((path, file))),
        Err(TryLockError::WouldBlock) => Liveness::Alive,
        Err(TryLockError::Error(e)) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot test an owner lock; its tasks are left alone");
            Liveness::Alive
        }
    }
}

/// Deletes a dead owner's lock file (held by `lock`).
fn remove_dead_lock(lock: Option<(PathBuf, File)>) {
    if let Some((path, file)) = lock {
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::debug!(path = %path.display(), error = %e, "cannot delete a dead owner's lock file");
        }
        drop(file);
    }
}

/// The connection and what cannot be stored, behind one mutex.
struct DbState {
    conn: Connection,
    /// Stop signals of the async jobs running here, by `seq`.
    cancels: HashMap<i64, oneshot::Sender<()>>,
    /// The jobs this backend has started and not finished, by `seq` (for `close`).
    running: HashSet<i64>,
}

/// The store shared with the worker pool; it outlives the backend value while its jobs run.
struct Inner {
    path: PathBuf,
    owner: String,
    db: Mutex<DbState>,
    notify: Notify,
    /// Queue-only backends store submissions unowned, for a worker process to run
    /// ([`SqliteTaskBackend::open_queue`]); they hold no owner lock.
    queue_only: bool,
    _lock: Option<OwnerLock>,
}

/// A row taken over from a dead owner, to run here.
struct Resumed {
    ticket: Ticket,
    priority: i64,
    work: Work,
}

impl Inner {
    fn db(&self) -> MutexGuard<'_, DbState> {
        // A panic while holding the lock drops any open transaction, which rolls it back.
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a new submission (`PENDING`, or `FAILED` when `refused` says why it cannot run);
    /// a pending submission of the same key is cancelled. Its `seq`.
    fn insert(
        &self,
        snapshot: &TaskResult,
        args: Option<&str>,
        refused: Option<&TaskError>,
        created: i64,
    ) -> Result<i64, TaskStoreError> {
        let mut db = self.db();
        let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate).context("adding a task")?;
        expire(&tx, created).context("deleting expired task results")?;
        let replaced: Vec<i64> = if refused.is_none() {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT seq FROM agno_task_results
                     WHERE session_id = ?1 AND key = ?2 AND status = 'PENDING' ORDER BY seq",
                )
                .context("finding pending tasks of the key")?;
            stmt.query_map(params![snapshot.session_id, snapshot.key], |row| row.get(0))
                .and_then(Iterator::collect)
                .context("finding pending tasks of the key")?
        } else {
            Vec::new()
        };
        tx.execute(
            "INSERT INTO agno_task_results
                (id, session_id, key, name, status, args, priority, ttl_ms, created_at, owner, attempts)
             VALUES (?1, ?2, ?3, ?4, 'PENDING', ?5, ?6, ?7, ?8, ?9, 1)",
            params![
                snapshot.id,
                snapshot.session_id,
                snapshot.key,
                snapshot.name,
                args,
                snapshot.priority,
                ttl_ms(snapshot.ttl),
                created,
                (!self.queue_only).then_some(self.owner.as_str()),
            ],
        )
        .context("inserting a task")?;
        let seq = tx.last_insert_rowid();
        if let Some(error) = refused {
            let error = error_json(error);
            settle(&tx, seq, &snapshot.session_id, &snapshot.key, Ending::error(TaskStatus::Failed, &error), created)
                .context("recording a refused task")?;
        }
        let replaced_error = error_json(&cancelled("replaced by a newer task with the same key"));
        for old in &replaced {
            tracing::debug!(key = %snapshot.key, "a newer task with the same key replaces a pending one");
            let end = Ending::error(TaskStatus::Cancelled, &replaced_error);
            settle(&tx, *old, &snapshot.session_id, &snapshot.key, end, created)
                .context("cancelling a replaced task")?;
        }
        tx.commit().context("adding a task")?;
        drop(db);
        if !replaced.is_empty() || refused.is_some() {
            self.notify.notify_waiters();
        }
        Ok(seq)
    }

    fn try_start(&self, seq: i64, is_async: bool) -> Result<Start, TaskStoreError> {
        let mut db = self.db();
        let changed = db
            .conn
            .execute(
                "UPDATE agno_task_results SET status = 'RUNNING', started_at = ?2
                 WHERE seq = ?1 AND status = 'PENDING' AND owner = ?3",
                params![seq, now_ms(), self.owner],
            )
            .context("starting a task")?;
        if changed == 0 {
            return Ok(Start::Skip);
        }
        db.running.insert(seq);
        if is_async {
            let (stop, stopped) = oneshot::channel();
            db.cancels.insert(seq, stop);
            Ok(Start::Run(Some(stopped)))
        } else {
            Ok(Start::Run(None))
        }
    }

    /// Records an outcome; whether it was kept (not cancelled meanwhile).
    fn try_finish(&self, ticket: &Ticket, outcome: Result<Value, TaskError>) -> Result<bool, TaskStoreError> {
        let seq = stored_seq(ticket.seq);
        let (status, value, error) = stored_outcome(outcome);
        let mut db = self.db();
        db.cancels.remove(&seq);
        db.running.remove(&seq);
        let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate).context("finishing a task")?;
        let now = now_ms();
        expire(&tx, now).context("deleting expired task results")?;
        let row: Option<(String, Option<String>)> = tx
            .query_row("SELECT status, owner FROM agno_task_results WHERE seq = ?1", [seq], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .context("reading a finishing task")?;
        let still_running =
            row.is_some_and(|(s, owner)| s == TaskStatus::Running.as_str() && owner.as_deref() == Some(&self.owner));
        if !still_running {
            return Ok(false);
        }
        let end = Ending { status, value: value.as_deref(), error: error.as_deref() };
        settle(&tx, seq, &ticket.session_id, &ticket.key, end, now).context("finishing a task")?;
        tx.commit().context("finishing a task")?;
        Ok(true)
    }

    /// Takes over the unfinished rows of owners that are gone: resumable ones are queued again,
    /// the others fail as lost.
    fn recover(&self) -> Result<Vec<Resumed>, TaskStoreError> {
        let dir = owners_dir(&self.path);
        let owners = self.inflight_owners()?;
        let mut resumed = Vec::new();
        for owner in owners {
            if owner.as_deref() == Some(self.owner.as_str()) {
                continue;
            }
            let Liveness::Dead(lock) = liveness(&dir, owner.as_deref()) else { continue };
            resumed.extend(self.take_over(owner.as_deref())?);
            remove_dead_lock(lock);
        }
        Ok(resumed)
    }

    /// The owners of pending and running rows (`None`: queued for any worker).
    fn inflight_owners(&self) -> Result<Vec<Option<String>>, TaskStoreError> {
        let db = self.db();
        let mut stmt = db
            .conn
            .prepare_cached("SELECT DISTINCT owner FROM agno_task_results WHERE status IN ('PENDING', 'RUNNING')")
            .context("finding unfinished tasks")?;
        stmt.query_map([], |row| row.get(0)).and_then(Iterator::collect).context("finding unfinished tasks")
    }

    /// Takes over the unfinished rows of one dead owner.
    fn take_over(&self, dead: Option<&str>) -> Result<Vec<Resumed>, TaskStoreError> {
        struct Orphan {
            seq: i64,
            session_id: String,
            key: String,
            name: String,
            args: Option<String>,
            priority: i64,
        }
        let mut db = self.db();
        let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate).context("recovering tasks")?;
        let now = now_ms();
        expire(&tx, now).context("deleting expired task results")?;
        let orphans: Vec<Orphan> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT seq, session_id, key, name, args, priority FROM agno_task_results
                     WHERE owner IS ?1 AND status IN ('PENDING', 'RUNNING') ORDER BY seq",
                )
                .context("reading unfinished tasks")?;
            stmt.query_map([dead], |row| {
                Ok(Orphan {
                    seq: row.get(0)?,
                    session_id: row.get(1)?,
                    key: row.get(2)?,
                    name: row.get(3)?,
                    args: row.get(4)?,
                    priority: row.get(5)?,
                })
            })
            .and_then(Iterator::collect)
            .context("reading unfinished tasks")?
        };
        let mut resumed = Vec::new();
        for orphan in orphans {
            let work = resume_stored(&orphan.name, &orphan.key, orphan.args.as_deref());
            match work {
                Ok(work) => {
                    tx.execute(
                        // A row queued for any worker (no owner) starts its first attempt here;
                        // one whose owner died starts another.
                        "UPDATE agno_task_results
                         SET status = 'PENDING', owner = ?2, attempts = attempts + (owner IS NOT NULL), started_at = NULL
                         WHERE seq = ?1",
                        params![orphan.seq, self.owner],
                    )
                    .context("queueing a recovered task")?;
                    if dead.is_some() {
                        tracing::info!(key = %orphan.key, name = %orphan.name, "resuming a task whose process exited");
                    }
                    resumed.push(Resumed {
                        ticket: Ticket {
                            session_id: Arc::from(orphan.session_id),
                            key: Arc::from(orphan.key),
                            seq: ticket_seq(orphan.seq),
                        },
                        priority: orphan.priority,
                        work,
                    });
                }
                Err(error) => {
                    tracing::warn!(key = %orphan.key, name = %orphan.name, error = %error, "a task was lost with its process");
                    let status =
                        if error.kind == TaskErrorKind::Cancelled { TaskStatus::Cancelled } else { TaskStatus::Failed };
                    let error = error_json(&error);
                    settle(&tx, orphan.seq, &orphan.session_id, &orphan.key, Ending::error(status, &error), now)
                        .context("recording a lost task")?;
                }
            }
        }
        tx.commit().context("recovering tasks")?;
        drop(db);
        self.notify.notify_waiters();
        Ok(resumed)
    }

    /// Deletes the lock files of owners that are gone (their rows were handled, or they had none).
    fn remove_stale_locks(&self) {
        let dir = owners_dir(&self.path);
        let Ok(entries) = std::fs::read_dir(&dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(owner) = name.to_str().and_then(|n| n.strip_suffix(".lock")) else { continue };
            if owner == self.owner || !is_owner_id(owner) {
                continue;
            }
            if let Liveness::Dead(lock) = liveness(&dir, Some(owner)) {
                remove_dead_lock(lock);
            }
        }
    }

    fn get(&self, session_id: &str, key: &str) -> Result<Option<TaskResult>, TaskStoreError> {
        let db = self.db();
        expire(&db.conn, now_ms()).context("deleting expired task results")?;
        let found = db
            .conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM agno_task_results WHERE session_id = ?1 AND key = ?2 ORDER BY seq DESC LIMIT 1"
                ),
                params![session_id, key],
                decode,
            )
            .optional()
            .context("reading a task")?;
        found.transpose()
    }

    fn pop(
        &self,
        session_id: &str,
        key: &str,
        accept: &mut dyn FnMut(&Value) -> bool,
    ) -> Result<Option<Value>, TaskStoreError> {
        let mut db = self.db();
        let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate).context("popping a result")?;
        expire(&tx, now_ms()).context("deleting expired task results")?;
        let visible: Option<(i64, String, Option<String>)> = tx
            .query_row(
                "SELECT seq, status, value FROM agno_task_results
                 WHERE session_id = ?1 AND key = ?2 AND status IN ('COMPLETED', 'FAILED', 'CANCELLED')
                 ORDER BY seq DESC LIMIT 1",
                params![session_id, key],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .context("reading a result")?;
        let Some((seq, status, Some(text))) = visible else { return Ok(None) };
        if status != TaskStatus::Completed.as_str() {
            return Ok(None);
        }
        let value: Value =
            serde_json::from_str(&text).map_err(|e| TaskStoreError::Corrupt(format!("row {seq}: value: {e}")))?;
        if !accept(&value) {
            return Ok(None);
        }
        tx.execute("DELETE FROM agno_task_results WHERE seq = ?1", [seq]).context("removing a result")?;
        tx.commit().context("popping a result")?;
        Ok(Some(value))
    }

    /// Removes the visible rows of a session with this status: `(key, value, error)`, oldest first.
    #[allow(clippy::type_complexity)]
    fn take(
        &self,
        session_id: &str,
        status: TaskStatus,
    ) -> Result<Vec<(String, Option<String>, Option<String>)>, TaskStoreError> {
        let mut db = self.db();
        let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate).context("popping results")?;
        expire(&tx, now_ms()).context("deleting expired task results")?;
        let mut taken: Vec<(i64, String, Option<String>, Option<String>)> = {
            let mut stmt = tx
                .prepare_cached(
                    "DELETE FROM agno_task_results WHERE session_id = ?1 AND status = ?2
                     RETURNING seq, key, value, error",
                )
                .context("removing results")?;
            stmt.query_map(params![session_id, status.as_str()], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .and_then(Iterator::collect)
            .context("removing results")?
        };
        tx.commit().context("popping results")?;
        taken.sort_unstable_by_key(|(seq, ..)| *seq);
        Ok(taken.into_iter().map(|(_, key, value, error)| (key, value, error)).collect())
    }

    fn has(&self, session_id: &str, key: Option<&str>) -> Result<bool, TaskStoreError> {
        let db = self.db();
        expire(&db.conn, now_ms()).context("deleting expired task results")?;
        let found = match key {
            Some(key) => db.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM agno_task_results
                    WHERE session_id = ?1 AND key = ?2 AND status = 'COMPLETED')",
                params![session_id, key],
                |row| row.get(0),
            ),
            None => db.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM agno_task_results WHERE session_id = ?1 AND status = 'COMPLETED')",
                [session_id],
                |row| row.get(0),
            ),
        };
        found.context("looking for a result")
    }

    /// Cancels the pending and running rows of a key (every key with `None`); how many.
    fn cancel(&self, session_id: &str, key: Option<&str>) -> Result<usize, TaskStoreError> {
        let mut guard = self.db();
        let db = &mut *guard;
        let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate).context("cancelling tasks")?;
        let now = now_ms();
        expire(&tx, now).context("deleting expired task results")?;
        let victims: Vec<(i64, String)> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT seq, key FROM agno_task_results
                     WHERE session_id = ?1 AND (?2 IS NULL OR key = ?2) AND status IN ('PENDING', 'RUNNING')
                     ORDER BY seq",
                )
                .context("finding tasks to cancel")?;
            stmt.query_map(params![session_id, key], |row| Ok((row.get(0)?, row.get(1)?)))
                .and_then(Iterator::collect)
                .context("finding tasks to cancel")?
        };
        let error = error_json(&cancelled("cancelled"));
        for (seq, key) in &victims {
            settle(&tx, *seq, session_id, key, Ending::error(TaskStatus::Cancelled, &error), now)
                .context("cancelling a task")?;
        }
        tx.commit().context("cancelling tasks")?;
        for (seq, _) in &victims {
            if let Some(stop) = db.cancels.remove(seq) {
                // The running async task stops at its next await; the pool records nothing more.
                let _ = stop.send(());
                db.running.remove(seq);
            }
        }
        drop(guard);
        if !victims.is_empty() {
            self.notify.notify_waiters();
        }
        Ok(victims.len())
    }

    /// One consistent look at the keys of a wait.
    fn look(&self, session_id: &str, keys: &[String]) -> Result<Vec<KeyLook>, TaskStoreError> {
        let mut db = self.db();
        expire(&db.conn, now_ms()).context("deleting expired task results")?;
        let tx = db.conn.transaction().context("reading tasks")?;
        let mut looks = Vec::with_capacity(keys.len());
        {
            let mut stmt = tx
                .prepare_cached("SELECT status, owner, value FROM agno_task_results WHERE session_id = ?1 AND key = ?2 ORDER BY seq")
                .context("reading tasks")?;
            for key in keys {
                let rows: Vec<(String, Option<String>, Option<String>)> = stmt
                    .query_map(params![session_id, key], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .and_then(Iterator::collect)
                    .context("reading tasks")?;
                let mut look = KeyLook { inflight: false, foreign: false, completed: None };
                for (status, owner, value) in rows {
                    match TaskStatus::parse(&status) {
                        Some(TaskStatus::Pending | TaskStatus::Running) => {
                            look.inflight = true;
                            look.foreign |= owner.as_deref() != Some(self.owner.as_str());
                        }
                        Some(TaskStatus::Completed) => {
                            look.completed = stored_value(key, value.as_deref());
                        }
                        _ => look.completed = None,
                    }
                }
                looks.push(look);
            }
        }
        tx.commit().context("reading tasks")?;
        Ok(looks)
    }

    fn running(&self) -> usize {
        self.db().running.len()
    }

    /// Stops the running async jobs of this backend whose rows were cancelled (or taken) by
    /// another process; how many.
    fn stop_cancelled_elsewhere(&self) -> Result<usize, TaskStoreError> {
        let mut guard = self.db();
        let db = &mut *guard;
        if db.cancels.is_empty() {
            return Ok(0);
        }
        let mut gone = Vec::new();
        {
            let mut stmt = db
                .conn
                .prepare_cached("SELECT status = 'RUNNING' AND owner = ?2 FROM agno_task_results WHERE seq = ?1")
                .context("reading running tasks")?;
            for seq in db.cancels.keys() {
                let still: Option<bool> = stmt
                    .query_row(params![seq, self.owner], |row| row.get(0))
                    .optional()
                    .context("reading a running task")?;
                if still != Some(true) {
                    gone.push(*seq);
                }
            }
        }
        for seq in &gone {
            if let Some(stop) = db.cancels.remove(seq) {
                // The job stops at its next await; its row already says how it ended.
                let _ = stop.send(());
            }
            db.running.remove(seq);
        }
        drop(guard);
        if !gone.is_empty() {
            tracing::debug!(stopped = gone.len(), "stopped tasks cancelled by another process");
            self.notify.notify_waiters();
        }
        Ok(gone.len())
    }

    /// Hands this owner's unfinished rows back to the queue (no owner, `PENDING`); how many.
    fn release_own(&self) -> Result<usize, TaskStoreError> {
        self.db()
            .conn
            .execute(
                "UPDATE agno_task_results SET owner = NULL, status = 'PENDING', started_at = NULL
                 WHERE owner = ?1 AND status IN ('PENDING', 'RUNNING')",
                [&self.owner],
            )
            .context("handing tasks back to the queue")
    }

    /// Whether rows of this owner are still pending or running.
    fn has_own_inflight(&self) -> Result<bool, TaskStoreError> {
        self.db()
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM agno_task_results WHERE owner = ?1 AND status IN ('PENDING', 'RUNNING'))",
                [&self.owner],
                |row| row.get(0),
            )
            .context("looking for unfinished tasks")
    }
}

impl RunStore for Inner {
    fn start(&self, ticket: &Ticket, is_async: bool) -> Start {
        let Ok(seq) = i64::try_from(ticket.seq) else { return Start::Skip };
        self.try_start(seq, is_async).unwrap_or_else(|e| {
            // The row stays PENDING: the next process to open the file resumes it or fails it.
            tracing::error!(key = %ticket.key, error = %e, "cannot start a task");
            Start::Skip
        })
    }

    fn finish(&self, ticket: &Ticket, outcome: Result<Value, TaskError>) {
        match self.try_finish(ticket, outcome) {
            Ok(true) => {}
            Ok(false) => tracing::debug!(key = %ticket.key, "a cancelled task ended; its result is discarded"),
            Err(e) => tracing::error!(key = %ticket.key, error = %e, "cannot record the end of a task"),
        }
        self.notify.notify_waiters();
    }
}

/// Runs tasks in this process and keeps their results in a SQLite file, so that a later process
/// (a hook program is started once per event) can pop them.
///
/// Several processes, and several values in one process, may share a file: the database runs in
/// WAL mode with a busy timeout, and every change is one `IMMEDIATE` transaction.
///
/// Async tasks need a tokio runtime: the one of the code that adds them, or the one given to
/// [`with_runtime`](Self::with_runtime). Dropping the backend drops its queued jobs, which stay
/// `PENDING` in the file for the next process to resume; running jobs finish first and the owner
/// lock is released when the last of them ends.
///
/// ```no_run
/// use std::sync::Arc;
/// use agno_core::tasks::{AddOptions, SqliteTaskBackend, Tasks};
///
/// # fn main() -> Result<(), agno_core::tasks::TaskStoreError> {
/// let tasks = Tasks::new(Arc::new(SqliteTaskBackend::open("tmp/tasks.db")?), "session-1");
/// if let Some(summary) = tasks.pop("summary") {
///     println!("the previous process left: {summary}");
/// }
/// tasks.spawn("summary", AddOptions::new(), || "done");
/// # Ok(())
/// # }
/// ```
///
/// Every submission is one row of `agno_task_results`; `seq` (autoincrement) is the submission
/// order. The rules are those of the in-memory backend, read from the rows:
/// * the rows of a `(session_id, key)` are its pending and running submissions plus at most one
///   finished row: the *visible* result, the latest finished submission. A submission that
///   finishes after a newer one has finished is dropped; one that finishes otherwise replaces the
///   visible row;
/// * `get` shows the newest submission of the key, whatever its status; `pop` takes only a
///   `COMPLETED` visible row; `pop_all` and `pop_errors` go oldest submission first;
/// * adding a key whose submission is still `PENDING` cancels that one (`CANCELLED`, "replaced");
///   a `RUNNING` one keeps running alongside the new one;
/// * sessions and keys are separate columns, never concatenated, so no session can reach
///   another's rows whatever the ids contain;
/// * a finished row expires `ttl` after it finished (`expires_at`, stored in unix milliseconds).
///   Expired rows are deleted lazily at the start of calls by one `DELETE` on the `expires_at`
///   index (preceded by an indexed existence check, so calls that find nothing due take no write
///   lock); nothing scans the table. Times and ttls are stored in milliseconds.
///
/// Each row also keeps the task's name, its serialised arguments (`args`, for resuming), its
/// priority, its owner and `attempts`: how many times it was queued to run (1, plus one per
/// recovery after its process died).
///
/// Jobs run in this process on the shared worker pool (at most `max_workers` at once, highest
/// priority first). The only state kept in memory is what cannot be stored: the stop signals of
/// running async jobs and the notifier that wakes waits.
///
/// Waits are woken by completions in this process (no polling). When a key has a submission that
/// another process (or another backend value on the same file) runs, a wait also looks at the
/// database again every 50 ms: that is the only polled case.
///
/// Ownership and crash recovery: each open backend has an owner id and holds an exclusive lock on
/// `<database>.owners/<owner>.lock` for as long as it (or one of its running jobs) lives. Rows
/// record their owner. When a backend opens, every `PENDING` or `RUNNING` row whose owner's lock
/// file is missing or unlocked (its process is gone) is taken over:
/// * a registered `#[task]` ([`registry::resumable`]) with stored arguments is queued again
///   (`attempts` + 1) and runs in this process. A task that was `RUNNING` when its process died
///   therefore runs again from the start: delivery is at least once, so such tasks should be safe
///   to repeat;
/// * anything else (a plain closure, whose code cannot be found again) is `FAILED` with kind
///   [`Lost`](TaskErrorKind::Lost) and a message saying so; it is never silently dropped.
///
/// Cancellation: `cancel` marks pending and running rows `CANCELLED` in the database, whichever
/// process runs them, and stops a running async job of this backend. A running job of another
/// process cannot be interrupted from here: it runs to its end there and its result is discarded.
///
/// Errors: [`open`](SqliteTaskBackend::open) reports SQLite and file errors. The
/// [`TaskBackend`] methods cannot return errors: a SQLite failure inside them is logged with
/// `tracing` (level `error`) and gives a `FAILED` snapshot (`submit`, kind `Lost`, and the task does
/// not run), `None` (`get`, `pop`), `false` (`has`, `cancel`), `0` or an empty list.
pub struct SqliteTaskBackend {
    inner: Arc<Inner>,
    executor: Mutex<Option<Executor>>,
    max_workers: usize,
    runtime: Option<Handle>,
    /// Resumed async jobs waiting for a runtime (the backend was opened outside one).
    parked: Mutex<Vec<Resumed>>,
    closed: AtomicBool,
    /// Called after each submission is queued (queue-only backends): starts a worker.
    on_queued: Option<Box<dyn Fn() + Send + Sync>>,
}

impl fmt::Debug for SqliteTaskBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteTaskBackend")
            .field("path", &self.inner.path)
            .field("owner", &self.inner.owner)
            .field("max_workers", &self.max_workers)
            .finish_non_exhaustive()
    }
}

impl SqliteTaskBackend {
    /// Opens (or creates) the database file, its missing folders and its table, running at most
    /// [`DEFAULT_MAX_WORKERS`] tasks at once, and takes over the tasks of processes that are gone.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TaskStoreError> {
        Self::open_with(path, DEFAULT_MAX_WORKERS)
    }

    /// [`open`](Self::open), running at most `max_workers` tasks at once (at least 1).
    ///
    /// Resumed async tasks run on the current tokio runtime; opened outside one, they wait for
    /// [`with_runtime`](Self::with_runtime) or the first async task added from inside a runtime.
    pub fn open_with(path: impl AsRef<Path>, max_workers: usize) -> Result<Self, TaskStoreError> {
        let backend = Self::open_mode(path.as_ref(), max_workers, false)?;
        let resumed = backend.inner.recover()?;
        backend.inner.remove_stale_locks();
        backend.enqueue_resumed(resumed);
        tracing::debug!(path = %backend.inner.path.display(), owner = %backend.inner.owner, "opened SQLite task storage");
        Ok(backend)
    }

    /// Opens the file to **queue** tasks without running any here: each submission is stored
    /// `PENDING` with no owner, and the next backend opened with [`open`](Self::open) on the
    /// file (a worker process, see [`run_until_idle`](Self::run_until_idle)) takes it over and
    /// runs it. Reads (`get`, `pop`, `has`, `wait`, ...) and `cancel` work as usual.
    ///
    /// This is how a hook program that exits at once hands its tasks to a detached worker. Only
    /// registered `#[task]` functions can be queued: a plain closure (`spawn`) cannot be found
    /// again by another process, so it is stored `FAILED` (kind `Lost`) with a reason, never
    /// silently dropped.
    pub fn open_queue(path: impl AsRef<Path>) -> Result<Self, TaskStoreError> {
        let backend = Self::open_mode(path.as_ref(), 1, true)?;
        tracing::debug!(path = %backend.inner.path.display(), "opened SQLite task storage to queue tasks");
        Ok(backend)
    }

    fn open_mode(path: &Path, max_workers: usize, queue_only: bool) -> Result<Self, TaskStoreError> {
        let path = path.to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_error(format!("creating the folder of {}", path.display())))?;
        }
        let owner = uuid::Uuid::new_v4().simple().to_string();
        let lock = if queue_only { None } else { Some(OwnerLock::create(&owners_dir(&path), &owner)?) };
        let context = format!("opening {}", path.display());
        let conn = Connection::open(&path).context(&context)?;
        conn.busy_timeout(BUSY_TIMEOUT).context(&context)?;
        // Several hook processes may open a new file at once (see `sqlite_setup`).
        let mode: String =
            retry_busy(BUSY_TIMEOUT, || conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)))
                .context(&context)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode = %mode, "SQLite did not switch to WAL mode");
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL;").context(&context)?;
        retry_busy(BUSY_TIMEOUT, || conn.execute_batch(SCHEMA)).context("creating the agno_task_results table")?;
        let inner = Arc::new(Inner {
            path,
            owner,
            db: Mutex::new(DbState { conn, cancels: HashMap::new(), running: HashSet::new() }),
            notify: Notify::new(),
            queue_only,
            _lock: lock,
        });
        let max_workers = max_workers.max(1);
        let executor = (!queue_only).then(|| Executor::new(Arc::clone(&inner) as Arc<dyn RunStore>, max_workers));
        Ok(Self {
            inner,
            executor: Mutex::new(executor),
            max_workers,
            runtime: None,
            parked: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            on_queued: None,
        })
    }

    /// Hands taken-over rows to the pool (async ones wait for a runtime if there is none).
    fn enqueue_resumed(&self, resumed: Vec<Resumed>) {
        let runtime = self.runtime.clone().or_else(|| Handle::try_current().ok());
        for job in resumed {
            match (&job.work, &runtime) {
                (Work::Async(_), None) => self.parked().push(job),
                (Work::Async(_), Some(runtime)) => self.enqueue(job, Some(runtime.clone())),
                (Work::Blocking(_), _) => self.enqueue(job, None),
            }
        }
    }

    /// Calls `f` after each task this queue-only backend queues (to start a worker for it).
    pub fn on_queued(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_queued = Some(Box::new(f));
        self
    }

    /// Whether the file has pending or running tasks that no live process owns: queued by a
    /// queue-only backend, or left by a process that died. A worker should be started for them.
    pub fn has_orphans(&self) -> Result<bool, TaskStoreError> {
        let owners = self.inner.inflight_owners()?;
        let dir = owners_dir(&self.inner.path);
        Ok(owners.iter().any(|owner| {
            owner.as_deref() != Some(self.inner.owner.as_str())
                && matches!(liveness(&dir, owner.as_deref()), Liveness::Dead(_))
        }))
    }

    /// A worker's loop: runs what this backend took over when it opened, and every 100 ms (or
    /// when one of its tasks ends) takes over the rows that queue-only backends and dead
    /// processes leave (`PENDING` rows with no live owner) and stops its running async tasks that
    /// another process cancelled, until there are no such rows and nothing of its own is pending
    /// or running. Returns how many rows it took over after it was opened.
    pub async fn run_until_idle(&self) -> Result<usize, TaskStoreError> {
        let mut taken = 0;
        // Polls in a row with rows of ours unfinished but nothing running: rows whose start or
        // end could not be recorded (SQLite stayed busy); after 5 s they are handed back.
        let mut stuck = 0;
        loop {
            let notified = self.inner.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            self.inner.stop_cancelled_elsewhere()?;
            let resumed = self.inner.recover()?;
            let found = !resumed.is_empty();
            taken += resumed.len();
            self.enqueue_resumed(resumed);
            let inflight = self.inner.has_own_inflight()?;
            let running = self.inner.running();
            if !found && !inflight && running == 0 {
                return Ok(taken);
            }
            stuck = if !found && inflight && running == 0 { stuck + 1 } else { 0 };
            if stuck >= STUCK_POLLS {
                let released = self.inner.release_own()?;
                tracing::warn!(released, "tasks whose state could not be recorded are handed back to the queue");
                return Ok(taken);
            }
            // Finishing here wakes us; new rows and cancellations elsewhere do not, so look again soon.
            let _ = tokio::time::timeout(IDLE_POLL, notified).await;
        }
    }

    /// Runs async tasks on this runtime, whoever adds them (and the resumed ones waiting for a
    /// runtime).
    pub fn with_runtime(mut self, runtime: Handle) -> Self {
        self.flush_parked(&runtime);
        self.runtime = Some(runtime);
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// This backend's owner id (the `owner` column of the rows it runs).
    pub fn owner_id(&self) -> &str {
        &self.inner.owner
    }

    /// How many tasks may run at once.
    pub fn max_workers(&self) -> usize {
        self.max_workers
    }

    /// Stops taking tasks and waits up to `grace` for the running ones. Queued tasks stay
    /// `PENDING` in the file: the next process that opens it, once this one has exited (or the
    /// backend is dropped), resumes them. Tasks added afterwards are stored `FAILED` (`Lost`).
    pub async fn close(&self, grace: Duration) {
        self.closed.store(true, Ordering::SeqCst);
        let executor = self.executor.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(executor);
        let parked = std::mem::take(&mut *self.parked());
        if !parked.is_empty() {
            tracing::info!(count = parked.len(), "resumed tasks left for the next process");
        }
        let deadline = tokio::time::Instant::now().checked_add(grace);
        loop {
            let notified = self.inner.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            let running = self.inner.running();
            if running == 0 {
                return;
            }
            let waited = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, notified).await.is_ok(),
                None => {
                    notified.await;
                    true
                }
            };
            if !waited {
                tracing::warn!(running, "tasks still running after the grace period");
                return;
            }
        }
    }

    fn parked(&self) -> MutexGuard<'_, Vec<Resumed>> {
        self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn flush_parked(&self, runtime: &Handle) {
        let parked = std::mem::take(&mut *self.parked());
        for job in parked {
            self.enqueue(job, Some(runtime.clone()));
        }
    }

    /// Hands a stored job to the pool; after `close` it stays `PENDING` for the next process.
    fn enqueue(&self, job: Resumed, runtime: Option<Handle>) {
        let executor = self.executor.lock().unwrap_or_else(PoisonError::into_inner);
        match executor.as_ref() {
            Some(executor) => executor.enqueue(job.ticket, job.priority, job.work, runtime),
            None => {
                tracing::debug!(key = %job.ticket.key, "backend closed: the task stays pending for the next process")
            }
        }
    }
}

impl TaskBackend for SqliteTaskBackend {
    fn submit(&self, job: Job) -> TaskResult {
        let Submission { mut snapshot, created, args, work } = Submission::new(job);
        let priority = snapshot.priority;
        let refused = if self.closed.load(Ordering::SeqCst) {
            Some(TaskError::new(TaskErrorKind::Lost, "the task backend was closed before this task was added"))
        } else if self.inner.queue_only && (args.is_none() || registry::resumable(&snapshot.name).is_none()) {
            Some(TaskError::new(TaskErrorKind::Lost, unqueueable_message(&snapshot.name)))
        } else if self.inner.queue_only && registry::task_modules(&snapshot.name).len() > 1 {
            let modules = registry::task_modules(&snapshot.name).join(", ");
            Some(TaskError::new(
                TaskErrorKind::Lost,
                format!(
                    "two #[task]s are named `{}` ({modules}): a worker process finds a task by its name, so rename one",
                    snapshot.name
                ),
            ))
        } else {
            None
        };
        match self.inner.insert(&snapshot, args.as_deref(), refused.as_ref(), created) {
            Ok(_) if let Some(error) = refused => refuse(&mut snapshot, error),
            Ok(_) if self.inner.queue_only => {
                if let Some(on_queued) = &self.on_queued {
                    on_queued();
                }
            }
            Ok(seq) => {
                let runtime = match &work {
                    Work::Async(_) => self.runtime.clone().or_else(|| Handle::try_current().ok()),
                    Work::Blocking(_) => None,
                };
                if let Some(runtime) = &runtime {
                    self.flush_parked(runtime);
                }
                let ticket = Ticket {
                    session_id: Arc::from(snapshot.session_id.as_str()),
                    key: Arc::from(snapshot.key.as_str()),
                    seq: ticket_seq(seq),
                };
                self.enqueue(Resumed { ticket, priority, work }, runtime);
            }
            Err(e) => not_stored(&mut snapshot, &e),
        }
        snapshot
    }

    fn persists(&self) -> bool {
        true
    }

    fn close(&self, grace: Duration) -> BoxFuture<'_, ()> {
        Box::pin(SqliteTaskBackend::close(self, grace))
    }

    fn get(&self, session_id: &str, key: &str) -> Option<TaskResult> {
        or_logged(self.inner.get(session_id, key), "read a task", Some(key), None)
    }

    fn pop(&self, session_id: &str, key: &str, accept: &mut dyn FnMut(&Value) -> bool) -> Option<Value> {
        or_logged(self.inner.pop(session_id, key, accept), "pop a task result", Some(key), None)
    }

    fn pop_all(&self, session_id: &str) -> Vec<(String, Value)> {
        let taken =
            or_logged(self.inner.take(session_id, TaskStatus::Completed), "pop the task results", None, Vec::new());
        taken
            .into_iter()
            .filter_map(|(key, value, _)| Some((stored_value(&key, value.as_deref())?, key)))
            .map(|(value, key)| (key, value))
            .collect()
    }

    fn pop_errors(&self, session_id: &str) -> Vec<(String, TaskError)> {
        let taken = or_logged(self.inner.take(session_id, TaskStatus::Failed), "pop the task errors", None, Vec::new());
        taken.into_iter().map(|(key, _, error)| (key, stored_error(error.as_deref()))).collect()
    }

    fn has(&self, session_id: &str, key: Option<&str>) -> bool {
        or_logged(self.inner.has(session_id, key), "look for a task result", key, false)
    }

    fn cancel(&self, session_id: &str, key: &str) -> bool {
        or_logged(self.inner.cancel(session_id, Some(key)), "cancel a task", Some(key), 0) > 0
    }

    fn cancel_all(&self, session_id: &str) -> usize {
        or_logged(self.inner.cancel(session_id, None), "cancel the tasks", None, 0)
    }

    fn wait<'a>(
        &'a self,
        session_id: &'a str,
        keys: &'a [String],
        mode: WaitMode,
        timeout: Duration,
    ) -> BoxFuture<'a, Vec<(String, Value)>> {
        Box::pin(async move {
            let deadline = wait_deadline(timeout);
            loop {
                let notified = self.inner.notify.notified();
                let mut notified = std::pin::pin!(notified);
                // Registered before looking, so a completion in between is not missed.
                notified.as_mut().enable();
                let looks = match self.inner.look(session_id, keys) {
                    Ok(looks) => looks,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the tasks a wait is for");
                        return Vec::new();
                    }
                };
                let now = tokio::time::Instant::now();
                if let Some(answer) = wait_answer(keys, &looks, mode, now >= deadline) {
                    return answer;
                }
                // Rows run by another process do not wake us: look again every 50 ms for those.
                let foreign = looks.iter().any(|look| look.inflight && look.foreign);
                let until = if foreign { deadline.min(now + FOREIGN_POLL) } else { deadline };
                let _ = tokio::time::timeout_at(until, notified).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc;
    use std::time::Instant;

    use serde_json::json;

    use super::*;
    use crate::registry::Descriptor;
    use crate::tasks::{AddOptions, Task, TaskExt, TaskRun, Tasks, resume};

    fn temp() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("tasks.db");
        (dir, path)
    }

    fn open(path: &Path, workers: usize) -> Arc<SqliteTaskBackend> {
        Arc::new(SqliteTaskBackend::open_with(path, workers).unwrap())
    }

    fn tasks(backend: &Arc<SqliteTaskBackend>, session: &str) -> Tasks {
        Tasks::new(Arc::clone(backend) as Arc<dyn TaskBackend>, session)
    }

    fn raw(path: &Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.busy_timeout(BUSY_TIMEOUT).unwrap();
        conn
    }

    fn row_status(path: &Path, id: &str) -> Option<String> {
        raw(path)
            .query_row("SELECT status FROM agno_task_results WHERE id = ?1", [id], |row| row.get(0))
            .optional()
            .unwrap()
    }

    fn row_count(path: &Path) -> i64 {
        raw(path).query_row("SELECT COUNT(*) FROM agno_task_results", [], |row| row.get(0)).unwrap()
    }

    /// Inserts a row as a process that is gone would have left it.
    fn insert_row(path: &Path, key: &str, name: &str, status: &str, args: Option<&str>, owner: &str) {
        raw(path)
            .execute(
                "INSERT INTO agno_task_results
                    (id, session_id, key, name, status, args, priority, ttl_ms, created_at, owner, attempts)
                 VALUES (?1, 's', ?2, ?3, ?4, ?5, 0, 300000, ?6, ?7, 1)",
                params![uuid::Uuid::new_v4().simple().to_string(), key, name, status, args, now_ms(), owner],
            )
            .unwrap();
    }

    fn dead_owner() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn status(tasks: &Tasks, key: &str) -> Option<TaskStatus> {
        tasks.get(key).map(|r| r.status)
    }

    /// A job whose work is an error.
    fn failing(session: &str, key: &str, message: &'static str) -> Job {
        Job {
            session_id: session.into(),
            key: key.into(),
            name: key.into(),
            ttl: Duration::from_secs(60),
            priority: 0,
            args: None,
            work: Work::Blocking(Box::new(move || Err(TaskError::failed(message)))),
        }
    }

    /// A blocking closure that waits for `release`.
    fn gated<T: Send + 'static>(value: T) -> (mpsc::Sender<()>, impl FnOnce() -> T + Send + 'static) {
        let (release, wait) = mpsc::channel::<()>();
        (release, move || {
            let _ = wait.recv();
            value
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ttl_counts_from_completion() {
        let (_dir, path) = temp();
        let backend = open(&path, 2);
        let t = tasks(&backend, "s");
        t.spawn("slow", AddOptions::new().ttl(Duration::from_millis(300)), || {
            std::thread::sleep(Duration::from_millis(500));
            7
        });
        assert_eq!(t.wait("slow", Duration::from_secs(10)).await, Some(json!(7)));
        let done = t.get("slow").unwrap();
        assert_eq!(done.status, TaskStatus::Completed);
        assert_eq!(done.ttl, Duration::from_millis(300));
        let (created, finished) = (done.created_at, done.finished_at.unwrap());
        assert!(finished.duration_since(created).unwrap() >= Duration::from_millis(490));
        let expires: i64 = raw(&path)
            .query_row("SELECT expires_at - finished_at FROM agno_task_results WHERE id = ?1", [&done.id], |r| r.get(0))
            .unwrap();
        assert_eq!(expires, 300, "expires 300 ms after it finished");

        // 100 ms after it finished (600 ms after it was added): still there.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(t.has("slow"));
        // 400 ms after it finished: gone, and the row deleted.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!t.has("slow"));
        assert_eq!(t.get("slow"), None);
        assert_eq!(row_count(&path), 0);

        // A zero ttl is gone at the next call after it finished.
        t.spawn("zero", AddOptions::new().ttl(Duration::ZERO), || 1);
        until("the zero-ttl task is gone", || t.get("zero").is_none()).await;
        assert_eq!(t.pop("zero"), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn re_adding_a_pending_key_replaces_it() {
        let (_dir, path) = temp();
        let backend = open(&path, 1);
        let t = tasks(&backend, "s");
        let (release, blocker) = gated(0);
        t.spawn("blocker", AddOptions::new(), blocker);
        until("the blocker runs", || status(&t, "blocker") == Some(TaskStatus::Running)).await;

        let first = t.spawn("k", AddOptions::new(), || 1);
        let second = t.spawn("k", AddOptions::new(), || 2);
        assert_eq!(first.status, TaskStatus::Pending);
        assert_ne!(first.id, second.id);
        assert_eq!(row_status(&path, &first.id).as_deref(), Some("CANCELLED"));
        let error: String = raw(&path)
            .query_row("SELECT error FROM agno_task_results WHERE id = ?1", [&first.id], |r| r.get(0))
            .unwrap();
        let error: TaskError = serde_json::from_str(&error).unwrap();
        assert_eq!(error, cancelled("replaced by a newer task with the same key"));
        let shown = t.get("k").unwrap();
        assert_eq!((shown.id.as_str(), shown.status), (second.id.as_str(), TaskStatus::Pending));

        release.send(()).unwrap();
        assert_eq!(t.wait("k", Duration::from_secs(10)).await, Some(json!(2)));
        assert_eq!(row_status(&path, &first.id), None, "the replaced row gave way to the newer result");
        assert_eq!(t.pop("k"), Some(json!(2)));
        assert_eq!(t.pop("k"), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn re_adding_a_running_key_runs_both_and_the_newest_wins() {
        let (_dir, path) = temp();
        let backend = open(&path, 2);
        let t = tasks(&backend, "s");
        let running = |id: &str| row_status(&path, id).as_deref() == Some("RUNNING");

        // The newer one finishes first; the older one's later result is dropped.
        let (release1, work1) = gated(1);
        let first = t.spawn("k", AddOptions::new(), work1);
        until("the first runs", || running(&first.id)).await;
        let (release2, work2) = gated(2);
        let second = t.spawn("k", AddOptions::new(), work2);
        until("the second runs", || running(&second.id)).await;
        assert!(running(&first.id), "both run");
        release2.send(()).unwrap();
        until("the second completes", || status(&t, "k") == Some(TaskStatus::Completed)).await;
        assert_eq!(t.get("k").unwrap().id, second.id);
        release1.send(()).unwrap();
        until("the first is settled", || row_status(&path, &first.id).is_none()).await;
        assert_eq!(t.get("k").unwrap().value, Some(json!(2)));
        assert_eq!(t.pop("k"), Some(json!(2)));

        // The older one finishes first: visible until the newer one replaces it.
        let (release3, work3) = gated(3);
        let third = t.spawn("k", AddOptions::new(), work3);
        until("the third runs", || running(&third.id)).await;
        let (release4, work4) = gated(4);
        let fourth = t.spawn("k", AddOptions::new(), work4);
        until("the fourth runs", || running(&fourth.id)).await;
        release3.send(()).unwrap();
        until("the third completes", || row_status(&path, &third.id).as_deref() == Some("COMPLETED")).await;
        assert!(t.has("k"), "the older result is visible meanwhile");
        assert_eq!(t.get("k").unwrap().id, fourth.id, "get shows the newest submission");
        release4.send(()).unwrap();
        assert_eq!(t.wait("k", Duration::from_secs(10)).await, Some(json!(4)));
        assert_eq!(row_status(&path, &third.id), None);
        assert_eq!(row_count(&path), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sessions_never_collide() {
        let (_dir, path) = temp();
        let backend = open(&path, 4);
        let ab = tasks(&backend, "a:b");
        let a = tasks(&backend, "a");
        ab.spawn("c", AddOptions::new(), || 420);
        a.spawn("b:c", AddOptions::new(), || 1);
        assert_eq!(ab.wait("c", Duration::from_secs(10)).await, Some(json!(420)));
        assert_eq!(a.wait("b:c", Duration::from_secs(10)).await, Some(json!(1)));
        assert_eq!(a.get("c"), None);
        assert!(!ab.has("b:c"));
        assert_eq!(a.pop("b:c"), Some(json!(1)));
        assert!(!a.has_any());
        assert!(ab.has("c"));
        assert_eq!(ab.pop("c"), Some(json!(420)));

        let odd = ["%", "_", "a%", "'; DROP TABLE agno_task_results; --", "\"", "x/y\\z", "séssion ✓", " ", ""];
        for (i, session) in odd.iter().enumerate() {
            tasks(&backend, session).spawn(&format!("k:{session}"), AddOptions::new(), move || i);
        }
        for (i, session) in odd.iter().enumerate() {
            let key = format!("k:{session}");
            let t = tasks(&backend, session);
            assert_eq!(t.wait(key.as_str(), Duration::from_secs(10)).await, Some(json!(i)), "{session:?}");
        }
        for (i, session) in odd.iter().enumerate() {
            assert_eq!(tasks(&backend, session).pop_all(), vec![(format!("k:{session}"), json!(i))], "{session:?}");
        }
        assert_eq!(row_count(&path), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pop_order_errors_and_has() {
        let (_dir, path) = temp();
        let backend = open(&path, 1);
        let t = tasks(&backend, "s");
        t.spawn("a", AddOptions::new(), || "A");
        t.spawn("b", AddOptions::new(), || "B1");
        t.spawn("c", AddOptions::new(), || "C");
        assert_eq!(t.wait_all(["a", "b", "c"], Duration::from_secs(10)).await.len(), 3);
        t.spawn("b", AddOptions::new(), || "B2");
        assert_eq!(t.wait("b", Duration::from_secs(10)).await, Some(json!("B2")));
        backend.submit(failing("s", "boom", "kaboom"));
        t.spawn("panics", AddOptions::new(), || -> i32 { panic!("bad task") });
        assert_eq!(t.wait_any(["boom", "panics"], Duration::from_secs(10)).await, None);
        until("both failed", || status(&t, "panics") == Some(TaskStatus::Failed)).await;

        assert!(t.has("a") && t.has_any());
        assert!(!t.has("boom"), "a failure is not a result");
        assert_eq!(t.pop("boom"), None);
        assert_eq!(status(&t, "boom"), Some(TaskStatus::Failed));
        // A value the caller does not accept stays.
        assert_eq!(backend.pop("s", "a", &mut |_| false), None);
        assert!(t.has("a"));

        let all = t.pop_all();
        assert_eq!(all, vec![("a".into(), json!("A")), ("c".into(), json!("C")), ("b".into(), json!("B2"))]);
        assert_eq!(t.pop_all(), vec![]);
        assert!(!t.has_any());
        let errors = t.pop_errors();
        assert_eq!(
            errors,
            vec![
                ("boom".into(), TaskError::failed("kaboom")),
                ("panics".into(), TaskError::new(TaskErrorKind::Panicked, "bad task"))
            ]
        );
        assert_eq!(t.pop_errors(), vec![]);
        assert_eq!(t.get("boom"), None);
        assert_eq!(row_count(&path), 0);
    }

    struct SetOnDrop(Arc<AtomicBool>);

    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancel_pending_running_async_and_running_blocking() {
        let (_dir, path) = temp();
        let backend = open(&path, 2);
        let t = tasks(&backend, "s");

        let ended = Arc::new(AtomicBool::new(false));
        let (release, wait) = mpsc::channel::<()>();
        let flag = Arc::clone(&ended);
        t.spawn("blocking", AddOptions::new(), move || {
            let _ = wait.recv();
            flag.store(true, Ordering::SeqCst);
            5
        });
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = SetOnDrop(Arc::clone(&dropped));
        t.spawn_async("async", AddOptions::new(), async move {
            let _guard = guard;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            6
        });
        until("both run", || {
            status(&t, "blocking") == Some(TaskStatus::Running) && status(&t, "async") == Some(TaskStatus::Running)
        })
        .await;
        t.spawn("pending", AddOptions::new(), || 7);
        assert_eq!(status(&t, "pending"), Some(TaskStatus::Pending));

        assert!(t.cancel("pending"));
        assert!(!t.cancel("pending"), "already cancelled");
        let pending = t.get("pending").unwrap();
        assert_eq!(pending.status, TaskStatus::Cancelled);
        assert_eq!(pending.error.map(|e| e.kind), Some(TaskErrorKind::Cancelled));

        assert!(t.cancel("async"));
        assert_eq!(status(&t, "async"), Some(TaskStatus::Cancelled));
        until("the async task is dropped", || dropped.load(Ordering::SeqCst)).await;

        assert!(t.cancel("blocking"));
        assert_eq!(status(&t, "blocking"), Some(TaskStatus::Cancelled), "marked at once");
        release.send(()).unwrap();
        until("the blocking task ends", || ended.load(Ordering::SeqCst)).await;
        until("its worker is free", || backend.inner.running() == 0).await;
        let blocking = t.get("blocking").unwrap();
        assert_eq!((blocking.status, blocking.value), (TaskStatus::Cancelled, None), "its result is discarded");
        assert_eq!(t.pop("blocking"), None);
        assert!(!t.cancel("missing"));
        assert_eq!(t.wait("pending", Duration::from_secs(10)).await, None, "a cancelled task gives nothing");

        // cancel_all: two running, two pending.
        let (release1, work1) = gated(1);
        let (release2, work2) = gated(2);
        t.spawn("r1", AddOptions::new(), work1);
        t.spawn("r2", AddOptions::new(), work2);
        until("both run", || backend.inner.running() == 2).await;
        t.spawn("p1", AddOptions::new(), || 3);
        t.spawn("p2", AddOptions::new(), || 4);
        assert_eq!(t.cancel_all(), 4);
        assert_eq!(tasks(&backend, "other").cancel_all(), 0);
        release1.send(()).unwrap();
        release2.send(()).unwrap();
        until("the workers are free", || backend.inner.running() == 0).await;
        for key in ["r1", "r2", "p1", "p2"] {
            assert_eq!(status(&t, key), Some(TaskStatus::Cancelled), "{key}");
        }
        assert!(!t.has_any());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waits_wake_on_completion() {
        let (_dir, path) = temp();
        let backend = open(&path, 4);
        let t = tasks(&backend, "s");

        t.spawn("slow", AddOptions::new(), || {
            std::thread::sleep(Duration::from_millis(150));
            1
        });
        let start = Instant::now();
        assert_eq!(t.wait("slow", Duration::from_secs(10)).await, Some(json!(1)));
        let finished = t.get("slow").unwrap().finished_at.unwrap();
        let late = std::time::SystemTime::now().duration_since(finished).unwrap_or_default();
        assert!(start.elapsed() >= Duration::from_millis(150));
        assert!(late < Duration::from_secs(1), "woken {late:?} after the task finished");

        t.spawn("w1", AddOptions::new(), || {
            std::thread::sleep(Duration::from_millis(50));
            20
        });
        backend.submit(failing("s", "w2", "no"));
        t.spawn("w3", AddOptions::new(), || {
            std::thread::sleep(Duration::from_millis(100));
            30
        });
        let all = t.wait_all(["w1", "w2", "w3", "missing"], Duration::from_secs(10)).await;
        assert_eq!(all, [("w1".to_owned(), json!(20)), ("w3".to_owned(), json!(30))].into_iter().collect());

        t.spawn_async("a1", AddOptions::new(), async {
            tokio::time::sleep(Duration::from_millis(2000)).await;
            1
        });
        t.spawn_async("a2", AddOptions::new(), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            2
        });
        let start = Instant::now();
        assert_eq!(t.wait_any(["a1", "a2"], Duration::from_secs(10)).await, Some(("a2".into(), json!(2))));
        assert!(start.elapsed() < Duration::from_millis(1500));
        assert_eq!(t.wait_any(["w2", "missing"], Duration::from_secs(10)).await, None);

        let (release, work) = gated(9);
        t.spawn("held", AddOptions::new(), work);
        let start = Instant::now();
        assert_eq!(t.wait("held", Duration::from_millis(100)).await, None);
        assert!(start.elapsed() >= Duration::from_millis(100) && start.elapsed() < Duration::from_secs(2));
        release.send(()).unwrap();
        assert_eq!(t.wait("held", Duration::from_secs(10)).await, Some(json!(9)));
        assert_eq!(t.wait("held", Duration::ZERO).await, Some(json!(9)), "a finished key needs no time");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_instance_sees_what_the_first_produced() {
        let (_dir, path) = temp();
        let first = open(&path, 2);
        let t1 = tasks(&first, "s");
        t1.spawn("k", AddOptions::new(), || "from the first");
        assert_eq!(t1.wait("k", Duration::from_secs(10)).await, Some(json!("from the first")));

        let second = open(&path, 2);
        assert_ne!(first.owner_id(), second.owner_id());
        let t2 = tasks(&second, "s");
        assert!(t2.has("k"));
        assert_eq!(t2.pop("k"), Some(json!("from the first")));
        assert_eq!(t1.pop("k"), None, "popped once");

        // A wait in the second sees a task the first runs (looked at every 50 ms).
        let (release, work) = gated(9);
        let slow = t1.spawn("slow", AddOptions::new(), work);
        until("it runs", || row_status(&path, &slow.id).as_deref() == Some("RUNNING")).await;
        let waiter = {
            let t2 = t2.clone();
            tokio::spawn(async move { t2.wait("slow", Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(!waiter.is_finished());
        release.send(()).unwrap();
        assert_eq!(waiter.await.unwrap(), Some(json!(9)));

        // Cancelling from the second marks the first's running task; its result is discarded.
        let (release, work) = gated(10);
        let other = t1.spawn("other", AddOptions::new(), work);
        until("it runs", || row_status(&path, &other.id).as_deref() == Some("RUNNING")).await;
        assert!(t2.cancel("other"));
        release.send(()).unwrap();
        until("the first's worker is free", || first.inner.running() == 0).await;
        assert_eq!(status(&t1, "other"), Some(TaskStatus::Cancelled));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn owner_locks_live_and_die_with_the_backend() {
        let (_dir, path) = temp();
        let backend = open(&path, 1);
        let lock = owners_dir(&path).join(format!("{}.lock", backend.owner_id()));
        assert!(lock.exists());
        assert!(matches!(liveness(&owners_dir(&path), Some(backend.owner_id())), Liveness::Alive));
        let stale = owners_dir(&path).join(format!("{}.lock", dead_owner()));
        File::create(&stale).unwrap();
        let other = open(&path, 1);
        assert!(!stale.exists(), "an unlocked lock file is removed at open");
        assert!(lock.exists(), "a held one is not");
        drop(other);
        let t = tasks(&backend, "s");
        t.spawn("k", AddOptions::new(), || 1);
        assert_eq!(t.wait("k", Duration::from_secs(10)).await, Some(json!(1)));
        drop(t);
        drop(backend);
        until("the lock file is deleted", || !lock.exists()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lost_closures_fail_with_a_clear_message() {
        let (_dir, path) = temp();
        let live = open(&path, 1);
        insert_row(&path, "closure_key", "closure_key", "PENDING", None, &dead_owner());
        let crashed = dead_owner();
        let crashed_lock = owners_dir(&path).join(format!("{crashed}.lock"));
        File::create(&crashed_lock).unwrap();
        insert_row(&path, "crashed_key", "not_a_registered_task", "RUNNING", Some("[1]"), &crashed);
        insert_row(&path, "alive_key", "alive_key", "PENDING", None, live.owner_id());

        let backend = open(&path, 1);
        let t = tasks(&backend, "s");
        let lost = t.get("closure_key").unwrap();
        assert_eq!(lost.status, TaskStatus::Failed);
        let error = lost.error.unwrap();
        assert_eq!(error.kind, TaskErrorKind::Lost);
        assert_eq!(
            error.message,
            "the process that ran task `closure_key` exited before it finished, and plain closures cannot be \
             resumed; use #[task]"
        );
        assert_eq!(status(&t, "crashed_key"), Some(TaskStatus::Failed));
        assert!(!crashed_lock.exists(), "the dead owner's lock file is removed");
        assert_eq!(status(&t, "alive_key"), Some(TaskStatus::Pending), "a live owner's task is left alone");
        let errors = t.pop_errors();
        assert_eq!(
            errors.iter().map(|(k, e)| (k.as_str(), e.kind)).collect::<Vec<_>>(),
            [("closure_key", TaskErrorKind::Lost), ("crashed_key", TaskErrorKind::Lost)]
        );
    }

    #[derive(Default)]
    struct Doubler;

    impl Task for Doubler {
        type Args = i64;
        type Output = i64;
        fn name(&self) -> &str {
            "sqlite_tests_doubler"
        }
        fn run(&self, n: i64) -> TaskRun<i64> {
            TaskRun::blocking(move || Ok(n * 2))
        }
    }

    #[derive(Default)]
    struct Echo;

    impl Task for Echo {
        type Args = String;
        type Output = String;
        fn name(&self) -> &str {
            "sqlite_tests_echo"
        }
        fn run(&self, s: String) -> TaskRun<String> {
            TaskRun::future(async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok(format!("echo {s}"))
            })
        }
    }

    static DOUBLER: Descriptor =
        Descriptor::resumable_task("sqlite_tests_doubler", module_path!(), 300, 0, resume::<Doubler>);
    static ECHO: Descriptor = Descriptor::resumable_task("sqlite_tests_echo", module_path!(), 300, 0, resume::<Echo>);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn registered_tasks_are_resumed() {
        registry::register(&DOUBLER);
        registry::register(&ECHO);
        let (_dir, path) = temp();
        drop(open(&path, 1));
        let dead = dead_owner();
        insert_row(&path, "double", "sqlite_tests_doubler", "RUNNING", Some("21"), &dead);
        insert_row(&path, "echo", "sqlite_tests_echo", "PENDING", Some("\"hi\""), &dead);
        insert_row(&path, "bad_args", "sqlite_tests_doubler", "PENDING", Some("\"not a number\""), &dead);

        let backend = open(&path, 2);
        let t = tasks(&backend, "s");
        assert_eq!(t.wait(Doubler.keyed("double"), Duration::from_secs(10)).await, Some(42));
        let (attempts, owner): (i64, String) = raw(&path)
            .query_row("SELECT attempts, owner FROM agno_task_results WHERE key = 'double'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((attempts, owner.as_str()), (2, backend.owner_id()), "it ran again, here");
        assert_eq!(t.wait(Echo.keyed("echo"), Duration::from_secs(10)).await, Some("echo hi".to_owned()));
        let bad = t.get("bad_args").unwrap();
        assert_eq!(bad.status, TaskStatus::Failed);
        assert_eq!(bad.error.map(|e| e.kind), Some(TaskErrorKind::Serialization));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queue_runs_nothing_and_a_worker_runs_what_it_queued() {
        registry::register(&DOUBLER);
        let (_dir, path) = temp();
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let queue = Arc::new(SqliteTaskBackend::open_queue(&path).unwrap().on_queued(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        }));
        let q = Tasks::new(Arc::clone(&queue) as Arc<dyn TaskBackend>, "s");
        assert_eq!(q.add(Doubler.keyed("a"), 4).status, TaskStatus::Pending);
        assert_eq!(q.add_with(Doubler, 5, crate::tasks::AddOptions::new().priority(3)).status, TaskStatus::Pending);
        let closure = q.spawn("closure", Default::default(), || 1);
        assert_eq!(closure.status, TaskStatus::Failed);
        assert!(closure.error.unwrap().message.contains("cannot be handed to a worker process"));
        assert_eq!(calls.load(Ordering::SeqCst), 2, "told of each queued task, not of the refused closure");
        let unowned: i64 = raw(&path)
            .query_row("SELECT COUNT(*) FROM agno_task_results WHERE status = 'PENDING' AND owner IS NULL", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(unowned, 2, "queued for any worker, run by none yet");
        assert!(queue.has_orphans().unwrap());
        assert!(!owners_dir(&path).exists(), "a queue holds no owner lock");

        let worker = open(&path, 1);
        assert_eq!(worker.run_until_idle().await.unwrap(), 0, "it took both when it opened");
        assert!(!queue.has_orphans().unwrap());
        assert_eq!(q.pop(Doubler.keyed("a")), Some(8));
        assert_eq!(q.pop(Doubler), Some(10));
        let attempts: i64 =
            raw(&path).query_row("SELECT MAX(attempts) FROM agno_task_results", [], |r| r.get(0)).unwrap();
        assert_eq!(attempts, 1, "a first run, not a retry");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_hands_back_rows_it_cannot_finish_instead_of_waiting_forever() {
        let (_dir, path) = temp();
        let worker = open(&path, 1);
        // A row of this worker that nothing runs: what a start that SQLite refused leaves.
        insert_row(&path, "stuck", "sqlite_tests_doubler", "RUNNING", Some("1"), worker.owner_id());
        assert_eq!(worker.run_until_idle().await.unwrap(), 0, "it returns");
        let (status, owner): (String, Option<String>) = raw(&path)
            .query_row("SELECT status, owner FROM agno_task_results WHERE key = 'stuck'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((status.as_str(), owner), ("PENDING", None), "queued again for the next worker");
        assert!(worker.has_orphans().unwrap());
    }

    #[test]
    fn resumed_async_tasks_wait_for_a_runtime() {
        registry::register(&ECHO);
        let (_dir, path) = temp();
        drop(SqliteTaskBackend::open(&path).unwrap());
        insert_row(&path, "echo", "sqlite_tests_echo", "PENDING", Some("\"later\""), &dead_owner());
        // Opened outside any runtime: the resumed async task waits for one.
        let backend = SqliteTaskBackend::open_with(&path, 1).unwrap();
        assert_eq!(backend.parked().len(), 1);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let backend = Arc::new(backend.with_runtime(runtime.handle().clone()));
        assert!(backend.parked().is_empty());
        let t = tasks(&backend, "s");
        let value = runtime.block_on(t.wait(Echo.keyed("echo"), Duration::from_secs(10)));
        assert_eq!(value, Some("echo later".to_owned()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn close_leaves_queued_tasks_for_the_next_backend() {
        registry::register(&DOUBLER);
        let (_dir, path) = temp();
        let backend = open(&path, 1);
        let t = tasks(&backend, "s");
        let (release, work) = gated(0);
        t.spawn("blocker", AddOptions::new(), work);
        until("the blocker runs", || status(&t, "blocker") == Some(TaskStatus::Running)).await;
        let queued = t.add(Doubler, 5);
        assert_eq!(queued.status, TaskStatus::Pending);
        let stored: Option<String> = raw(&path)
            .query_row("SELECT args FROM agno_task_results WHERE id = ?1", [&queued.id], |r| r.get(0))
            .unwrap();
        assert_eq!(stored.as_deref(), Some("5"));

        let start = Instant::now();
        backend.close(Duration::from_millis(100)).await;
        assert!(start.elapsed() >= Duration::from_millis(100), "it waited for the running task");
        let refused = t.spawn("late", AddOptions::new(), || 1);
        assert_eq!(refused.status, TaskStatus::Failed);
        assert_eq!(status(&t, "late"), Some(TaskStatus::Failed));
        release.send(()).unwrap();
        assert_eq!(t.wait("blocker", Duration::from_secs(10)).await, Some(json!(0)));
        assert_eq!(status(&t, Doubler.name()), Some(TaskStatus::Pending), "queued tasks stay pending");

        let lock = owners_dir(&path).join(format!("{}.lock", backend.owner_id()));
        drop(t);
        drop(backend);
        until("the first backend is gone", || !lock.exists()).await;
        let next = open(&path, 1);
        let t = tasks(&next, "s");
        assert_eq!(t.wait(Doubler, Duration::from_secs(10)).await, Some(10));
        assert_eq!(t.pop(Doubler), Some(10));
    }
}
