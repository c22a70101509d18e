//! The threads a `SqliteDb` works on: one writer that commits whatever writes have
//! queued up in one transaction (group commit), a checkpointer that copies the write-ahead log
//! back into the database file off the writer's path, and a few readers with connections of
//! their own.
//!
//! Callers never touch a connection: they send their data and the function to apply to it, and
//! await the answer on a oneshot channel, so a tokio worker is never blocked by the disk or by
//! another process's lock. The data comes back with the answer and is freed on the caller's
//! thread (freeing another thread's allocations makes the allocator take locks).
//!
//! A busy writer waits [`GATHER`] before it takes the queue, so its commits carry more writes; a
//! lone write is committed at once.
//!
//! A batch runs as one transaction. A write refused before it changed anything (an ownership
//! refusal) fails alone and the batch goes on. A write that fails after it may have changed
//! something rolls the whole transaction back; every write of the batch is then applied again
//! in a transaction of its own, so each gets its own outcome.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::statements::WriterConn;
use crate::db::error::{DbError, DbFuture};

/// At most this many writes share one transaction.
const MAX_BATCH: usize = 256;

/// A busy writer waits this long after the first write of a batch before it takes the queue,
/// so one commit carries more writes. Every commit rewrites the last page of each table and
/// index it touches, about ten pages whatever the batch, so small batches fill the log (and
/// the kernel's write path, and the checkpointer) with copies of the same pages: on the load
/// bench, batches of 5 wrote 2.4 pages of log per run, batches of 18 write 1.2.
const GATHER: Duration = Duration::from_micros(100);

/// The writer gathers only after a batch of at least this many writes, a sign that writes keep
/// coming: a lone write, on a quiet server, is committed at once.
const GATHER_AFTER: usize = 4;

/// The checkpointer is asked to copy the write-ahead log back every time it has grown by this
/// many pages (half SQLite's autocheckpoint size: a short log keeps the WAL index's hash chains
/// short, which every commit walks for the pages it rewrites).
const CHECKPOINT_PAGES: i32 = 500;

/// Under a steady stream of writes a checkpoint running beside the writer never catches up with
/// the end of the log, so the log would never start over and would grow without end. Once it
/// holds this many pages the writer checkpoints itself between two batches: with no write
/// beside it that checkpoint finishes, and the next transaction starts the log over.
const WRITER_CHECKPOINT_PAGES: i32 = 2 * CHECKPOINT_PAGES;

/// Every request waits while the writer checkpoints, and the checkpoint's cost is what it has
/// left to copy and sync: about 500 pages took 3.5 ms on the load bench, in which it otherwise
/// commits some 130 runs. So the writer checkpoints itself only once the checkpointer has left
/// at most this many pages to copy. Until then the checkpointer copies again what came in during
/// its last pass, each pass shorter than the one before; if a pass leaves no less than the one
/// before (a disk whose syncs take longer than the writer needs to add this many pages), the
/// writer copies the rest itself, as it would without the checkpointer.
const WRITER_CATCH_UP_PAGES: i32 = 32;

/// At most this many passes of the checkpointer in a row, after which it waits to be asked
/// again (by the next batch of a writer still waiting for a short remainder).
const CATCH_UP_PASSES: usize = 8;

/// The writer's own checkpoint is skipped while the checkpointer is still copying (SQLite runs
/// one checkpoint at a time and would refuse it), so a checkpointer starved of CPU would let the
/// log grow for as long as it is starved. Past this many pages the writer waits for the
/// checkpointer to finish instead, then checkpoints: the log never holds much more than this.
pub(super) const LOG_LIMIT_PAGES: i32 = 4 * WRITER_CHECKPOINT_PAGES;

/// How a write went, as the writer sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Applied {
    /// Done, inside the open transaction.
    Done,
    /// Refused before it changed anything: the rest of the batch stands.
    Refused,
    /// Failed, and may have changed something: the transaction must be rolled back.
    Failed,
}

