//! [`PostgresTaskBackend`]: background tasks kept in PostgreSQL, so that a task one replica adds
//! can be popped by a later run of the same session on any replica. The rules are documented on
//! the type.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::{AssertSqlSafe, Row};
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};
use tokio::sync::{Notify, oneshot, watch};

use super::{Connection, QueueTiming, failed, lock_key};
use crate::db::DbError;
use crate::future::BoxFuture;
use crate::tasks::stored::{
    KeyLook, StoredRow, Submission, cancelled, error_json, not_stored, now_ms, or_logged, refuse, resume_stored,
    stored_error, stored_outcome, stored_seq, stored_value, ticket_seq, ttl_ms, wait_answer, wait_deadline,
};
use crate::tasks::{
    DEFAULT_MAX_WORKERS, Executor, Job, RunStore, Start, TaskBackend, TaskError, TaskErrorKind, TaskResult, TaskStatus,
    Ticket, WaitMode, Work,
};

/// Connections the backend keeps (one of them listens for notifications).
const CONNECTIONS: u32 = 5;

/// Rows taken over from dead processes per sweep.
const CLAIM_BATCH: i64 = 256;

/// How long an owner's heartbeat row is kept after its last beat (rows of owners this old are
/// long taken over).
const OWNER_RETENTION_MS: i64 = 3_600_000;

/// Attempts at recording a task's end before it is left to the recovery of this process's rows.
const END_ATTEMPTS: u32 = 8;

/// The statements, with the schema filled in once.
struct TaskSql {
    add: String,
    end: String,
    start: String,
    give_back: String,
    get: String,
    visible: String,
    pop: String,
    take: String,
    has: String,
    cancel: String,
    look: String,
    still_ours: String,
    heartbeat: String,
    expire: String,
    prune_owners: String,
    claim: String,
    release: String,
    forget_owner: String,
}

