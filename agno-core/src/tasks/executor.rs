//! The worker pool shared by the running backends: a priority queue of jobs, at most
//! `max_workers` running at once; blocking work on the pool's own threads, async work spawned on
//! the tokio runtime.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::future::Future as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::runtime::Handle;

use super::backend::Work;
use super::store::{Start, Ticket};
use super::{TaskError, TaskErrorKind};
use crate::panic::{CatchPanic, panic_message};

/// The default number of tasks that run at once (fasthooks' pool size).
pub const DEFAULT_MAX_WORKERS: usize = 4;

/// Where the pool records that a job starts and how it ended.
pub(crate) trait RunStore: Send + Sync + 'static {
    /// Moves a pending job to running, or says to skip it (cancelled or replaced meanwhile).
    fn start(&self, ticket: &Ticket, is_async: bool) -> Start;
    /// Records the outcome of a job.
    fn finish(&self, ticket: &Ticket, outcome: Result<Value, TaskError>);
    /// Records a worker's previous job (if any) and starts its next; a store may do both at once.
    fn finish_and_start(&self, finished: Option<Finished>, ticket: &Ticket, is_async: bool) -> Start {
        if let Some((done, outcome)) = finished {
            self.finish(&done, outcome);
        }
        self.start(ticket, is_async)
    }
}

/// A blocking job a worker has run but not yet recorded.
pub(crate) type Finished = (Ticket, Result<Value, TaskError>);

/// The worker pool.
pub(crate) struct Executor {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn RunStore>,
    pool: Mutex<Pool>,
    wake: Condvar,
    max_workers: usize,
    /// Jobs in the queue (mirrors `pool.queue.len()`, read without the lock by a spinning worker).
    queued: AtomicUsize,
    /// Whether a worker is spinning for the next job (at most one does).
    spinning: AtomicBool,
}

/// How long a worker that ran out of jobs watches the queue before it sleeps. During a burst of
/// adds the next job comes within microseconds: the adder then finds a worker awake and makes no
/// system call to wake one, and the worker does not go through a sleep and a wake-up.
const SPIN: Duration = Duration::from_micros(50);

#[derive(Default)]
struct Pool {
    queue: BinaryHeap<Queued>,
    running: usize,
    threads: usize,
    idle: usize,
    /// Idle workers already woken for a job but not yet running: they cannot take another one.
    woken: usize,
    closed: bool,
}

impl Pool {
    /// Whether a sleeping worker can be woken for one more job.
    fn claim_idle(&mut self) -> bool {
        if self.idle > self.woken {
            self.woken += 1;
            true
        } else {
            false
        }
    }
}

struct Queued {
    priority: i64,
    ticket: Ticket,
    work: Work,
    runtime: Option<Handle>,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    /// Higher priority first, then the earlier submission.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        self.priority.cmp(&other.priority).then_with(|| other.ticket.seq.cmp(&self.ticket.seq))
    }
}

impl Shared {
    fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A worker slot was freed: let a waiting worker take the next job.
    fn release(&self) {
        let mut pool = self.pool();
        pool.running = pool.running.saturating_sub(1);
        if !pool.queue.is_empty() && pool.claim_idle() {
            self.wake.notify_one();
        }
    }
}