/// One write waiting for the writer thread.
trait Write: Send {
    /// Applies the write inside the open transaction, keeping its result.
    fn apply(&mut self, conn: &WriterConn<'_>) -> Applied;
    /// Answers the caller once the transaction ended: `failed` is why it did not commit.
    fn finish(self: Box<Self>, failed: Option<&Arc<rusqlite::Error>>, writes: usize);
}

/// What a write sends back: its result, and the job itself with its data, to be freed on the
/// caller's side (a worker thread, which allocated them) rather than on the writer's.
type Reply<D, T> = (Result<T, DbError>, Box<Job<D, T>>);

/// A write's data, the function that applies it, its result once applied, and its caller.
struct Job<D, T> {
    data: D,
    work: fn(&WriterConn<'_>, &D) -> Result<T, DbError>,
    result: Option<Result<T, DbError>>,
    /// Always set until the job answers: an `Option` only so that the job can take it out and
    /// send itself back through it.
    reply: Option<oneshot::Sender<Reply<D, T>>>,
}

#[cfg(test)]
thread_local! {
    /// How many write jobs were freed on this thread (a test checks it is the caller's).
    pub(super) static JOBS_FREED_HERE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts where jobs are freed. (A `Drop` also keeps `finish` from moving the job's fields out
/// and freeing the box on the writer thread: that would no longer compile in tests.)
#[cfg(test)]
impl<D, T> Drop for Job<D, T> {
    fn drop(&mut self) {
        JOBS_FREED_HERE.with(|n| n.set(n.get() + 1));
    }
}

impl<D: Send, T: Send> Write for Job<D, T> {
    fn apply(&mut self, conn: &WriterConn<'_>) -> Applied {
        let (work, data) = (self.work, &self.data);
        let result = catch_unwind(AssertUnwindSafe(|| work(conn, data)))
            .unwrap_or_else(|_| Err(DbError::Closed("a write panicked; it was rolled back".into())));
        let applied = match &result {
            Ok(_) => Applied::Done,
            // The ownership guard refuses in the first statement, which then changed no row.
            Err(DbError::Ownership { .. }) => Applied::Refused,
            Err(_) => Applied::Failed,
        };
        self.result = Some(result);
        applied
    }

    fn finish(mut self: Box<Self>, failed: Option<&Arc<rusqlite::Error>>, writes: usize) {
        let result = match (self.result.take(), failed) {
            // The write's own error wins.
            (Some(Err(e)), _) => Err(e),
            (_, Some(source)) => Err(DbError::Batch { writes, source: Arc::clone(source) }),
            (Some(Ok(value)), None) => Ok(value),
            (None, None) => Err(DbError::Closed("the write was never applied".into())),
        };
        // The caller may have stopped waiting (its request was dropped); the write stands.
        if let Some(reply) = self.reply.take() {
            let _ = reply.send((result, self));
        }
    }
}

/// A read: a closure that answers its caller itself.
type Read = Box<dyn FnOnce(&Connection) + Send>;

/// How long the write-ahead log is and how much of it is copied back, shared by the writer
/// (its WAL hook, after every commit) and whichever thread checkpoints.
#[derive(Default)]
struct LogProgress {
    /// Pages in the log after the last commit.
    pages: AtomicI32,
    /// The last checkpoint's log length (high half) and pages copied back (low half).
    copied: AtomicU64,
    /// Set when a pass of the checkpointer left no less to copy than there was before it: the
    /// writer no longer waits for it to catch up. Cleared when the log starts over.
    stalled: AtomicBool,
}

impl LogProgress {
    /// Records a checkpoint's `(log, copied)` pages.
    fn checkpointed(&self, (log, copied): (i32, i32)) {
        let half = |pages: i32| u64::from(u32::try_from(pages).unwrap_or(0));
        self.copied.store((half(log) << 32) | half(copied), Ordering::Relaxed);
    }

    /// Records a commit that left the log `pages` long, and answers whether the log began again
    /// from its first page (shorter than after the commit before): nothing of it is copied yet.
    fn committed(&self, pages: i32) -> bool {
        let started_over = pages < self.pages.swap(pages, Ordering::Relaxed);
        if started_over {
            self.copied.store(0, Ordering::Relaxed);
            self.stalled.store(false, Ordering::Relaxed);
        }
        started_over
    }

    /// Records a pass of the checkpointer that began with `before` pages left to copy, and
    /// answers what the writer's rule now says.
    fn passed(&self, before: i32) -> WriterCheckpoint {
        let (pages, after) = self.left();
        let stalled = after >= before && pages >= WRITER_CHECKPOINT_PAGES;
        self.stalled.store(stalled, Ordering::Relaxed);
        writer_checkpoint_rule(pages, after, stalled)
    }

    /// What the writer does about the log now (see [`writer_checkpoint_rule`]).
    fn rule(&self) -> WriterCheckpoint {
        let (pages, left) = self.left();
        writer_checkpoint_rule(pages, left, self.stalled.load(Ordering::Relaxed))
    }

    /// The log's pages, and how many of them are still to be copied back. A checkpoint that saw a
    /// longer log than today's ran before the log started over (or saw a commit whose WAL hook
    /// has not run yet): nothing of this log is known to be copied then, and at worst the
    /// checkpointer makes one pass more.
    fn left(&self) -> (i32, i32) {
        let pages = self.pages.load(Ordering::Relaxed);
        let both = self.copied.load(Ordering::Relaxed);
        // The high and low halves.
        let (log, copied) = ((both >> 32) as u32, both as u32);
        let now = u32::try_from(pages).unwrap_or(0);
        let left = if log > now { now } else { now - copied.min(now) };
        (pages, i32::try_from(left).unwrap_or(pages))
    }
}

/// What the writer does about the log between two batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriterCheckpoint {
    /// Nothing: the log is short.
    Nothing,
    /// Ask the checkpointer to copy what came in since its last pass: too much is left for the
    /// writer to hold every request while it copies and syncs it.
    AskCheckpointer,
    /// Checkpoint now unless the checkpointer is already copying: little is left.
    IfIdle,
    /// Wait for the checkpointer to finish, then checkpoint: the log reached its limit.
    Wait,
}

/// The writer's rule for a log of `pages` pages of which `left` are still to be copied back,
/// `stalled` if the checkpointer's last pass did not shrink that.
fn writer_checkpoint_rule(pages: i32, left: i32, stalled: bool) -> WriterCheckpoint {
    if pages < WRITER_CHECKPOINT_PAGES {
        WriterCheckpoint::Nothing
    } else if pages >= LOG_LIMIT_PAGES {
        WriterCheckpoint::Wait
    } else if left > WRITER_CATCH_UP_PAGES && !stalled {
        WriterCheckpoint::AskCheckpointer
    } else {
        WriterCheckpoint::IfIdle
    }
}

/// The writer and reader threads of one database, and the channels to them.
pub(super) struct Threads {
    writes: Option<Sender<Box<dyn Write>>>,
    reads: Option<Sender<Read>>,
    handles: Vec<JoinHandle<()>>,
    /// Held by whichever of the writer and the checkpointer is checkpointing.
    #[cfg(test)]
    checkpointing: Arc<Mutex<()>>,
}

impl Threads {
    /// Starts the writer on `writer`, the checkpointer on `checkpointer`, and one reader per
    /// connection of `readers`.
    pub(super) fn start(
        name: &str,
        mut writer: Connection,
        checkpointer: Connection,
        readers: Vec<Connection>,
    ) -> Result<Self, DbError> {
        let spawn_error = |source| DbError::Io { context: format!("starting the storage threads of {name}"), source };
        let mut handles = Vec::with_capacity(readers.len() + 2);
        // The writer only asks for a checkpoint; one pending request is enough.
        let (checkpoint_tx, checkpoint_rx) = mpsc::sync_channel::<()>(1);
        let writer_asks = checkpoint_tx.clone();
        // Held by whichever of the writer and the checkpointer is checkpointing.
        let checkpointing = Arc::new(Mutex::new(()));
        let (writer_checkpointing, checkpointer_checkpointing) =
            (Arc::clone(&checkpointing), Arc::clone(&checkpointing));
        let log = Arc::new(LogProgress::default());
        let (writer_log, checkpointer_log) = (Arc::clone(&log), Arc::clone(&log));
        writer.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        let mut asked_at = 0;
        writer.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: i32| {
            if log.committed(pages) {
                asked_at = 0;
            }
            if pages - asked_at >= CHECKPOINT_PAGES {
                asked_at = pages;
                let _ = checkpoint_tx.try_send(());
            }
            Ok(())
        }))?;
        handles.push(
            std::thread::Builder::new()
                .name("agno-sqlite-checkpoint".into())
                .spawn(move || {
                    checkpoint_loop(&checkpointer, &checkpoint_rx, &checkpointer_checkpointing, &checkpointer_log);
                })
                .map_err(spawn_error)?,
        );
        let (write_tx, write_rx) = mpsc::channel::<Box<dyn Write>>();
        handles.push(
            std::thread::Builder::new()
                .name("agno-sqlite-writer".into())
                .spawn(move || {
                    let checkpoints =
                        Checkpoints { log: &writer_log, checkpointing: &writer_checkpointing, ask: writer_asks };
                    write_loop(&writer, &write_rx, &checkpoints);
                    // With the writer's own sender to the checkpointer dropped here, dropping the
                    // hook closes the checkpointer's channel: it checkpoints once more and stops.
                    drop(checkpoints);
                    if let Err(e) = writer.wal_hook(None::<fn(&mut rusqlite::hooks::Wal, i32) -> rusqlite::Result<()>>)
                    {
                        tracing::warn!(error = %e, "removing the SQLite WAL hook failed");
                    }
                })
                .map_err(spawn_error)?,
        );
        let (read_tx, read_rx) = mpsc::channel::<Read>();
        let read_rx = Arc::new(Mutex::new(read_rx));
        for conn in readers {
            let read_rx = Arc::clone(&read_rx);
            handles.push(
                std::thread::Builder::new()
                    .name("agno-sqlite-reader".into())
                    .spawn(move || read_loop(&conn, &read_rx))
                    .map_err(spawn_error)?,
            );
        }
        Ok(Self {
            writes: Some(write_tx),
            reads: Some(read_tx),
            handles,
            #[cfg(test)]
            checkpointing,
        })
    }