impl TaskSql {
    fn new(schema: &str) -> Self {
        let s = |sql: &str| sql.replace("{s}", schema);
        let live = "NOT EXISTS (SELECT 1 FROM {s}.agno_task_owners o WHERE o.owner = r.owner AND o.heartbeat_at > $2)";
        Self {
            add: s("SELECT {s}.agno_task_add($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
            end: s("SELECT {s}.agno_task_end($1, $2, $3, $4, $5, $6, $7)"),
            start: s("UPDATE {s}.agno_task_results SET status = 'RUNNING', started_at = $2
                      WHERE seq = $1 AND status = 'PENDING' AND owner = $3"),
            give_back: s("UPDATE {s}.agno_task_results SET owner = NULL
                          WHERE seq = $1 AND status = 'PENDING' AND owner = $2"),
            get: s("SELECT seq, id, session_id, key, name, status, value, error, priority, ttl_ms, created_at,
                        started_at, finished_at
                    FROM {s}.agno_task_results
                    WHERE session_id = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $3)
                    ORDER BY seq DESC LIMIT 1"),
            visible: s("SELECT seq, status, value FROM {s}.agno_task_results
                        WHERE session_id = $1 AND key = $2 AND status IN ('COMPLETED', 'FAILED', 'CANCELLED')
                          AND expires_at > $3
                        ORDER BY seq DESC LIMIT 1"),
            pop: s("DELETE FROM {s}.agno_task_results WHERE seq = $1 AND status = 'COMPLETED' AND expires_at > $2"),
            take: s("DELETE FROM {s}.agno_task_results WHERE session_id = $1 AND status = $2 AND expires_at > $3
                     RETURNING seq, key, value, error"),
            has: s("SELECT EXISTS (SELECT 1 FROM {s}.agno_task_results
                       WHERE session_id = $1 AND ($2::VARCHAR IS NULL OR key = $2) AND status = 'COMPLETED'
                         AND expires_at > $3)"),
            cancel: s("SELECT seq, {s}.agno_task_end(seq, 'CANCELLED', NULL, $3, $4, NULL, $5) FROM (
                           SELECT seq FROM {s}.agno_task_results
                           WHERE session_id = $1 AND ($2::VARCHAR IS NULL OR key = $2)
                             AND status IN ('PENDING', 'RUNNING')
                           ORDER BY seq) victims"),
            look: s("SELECT key, status, value FROM {s}.agno_task_results
                     WHERE session_id = $1 AND key = ANY($2) AND (expires_at IS NULL OR expires_at > $3)
                     ORDER BY seq"),
            still_ours: s("SELECT seq FROM {s}.agno_task_results
                           WHERE seq = ANY($1) AND status IN ('PENDING', 'RUNNING') AND owner = $2"),
            heartbeat: s("INSERT INTO {s}.agno_task_owners (owner, heartbeat_at) VALUES ($1, $2)
                          ON CONFLICT (owner) DO UPDATE SET heartbeat_at = excluded.heartbeat_at"),
            expire: s("DELETE FROM {s}.agno_task_results WHERE expires_at <= $1"),
            prune_owners: s("DELETE FROM {s}.agno_task_owners WHERE heartbeat_at < $1"),
            // Re-checked row by row as it is updated, so two replicas never take the same row:
            // the second sees the first as its live owner and skips it.
            claim: s(&format!(
                "UPDATE {{s}}.agno_task_results r
                 SET owner = $1, status = 'PENDING', started_at = NULL,
                     attempts = r.attempts + (CASE WHEN r.owner IS NULL THEN 0 ELSE 1 END)
                 WHERE r.seq IN (
                     SELECT seq FROM {{s}}.agno_task_results r
                     WHERE r.status IN ('PENDING', 'RUNNING') AND r.owner IS DISTINCT FROM $1 AND {live}
                     ORDER BY seq LIMIT $3)
                   AND r.status IN ('PENDING', 'RUNNING') AND r.owner IS DISTINCT FROM $1 AND {live}
                 RETURNING r.seq, r.session_id, r.key, r.name, r.args, r.priority, r.attempts"
            )),
            release: s("UPDATE {s}.agno_task_results
                        SET owner = NULL, attempts = attempts + (CASE WHEN status = 'RUNNING' THEN 1 ELSE 0 END),
                            status = 'PENDING', started_at = NULL
                        WHERE owner = $1 AND status IN ('PENDING', 'RUNNING')"),
            forget_owner: s("DELETE FROM {s}.agno_task_owners WHERE owner = $1"),
        }
    }
}

/// The waits of this process, by session: woken when a notification names their session.
#[derive(Default)]
struct Waiters {
    sessions: Mutex<HashMap<String, (Arc<Notify>, usize)>>,
}

impl Waiters {
    fn sessions(&self) -> MutexGuard<'_, HashMap<String, (Arc<Notify>, usize)>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a wait on a session until the guard is dropped.
    fn register(&self, session_id: &str) -> WaitGuard<'_> {
        let mut sessions = self.sessions();
        let entry = sessions.entry(session_id.to_owned()).or_insert_with(|| (Arc::new(Notify::new()), 0));
        entry.1 += 1;
        WaitGuard { waiters: self, session_id: session_id.to_owned(), notify: Arc::clone(&entry.0) }
    }

    /// Wakes the waits of a session (`None`: every wait).
    fn wake(&self, session_id: Option<&str>) {
        let sessions = self.sessions();
        match session_id {
            Some(session_id) => {
                if let Some((notify, _)) = sessions.get(session_id) {
                    notify.notify_waiters();
                }
            }
            None => sessions.values().for_each(|(notify, _)| notify.notify_waiters()),
        }
    }
}

/// One wait's registration.
struct WaitGuard<'a> {
    waiters: &'a Waiters,
    session_id: String,
    notify: Arc<Notify>,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        let mut sessions = self.waiters.sessions();
        if let Some(entry) = sessions.get_mut(&self.session_id) {
            entry.1 -= 1;
            if entry.1 == 0 {
                sessions.remove(&self.session_id);
            }
        }
    }
}

/// What this process runs: the jobs it started and not yet recorded, and the stop signals of the
/// async ones.
#[derive(Default)]
struct Local {
    running: HashSet<i64>,
    cancels: HashMap<i64, (Arc<str>, oneshot::Sender<()>)>,
}

/// A row taken over from a process that died.
struct Claimed {
    seq: i64,
    session_id: String,
    key: String,
    name: String,
    args: Option<String>,
    priority: i64,
    attempts: i32,
}

/// The store shared with the worker pool and the backend's own tasks.
struct Inner {
    this: Weak<Inner>,
    /// The backend's runtime: every statement runs there.
    handle: Handle,
    connection: Connection,
    sql: TaskSql,
    owner: String,
    channel: String,
    timing: QueueTiming,
    local: Mutex<Local>,
    /// Woken when a job of this process is recorded or stopped (for `close`).
    changed: Notify,
    waiters: Waiters,
    /// Whether the listener is listening (a wait that starts before it could miss a completion).
    listening: watch::Sender<bool>,
    /// The owner row is written (the first statement of anything else waits for it).
    registered: tokio::sync::OnceCell<()>,
    closed: AtomicBool,
    /// Looks waits have taken (a wait that polled would take one per poll).
    looks: AtomicU64,
}

impl Inner {
    fn local(&self) -> MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pool, once the tables are laid out and this process's heartbeat row is written (so no
    /// other replica takes a row of ours for a dead process's).
    async fn pool(&self) -> Result<&sqlx::PgPool, DbError> {
        let pool = self.connection.pool().await?;
        self.registered.get_or_try_init(|| self.heartbeat(pool)).await?;
        Ok(pool)
    }

    async fn heartbeat(&self, pool: &sqlx::PgPool) -> Result<(), DbError> {
        sqlx::query(AssertSqlSafe(self.sql.heartbeat.as_str()))
            .bind(&self.owner)
            .bind(now_ms())
            .execute(pool)
            .await
            .map_err(failed("writing the task owner's heartbeat"))?;
        Ok(())
    }

    /// Runs `work` on the backend's runtime and waits for it from any thread (inside a
    /// multi-threaded runtime, without holding up its other tasks).
    fn block<T, F>(&self, work: impl FnOnce(Arc<Self>) -> F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, DbError>> + Send + 'static,
    {
        let this = self.this.upgrade().ok_or_else(stopped)?;
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let work = work(this);
        self.handle.spawn(async move {
            let _ = done.send(work.await);
        });
        let wait = move || result.recv().unwrap_or_else(|_| Err(stopped()));
        match Handle::try_current() {
            Ok(current) if current.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(wait),
            _ => wait(),
        }
    }

    /// Runs `work` on the backend's runtime, for async callers.
    async fn run<T, F>(&self, work: impl FnOnce(Arc<Self>) -> F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, DbError>> + Send + 'static,
    {
        let this = self.this.upgrade().ok_or_else(stopped)?;
        self.handle.spawn(work(this)).await.unwrap_or_else(|_| Err(stopped()))
    }

    async fn add(
        &self,
        snapshot: TaskResult,
        created: i64,
        args: Option<String>,
        refused: Option<String>,
    ) -> Result<i64, DbError> {
        let pool = self.pool().await?;
        sqlx::query_scalar(AssertSqlSafe(self.sql.add.as_str()))
            .bind(&snapshot.id)
            .bind(&snapshot.session_id)
            .bind(&snapshot.key)
            .bind(&snapshot.name)
            .bind(args)
            .bind(snapshot.priority)
            .bind(ttl_ms(snapshot.ttl))
            .bind(created)
            .bind(&self.owner)
            .bind(refused)
            .bind(error_json(&cancelled("replaced by a newer task with the same key")))
            .bind(&self.channel)
            .fetch_one(pool)
            .await
            .map_err(failed("adding a task"))
    }

    /// Ends an unfinished row (only this process's with `ours`); whether it was ended.
    async fn end(
        &self,
        seq: i64,
        status: TaskStatus,
        value: Option<&str>,
        error: Option<&str>,
        ours: bool,
    ) -> Result<bool, DbError> {
        let pool = self.pool().await?;
        sqlx::query_scalar(AssertSqlSafe(self.sql.end.as_str()))
            .bind(seq)
            .bind(status.as_str())
            .bind(value)
            .bind(error)
            .bind(now_ms())
            .bind(ours.then_some(self.owner.as_str()))
            .bind(&self.channel)
            .fetch_one(pool)
            .await
            .map_err(failed("recording the end of a task"))
    }

    async fn try_start(&self, seq: i64) -> Result<bool, DbError> {
        let pool = self.pool().await?;
        let started = sqlx::query(AssertSqlSafe(self.sql.start.as_str()))
            .bind(seq)
            .bind(now_ms())
            .bind(&self.owner)
            .execute(pool)
            .await
            .map_err(failed("starting a task"))?;
        Ok(started.rows_affected() == 1)
    }

    /// Hands a pending row of ours to any replica (its start could not be recorded here).
    async fn give_back(&self, seq: i64) -> Result<(), DbError> {
        let pool = self.pool().await?;
        sqlx::query(AssertSqlSafe(self.sql.give_back.as_str()))
            .bind(seq)
            .bind(&self.owner)
            .execute(pool)
            .await
            .map_err(failed("handing a task back"))?;
        Ok(())
    }

    async fn get(&self, session_id: String, key: String) -> Result<Option<TaskResult>, DbError> {
        let pool = self.pool().await?;
        let row = sqlx::query(AssertSqlSafe(self.sql.get.as_str()))
            .bind(session_id)
            .bind(key)
            .bind(now_ms())
            .fetch_optional(pool)
            .await
            .map_err(failed("reading a task"))?;
        let Some(row) = row else { return Ok(None) };
        let stored = StoredRow {
            seq: column(&row, "seq")?,
            id: column(&row, "id")?,
            session_id: column(&row, "session_id")?,
            key: column(&row, "key")?,
            name: column(&row, "name")?,
            status: column(&row, "status")?,
            value: column(&row, "value")?,
            error: column(&row, "error")?,
            priority: column(&row, "priority")?,
            ttl_ms: column(&row, "ttl_ms")?,
            created_at: column(&row, "created_at")?,
            started_at: column(&row, "started_at")?,
            finished_at: column(&row, "finished_at")?,
        };
        stored.into_result().map(Some).map_err(DbError::Corrupt)
    }

    /// The visible row of a key: `(seq, status, value)`.
    async fn visible(&self, session_id: String, key: String) -> Result<Option<(i64, String, Option<String>)>, DbError> {
        let pool = self.pool().await?;
        let row = sqlx::query(AssertSqlSafe(self.sql.visible.as_str()))
            .bind(session_id)
            .bind(key)
            .bind(now_ms())
            .fetch_optional(pool)
            .await
            .map_err(failed("reading a result"))?;
        row.map(|row| Ok((column(&row, "seq")?, column(&row, "status")?, column(&row, "value")?))).transpose()
    }

    /// Deletes a completed row; whether this call deleted it (so exactly one caller does).
    async fn pop(&self, seq: i64) -> Result<bool, DbError> {
        let pool = self.pool().await?;
        let deleted = sqlx::query(AssertSqlSafe(self.sql.pop.as_str()))
            .bind(seq)
            .bind(now_ms())
            .execute(pool)
            .await
            .map_err(failed("removing a result"))?;
        Ok(deleted.rows_affected() == 1)
    }

    /// Removes the visible rows of a session with this status: `(key, value, error)`, oldest first.
    #[allow(clippy::type_complexity)]
    async fn take(
        &self,
        session_id: String,
        status: TaskStatus,
    ) -> Result<Vec<(String, Option<String>, Option<String>)>, DbError> {
        let pool = self.pool().await?;
        let rows = sqlx::query(AssertSqlSafe(self.sql.take.as_str()))
            .bind(session_id)
            .bind(status.as_str())
            .bind(now_ms())
            .fetch_all(pool)
            .await
            .map_err(failed("popping results"))?;
        let mut taken = rows
            .iter()
            .map(|row| {
                Ok((column::<i64>(row, "seq")?, column(row, "key")?, column(row, "value")?, column(row, "error")?))
            })
            .collect::<Result<Vec<(i64, String, Option<String>, Option<String>)>, DbError>>()?;
        taken.sort_unstable_by_key(|(seq, ..)| *seq);
        Ok(taken.into_iter().map(|(_, key, value, error)| (key, value, error)).collect())
    }

    async fn has(&self, session_id: String, key: Option<String>) -> Result<bool, DbError> {
        let pool = self.pool().await?;
        sqlx::query_scalar(AssertSqlSafe(self.sql.has.as_str()))
            .bind(session_id)
            .bind(key)
            .bind(now_ms())
            .fetch_one(pool)
            .await
            .map_err(failed("looking for a result"))
    }

    /// Cancels the pending and running rows of a key (every key with `None`); how many. Running
    /// async jobs of this process stop at once; other replicas stop theirs when notified.
    async fn cancel(&self, session_id: String, key: Option<String>) -> Result<usize, DbError> {
        let pool = self.pool().await?;
        let rows = sqlx::query(AssertSqlSafe(self.sql.cancel.as_str()))
            .bind(&session_id)
            .bind(key)
            .bind(error_json(&cancelled("cancelled")))
            .bind(now_ms())
            .bind(&self.channel)
            .fetch_all(pool)
            .await
            .map_err(failed("cancelling tasks"))?;
        let mut count = 0;
        for row in &rows {
            let seq: i64 = column(row, "seq")?;
            let ended: bool = row.try_get(1).map_err(failed("reading a cancelled task"))?;
            if ended {
                count += 1;
                self.stop_local(seq);
            }
        }
        Ok(count)
    }

    /// Stops a running async job of this process (its row already says how it ended).
    fn stop_local(&self, seq: i64) {
        let mut local = self.local();
        if let Some((_, stop)) = local.cancels.remove(&seq) {
            let _ = stop.send(());
            local.running.remove(&seq);
            drop(local);
            self.changed.notify_waiters();
        }
    }

    /// One consistent look at the keys of a wait: `(key, in flight, completed value)`.
    async fn look(&self, session_id: String, keys: Vec<String>) -> Result<Vec<KeyLook>, DbError> {
        let pool = self.pool().await?;
        self.looks.fetch_add(1, Ordering::Relaxed);
        let rows = sqlx::query(AssertSqlSafe(self.sql.look.as_str()))
            .bind(session_id)
            .bind(&keys)
            .bind(now_ms())
            .fetch_all(pool)
            .await
            .map_err(failed("reading tasks"))?;
        let mut looks: Vec<KeyLook> =
            keys.iter().map(|_| KeyLook { inflight: false, foreign: false, completed: None }).collect();
        for row in &rows {
            let key: String = column(row, "key")?;
            let status: String = column(row, "status")?;
            let Some(look) = keys.iter().position(|k| *k == key).and_then(|i| looks.get_mut(i)) else { continue };
            match TaskStatus::parse(&status) {
                Some(TaskStatus::Pending | TaskStatus::Running) => look.inflight = true,
                Some(TaskStatus::Completed) => {
                    let value: Option<String> = column(row, "value")?;
                    look.completed = stored_value(&key, value.as_deref());
                }
                _ => look.completed = None,
            }
        }
        Ok(looks)
    }

    /// Stops this process's running async jobs of a session (every session with `None`) whose
    /// rows another replica cancelled or took.
    async fn stop_cancelled_elsewhere(&self, session_id: Option<&str>) -> Result<(), DbError> {
        let seqs: Vec<i64> = self
            .local()
            .cancels
            .iter()
            .filter(|(_, (session, _))| session_id.is_none_or(|s| **session == *s))
            .map(|(seq, _)| *seq)
            .collect();
        if seqs.is_empty() {
            return Ok(());
        }
        let pool = self.pool().await?;
        let ours: HashSet<i64> = sqlx::query_scalar(AssertSqlSafe(self.sql.still_ours.as_str()))
            .bind(&seqs)
            .bind(&self.owner)
            .fetch_all(pool)
            .await
            .map_err(failed("reading running tasks"))?
            .into_iter()
            .collect();
        for seq in seqs.into_iter().filter(|seq| !ours.contains(seq)) {
            tracing::debug!(seq, "stopping a task cancelled by another replica");
            self.stop_local(seq);
        }
        Ok(())
    }

    /// Heartbeats, deletes expired results, and takes over the unfinished rows of processes that
    /// stopped heartbeating (or handed them back): registered `#[task]`s run here again, the
    /// others fail as lost.
    async fn sweep(&self, jobs: &Jobs) -> Result<(), DbError> {
        let pool = self.pool().await?;
        let now = now_ms();
        self.heartbeat(pool).await?;
        sqlx::query(AssertSqlSafe(self.sql.expire.as_str()))
            .bind(now)
            .execute(pool)
            .await
            .map_err(failed("deleting expired task results"))?;
        sqlx::query(AssertSqlSafe(self.sql.prune_owners.as_str()))
            .bind(now.saturating_sub(OWNER_RETENTION_MS))
            .execute(pool)
            .await
            .map_err(failed("forgetting long-gone task owners"))?;
        let dead_after =
            self.timing.heartbeat.saturating_mul(u32::try_from(self.timing.missed_heartbeats).unwrap_or(5));
        let cutoff = now.saturating_sub(i64::try_from(dead_after.as_millis()).unwrap_or(i64::MAX));
        let rows = sqlx::query(AssertSqlSafe(self.sql.claim.as_str()))
            .bind(&self.owner)
            .bind(cutoff)
            .bind(CLAIM_BATCH)
            .fetch_all(pool)
            .await
            .map_err(failed("taking over the tasks of a stopped process"))?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(Claimed {
                    seq: column(row, "seq")?,
                    session_id: column(row, "session_id")?,
                    key: column(row, "key")?,
                    name: unescape(column(row, "name")?),
                    args: column(row, "args")?,
                    priority: column(row, "priority")?,
                    attempts: column(row, "attempts")?,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        claimed.sort_unstable_by_key(|row| row.seq);
        for row in claimed {
            match resume_stored(&row.name, &row.key, row.args.as_deref()) {
                Ok(work) => {
                    tracing::info!(key = %row.key, name = %row.name, attempt = row.attempts, "running a task of a stopped process");
                    let ticket = Ticket {
                        session_id: Arc::from(row.session_id),
                        key: Arc::from(row.key),
                        seq: ticket_seq(row.seq),
                    };
                    jobs.enqueue(ticket, row.priority, work, Some(self.handle.clone()));
                }
                Err(error) => {
                    tracing::warn!(key = %row.key, name = %row.name, error = %error, "a task was lost with its process");
                    let status =
                        if error.kind == TaskErrorKind::Cancelled { TaskStatus::Cancelled } else { TaskStatus::Failed };
                    self.end(row.seq, status, None, Some(&error_json(&error)), true).await?;
                }
            }
        }
        Ok(())
    }

    /// Hands this process's unfinished rows to the other replicas and forgets its heartbeat;
    /// how many rows.
    async fn release(&self) -> Result<u64, DbError> {
        let pool = self.connection.pool().await?;
        let released = sqlx::query(AssertSqlSafe(self.sql.release.as_str()))
            .bind(&self.owner)
            .execute(pool)
            .await
            .map_err(failed("handing tasks back"))?;
        sqlx::query(AssertSqlSafe(self.sql.forget_owner.as_str()))
            .bind(&self.owner)
            .execute(pool)
            .await
            .map_err(failed("removing the task owner's heartbeat"))?;
        Ok(released.rows_affected())
    }

    /// Handles one notification: wakes the waits of its session, and with a cancellation stops
    /// the session's jobs here that are no longer ours.
    async fn dispatch(&self, payload: &str) {
        let (kind, session) = payload.split_at(payload.len().min(1));
        // An empty session stands for "too long to send": wake everyone.
        let session = (!session.is_empty()).then_some(session);
        self.waiters.wake(session);
        if kind == "c"
            && let Err(e) = self.stop_cancelled_elsewhere(session).await
        {
            tracing::warn!(error = %e, "cannot check for tasks cancelled elsewhere");
        }
    }
}

impl RunStore for Inner {
    fn start(&self, ticket: &Ticket, is_async: bool) -> Start {
        let seq = stored_seq(ticket.seq);
        // Registered before the row says RUNNING, so a cancellation in between is not missed.
        let stopped = is_async.then(|| {
            let (stop, stopped) = oneshot::channel();
            self.local().cancels.insert(seq, (Arc::clone(&ticket.session_id), stop));
            stopped
        });
        self.local().running.insert(seq);
        match self.block(move |this| async move { this.try_start(seq).await }) {
            Ok(true) => Start::Run(stopped),
            Ok(false) => {
                self.forget_local(seq);
                Start::Skip
            }
            Err(e) => {
                tracing::error!(key = %ticket.key, error = %e, "cannot start a task; handing it to the other replicas");
                self.forget_local(seq);
                if let Some(this) = self.this.upgrade() {
                    self.handle.spawn(async move {
                        if let Err(e) = this.give_back(seq).await {
                            tracing::error!(error = %e, "cannot hand a task back; it runs again once this process ends");
                        }
                    });
                }
                Start::Skip
            }
        }
    }

    fn finish(&self, ticket: &Ticket, outcome: Result<Value, TaskError>) {
        let seq = stored_seq(ticket.seq);
        self.local().cancels.remove(&seq);
        let (status, value, error) = stored_outcome(outcome);
        let Some(this) = self.this.upgrade() else { return };
        let ticket = ticket.clone();
        // Recorded on the backend's runtime: the job's thread (or runtime) does not wait for it.
        self.handle.spawn(async move {
            let mut delay = Duration::from_millis(50);
            for attempt in 1..=END_ATTEMPTS {
                match this.end(seq, status, value.as_deref(), error.as_deref(), true).await {
                    Ok(true) => break,
                    Ok(false) => {
                        tracing::debug!(key = %ticket.key, "a cancelled or taken task ended; its result is discarded");
                        break;
                    }
                    Err(e) if attempt < END_ATTEMPTS => {
                        tracing::warn!(key = %ticket.key, error = %e, "cannot record the end of a task; retrying");
                        tokio::time::sleep(delay).await;
                        delay = delay.saturating_mul(2);
                    }
                    Err(e) => tracing::error!(
                        key = %ticket.key,
                        error = %e,
                        "cannot record the end of a task; it runs again once this process hands its tasks back or stops"
                    ),
                }
            }
            this.forget_local(seq);
            this.waiters.wake(Some(&ticket.session_id));
        });
    }
}

impl Inner {
    /// This process no longer runs the row.
    fn forget_local(&self, seq: i64) {
        let mut local = self.local();
        local.cancels.remove(&seq);
        local.running.remove(&seq);
        drop(local);
        self.changed.notify_waiters();
    }
}

/// The worker pool, apart from the store so the pool's threads do not keep it alive.
struct Jobs {
    executor: Mutex<Option<Executor>>,
}

impl Jobs {
    /// Hands a job to the pool; once the backend is closed it stays in the table for the others.
    fn enqueue(&self, ticket: Ticket, priority: i64, work: Work, runtime: Option<Handle>) {
        match self.executor.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            Some(executor) => executor.enqueue(ticket, priority, work, runtime),
            None => tracing::debug!(key = %ticket.key, "task backend closed: the task is left to the other replicas"),
        }
    }
}

/// A column of a row, or a clear error naming it.
fn column<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r sqlx::postgres::PgRow,
    name: &str,
) -> Result<T, DbError> {
    row.try_get(name).map_err(failed(&format!("reading the task column `{name}`")))
}

/// A session id, key or task name as stored: PostgreSQL text cannot hold NUL, so `\` becomes `\\` and NUL
/// becomes `\0` (one-to-one, so no two ids meet).
fn escape(id: &str) -> Cow<'_, str> {
    if !id.contains(['\\', '\0']) {
        return Cow::Borrowed(id);
    }
    Cow::Owned(id.replace('\\', "\\\\").replace('\0', "\\0"))
}

/// A stored session id, key or task name as it was given ([`escape`] undone).
fn unescape(stored: String) -> String {
    if !stored.contains('\\') {
        return stored;
    }
    let mut id = String::with_capacity(stored.len());
    let mut chars = stored.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            id.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => id.push('\0'),
            Some(other) => id.push(other),
            None => id.push('\\'),
        }
    }
    id
}

fn stopped() -> DbError {
    DbError::Closed("the PostgreSQL task backend's runtime has stopped".to_owned())
}

/// Background tasks in PostgreSQL, shared by every replica of a deployment: a task added on one
/// replica runs there, and its result can be popped by a later run of the session on any
/// replica, exactly once.
///
/// Get one from [`PostgresDb::tasks`](super::PostgresDb::tasks) (AgentOS's runners
/// with a `PostgresDb` use it for their `tasks` unless given another backend), or with
/// [`PostgresTaskBackend::new`]:
///
/// ```no_run
/// use std::sync::Arc;
/// use agno_core::db::PostgresDb;
/// use agno_core::tasks::Tasks;
///
/// # fn main() -> Result<(), agno_core::db::DbError> {
/// let db = PostgresDb::new("postgresql://agno@127.0.0.1:5432/agno")?;
/// let tasks = Tasks::new(db.tasks()?, "session-1");
/// if let Some(summary) = tasks.pop("summary") {
///     println!("an earlier run left: {summary}");
/// }
/// # Ok(()) }
/// ```
///
/// The rules are those of [`SqliteTaskBackend`](crate::tasks::SqliteTaskBackend), on the table
/// `agno_task_results` of the database's schema:
/// * a key's rows are its pending and running submissions plus at most one finished row, the
///   *visible* result (the latest submission to finish). Adding a key whose submission is still
///   pending cancels that one; a running one keeps running, and the newer result wins;
/// * `pop` deletes the visible row only if it is still there: of two replicas popping one
///   result, exactly one gets it;
/// * a finished row expires `ttl` after it finished; reads never see an expired row, and a
///   sweep deletes them (one indexed `DELETE`) at every heartbeat;
/// * priority orders the jobs waiting for this process's workers (at most
///   [`DEFAULT_MAX_WORKERS`] at once unless set);
/// * `cancel` marks pending and running rows `CANCELLED` whichever replica runs them. A running
///   async job stops at once here, and on another replica as soon as it is notified; a running
///   blocking job runs to its end and its result is discarded;
/// * `wait` sleeps until a notification (`LISTEN/NOTIFY`, sent when a row of the session ends)
///   wakes it, and then looks again: it does not poll.
///
/// Replicas: each backend writes a heartbeat row every [`QueueTiming::heartbeat`]. The unfinished
/// rows of a process that missed [`QueueTiming::missed_heartbeats`] heartbeats (it died), or
/// that handed them back when it closed, are taken over by a live replica, one replica per row:
/// registered `#[task]`s with stored arguments run there again (at least once, `attempts` + 1),
/// and plain closures, whose code cannot be found in another process, fail with kind
/// [`Lost`](TaskErrorKind::Lost) and the reason.
///
/// Statements run on the backend's own runtime (one thread, five connections), so the
/// synchronous [`TaskBackend`] methods work from any thread; called on a multi-threaded tokio
/// runtime they let its other tasks go on while they wait. Their errors are logged (level
/// `error`) and give a `FAILED` snapshot (`submit`: the task does not run), `None`, `false`, `0`
/// or an empty list.
pub struct PostgresTaskBackend {
    inner: Arc<Inner>,
    jobs: Arc<Jobs>,
    runtime: Mutex<Option<Runtime>>,
}

impl fmt::Debug for PostgresTaskBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresTaskBackend")
            .field("schema", &self.inner.connection.schema())
            .field("owner", &self.inner.owner)
            .finish_non_exhaustive()
    }
}

impl PostgresTaskBackend {
    /// Tasks in the database at `url`, in agno's schema `ai`, running at most
    /// [`DEFAULT_MAX_WORKERS`] at once here. The connection is made on first use.
    pub fn new(url: &str) -> Result<Self, DbError> {
        Self::with_schema(url, super::DEFAULT_SCHEMA, DEFAULT_MAX_WORKERS)
    }

    /// [`new`](Self::new) in another schema, running at most `max_workers` tasks at once here.
    pub fn with_schema(url: &str, schema: &str, max_workers: usize) -> Result<Self, DbError> {
        let db = super::PostgresDb::with_schema(url, schema)?;
        Self::start(&db.connection, db.timing, max_workers)
    }

    /// Starts a backend on the database of `connection` (its own pool and runtime).
    pub(super) fn start(connection: &Connection, timing: QueueTiming, max_workers: usize) -> Result<Self, DbError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("agno-pg-tasks")
            .enable_all()
            .build()
            .map_err(|source| DbError::Io { context: "starting the task backend's runtime".to_owned(), source })?;
        let schema = connection.schema().to_owned();
        let inner = Arc::new_cyclic(|this| Inner {
            this: this.clone(),
            handle: runtime.handle().clone(),
            connection: connection.for_tasks(CONNECTIONS),
            sql: TaskSql::new(&schema),
            owner: uuid::Uuid::new_v4().simple().to_string(),
            channel: format!("agno_tasks_{:016x}", lock_key(&schema)),
            timing,
            local: Mutex::default(),
            changed: Notify::new(),
            waiters: Waiters::default(),
            listening: watch::Sender::new(false),
            registered: tokio::sync::OnceCell::new(),
            closed: AtomicBool::new(false),
            looks: AtomicU64::new(0),
        });
        let executor = Executor::new(Arc::clone(&inner) as Arc<dyn RunStore>, max_workers);
        let jobs = Arc::new(Jobs { executor: Mutex::new(Some(executor)) });
        runtime.spawn(listen(Arc::clone(&inner)));
        runtime.spawn(sweep(Arc::clone(&inner), Arc::clone(&jobs)));
        tracing::debug!(schema = %schema, owner = %inner.owner, "PostgreSQL task backend started");
        Ok(Self { inner, jobs, runtime: Mutex::new(Some(runtime)) })
    }

    /// This backend's owner id (the `owner` column of the rows it runs).
    pub fn owner_id(&self) -> &str {
        &self.inner.owner
    }

    /// Stops taking tasks, waits up to `grace` for the running ones, then hands every unfinished
    /// row of this process (queued, or still running) to the other replicas and removes its
    /// heartbeat, so they take the rows at their next sweep instead of after the dead-process
    /// bound. Tasks added afterwards are stored `FAILED` (`Lost`).
    pub async fn close(&self, grace: Duration) {
        self.inner.closed.store(true, Ordering::SeqCst);
        let executor = self.jobs.executor.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(executor);
        let deadline = tokio::time::Instant::now().checked_add(grace);
        loop {
            let changed = self.inner.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            let running = self.inner.local().running.len();
            if running == 0 {
                break;
            }
            let in_time = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, changed).await.is_ok(),
                None => {
                    changed.await;
                    true
                }
            };
            if !in_time {
                tracing::warn!(running, "tasks still running after the grace period are handed to the other replicas");
                break;
            }
        }
        match self.inner.run(|inner| async move { inner.release().await }).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "unfinished tasks handed to the other replicas"),
            Err(e) => {
                tracing::error!(error = %e, "cannot hand the unfinished tasks back; the other replicas take them once this process's heartbeat is old")
            }
        }
    }
}

