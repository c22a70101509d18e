//! [`InProcessBackend`]: the default backend. Results live in memory; tasks run on the shared
//! worker pool (async on the tokio runtime, blocking on the pool's threads), at most
//! `max_workers` at a time, highest priority first.

use std::sync::Arc;

use serde_json::Value;
use tokio::runtime::Handle;

use super::backend::{Job, TaskBackend, Work};
use super::executor::{DEFAULT_MAX_WORKERS, Executor, Finished, RunStore};
use super::store::{MemoryStore, Start, Ticket};
use super::{TaskError, TaskResult};

/// Runs tasks in this process; results live in memory until popped or expired.
///
/// Async tasks need a tokio runtime: they run on the runtime of the code that adds them (or the
/// one given to [`with_runtime`](Self::with_runtime)). Blocking tasks run on up to `max_workers`
/// threads the backend starts when first needed. Dropping the backend lets running tasks finish
/// and drops the queued ones (they are logged).
pub struct InProcessBackend {
    store: Arc<MemoryStore>,
    executor: Executor,
    runtime: Option<Handle>,
}

impl RunStore for MemoryStore {
    fn start(&self, ticket: &Ticket, is_async: bool) -> Start {
        MemoryStore::start(self, ticket, is_async)
    }
    fn finish(&self, ticket: &Ticket, outcome: Result<Value, TaskError>) {
        MemoryStore::finish(self, ticket, outcome)
    }
    fn finish_and_start(&self, finished: Option<Finished>, ticket: &Ticket, is_async: bool) -> Start {
        MemoryStore::finish_and_start(self, finished, ticket, is_async)
    }
}

impl Default for InProcessBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessBackend {
    /// A backend running at most [`DEFAULT_MAX_WORKERS`] tasks at once.
    pub fn new() -> Self {
        Self::with_max_workers(DEFAULT_MAX_WORKERS)
    }

    /// A backend running at most `max_workers` tasks at once (at least 1).
    pub fn with_max_workers(max_workers: usize) -> Self {
        let store = Arc::new(MemoryStore::default());
        let executor = Executor::new(Arc::clone(&store) as Arc<dyn RunStore>, max_workers);
        Self { store, executor, runtime: None }
    }

    /// Runs async tasks on this runtime, whoever adds them.
    pub fn with_runtime(mut self, runtime: Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// How many tasks may run at once.
    pub fn max_workers(&self) -> usize {
        self.executor.max_workers()
    }
}

impl TaskBackend for InProcessBackend {
    fn submit(&self, mut job: Job) -> TaskResult {
        let (snapshot, ticket) = self.store.insert(&mut job);
        let runtime = match &job.work {
            Work::Async(_) => self.runtime.clone().or_else(|| Handle::try_current().ok()),
            Work::Blocking(_) => None,
        };
        self.executor.enqueue(ticket, job.priority, job.work, runtime);
        snapshot
    }

    super::store::reads_from_store!();
}