    /// Applies `work` to `data` on the writer thread, inside a transaction it may share with
    /// other writes; the future ends once that transaction is committed (or failed). `work` may
    /// run twice (see the module docs), so it must only write through the connection.
    pub(super) fn write<D, T>(
        &self,
        data: D,
        work: fn(&WriterConn<'_>, &D) -> Result<T, DbError>,
    ) -> DbFuture<'static, T>
    where
        D: Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Write> = Box::new(Job { data, work, result: None, reply: Some(reply) });
        let sent = self.writes.as_ref().is_some_and(|tx| tx.send(job).is_ok());
        Box::pin(async move {
            if !sent {
                return Err(DbError::Closed("the SQLite writer thread is gone".into()));
            }
            match answer.await {
                Ok((result, job)) => {
                    drop(job);
                    result
                }
                Err(_) => Err(DbError::Closed("the SQLite writer thread stopped before answering".into())),
            }
        })
    }

    /// The lock a checkpoint holds, for tests that play a checkpointer starved of CPU.
    #[cfg(test)]
    pub(super) fn checkpointing(&self) -> Arc<Mutex<()>> {
        Arc::clone(&self.checkpointing)
    }

    /// Runs `work` on a reader thread, on a connection that sees the last committed state.
    pub(super) fn read<T, F>(&self, work: F) -> DbFuture<'static, T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let read: Read = Box::new(move |conn| {
            let result = catch_unwind(AssertUnwindSafe(|| work(conn)))
                .unwrap_or_else(|_| Err(DbError::Closed("a read panicked".into())));
            let _ = reply.send(result);
        });
        let sent = self.reads.as_ref().is_some_and(|tx| tx.send(read).is_ok());
        Box::pin(async move {
            if !sent {
                return Err(DbError::Closed("the SQLite reader threads are gone".into()));
            }
            answer.await.map_err(|_| DbError::Closed("a SQLite reader thread stopped before answering".into()))?
        })
    }
}