impl Drop for PostgresTaskBackend {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.lock().unwrap_or_else(PoisonError::into_inner).take() {
            // Without `close`, this process's unfinished rows are taken over once its heartbeat
            // is old. Shutting down in the background is allowed inside a runtime too.
            runtime.shutdown_background();
        }
    }
}

/// Listens for the ends of tasks of every replica, reconnecting when the connection drops (after
/// which every wait looks again, as a notification may have been missed).
async fn listen(inner: Arc<Inner>) {
    loop {
        match subscribe(&inner).await {
            Ok(mut listener) => {
                inner.listening.send_replace(true);
                inner.waiters.wake(None);
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notification)) => inner.dispatch(notification.payload()).await,
                        Ok(None) => {
                            tracing::warn!("the task notification connection dropped; reconnecting");
                            inner.waiters.wake(None);
                            if let Err(e) = inner.stop_cancelled_elsewhere(None).await {
                                tracing::warn!(error = %e, "cannot check for tasks cancelled elsewhere");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "task notifications stopped; reconnecting");
                            break;
                        }
                    }
                }
                inner.listening.send_replace(false);
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for task notifications; retrying"),
        }
        tokio::time::sleep(inner.timing.heartbeat).await;
    }
}

async fn subscribe(inner: &Inner) -> Result<PgListener, DbError> {
    let pool = inner.pool().await?;
    let mut listener = PgListener::connect_with(pool).await.map_err(failed("connecting for task notifications"))?;
    listener.listen(&inner.channel).await.map_err(failed("listening for task notifications"))?;
    Ok(listener)
}

