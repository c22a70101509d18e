//! [`Tasks`]: a task backend bound to one session, as hooks receive it.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::backend::{Job, TaskBackend, WaitMode, Work};
use super::{DEFAULT_TTL, Keyed, Task, TaskError, TaskErrorKind, TaskKey, TaskResult, TaskRun};

/// Options for one `add`: key, time-to-live, priority (each defaults to the task's own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddOptions {
    key: Option<String>,
    ttl: Option<Duration>,
    priority: Option<i64>,
}

impl AddOptions {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses this key (an empty key means the task's name, as in fasthooks).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Keeps the result this long after the task finishes.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Runs it before lower priorities when workers are busy.
    pub fn priority(mut self, priority: i64) -> Self {
        self.priority = Some(priority);
        self
    }
}

/// What `add` accepts: a task (keyed by its name) or [`Keyed`] (a task under another key).
pub trait TaskSpec {
    /// The task.
    type Task: Task;
    /// The task, and its key if it has its own.
    fn into_parts(self) -> (Self::Task, Option<String>);
}

impl<T: Task> TaskSpec for T {
    type Task = T;
    fn into_parts(self) -> (T, Option<String>) {
        (self, None)
    }
}

impl<T: Task, K: AsRef<str>> TaskSpec for Keyed<T, K> {
    type Task = T;
    fn into_parts(self) -> (T, Option<String>) {
        let key = self.key.as_ref().to_owned();
        (self.task, Some(key))
    }
}

/// A task backend bound to one session: add tasks, then read their results in any later call
/// of the same session. Cheap to clone.
///
/// ```
/// use std::sync::Arc;
/// use agno_core::tasks::{ImmediateBackend, Tasks};
///
/// let tasks = Tasks::new(Arc::new(ImmediateBackend::new()), "session-1");
/// tasks.spawn("double", Default::default(), || 21 * 2);
/// assert_eq!(tasks.pop("double"), Some(serde_json::json!(42)));
/// ```
#[derive(Clone)]
pub struct Tasks {
    backend: Arc<dyn TaskBackend>,
    session_id: Arc<str>,
}

impl fmt::Debug for Tasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tasks").field("session_id", &self.session_id).finish_non_exhaustive()
    }
}

fn to_json<T: Serialize>(output: T) -> Result<Value, TaskError> {
    serde_json::to_value(output)
        .map_err(|e| TaskError::new(TaskErrorKind::Serialization, format!("cannot serialise the output: {e}")))
}

/// Binds a task's typed work to serialising its output.
pub(crate) fn into_work<T: Serialize + 'static>(run: TaskRun<T>) -> Work {
    match run {
        TaskRun::Blocking(work) => Work::Blocking(Box::new(move || work().and_then(to_json))),
        TaskRun::Async(work) => Work::Async(Box::pin(async move { work.await.and_then(to_json) })),
    }
}

/// Runs a registered task from serialised arguments (how a persisted task is resumed by name).
pub fn resume<T: Task + Default>(args: Value) -> Result<Work, TaskError> {
    let args: T::Args = serde_json::from_value(args)
        .map_err(|e| TaskError::new(TaskErrorKind::Serialization, format!("cannot read the stored arguments: {e}")))?;
    Ok(into_work(T::default().run(args)))
}

fn from_json<T: DeserializeOwned>(key: &str, value: &Value) -> Option<T> {
    match T::deserialize(value) {
        Ok(typed) => Some(typed),
        Err(error) => {
            tracing::error!(key, %error, "a task result is not of the requested type; it is left in place");
            None
        }
    }
}

impl Tasks {
    /// Binds `backend` to a session.
    pub fn new(backend: Arc<dyn TaskBackend>, session_id: impl Into<String>) -> Self {
        Self { backend, session_id: Arc::from(session_id.into()) }
    }