impl Drop for Threads {
    /// Closes the channels and waits for the threads: every write already queued is committed
    /// before the value is gone.
    fn drop(&mut self) {
        self.writes.take();
        self.reads.take();
        for handle in self.handles.drain(..) {
            if handle.join().is_err() {
                tracing::error!("a SQLite storage thread panicked");
            }
        }
    }
}

/// What the writer needs for its own checkpoints.
struct Checkpoints<'a> {
    log: &'a LogProgress,
    /// Held by whichever of the writer and the checkpointer is checkpointing.
    checkpointing: &'a Mutex<()>,
    /// Asks the checkpointer for another pass.
    ask: SyncSender<()>,
}

/// The writer: waits for a write, takes every other one already queued (after [`GATHER`] when
/// the last batch was busy), commits them together; between batches, checkpoints a log grown
/// past [`WRITER_CHECKPOINT_PAGES`] (see [`writer_checkpoint`]).
fn write_loop(conn: &Connection, jobs: &Receiver<Box<dyn Write>>, checkpoints: &Checkpoints<'_>) {
    let conn = &WriterConn::new(conn);
    let mut batch: Vec<Box<dyn Write>> = Vec::with_capacity(MAX_BATCH);
    let mut last_batch = 0;
    while let Ok(first) = jobs.recv() {
        writer_checkpoint(conn, checkpoints);
        if last_batch >= GATHER_AFTER {
            // Asleep, the writer is not woken by each write sent meanwhile.
            std::thread::sleep(GATHER);
        }
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        last_batch = batch.len();
        commit(conn, &mut batch);
    }
}