/// Heartbeats and takes over the rows of stopped processes, every heartbeat, until the backend
/// is closed.
async fn sweep(inner: Arc<Inner>, jobs: Arc<Jobs>) {
    let mut every = tokio::time::interval(inner.timing.heartbeat);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if inner.closed.load(Ordering::SeqCst) {
            return;
        }
        if let Err(e) = inner.sweep(&jobs).await {
            tracing::warn!(error = %e, "task sweep failed; retrying at the next heartbeat");
        }
    }
}

impl TaskBackend for PostgresTaskBackend {
    fn submit(&self, job: Job) -> TaskResult {
        let Submission { mut snapshot, created, args, work } = Submission::new(job);
        let priority = snapshot.priority;
        let refused = self
            .inner
            .closed
            .load(Ordering::SeqCst)
            .then(|| TaskError::new(TaskErrorKind::Lost, "the task backend was closed before this task was added"));
        let mut row = snapshot.clone();
        row.session_id = escape(&row.session_id).into_owned();
        row.key = escape(&row.key).into_owned();
        row.name = escape(&row.name).into_owned();
        let (session, key) = (Arc::from(row.session_id.as_str()), Arc::from(row.key.as_str()));
        let refusal = refused.as_ref().map(error_json);
        match self.inner.block(move |inner| async move { inner.add(row, created, args, refusal).await }) {
            Ok(_) if let Some(error) = refused => refuse(&mut snapshot, error),
            Ok(seq) => {
                let runtime = match &work {
                    Work::Async(_) => Some(Handle::try_current().unwrap_or_else(|_| self.inner.handle.clone())),
                    Work::Blocking(_) => None,
                };
                self.jobs.enqueue(Ticket { session_id: session, key, seq: ticket_seq(seq) }, priority, work, runtime);
            }
            Err(e) => not_stored(&mut snapshot, &e),
        }
        snapshot
    }