    /// The session.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn TaskBackend> {
        &self.backend
    }

    /// The same backend, bound to another session.
    pub fn for_session(&self, session_id: impl Into<String>) -> Self {
        Self::new(Arc::clone(&self.backend), session_id)
    }

    /// Adds a task with its arguments and returns at once (key: the task's name).
    pub fn add<S: TaskSpec>(&self, task: S, args: <S::Task as Task>::Args) -> TaskResult {
        self.add_with(task, args, AddOptions::default())
    }

    /// Adds a task with options.
    pub fn add_with<S: TaskSpec>(&self, task: S, args: <S::Task as Task>::Args, options: AddOptions) -> TaskResult {
        let (task, own_key) = task.into_parts();
        let key = options.key.or(own_key).filter(|k| !k.is_empty()).unwrap_or_else(|| task.name().to_owned());
        let persisted = if self.backend.persists() {
            match serde_json::to_value(&args) {
                Ok(args) => Some(args),
                Err(e) => {
                    let error =
                        TaskError::new(TaskErrorKind::Serialization, format!("cannot serialise the arguments: {e}"));
                    return self.submit(key, task.name(), options.ttl.unwrap_or(task.ttl()), 0, None, fail(error));
                }
            }
        } else {
            None
        };
        let work = into_work(task.run(args));
        let ttl = options.ttl.unwrap_or_else(|| task.ttl());
        let priority = options.priority.unwrap_or_else(|| task.priority());
        self.submit(key, task.name(), ttl, priority, persisted, work)
    }

    /// Runs a plain closure on a worker thread under `key` (ttl default 300 s).
    pub fn spawn<R, F>(&self, key: &str, options: AddOptions, work: F) -> TaskResult
    where
        F: FnOnce() -> R + Send + 'static,
        R: Serialize,
    {
        let work = Work::Blocking(Box::new(move || to_json(work())));
        self.submit_closure(key, options, work)
    }

    /// Runs a future on the tokio runtime under `key` (ttl default 300 s).
    pub fn spawn_async<R, F>(&self, key: &str, options: AddOptions, work: F) -> TaskResult
    where
        F: Future<Output = R> + Send + 'static,
        R: Serialize,
    {
        let work = Work::Async(Box::pin(async move { to_json(work.await) }));
        self.submit_closure(key, options, work)
    }

    fn submit_closure(&self, key: &str, options: AddOptions, work: Work) -> TaskResult {
        let key = options.key.filter(|k| !k.is_empty()).unwrap_or_else(|| key.to_owned());
        let name = key.clone();
        self.submit(key, &name, options.ttl.unwrap_or(DEFAULT_TTL), options.priority.unwrap_or(0), None, work)
    }

    fn submit(
        &self,
        key: String,
        name: &str,
        ttl: Duration,
        priority: i64,
        args: Option<Value>,
        work: Work,
    ) -> TaskResult {
        self.backend.submit(Job {
            session_id: self.session_id.to_string(),
            key,
            name: name.to_owned(),
            ttl,
            priority,
            args,
            work,
        })
    }

    /// The key's latest submission (any status), without removing it.
    pub fn get(&self, key: impl TaskKey) -> Option<TaskResult> {
        self.backend.get(&self.session_id, &key.key())
    }

    /// Removes and returns the key's completed value (typed for a task); `None` if it is not
    /// completed (or not of that type, in which case it stays).
    pub fn pop<K: TaskKey>(&self, key: K) -> Option<K::Output> {
        let key = key.key();
        let mut typed = None;
        self.backend.pop(&self.session_id, &key, &mut |value| {
            typed = from_json::<K::Output>(&key, value);
            typed.is_some()
        })?;
        typed
    }

    /// Removes and returns every completed value of the session, oldest first.
    pub fn pop_all(&self) -> Vec<(String, Value)> {
        self.backend.pop_all(&self.session_id)
    }

    /// Removes and returns every failed task of the session: `(key, error)`.
    pub fn pop_errors(&self) -> Vec<(String, TaskError)> {
        self.backend.pop_errors(&self.session_id)
    }

    /// Whether the key has a completed value.
    pub fn has(&self, key: impl TaskKey) -> bool {
        self.backend.has(&self.session_id, Some(&key.key()))
    }

    /// Whether any key of the session has a completed value.
    pub fn has_any(&self) -> bool {
        self.backend.has(&self.session_id, None)
    }

    /// Cancels the key's pending or running task; whether there was one.
    pub fn cancel(&self, key: impl TaskKey) -> bool {
        self.backend.cancel(&self.session_id, &key.key())
    }

    /// Cancels every pending or running task of the session; how many.
    pub fn cancel_all(&self) -> usize {
        self.backend.cancel_all(&self.session_id)
    }

    /// Waits (woken on completion) for the key's value, at most `timeout`; the value stays.
    /// `None` if it failed, was cancelled, does not exist, or the time ran out.
    pub async fn wait<K: TaskKey>(&self, key: K, timeout: Duration) -> Option<K::Output> {
        let key = key.key().into_owned();
        let keys = [key];
        let found = self.backend.wait(&self.session_id, &keys, WaitMode::All, timeout).await;
        found.into_iter().next().and_then(|(key, value)| from_json(&key, &value))
    }

    /// Waits until every key has finished (at most `timeout`); the completed values by key.
    pub async fn wait_all<K: TaskKey>(
        &self,
        keys: impl IntoIterator<Item = K>,
        timeout: Duration,
    ) -> HashMap<String, Value> {
        let keys: Vec<String> = keys.into_iter().map(|k| k.key().into_owned()).collect();
        self.backend.wait(&self.session_id, &keys, WaitMode::All, timeout).await.into_iter().collect()
    }

    /// Waits until one key has completed (at most `timeout`): `(key, value)`; `None` if none
    /// can complete any more or the time ran out.
    pub async fn wait_any<K: TaskKey>(
        &self,
        keys: impl IntoIterator<Item = K>,
        timeout: Duration,
    ) -> Option<(String, Value)> {
        let keys: Vec<String> = keys.into_iter().map(|k| k.key().into_owned()).collect();
        self.backend.wait(&self.session_id, &keys, WaitMode::Any, timeout).await.into_iter().next()
    }

    /// The write side only (fasthooks' `BackgroundTasks`).
    pub fn writer(&self) -> BackgroundTasks {
        BackgroundTasks(self.clone())
    }

    /// The read side only (fasthooks' `PendingResults`).
    pub fn reader(&self) -> PendingResults {
        PendingResults(self.clone())
    }
}

