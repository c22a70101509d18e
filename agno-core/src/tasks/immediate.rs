//! [`ImmediateBackend`]: runs every task inside `add`, for tests (fasthooks' `ImmediateBackend`).

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tokio::runtime::{Handle, RuntimeFlavor};

use super::backend::{Job, TaskBackend, Work};
use super::store::{MemoryStore, outcome_status};
use super::{TaskError, TaskErrorKind, TaskResult};
use crate::models::BoxFuture;
use crate::panic::{CatchPanic, panic_message};

/// Runs each task to its end inside `add`, so a test can `add` then `pop` on the next line.
///
/// Results follow the same rules as [`InProcessBackend`](super::InProcessBackend) (ttl,
/// sessions, pop semantics). Async tasks are driven to completion on the spot: on a
/// multi-thread tokio runtime with the runtime's timers and IO; on a current-thread runtime by
/// a local executor, where tokio timers and IO cannot make progress (use the in-process backend
/// for those); outside any runtime on a temporary one.
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

/// Wakes the thread that drives a future.
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives a future to its end on this thread.
fn block_on<T>(future: BoxFuture<'static, T>) -> Result<T, TaskError> {
    let mut future = CatchPanic(future);
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(future))
        }
        Ok(_) => {
            let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
            let mut cx = Context::from_waker(&waker);
            loop {
                if let Poll::Ready(out) = std::pin::Pin::new(&mut future).poll(&mut cx) {
                    break out;
                }
                std::thread::park();
            }
        }
        Err(_) => match tokio::runtime::Builder::new_current_thread().enable_time().build() {
            Ok(runtime) => runtime.block_on(future),
            Err(e) => return Err(TaskError::new(TaskErrorKind::Lost, format!("cannot start a runtime: {e}"))),
        },
    }
    .map_err(|panic| TaskError::new(TaskErrorKind::Panicked, panic))
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
        snapshot.status = outcome_status(&outcome);
        self.store.finish(&ticket, outcome);
        // With a zero ttl the result has expired already: return what is known of it.
        let latest = self.store.get(&snapshot.session_id, &snapshot.key);
        latest.unwrap_or(snapshot)
    }

    super::store::reads_from_store!();
}