/// The writer's checkpoint, by [`writer_checkpoint_rule`]: none below
/// [`WRITER_CHECKPOINT_PAGES`]; then, while the checkpointer has more than
/// [`WRITER_CATCH_UP_PAGES`] left to copy, another pass of the checkpointer; once it has not, the
/// writer's own, if the checkpointer is idle (SQLite would refuse it otherwise); past
/// [`LOG_LIMIT_PAGES`], after waiting for the checkpointer to finish. With no write beside it
/// the writer's checkpoint copies the rest of the log, and the next transaction starts the log
/// over.
fn writer_checkpoint(conn: &Connection, checkpoints: &Checkpoints<'_>) {
    let _turn = match checkpoints.log.rule() {
        WriterCheckpoint::Nothing => return,
        WriterCheckpoint::AskCheckpointer => {
            // Full means a pass is already asked for.
            let _ = checkpoints.ask.try_send(());
            return;
        }
        WriterCheckpoint::IfIdle => match checkpoints.checkpointing.try_lock() {
            Ok(turn) => turn,
            Err(std::sync::TryLockError::Poisoned(turn)) => turn.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return,
        },
        WriterCheckpoint::Wait => {
            tracing::debug!("the SQLite log reached its limit: the writer waits for the checkpointer");
            checkpoints.checkpointing.lock().unwrap_or_else(PoisonError::into_inner)
        }
    };
    if let Some(done) = checkpoint(conn, "writer") {
        checkpoints.log.checkpointed(done);
    }
}

