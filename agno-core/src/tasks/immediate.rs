//! [`ImmediateBackend`]: runs every task inside `add`, for tests (fasthooks' `ImmediateBackend`).

use tokio::runtime::{Handle, RuntimeFlavor};

use super::backend::{Job, TaskBackend, Work};
use super::store::MemoryStore;
use super::{TaskError, TaskErrorKind, TaskResult, TaskStatus};
use crate::future::BoxFuture;
use crate::panic::{CatchPanic, panic_message};

/// Runs each task to its end inside `add`, so a test can `add` then `pop` on the next line.
///
/// Results follow the same rules as [`InProcessBackend`](super::InProcessBackend) (ttl,
/// sessions, pop semantics). Async tasks are driven to completion on the spot: on a
/// multi-thread tokio runtime with the runtime's timers and IO; otherwise on a temporary runtime
/// with timers and IO (on a helper thread when called from a current-thread runtime).
#[derive(Default)]
pub struct ImmediateBackend {
    store: MemoryStore,
}

impl ImmediateBackend {
    /// A new, empty backend.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Drives a future to its end before returning: on this runtime's thread pool when there is a
/// multi-threaded runtime, otherwise on a runtime of its own (with I/O and timers, so a task that
/// calls a model works), on a helper thread when this thread already runs a runtime.
fn block_on<T: Send>(future: BoxFuture<'static, T>) -> Result<T, TaskError> {
    let future = CatchPanic(future);
    let own_runtime =
        |future: CatchPanic<'static, T>| match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => Ok(runtime.block_on(future)),
            Err(e) => Err(TaskError::new(TaskErrorKind::Lost, format!("cannot start a runtime: {e}"))),
        };
    let outcome = match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(future))
        }
        // A current-thread runtime cannot be blocked from inside: run it beside.
        Ok(_) => std::thread::scope(|scope| scope.spawn(|| own_runtime(future)).join())
            .unwrap_or_else(|panic| Err(TaskError::new(TaskErrorKind::Panicked, panic_message(panic))))?,
        Err(_) => own_runtime(future)?,
    };
    outcome.map_err(|panic| TaskError::new(TaskErrorKind::Panicked, panic))
}

impl TaskBackend for ImmediateBackend {
    fn submit(&self, mut job: Job) -> TaskResult {
        let (mut snapshot, ticket) = self.store.insert(&mut job);
        let _ = self.store.start(&ticket, false);
        let outcome = match job.work {
            Work::Blocking(work) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .unwrap_or_else(|panic| Err(TaskError::new(TaskErrorKind::Panicked, panic_message(panic)))),
            Work::Async(future) => block_on(future).and_then(|outcome| outcome),
        };
        snapshot.status = TaskStatus::of_outcome(&outcome);
        self.store.finish(&ticket, outcome);
        // With a zero ttl the result has expired already: return what is known of it.
        let latest = self.store.get(&snapshot.session_id, &snapshot.key);
        latest.unwrap_or(snapshot)
    }

    super::store::reads_from_store!();
}
