//! Background tasks: work a hook starts and a later hook of the same session picks up.
//!
//! A task is a type implementing [`Task`] (written by `#[task]`), or a plain closure. A hook adds
//! it through its session's [`Tasks`] handle (`tasks.add(analyze_code, code)`), `add` returns at
//! once, the task runs on a [`TaskBackend`], and any later call of the same session gets the typed
//! result back (`tasks.pop(analyze_code) -> Option<String>`).
//!
//! Backends: [`InProcessBackend`] (the default: tokio for async tasks, its own bounded worker
//! threads for blocking ones, highest priority first), [`ImmediateBackend`] (runs each task inside
//! `add`, for tests) and [`SqliteTaskBackend`] (results survive the process, so a hook program
//! started once per event can pop what the previous process added).
//!
//! Rules (fasthooks 0.1.4's API, with its bugs fixed):
//! * a result's time-to-live counts from when it finished; expired results are dropped without
//!   scanning the store;
//! * `transform` runs before the task is `COMPLETED`; if it fails the task is `FAILED`;
//! * when all workers are busy, the highest priority waits least (ties: first added first);
//! * adding a key that is still pending replaces (cancels) the pending one; adding a key that is
//!   running starts a separate task whose result replaces the old one when it finishes;
//! * sessions never see each other's results, whatever the keys and session ids contain;
//! * a panicking task is `FAILED` with the panic message;
//! * `cancel` always cancels a pending task and stops a running async task; a running blocking
//!   task cannot be interrupted: it is marked `CANCELLED` at once, runs to its end on its worker,
//!   and its result is discarded;
//! * waits wake when a task finishes (no polling).

mod backend;
mod executor;
mod handle;
mod immediate;
mod in_process;
mod sqlite;
mod store;
pub(crate) mod stored;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use backend::{Job, TaskBackend, WaitMode, Work};
pub use executor::DEFAULT_MAX_WORKERS;
#[cfg(feature = "postgres")]
pub(crate) use executor::{Executor, RunStore};
pub use handle::{AddOptions, BackgroundTasks, PendingResults, TaskSpec, Tasks, resume};
pub use immediate::ImmediateBackend;
pub use in_process::InProcessBackend;
pub use sqlite::{SqliteTaskBackend, TaskStoreError};
#[cfg(feature = "postgres")]
pub(crate) use store::{Start, Ticket};

use crate::future::BoxFuture;

/// The backend hooks use when the agent sets none: one [`InProcessBackend`] per process.
pub fn default_backend() -> Arc<dyn TaskBackend> {
    static DEFAULT: std::sync::OnceLock<Arc<dyn TaskBackend>> = std::sync::OnceLock::new();
    Arc::clone(DEFAULT.get_or_init(|| Arc::new(InProcessBackend::new())))
}

/// The time-to-live of a result when the task does not set one: 300 s (fasthooks' default).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// Where a task stands. Moves only forward: `PENDING → RUNNING → COMPLETED | FAILED | CANCELLED`,
/// or `PENDING → CANCELLED | FAILED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TaskStatus {
    /// Queued, not started.
    Pending,
    /// Running.
    Running,
    /// Finished with a value.
    Completed,
    /// Finished with an error (or a panic, or a failed transform).
    Failed,
    /// Cancelled.
    Cancelled,
}

impl TaskStatus {
    /// Whether the task has finished (completed, failed or cancelled).
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// The status a task ends with, given its outcome.
    pub fn of_outcome(outcome: &Result<Value, TaskError>) -> Self {
        match outcome {
            Ok(_) => Self::Completed,
            Err(e) if e.kind == TaskErrorKind::Cancelled => Self::Cancelled,
            Err(_) => Self::Failed,
        }
    }

    /// Whether `self → next` is a valid transition.
    pub fn can_become(self, next: Self) -> bool {
        use TaskStatus::*;
        matches!((self, next), (Pending, Running | Cancelled | Failed) | (Running, Completed | Failed | Cancelled))
    }

    /// The stored value (`"PENDING"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Parses a stored value.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Running, Self::Completed, Self::Failed, Self::Cancelled]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of failure a task had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskErrorKind {
    /// The task returned an error.
    Failed,
    /// The task panicked.
    Panicked,
    /// The transform returned an error.
    Transform,
    /// Its arguments or output could not be (de)serialised.
    Serialization,
    /// The process that ran it ended before it finished, or it could not be started.
    Lost,
    /// It was cancelled.
    Cancelled,
}

/// Why a task failed; storable (a message, not a live error object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct TaskError {
    /// The kind of failure.
    pub kind: TaskErrorKind,
    /// What went wrong.
    pub message: String,
}

