//! The backend interface: where tasks run and where their results are kept.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{TaskError, TaskResult};
use crate::future::BoxFuture;

/// One submission, with its work already bound to its arguments.
pub struct Job {
    /// The session it belongs to.
    pub session_id: String,
    /// Its key.
    pub key: String,
    /// The task's name (a registered `#[task]` can be resumed by name).
    pub name: String,
    /// How long the result is kept after it finishes.
    pub ttl: Duration,
    /// Higher runs first.
    pub priority: i64,
    /// The serialised arguments, when the backend persists tasks ([`TaskBackend::persists`]).
    pub args: Option<Value>,
    /// The work, producing the serialised output.
    pub work: Work,
}

/// Work producing a serialised output.
pub enum Work {
    /// Runs on a worker thread.
    Blocking(Box<dyn FnOnce() -> Result<Value, TaskError> + Send>),
    /// Runs on the tokio runtime.
    Async(BoxFuture<'static, Result<Value, TaskError>>),
}

/// What a wait waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMode {
    /// Until every key has finished (or the timeout); gives every completed one.
    All,
    /// Until one key has completed, or none can (or the timeout); gives that one.
    Any,
}

/// Where tasks run and results live. All methods but `wait` return at once.
///
/// Keys are scoped by session: no method of one session sees another session's entries.
pub trait TaskBackend: Send + Sync + 'static {
    /// Queues a job and returns its snapshot (usually `PENDING`).
    fn submit(&self, job: Job) -> TaskResult;
    /// Whether jobs should carry serialised arguments (to be resumed by another process).
    fn persists(&self) -> bool {
        false
    }
    /// The visible entry for a key: its latest finished result, else its newest submission.
    fn get(&self, session_id: &str, key: &str) -> Option<TaskResult>;
    /// Removes and returns a completed value if `accept` takes it (it checks the value's type).
    fn pop(&self, session_id: &str, key: &str, accept: &mut dyn FnMut(&Value) -> bool) -> Option<Value>;
    /// Removes and returns every completed value of the session, oldest submission first.
    fn pop_all(&self, session_id: &str) -> Vec<(String, Value)>;
    /// Removes and returns every failed entry of the session, oldest submission first.
    fn pop_errors(&self, session_id: &str) -> Vec<(String, TaskError)>;
    /// Whether a key (or, with `None`, any key) of the session has a completed value.
    fn has(&self, session_id: &str, key: Option<&str>) -> bool;
    /// Cancels a key's pending and running submissions; whether anything was cancelled.
    fn cancel(&self, session_id: &str, key: &str) -> bool;
    /// Cancels every pending and running submission of the session; how many.
    fn cancel_all(&self, session_id: &str) -> usize;
    /// Waits until the keys finish as `mode` says, at most `timeout`; the completed values.
    fn wait<'a>(
        &'a self,
        session_id: &'a str,
        keys: &'a [String],
        mode: WaitMode,
        timeout: Duration,
    ) -> BoxFuture<'a, Vec<(String, Value)>>;
    /// Stops taking tasks at shutdown and gives the running ones up to `grace`; what is left is
    /// kept for the next process where the backend can (the default does nothing: in-process
    /// tasks end with the process).
    fn close(&self, grace: Duration) -> BoxFuture<'_, ()> {
        let _ = grace;
        Box::pin(std::future::ready(()))
    }
}

impl<B: TaskBackend + ?Sized> TaskBackend for Arc<B> {
    fn submit(&self, job: Job) -> TaskResult {
        (**self).submit(job)
    }
    fn persists(&self) -> bool {
        (**self).persists()
    }
    fn get(&self, session_id: &str, key: &str) -> Option<TaskResult> {
        (**self).get(session_id, key)
    }
    fn pop(&self, session_id: &str, key: &str, accept: &mut dyn FnMut(&Value) -> bool) -> Option<Value> {
        (**self).pop(session_id, key, accept)
    }
    fn pop_all(&self, session_id: &str) -> Vec<(String, Value)> {
        (**self).pop_all(session_id)
    }
    fn pop_errors(&self, session_id: &str) -> Vec<(String, TaskError)> {
        (**self).pop_errors(session_id)
    }
    fn has(&self, session_id: &str, key: Option<&str>) -> bool {
        (**self).has(session_id, key)
    }
    fn cancel(&self, session_id: &str, key: &str) -> bool {
        (**self).cancel(session_id, key)
    }
    fn cancel_all(&self, session_id: &str) -> usize {
        (**self).cancel_all(session_id)
    }
    fn wait<'a>(
        &'a self,
        session_id: &'a str,
        keys: &'a [String],
        mode: WaitMode,
        timeout: Duration,
    ) -> BoxFuture<'a, Vec<(String, Value)>> {
        (**self).wait(session_id, keys, mode, timeout)
    }
    fn close(&self, grace: Duration) -> BoxFuture<'_, ()> {
        (**self).close(grace)
    }
}