fn fail(error: TaskError) -> Work {
    Work::Blocking(Box::new(move || Err(error)))
}

/// The write side of [`Tasks`]: add and cancel.
#[derive(Debug, Clone)]
pub struct BackgroundTasks(Tasks);

impl BackgroundTasks {
    /// See [`Tasks::add`].
    pub fn add<S: TaskSpec>(&self, task: S, args: <S::Task as Task>::Args) -> TaskResult {
        self.0.add(task, args)
    }
    /// See [`Tasks::add_with`].
    pub fn add_with<S: TaskSpec>(&self, task: S, args: <S::Task as Task>::Args, options: AddOptions) -> TaskResult {
        self.0.add_with(task, args, options)
    }
    /// See [`Tasks::cancel`].
    pub fn cancel(&self, key: impl TaskKey) -> bool {
        self.0.cancel(key)
    }
    /// See [`Tasks::cancel_all`].
    pub fn cancel_all(&self) -> usize {
        self.0.cancel_all()
    }
}

/// The read side of [`Tasks`]: get, pop, has, wait.
#[derive(Debug, Clone)]
pub struct PendingResults(Tasks);

impl PendingResults {
    /// See [`Tasks::get`].
    pub fn get(&self, key: impl TaskKey) -> Option<TaskResult> {
        self.0.get(key)
    }
    /// See [`Tasks::pop`].
    pub fn pop<K: TaskKey>(&self, key: K) -> Option<K::Output> {
        self.0.pop(key)
    }
    /// See [`Tasks::pop_all`].
    pub fn pop_all(&self) -> Vec<(String, Value)> {
        self.0.pop_all()
    }
    /// See [`Tasks::pop_errors`].
    pub fn pop_errors(&self) -> Vec<(String, TaskError)> {
        self.0.pop_errors()
    }
    /// See [`Tasks::has`].
    pub fn has(&self, key: impl TaskKey) -> bool {
        self.0.has(key)
    }
    /// See [`Tasks::has_any`].
    pub fn has_any(&self) -> bool {
        self.0.has_any()
    }
    /// See [`Tasks::wait`].
    pub async fn wait<K: TaskKey>(&self, key: K, timeout: Duration) -> Option<K::Output> {
        self.0.wait(key, timeout).await
    }
}