impl TaskError {
    /// An error of this kind.
    pub fn new(kind: TaskErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// The task returned an error.
    pub fn failed(error: impl fmt::Display) -> Self {
        Self::new(TaskErrorKind::Failed, error.to_string())
    }
}

/// A snapshot of one task: what `get` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// Unique per submission.
    pub id: String,
    /// The session it belongs to.
    pub session_id: String,
    /// Its key (by default the task's name).
    pub key: String,
    /// The task's name.
    pub name: String,
    /// Where it stands.
    pub status: TaskStatus,
    /// The output, serialised, once `COMPLETED`.
    pub value: Option<Value>,
    /// The error, once `FAILED` (or `CANCELLED`).
    pub error: Option<TaskError>,
    /// When it was added.
    pub created_at: SystemTime,
    /// When it started.
    pub started_at: Option<SystemTime>,
    /// When it finished.
    pub finished_at: Option<SystemTime>,
    /// How long its result is kept after it finished.
    pub ttl: Duration,
    /// Its priority (higher runs first).
    pub priority: i64,
}

impl TaskResult {
    /// The value as `T`, if completed and of that type.
    pub fn value_as<T: DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(self.value.as_ref()?).ok()
    }
}

/// What a `#[task(transform = f)]` function may return: the output, or `Result<output, E>` (an
/// `Err` fails the task with kind [`TaskErrorKind::Transform`]).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the transform returns `{Self}`, but the task's output is `{T}`",
    label = "returns `{Self}`",
    note = "add `output = {Self}` to the attribute, or make the transform return `{T}` or `Result<{T}, E>`"
)]
pub trait IntoTransformed<T> {
    /// Converts.
    fn into_transformed(self) -> Result<T, TaskError>;
}

impl<T> IntoTransformed<T> for T {
    fn into_transformed(self) -> Result<T, TaskError> {
        Ok(self)
    }
}

impl<T, E: fmt::Display> IntoTransformed<T> for Result<T, E> {
    fn into_transformed(self) -> Result<T, TaskError> {
        self.map_err(|e| TaskError::new(TaskErrorKind::Transform, e.to_string()))
    }
}

/// The work a task does for one call: blocking (runs on a worker thread) or async (runs on the
/// tokio runtime).
pub enum TaskRun<T> {
    /// Blocking work.
    Blocking(Box<dyn FnOnce() -> Result<T, TaskError> + Send>),
    /// Async work.
    Async(BoxFuture<'static, Result<T, TaskError>>),
}

impl<T: 'static> TaskRun<T> {
    /// Blocking work.
    pub fn blocking(work: impl FnOnce() -> Result<T, TaskError> + Send + 'static) -> Self {
        Self::Blocking(Box::new(work))
    }

    /// Async work.
    pub fn future(work: impl Future<Output = Result<T, TaskError>> + Send + 'static) -> Self {
        Self::Async(Box::pin(work))
    }

    /// Applies `f` to the output (a transform), before the task counts as completed.
    pub fn map<U: 'static>(self, f: impl FnOnce(T) -> Result<U, TaskError> + Send + 'static) -> TaskRun<U> {
        match self {
            Self::Blocking(work) => TaskRun::Blocking(Box::new(move || work().and_then(f))),
            Self::Async(work) => TaskRun::Async(Box::pin(async move { work.await.and_then(f) })),
        }
    }
}

/// A background task with typed arguments and output. `#[task]` implements it for a function.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a task",
    note = "put `#[task]` on a `fn` or `async fn`, or implement `agno::tasks::Task` for this type"
)]
pub trait Task: Send + Sync + 'static {
    /// The arguments: `()`, one value, or a tuple.
    type Args: Serialize + DeserializeOwned + Send + 'static;
    /// The output (after the transform).
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// The task's name: its default key.
    fn name(&self) -> &str;
    /// How long its result is kept after it finishes.
    fn ttl(&self) -> Duration {
        DEFAULT_TTL
    }
    /// Its priority: higher runs first when workers are busy.
    fn priority(&self) -> i64 {
        0
    }
    /// The work for one call.
    fn run(&self, args: Self::Args) -> TaskRun<Self::Output>;
}

/// What names a task result: a key string (output: JSON), a task (its name; output: the task's),
/// or [`Keyed`] (a task under another key).
pub trait TaskKey {
    /// What popping this key gives.
    type Output: DeserializeOwned;
    /// The key.
    fn key(&self) -> Cow<'_, str>;
}

impl TaskKey for &str {
    type Output = Value;
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl TaskKey for String {
    type Output = Value;
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl<T: Task> TaskKey for T {
    type Output = T::Output;
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.name())
    }
}

/// A task under an explicit key (`fetch.keyed("fetch:a")`), to add it several times at once.
pub struct Keyed<T, K = String> {
    /// The task.
    pub task: T,
    /// The key.
    pub key: K,
}

impl<T: Task, K: AsRef<str>> TaskKey for Keyed<T, K> {
    type Output = T::Output;
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.key.as_ref())
    }
}

/// `task.keyed("key")`.
pub trait TaskExt: Task + Sized {
    /// This task under another key (a `&str` or a `String`).
    fn keyed<K: AsRef<str>>(self, key: K) -> Keyed<Self, K> {
        Keyed { task: self, key }
    }
}

impl<T: Task> TaskExt for T {}

#[cfg(test)]
pub(crate) mod tests;