    fn persists(&self) -> bool {
        true
    }

    fn close(&self, grace: Duration) -> BoxFuture<'_, ()> {
        Box::pin(PostgresTaskBackend::close(self, grace))
    }

    fn get(&self, session_id: &str, key: &str) -> Option<TaskResult> {
        let (session, wanted) = (escape(session_id).into_owned(), escape(key).into_owned());
        let found = self.inner.block(move |inner| async move { inner.get(session, wanted).await });
        let mut found = or_logged(found, "read a task", Some(key), None)?;
        found.session_id = unescape(found.session_id);
        found.key = unescape(found.key);
        found.name = unescape(found.name);
        Some(found)
    }

    fn pop(&self, session_id: &str, key: &str, accept: &mut dyn FnMut(&Value) -> bool) -> Option<Value> {
        // A newer result can replace the one read between the read and the delete: read again.
        for _ in 0..3 {
            let (session, wanted) = (escape(session_id).into_owned(), escape(key).into_owned());
            let visible = self.inner.block(move |inner| async move { inner.visible(session, wanted).await });
            let (seq, status, text) = match visible {
                Ok(Some(row)) => row,
                Ok(None) => return None,
                Err(e) => {
                    tracing::error!(key, error = %e, "cannot pop a task result");
                    return None;
                }
            };
            if status != TaskStatus::Completed.as_str() {
                return None;
            }
            let value = stored_value(key, text.as_deref())?;
            if !accept(&value) {
                return None;
            }
            match self.inner.block(move |inner| async move { inner.pop(seq).await }) {
                Ok(true) => return Some(value),
                Ok(false) => continue,
                Err(e) => {
                    tracing::error!(key, error = %e, "cannot pop a task result");
                    return None;
                }
            }
        }
        None
    }

    fn pop_all(&self, session_id: &str) -> Vec<(String, Value)> {
        let session = escape(session_id).into_owned();
        let taken = self.inner.block(move |inner| async move { inner.take(session, TaskStatus::Completed).await });
        let taken = or_logged(taken, "pop the task results", None, Vec::new());
        taken
            .into_iter()
            .filter_map(|(key, value, _)| {
                let value = stored_value(&key, value.as_deref())?;
                Some((unescape(key), value))
            })
            .collect()
    }

    fn pop_errors(&self, session_id: &str) -> Vec<(String, TaskError)> {
        let session = escape(session_id).into_owned();
        let taken = self.inner.block(move |inner| async move { inner.take(session, TaskStatus::Failed).await });
        let taken = or_logged(taken, "pop the task errors", None, Vec::new());
        taken.into_iter().map(|(key, _, error)| (unescape(key), stored_error(error.as_deref()))).collect()
    }

    fn has(&self, session_id: &str, key: Option<&str>) -> bool {
        let (session, wanted) = (escape(session_id).into_owned(), key.map(|key| escape(key).into_owned()));
        let found = self.inner.block(move |inner| async move { inner.has(session, wanted).await });
        or_logged(found, "look for a task result", key, false)
    }

    fn cancel(&self, session_id: &str, key: &str) -> bool {
        let (session, wanted) = (escape(session_id).into_owned(), escape(key).into_owned());
        let cancelled = self.inner.block(move |inner| async move { inner.cancel(session, Some(wanted)).await });
        or_logged(cancelled, "cancel a task", Some(key), 0) > 0
    }

    fn cancel_all(&self, session_id: &str) -> usize {
        let session = escape(session_id).into_owned();
        let cancelled = self.inner.block(move |inner| async move { inner.cancel(session, None).await });
        or_logged(cancelled, "cancel the tasks", None, 0)
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
            // Until the listener listens, an end on another replica would not wake this wait.
            let mut listening = self.inner.listening.subscribe();
            let _ = tokio::time::timeout_at(deadline, listening.wait_for(|on| *on)).await;
            let session = escape(session_id).into_owned();
            let wanted: Vec<String> = keys.iter().map(|key| escape(key).into_owned()).collect();
            let registration = self.inner.waiters.register(&session);
            loop {
                let notified = registration.notify.notified();
                let mut notified = std::pin::pin!(notified);
                // Registered before looking, so an end in between is not missed.
                notified.as_mut().enable();
                let (session, wanted) = (session.clone(), wanted.clone());
                let looks = match self.inner.run(move |inner| async move { inner.look(session, wanted).await }).await {
                    Ok(looks) => looks,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the tasks a wait is for");
                        return Vec::new();
                    }
                };
                if let Some(answer) = wait_answer(keys, &looks, mode, tokio::time::Instant::now() >= deadline) {
                    return answer;
                }
                let _ = tokio::time::timeout_at(deadline, notified).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::{PostgresDb, test_server};
    use super::*;
    use crate::registry::{self, Descriptor};
    use crate::tasks::tests::{Make, task_backend_rules};
    use crate::tasks::{AddOptions, Task, TaskExt, TaskRun, Tasks, resume};

    /// How long anything may take before a test calls it a hang.
    const LONG: Duration = Duration::from_secs(30);

    /// Fast heartbeats, so a replica counts as dead after 300 ms.
    const FAST: QueueTiming =
        QueueTiming { heartbeat: Duration::from_millis(100), missed_heartbeats: 3, max_attempts: 10, batch: 256 };

    /// A schema of its own for one test.
    fn schema(test: &str) -> String {
        format!("t_tasks_{test}_{}", uuid::Uuid::new_v4().simple()).chars().take(63).collect()
    }

    /// A backend (a replica) on `schema`.
    fn replica(url: &str, schema: &str, timing: QueueTiming, workers: usize) -> Arc<PostgresTaskBackend> {
        let db = PostgresDb::with_schema(url, schema).expect("the database");
        Arc::new(PostgresTaskBackend::start(&db.connection, timing, workers).expect("the backend"))
    }

    /// Backends on one new schema, with `timing`: each call of the `Make` is another replica.
    fn replicas(url: String, test: &str, timing: QueueTiming) -> Box<Make> {
        let schema = schema(test);
        Box::new(move |workers| replica(&url, &schema, timing, workers) as Arc<dyn TaskBackend>)
    }

    async fn postgres_backends(test: &str) -> Option<((), Box<Make>)> {
        let url = test_server::database_url_or_skip(test)?;
        Some(((), replicas(url, test, QueueTiming::default())))
    }

    mod rules {
        super::task_backend_rules!(super::postgres_backends);
    }

    /// Triples a number after `ms` milliseconds (blocking); registered, so another replica can
    /// run it again.
    #[derive(Debug, Default)]
    struct SlowTriple;

    impl Task for SlowTriple {
        type Args = (i64, u64);
        type Output = i64;
        fn name(&self) -> &str {
            "pg_tests_slow_triple"
        }
        fn run(&self, (x, ms): (i64, u64)) -> TaskRun<i64> {
            TaskRun::blocking(move || {
                std::thread::sleep(Duration::from_millis(ms));
                Ok(x * 3)
            })
        }
    }

    static SLOW_TRIPLE: Descriptor =
        Descriptor::resumable_task("pg_tests_slow_triple", module_path!(), 300, 0, resume::<SlowTriple>);

    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < LONG, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn status(tasks: &Tasks, key: &str) -> Option<TaskStatus> {
        tasks.get(key).map(|r| r.status)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_result_added_on_one_replica_is_popped_exactly_once() {
        let Some(url) = test_server::database_url_or_skip("tasks_pop_once") else { return };
        let make = replicas(url, "pop_once", QueueTiming::default());
        let (a, b) = (Tasks::new(make(2), "s"), Tasks::new(make(2), "s"));
        for round in 0..10_i64 {
            a.add(SlowTriple, (round, 20));
            // B waits for what A runs: A's end reaches B by notification.
            assert_eq!(b.wait(SlowTriple, LONG).await, Some(round * 3), "round {round}");
            let pops: Vec<_> = (0..16)
                .map(|i| {
                    let tasks = if i % 2 == 0 { a.clone() } else { b.clone() };
                    tokio::task::spawn_blocking(move || tasks.pop(SlowTriple))
                })
                .collect();
            let mut popped = Vec::new();
            for pop in pops {
                popped.extend(pop.await.expect("a pop"));
            }
            assert_eq!(popped, [round * 3], "round {round}: one pop of 16 got it");
            assert!(!a.has(SlowTriple) && !b.has(SlowTriple));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wait_sleeps_until_notified_instead_of_polling() {
        let Some(url) = test_server::database_url_or_skip("tasks_no_polling") else { return };
        let schema = schema("no_polling");
        let running = Tasks::new(replica(&url, &schema, QueueTiming::default(), 2) as Arc<dyn TaskBackend>, "s");
        let waiting = replica(&url, &schema, QueueTiming::default(), 2);
        let tasks = Tasks::new(Arc::clone(&waiting) as Arc<dyn TaskBackend>, "s");
        running.add(SlowTriple, (5, 1_500));
        assert_eq!(tasks.wait(SlowTriple, LONG).await, Some(15));
        // One look before sleeping and one when the end is notified (a wait polling every 50 ms
        // would have looked about 30 times).
        let looks = waiting.inner.looks.load(Ordering::Relaxed);
        assert!(looks <= 3, "the wait looked {looks} times");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancel_on_one_replica_stops_the_task_running_on_another() {
        let Some(url) = test_server::database_url_or_skip("tasks_cancel_elsewhere") else { return };
        let make = replicas(url, "cancel_elsewhere", QueueTiming::default());
        let (a, b) = (Tasks::new(make(2), "s"), Tasks::new(make(2), "s"));
        struct Dropped(Arc<AtomicBool>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let (finished, dropped) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (flag, guard) = (Arc::clone(&finished), Dropped(Arc::clone(&dropped)));
        a.spawn_async("sleeper", AddOptions::new(), async move {
            let _guard = guard;
            tokio::time::sleep(LONG).await;
            flag.store(true, Ordering::SeqCst);
        });
        until("the sleeper runs", || status(&b, "sleeper") == Some(TaskStatus::Running)).await;
        assert!(b.cancel("sleeper"), "cancelled from the other replica");
        until("the sleeper is dropped where it runs", || dropped.load(Ordering::SeqCst)).await;
        assert!(!finished.load(Ordering::SeqCst), "stopped at its await, not run to its end");
        assert_eq!(status(&a, "sleeper"), Some(TaskStatus::Cancelled));
        assert_eq!(a.wait("sleeper", LONG).await, None::<Value>);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_tasks_of_a_replica_that_died_run_on_another() {
        registry::register(&SLOW_TRIPLE);
        let Some(url) = test_server::database_url_or_skip("tasks_dead_replica") else { return };
        let make = replicas(url.clone(), "dead_replica", FAST);
        let dying = Tasks::new(make(2), "s");
        let (release, gate) = std::sync::mpsc::channel::<()>();
        dying.add(SlowTriple, (7, 500));
        dying.spawn("closure", AddOptions::new(), move || gate.recv_timeout(LONG).is_ok());
        until("both run", || {
            status(&dying, "pg_tests_slow_triple") == Some(TaskStatus::Running)
                && status(&dying, "closure") == Some(TaskStatus::Running)
        })
        .await;
        // The process "dies": its runtime stops, so no heartbeat and no end is recorded.
        drop(dying);
        let survivor = Tasks::new(make(1), "s");
        assert_eq!(survivor.wait(SlowTriple, LONG).await, Some(21), "run again here");
        let errors = survivor.pop_errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "closure");
        assert_eq!(errors[0].1.kind, TaskErrorKind::Lost);
        assert!(errors[0].1.message.contains("#[task]"), "{}", errors[0].1.message);
        let _ = release.send(());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_hands_unfinished_tasks_to_the_other_replicas() {
        registry::register(&SLOW_TRIPLE);
        let Some(url) = test_server::database_url_or_skip("tasks_close") else { return };
        let schema = schema("close");
        let db = PostgresDb::with_schema(&url, &schema).expect("the database").queue_timing(FAST);
        let closing = replica(&url, &schema, FAST, 1);
        let tasks = Tasks::new(Arc::clone(&closing) as Arc<dyn TaskBackend>, "s");
        let (release, gate) = std::sync::mpsc::channel::<()>();
        tasks.spawn("blocker", AddOptions::new(), move || gate.recv_timeout(LONG).is_ok());
        until("the blocker runs", || status(&tasks, "blocker") == Some(TaskStatus::Running)).await;
        tasks.add(SlowTriple, (3, 0));
        assert_eq!(status(&tasks, "pg_tests_slow_triple"), Some(TaskStatus::Pending), "queued behind the blocker");
        closing.close(Duration::from_millis(100)).await;
        let refused = tasks.add(SlowTriple.keyed("late"), (1, 0));
        assert_eq!(refused.status, TaskStatus::Failed, "added after close");

        let other = db.tasks().expect("the other replica");
        let other = Tasks::new(other as Arc<dyn TaskBackend>, "s");
        assert_eq!(other.wait(SlowTriple, LONG).await, Some(9), "the queued task ran on the other replica");
        until("the blocker is settled", || status(&other, "blocker").is_some_and(TaskStatus::is_finished)).await;
        let errors: HashMap<String, TaskError> = other.pop_errors().into_iter().collect();
        assert_eq!(errors["blocker"].kind, TaskErrorKind::Lost, "a closure cannot run elsewhere: {errors:?}");
        let _ = release.send(());
    }

    #[test]
    fn ids_are_escaped_one_to_one() {
        for id in ["", "plain", "a\\0", "a\0b", "\\", "\0\\0\\", "x\\"] {
            let stored = escape(id);
            assert!(!stored.contains('\0'), "{id:?}");
            assert_eq!(unescape(stored.into_owned()), id);
        }
        assert_ne!(escape("a\0"), escape("a\\0"));
    }
}
