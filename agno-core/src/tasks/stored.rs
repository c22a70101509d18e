//! What the persistent backends ([`SqliteTaskBackend`](super::SqliteTaskBackend) and the
//! PostgreSQL one) keep of a task, in the same form: times in unix milliseconds, values and
//! errors as JSON text, and how a stored task is brought back to run again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::backend::{Job, WaitMode, Work};
use super::{TaskError, TaskErrorKind, TaskResult, TaskStatus};
use crate::panic::panic_message;
use crate::registry;

/// The largest stored ttl (about 73 million years), so `finished_at + ttl_ms` cannot overflow.
const MAX_TTL_MS: i64 = i64::MAX / 4;

/// Now, in unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A stored unix-milliseconds time.
pub(crate) fn time_of(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A ttl as stored milliseconds.
pub(crate) fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).min(MAX_TTL_MS)
}

/// A stored sequence number as the executor's ticket carries it.
pub(crate) fn ticket_seq(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

/// A ticket's sequence number as stored.
pub(crate) fn stored_seq(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A cancellation with its reason.
pub(crate) fn cancelled(message: &str) -> TaskError {
    TaskError::new(TaskErrorKind::Cancelled, message)
}

/// Why a plain closure whose process ended is not run again.
pub(crate) fn lost_message(key: &str) -> String {
    format!(
        "the process that ran task `{key}` exited before it finished, and plain closures cannot be resumed; use #[task]"
    )
}

/// An error as stored JSON.
pub(crate) fn error_json(error: &TaskError) -> String {
    serde_json::to_string(error).unwrap_or_else(|_| format!("{{\"kind\":\"failed\",\"message\":{:?}}}", error.message))
}

/// How an outcome is stored: its status, and its value or error as JSON text. An output that
/// cannot be serialised fails the task.
pub(crate) fn stored_outcome(outcome: Result<Value, TaskError>) -> (TaskStatus, Option<String>, Option<String>) {
    let status = TaskStatus::of_outcome(&outcome);
    match outcome {
        Ok(value) => match serde_json::to_string(&value) {
            Ok(text) => (status, Some(text), None),
            Err(e) => {
                let error = TaskError::new(TaskErrorKind::Serialization, format!("cannot store the output: {e}"));
                (TaskStatus::Failed, None, Some(error_json(&error)))
            }
        },
        Err(error) => (status, None, Some(error_json(&error))),
    }
}

/// A stored value read back; `None` (logged) when it is not JSON. A completed row without a
/// value is `null`.
pub(crate) fn stored_value(key: &str, text: Option<&str>) -> Option<Value> {
    match text.map(serde_json::from_str::<Value>) {
        None => Some(Value::Null),
        Some(Ok(value)) => Some(value),
        Some(Err(e)) => {
            tracing::error!(key, error = %e, "a stored task value cannot be decoded");
            None
        }
    }
}

/// A stored error read back (an unreadable one becomes "unknown error").
pub(crate) fn stored_error(text: Option<&str>) -> TaskError {
    text.and_then(|e| serde_json::from_str::<TaskError>(e).ok())
        .unwrap_or_else(|| TaskError::new(TaskErrorKind::Failed, "unknown error"))
}

/// The work of a stored task whose process ended, found again by name in the registry of
/// `#[task]`s and bound to its stored arguments; or why it cannot run again.
pub(crate) fn resume_stored(name: &str, key: &str, args: Option<&str>) -> Result<Work, TaskError> {
    match (registry::resumable(name), args) {
        (Some(resume), Some(args)) => serde_json::from_str::<Value>(args)
            .map_err(|e| TaskError::new(TaskErrorKind::Serialization, format!("cannot read the stored arguments: {e}")))
            .and_then(|args| {
                std::panic::catch_unwind(move || resume(args))
                    .unwrap_or_else(|panic| Err(TaskError::new(TaskErrorKind::Panicked, panic_message(panic))))
            }),
        (Some(_), None) => Err(TaskError::new(
            TaskErrorKind::Lost,
            format!("the process that ran task `{key}` exited before it finished, and its arguments were not stored"),
        )),
        (None, _) => Err(TaskError::new(TaskErrorKind::Lost, lost_message(key))),
    }
}

/// A new submission as a persistent backend stores it.
pub(crate) struct Submission {
    /// Its first snapshot: `PENDING`, created now, with a new id.
    pub(crate) snapshot: TaskResult,
    /// When it was created, in unix milliseconds.
    pub(crate) created: i64,
    /// Its arguments as JSON text; `None` without arguments or when they cannot be serialised
    /// (then it cannot be resumed by another process).
    pub(crate) args: Option<String>,
    /// The work.
    pub(crate) work: Work,
}

impl Submission {
    pub(crate) fn new(job: Job) -> Self {
        let Job { session_id, key, name, ttl, priority, args, work } = job;
        let created = now_ms();
        let snapshot = TaskResult {
            id: uuid::Uuid::new_v4().simple().to_string(),
            session_id,
            key,
            name,
            status: TaskStatus::Pending,
            value: None,
            error: None,
            created_at: time_of(created),
            started_at: None,
            finished_at: None,
            ttl,
            priority,
        };
        let args = args.and_then(|args| match serde_json::to_string(&args) {
            Ok(text) => Some(text),
            Err(e) => {
                tracing::warn!(key = %snapshot.key, error = %e, "cannot store a task's arguments; it cannot be resumed");
                None
            }
        });
        Self { snapshot, created, args, work }
    }
}

/// Marks a snapshot `FAILED` now, with `error`: a submission that cannot run.
pub(crate) fn refuse(snapshot: &mut TaskResult, error: TaskError) {
    snapshot.status = TaskStatus::Failed;
    snapshot.error = Some(error);
    snapshot.finished_at = Some(SystemTime::now());
}

/// A submission that could not be stored: logged, and `FAILED` (`Lost`) with the reason; it
/// does not run.
pub(crate) fn not_stored(snapshot: &mut TaskResult, error: &dyn std::fmt::Display) {
    tracing::error!(key = %snapshot.key, error = %error, "cannot store a task; it does not run");
    refuse(snapshot, TaskError::new(TaskErrorKind::Lost, format!("cannot store the task: {error}")));
}

/// A persistent backend's answer when its store fails: `fallback`, with the failure logged as
/// "cannot `doing`" (the [`TaskBackend`](super::TaskBackend) methods have no error to return).
pub(crate) fn or_logged<T, E: std::fmt::Display>(
    result: Result<T, E>,
    doing: &str,
    key: Option<&str>,
    fallback: T,
) -> T {
    result.unwrap_or_else(|e| {
        tracing::error!(key, error = %e, "cannot {doing}");
        fallback
    })
}

/// When a wait of `timeout` from now gives up (in a century for a timeout too long to add).
pub(crate) fn wait_deadline(timeout: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(timeout).unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// What a wait saw of one of its keys.
pub(crate) struct KeyLook {
    /// A submission of the key is pending or running.
    pub(crate) inflight: bool,
    /// ... in another process (or another backend value), which does not wake this one's waits.
    pub(crate) foreign: bool,
    /// The visible result, if it completed.
    pub(crate) completed: Option<Value>,
}

/// Whether a wait on `keys` is over after a look (`looks` in the order of `keys`), and what it
/// gives: `Some` once every key has settled, or one has completed (`Any`), or the time is up
/// (the values completed so far, including keys that also have a newer run); `None` to sleep.
pub(crate) fn wait_answer(
    keys: &[String],
    looks: &[KeyLook],
    mode: WaitMode,
    timed_out: bool,
) -> Option<Vec<(String, Value)>> {
    let mut done = Vec::new();
    let mut unfinished = false;
    for (key, look) in keys.iter().zip(looks) {
        if look.inflight {
            unfinished = true;
            continue;
        }
        if let Some(value) = &look.completed {
            done.push((key.clone(), value.clone()));
            if mode == WaitMode::Any {
                return Some(done);
            }
        }
    }
    if !unfinished {
        return Some(done);
    }
    if !timed_out {
        return None;
    }
    let found = keys.iter().zip(looks).filter_map(|(key, look)| Some((key.clone(), look.completed.clone()?)));
    Some(match mode {
        WaitMode::All => found.collect(),
        WaitMode::Any => found.take(1).collect(),
    })
}

/// One stored row, as both persistent backends lay it out.
pub(crate) struct StoredRow {
    pub(crate) seq: i64,
    pub(crate) id: String,
    pub(crate) session_id: String,
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) status: String,
    pub(crate) value: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) priority: i64,
    pub(crate) ttl_ms: i64,
    pub(crate) created_at: i64,
    pub(crate) started_at: Option<i64>,
    pub(crate) finished_at: Option<i64>,
}

impl StoredRow {
    /// The snapshot it holds, or what is wrong with it.
    pub(crate) fn into_result(self) -> Result<TaskResult, String> {
        let seq = self.seq;
        let status =
            TaskStatus::parse(&self.status).ok_or_else(|| format!("row {seq}: unknown status `{}`", self.status))?;
        let value = self
            .value
            .map(|v| serde_json::from_str::<Value>(&v))
            .transpose()
            .map_err(|e| format!("row {seq}: value: {e}"))?;
        let error = self
            .error
            .map(|e| serde_json::from_str::<TaskError>(&e))
            .transpose()
            .map_err(|e| format!("row {seq}: error: {e}"))?;
        Ok(TaskResult {
            id: self.id,
            session_id: self.session_id,
            key: self.key,
            name: self.name,
            status,
            value,
            error,
            priority: self.priority,
            ttl: Duration::from_millis(u64::try_from(self.ttl_ms).unwrap_or(0)),
            created_at: time_of(self.created_at),
            started_at: self.started_at.map(time_of),
            finished_at: self.finished_at.map(time_of),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn outcomes_are_stored_as_json_text() {
        assert_eq!(stored_outcome(Ok(json!({"a": 1}))), (TaskStatus::Completed, Some("{\"a\":1}".to_owned()), None));
        let (status, value, error) = stored_outcome(Err(cancelled("stop")));
        assert_eq!((status, value), (TaskStatus::Cancelled, None));
        assert_eq!(stored_error(error.as_deref()), cancelled("stop"));
        assert_eq!(stored_error(Some("not json")).message, "unknown error");
        assert_eq!(stored_value("k", None), Some(Value::Null));
        assert_eq!(stored_value("k", Some("[1")), None);
    }

    #[test]
    fn a_wait_ends_when_its_keys_settle_or_its_time_is_up() {
        let keys = ["a".to_owned(), "b".to_owned()];
        let look = |inflight, completed: Option<i32>| KeyLook {
            inflight,
            foreign: false,
            completed: completed.map(|v| json!(v)),
        };
        let running = [look(false, Some(1)), look(true, None)];
        assert_eq!(wait_answer(&keys, &running, WaitMode::All, false), None, "b still runs");
        assert_eq!(wait_answer(&keys, &running, WaitMode::Any, false), Some(vec![("a".to_owned(), json!(1))]));
        assert_eq!(wait_answer(&keys, &running, WaitMode::All, true), Some(vec![("a".to_owned(), json!(1))]));
        let failed = [look(false, None), look(false, None)];
        assert_eq!(wait_answer(&keys, &failed, WaitMode::Any, false), Some(vec![]), "none can complete");
        let newer = [look(true, Some(2)), look(true, None)];
        assert_eq!(wait_answer(&keys, &newer, WaitMode::Any, true), Some(vec![("a".to_owned(), json!(2))]));
    }

    #[test]
    fn times_and_ttls_round_trip_and_never_overflow() {
        assert_eq!(time_of(1_500), UNIX_EPOCH + Duration::from_millis(1_500));
        assert_eq!(ttl_ms(Duration::MAX), MAX_TTL_MS);
        assert!(ttl_ms(Duration::MAX).checked_add(now_ms()).is_some());
        assert_eq!(ticket_seq(-1), 0);
        assert_eq!(stored_seq(u64::MAX), i64::MAX);
    }

    #[test]
    fn an_unregistered_task_cannot_be_resumed_and_says_why() {
        let Err(error) = resume_stored("no_such_task_anywhere", "k", Some("1")) else { panic!("resumed") };
        assert_eq!(error.kind, TaskErrorKind::Lost);
        assert!(error.message.contains("#[task]"), "{}", error.message);
    }

    #[test]
    fn a_failed_store_answers_the_fallback() {
        assert_eq!(or_logged(Ok::<_, String>(3), "count", Some("k"), 0), 3);
        assert_eq!(or_logged(Err::<usize, _>("disk gone"), "count", None, 0), 0);
        assert_eq!(or_logged(Err::<Option<u8>, _>("disk gone"), "read a task", Some("k"), None), None);
    }

    #[test]
    fn a_corrupt_row_says_what_is_wrong() {
        let row = StoredRow {
            seq: 7,
            id: "i".into(),
            session_id: "s".into(),
            key: "k".into(),
            name: "n".into(),
            status: "DONE".into(),
            value: None,
            error: None,
            priority: 0,
            ttl_ms: 1,
            created_at: 0,
            started_at: None,
            finished_at: None,
        };
        assert_eq!(row.into_result().unwrap_err(), "row 7: unknown status `DONE`");
    }
}