impl Executor {
    /// A pool running at most `max_workers` jobs at once (at least 1).
    pub(crate) fn new(store: Arc<dyn RunStore>, max_workers: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                pool: Mutex::default(),
                wake: Condvar::new(),
                max_workers: max_workers.max(1),
                queued: AtomicUsize::new(0),
                spinning: AtomicBool::new(false),
            }),
        }
    }

    /// How many jobs may run at once.
    pub(crate) fn max_workers(&self) -> usize {
        self.shared.max_workers
    }

    /// Queues a job; async work runs on `runtime`.
    pub(crate) fn enqueue(&self, ticket: Ticket, priority: i64, work: Work, runtime: Option<Handle>) {
        let shared = &self.shared;
        let mut pool = shared.pool();
        pool.queue.push(Queued { priority, ticket, work, runtime });
        shared.queued.store(pool.queue.len(), Ordering::Relaxed);
        // A spinning worker takes one job; any more need a sleeping worker woken.
        if pool.queue.len() == 1 && shared.spinning.load(Ordering::Acquire) {
            return;
        }
        if pool.claim_idle() {
            shared.wake.notify_one();
            return;
        }
        if pool.threads >= shared.max_workers {
            return;
        }
        let worker_shared = Arc::clone(shared);
        match std::thread::Builder::new().name("agno-task-worker".into()).spawn(move || worker(worker_shared)) {
            Ok(_) => pool.threads += 1,
            Err(e) if pool.threads == 0 => {
                // No thread to run anything: fail the job rather than leave it pending.
                let job = pool.queue.pop();
                drop(pool);
                tracing::error!(error = %e, "cannot start a task worker thread");
                if let Some(job) = job
                    && let Start::Run(_) = shared.store.start(&job.ticket, false)
                {
                    let error = TaskError::new(TaskErrorKind::Lost, format!("cannot start a worker thread: {e}"));
                    shared.store.finish(&job.ticket, Err(error));
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot start another task worker thread"),
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        let mut pool = self.shared.pool();
        pool.closed = true;
        let dropped = pool.queue.len();
        pool.queue.clear();
        self.shared.queued.store(0, Ordering::Relaxed);
        drop(pool);
        self.shared.wake.notify_all();
        if dropped > 0 {
            tracing::warn!(dropped, "task backend dropped with queued tasks; they will not run here");
        }
    }
}

/// A worker thread: takes the highest-priority job while fewer than `max_workers` run. After a
/// blocking job it gives its slot back and takes the next job under one pool lock, and records
/// the finished job together with starting the next one under one store lock.
fn worker(shared: Arc<Shared>) {
    let mut finished: Option<Finished> = None;
    let mut pool = shared.pool();
    loop {
        if pool.running < shared.max_workers
            && !pool.closed
            && let Some(job) = pool.queue.pop()
        {
            shared.queued.store(pool.queue.len(), Ordering::Relaxed);
            pool.running += 1;
            drop(pool);
            let slot_is_free = run(&shared, job, &mut finished);
            pool = shared.pool();
            if slot_is_free {
                pool.running = pool.running.saturating_sub(1);
            }
            continue;
        }
        if let Some((done, outcome)) = finished.take() {
            // Nothing to start: record the last job before sleeping.
            drop(pool);
            shared.store.finish(&done, outcome);
            pool = shared.pool();
            continue;
        }
        if pool.closed {
            pool.threads -= 1;
            return;
        }
        if pool.running < shared.max_workers
            && shared.spinning.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        {
            // Watch the queue for a moment without the lock before sleeping.
            drop(pool);
            let until = Instant::now() + SPIN;
            while shared.queued.load(Ordering::Relaxed) == 0 && Instant::now() < until {
                // Yield rather than spin: a thread this worker just woke (a waiter on the result)
                // is often placed on this CPU and must not wait for the watch to end.
                std::thread::yield_now();
            }
            pool = shared.pool();
            shared.spinning.store(false, Ordering::Release);
            if !pool.queue.is_empty() || pool.closed {
                continue;
            }
        }
        pool.idle += 1;
        pool = shared.wake.wait(pool).unwrap_or_else(|poisoned| poisoned.into_inner());
        pool.idle -= 1;
        pool.woken = pool.woken.saturating_sub(1);
    }
}

/// Runs one job: blocking work on this thread (its outcome left in `finished`, to be recorded
/// with the next start), async work spawned on the runtime. Returns whether the job's worker
/// slot is free again (false when an async job holds it until it ends).
fn run(shared: &Arc<Shared>, job: Queued, finished: &mut Option<Finished>) -> bool {
    let Queued { ticket, work, runtime, .. } = job;
    let is_async = matches!(work, Work::Async(_)) && runtime.is_some();
    let start = shared.store.finish_and_start(finished.take(), &ticket, is_async);
    let future = match work {
        Work::Blocking(work) => {
            if let Start::Run(_) = start {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                    .unwrap_or_else(|panic| Err(TaskError::new(TaskErrorKind::Panicked, panic_message(panic))));
                *finished = Some((ticket, outcome));
            }
            return true;
        }
        Work::Async(future) => future,
    };
    let Some(runtime) = runtime else {
        if let Start::Run(_) = start {
            let error =
                "an async task needs a tokio runtime: add it from inside one, or use InProcessBackend::with_runtime";
            *finished = Some((ticket, Err(TaskError::new(TaskErrorKind::Lost, error))));
        }
        return true;
    };
    let Start::Run(Some(mut stop)) = start else {
        return true;
    };
    let shared = Arc::clone(shared);
    runtime.spawn(async move {
        let mut future = CatchPanic(future);
        let outcome = std::future::poll_fn(|cx| {
            if std::pin::Pin::new(&mut stop).poll(cx).is_ready() {
                return std::task::Poll::Ready(None);
            }
            std::pin::Pin::new(&mut future).poll(cx).map(Some)
        })
        .await;
        match outcome {
            Some(Ok(outcome)) => shared.store.finish(&ticket, outcome),
            Some(Err(panic)) => shared.store.finish(&ticket, Err(TaskError::new(TaskErrorKind::Panicked, panic))),
            None => {} // cancelled: the store already recorded it
        }
        shared.release();
    });
    false
}