/// Copies as much of the write-ahead log back as no reader still needs, without waiting for
/// anyone (`PASSIVE`); the caller holds the checkpoint lock. Answers the log's length and the
/// pages copied back, or logs a failure: the next checkpoint retries it.
fn checkpoint(conn: &Connection, by: &str) -> Option<(i32, i32)> {
    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| Ok((row.get(1)?, row.get(2)?))) {
        Ok(done) => Some(done),
        Err(e) => {
            tracing::warn!(error = %e, by, "a SQLite checkpoint failed; the next one will retry");
            None
        }
    }
}

/// Commits the batch in one transaction. If a write failed in a way that may have left changes,
/// the transaction is rolled back and each write is applied again alone, so one bad write does
/// not fail the others. If a transaction itself fails (the database stays locked past the busy
/// timeout, the disk is full), each of its writes gets that error.
fn commit(conn: &WriterConn<'_>, batch: &mut Vec<Box<dyn Write>>) {
    let writes = batch.len();
    let mut clean = true;
    let outcome = transaction(conn, || {
        for job in batch.iter_mut() {
            if job.apply(conn) == Applied::Failed {
                clean = false;
                break;
            }
        }
        clean
    });
    match outcome {
        Ok(()) if !clean => {
            tracing::warn!(writes, "a write failed inside a group commit: applying each write alone");
            for job in batch.drain(..) {
                let mut job = job;
                let mut done = true;
                let outcome = transaction(conn, || {
                    done = job.apply(conn) != Applied::Failed;
                    done
                });
                job.finish(outcome.err().as_ref(), 1);
            }
        }
        outcome => {
            let failed = outcome.err();
            for job in batch.drain(..) {
                job.finish(failed.as_ref(), writes);
            }
        }
    }
}

/// Runs `body` in an `IMMEDIATE` transaction, committed if it returns `true`, rolled back
/// otherwise. The error, if any, is why the transaction could not begin or commit.
fn transaction(conn: &Connection, body: impl FnOnce() -> bool) -> Result<(), Arc<rusqlite::Error>> {
    let outcome = (|| -> Result<(), rusqlite::Error> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        if body() {
            conn.prepare_cached("COMMIT")?.execute([])?;
        } else {
            conn.prepare_cached("ROLLBACK")?.execute([])?;
        }
        Ok(())
    })();
    outcome.map_err(|e| {
        tracing::error!(error = %e, "a SQLite transaction failed: none of its writes was stored");
        if !conn.is_autocommit()
            && let Err(e) = conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "rolling back a failed SQLite transaction failed");
        }
        Arc::new(e)
    })
}

/// The checkpointer: copies the write-ahead log into the database file whenever the writer
/// asks, without blocking it (`PASSIVE`), and once more when the writer is gone. While the log
/// is long enough for the writer to want it started over, it copies again what came in during
/// its last pass, until the writer can copy the rest itself (see [`WRITER_CATCH_UP_PAGES`]).
fn checkpoint_loop(conn: &Connection, requests: &Receiver<()>, checkpointing: &Mutex<()>, log: &LogProgress) {
    let checkpoint = || {
        let _turn = checkpointing.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(done) = checkpoint(conn, "checkpointer") {
            log.checkpointed(done);
        }
    };
    while requests.recv().is_ok() {
        for _ in 0..CATCH_UP_PASSES {
            let (_, before) = log.left();
            checkpoint();
            if log.passed(before) != WriterCheckpoint::AskCheckpointer {
                break;
            }
        }
    }
    checkpoint();
}

/// A reader: takes the next read from the shared queue and runs it on its own connection.
fn read_loop(conn: &Connection, reads: &Mutex<Receiver<Read>>) {
    loop {
        let next = reads.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match next {
            Ok(read) => read(conn),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_checkpoints_only_a_short_remainder_and_waits_only_at_the_limit() {
        use WriterCheckpoint::{AskCheckpointer, IfIdle, Nothing, Wait};
        // A short log: nothing, however little of it is copied.
        assert_eq!(writer_checkpoint_rule(WRITER_CHECKPOINT_PAGES - 1, WRITER_CHECKPOINT_PAGES - 1, false), Nothing);
        // A long one: the checkpointer goes on while much is left, the writer takes a short rest.
        assert_eq!(writer_checkpoint_rule(WRITER_CHECKPOINT_PAGES, WRITER_CATCH_UP_PAGES + 1, false), AskCheckpointer);
        assert_eq!(writer_checkpoint_rule(WRITER_CHECKPOINT_PAGES, WRITER_CATCH_UP_PAGES, false), IfIdle);
        assert_eq!(writer_checkpoint_rule(LOG_LIMIT_PAGES - 1, 0, false), IfIdle);
        // A checkpointer that no longer gains on the log: the writer takes the rest, however long.
        assert_eq!(writer_checkpoint_rule(WRITER_CHECKPOINT_PAGES, WRITER_CHECKPOINT_PAGES, true), IfIdle);
        // At the limit the writer waits, whatever is left.
        assert_eq!(writer_checkpoint_rule(LOG_LIMIT_PAGES, LOG_LIMIT_PAGES, false), Wait);
        assert_eq!(writer_checkpoint_rule(LOG_LIMIT_PAGES, 0, true), Wait);
    }

    #[test]
    fn the_checkpointer_goes_on_only_while_its_passes_gain_on_the_log() {
        use WriterCheckpoint::{AskCheckpointer, IfIdle};
        let log = LogProgress::default();
        assert!(!log.committed(1_500));
        // A pass that copied 1,200 of 1,500 pages while 100 came in: 400 left, it goes on.
        let before = log.left().1;
        assert!(!log.committed(1_600));
        log.checkpointed((1_500, 1_200));
        assert_eq!(log.passed(before), AskCheckpointer);
        // The next pass copies 300 while 350 more come in: it lost ground, the writer takes over.
        let before = log.left().1;
        assert!(!log.committed(1_950));
        log.checkpointed((1_650, 1_500));
        assert_eq!(log.left(), (1_950, 450));
        assert_eq!(log.passed(before), IfIdle);
        assert_eq!(log.rule(), IfIdle, "the writer sees it too");
        // The log starts over: the checkpointer is trusted again.
        assert!(log.committed(10), "the log started over");
        assert!(!log.committed(1_100));
        assert_eq!(log.rule(), AskCheckpointer);
        // A pass that leaves at most the catch-up remainder hands over to the writer.
        let before = log.left().1;
        log.checkpointed((1_100, 1_100 - WRITER_CATCH_UP_PAGES));
        assert_eq!(log.passed(before), IfIdle);
    }

    #[test]
    fn what_is_left_to_copy_counts_only_checkpoints_of_the_current_log() {
        let log = LogProgress::default();
        assert!(!log.committed(1_200));
        assert_eq!(log.left(), (1_200, 1_200), "nothing copied yet");
        log.checkpointed((1_150, 1_150));
        assert_eq!(log.left(), (1_200, 50), "copied up to the log's length at the checkpoint");
        assert!(!log.committed(1_260));
        assert_eq!(log.left(), (1_260, 110));
        // The log starts over: the last checkpoint was of the old one.
        assert!(log.committed(20), "the log started over");
        assert_eq!(log.left(), (20, 20));
        // A checkpoint of the old log that reports after the new one began counts for nothing.
        log.checkpointed((1_260, 1_260));
        assert_eq!(log.left(), (20, 20));
        assert!(!log.committed(1_300));
        log.checkpointed((1_280, 1_000));
        assert_eq!(log.left(), (1_300, 300));
        // A checkpoint of the whole log leaves nothing.
        log.checkpointed((1_300, 1_300));
        assert_eq!(log.left(), (1_300, 0));
        // A checkpoint that failed to read the log reports -1s: nothing copied.
        log.checkpointed((-1, -1));
        assert_eq!(log.left(), (1_300, 1_300));
    }
}
