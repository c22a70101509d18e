//! The task rules, and one test for each fasthooks 0.1.4 bug the reference records: one shared
//! suite ([`task_backend_rules!`]) that every backend runs (in-process and SQLite here,
//! PostgreSQL beside its backend), and the in-process and immediate backends' own tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::*;

/// Doubles a number (blocking).
#[derive(Debug, Default, Clone, Copy)]
struct Double;

impl Task for Double {
    type Args = i64;
    type Output = i64;
    fn name(&self) -> &str {
        "double"
    }
    fn run(&self, x: i64) -> TaskRun<i64> {
        TaskRun::blocking(move || Ok(x * 2))
    }
}

/// Doubles a number after `ms` milliseconds (async).
#[derive(Debug, Default, Clone, Copy)]
struct SlowDouble;

impl Task for SlowDouble {
    type Args = (i64, u64);
    type Output = i64;
    fn name(&self) -> &str {
        "slow_double"
    }
    fn run(&self, (x, ms): (i64, u64)) -> TaskRun<i64> {
        TaskRun::future(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(x * 2)
        })
    }
}

fn in_process(workers: usize) -> Tasks {
    Tasks::new(Arc::new(InProcessBackend::with_max_workers(workers)), "s")
}

/// Makes a backend running at most this many tasks at once; backends made by one `Make` share
/// their results (one process, file or database).
pub(crate) type Make = dyn Fn(usize) -> Arc<dyn TaskBackend> + Send + Sync;

/// Session `s` of a new backend of `make`.
fn tasks(make: &Make, workers: usize) -> Tasks {
    Tasks::new(make(workers), "s")
}

/// One test per rule of the shared suite, each with the backends `$setup(test_name).await`
/// gives: `Option<(guard, Box<Make>)>`, `None` to skip (the guard lives until the test ends).
macro_rules! task_backend_rules {
    ($setup:path) => {
        $crate::tasks::tests::task_backend_rules!(@each $setup;
            add_returns_at_once_and_pop_is_typed,
            explicit_keys_run_the_same_task_twice,
            fasthooks_bug_priority_is_honoured_when_workers_are_busy,
            fasthooks_bug_readding_a_pending_key_never_leaves_one_pending_forever,
            readding_a_running_key_replaces_the_result_only_when_the_new_one_finishes,
            fasthooks_bug_sessions_never_collide,
            fasthooks_bug_a_panicking_task_is_failed_not_running_forever,
            errors_and_transform_failures_are_failed,
            ttl_counts_from_completion_and_results_expire,
            cancel_pending_always_works_and_cancel_running_async_stops_it,
            cancelling_a_running_blocking_task_discards_its_result,
            cancel_all_counts_pending_and_running,
            fasthooks_bug_waits_look_even_with_a_zero_timeout,
            wait_any_and_wait_all,
            a_completed_null_is_not_a_missing_result,
            pop_all_returns_keys_oldest_first_and_a_wrong_type_stays,
        );
    };
    (@each $setup:path; $($rule:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $rule() {
                let Some((_guard, make)) = $setup(stringify!($rule)).await else { return };
                $crate::tasks::tests::$rule(&*make).await;
            }
        )*
    };
}
pub(crate) use task_backend_rules;

/// In-process backends: each its own store.
async fn in_process_backends(_test: &str) -> Option<((), Box<Make>)> {
    Some(((), Box::new(|workers| Arc::new(InProcessBackend::with_max_workers(workers)) as Arc<dyn TaskBackend>)))
}

/// SQLite backends on one new file.
async fn sqlite_backends(_test: &str) -> Option<(tempfile::TempDir, Box<Make>)> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("tasks.db");
    let make = move |workers| {
        Arc::new(SqliteTaskBackend::open_with(&path, workers).expect("the task file")) as Arc<dyn TaskBackend>
    };
    Some((dir, Box::new(make)))
}

mod in_process_rules {
    super::task_backend_rules!(super::in_process_backends);
}

mod sqlite_rules {
    super::task_backend_rules!(super::sqlite_backends);
}

const LONG: Duration = Duration::from_secs(10);

/// Occupies `n` workers until the returned sender is dropped or sent to.
fn block_workers(tasks: &Tasks, n: usize) -> Vec<mpsc::Sender<()>> {
    (0..n)
        .map(|i| {
            let (tx, rx) = mpsc::channel::<()>();
            tasks.spawn(&format!("blocker{i}"), AddOptions::new().priority(i64::MAX), move || rx.recv().is_ok());
            tx
        })
        .collect()
}

/// Waits until `key` is RUNNING (blockers must have started before the test queues more work).
async fn until_running(tasks: &Tasks, key: &str) {
    for _ in 0..2000 {
        if tasks.get(key).is_some_and(|r| r.status == TaskStatus::Running) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("{key} never started");
}

/// A rule of every backend.
pub(crate) async fn add_returns_at_once_and_pop_is_typed(make: &Make) {
    let tasks = tasks(make, 2);
    let added = tasks.add(SlowDouble, (21, 20));
    assert_eq!(added.key, "slow_double");
    assert_eq!(added.status, TaskStatus::Pending);
    assert_eq!(tasks.pop(SlowDouble), None, "not finished yet");
    assert_eq!(tasks.wait(SlowDouble, LONG).await, Some(42));
    assert!(tasks.has(SlowDouble));
    let snapshot = tasks.get(SlowDouble).unwrap();
    assert_eq!(snapshot.status, TaskStatus::Completed);
    assert!(snapshot.started_at.is_some() && snapshot.finished_at >= snapshot.started_at);
    assert_eq!(snapshot.value, Some(json!(42)));
    let popped: Option<i64> = tasks.pop(SlowDouble);
    assert_eq!(popped, Some(42));
    assert_eq!(tasks.pop(SlowDouble), None, "popped once");
    assert!(tasks.get(SlowDouble).is_none());
}

/// A rule of every backend.
pub(crate) async fn explicit_keys_run_the_same_task_twice(make: &Make) {
    let tasks = tasks(make, 2);
    tasks.add(Double.keyed("double:a"), 1);
    tasks.add_with(Double, 2, AddOptions::new().key("double:b"));
    let all = tasks.wait_all(["double:a", "double:b"], LONG).await;
    assert_eq!(all.len(), 2);
    assert_eq!(tasks.pop(Double.keyed("double:a")), Some(2));
    assert_eq!(tasks.pop(Double.keyed("double:b")), Some(4));
    // An empty key falls back to the task's name, as in fasthooks.
    tasks.add_with(Double, 5, AddOptions::new().key(""));
    assert_eq!(tasks.wait(Double, LONG).await, Some(10));
}

/// A rule of every backend.
pub(crate) async fn fasthooks_bug_priority_is_honoured_when_workers_are_busy(make: &Make) {
    // fasthooks ran [low0, high0, low1, high1, ...] in FIFO order: priority was dead data.
    let tasks = tasks(make, 1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let gate = block_workers(&tasks, 1);
    until_running(&tasks, "blocker0").await;
    for (name, priority) in [("low0", 0), ("high0", 10), ("low1", 0), ("high1", 10), ("mid", 5)] {
        let order = Arc::clone(&order);
        tasks.spawn(name, AddOptions::new().priority(priority), move || order.lock().unwrap().push(name));
    }
    drop(gate);
    tasks.wait_all(["low0", "high0", "low1", "high1", "mid"], LONG).await;
    assert_eq!(*order.lock().unwrap(), ["high0", "high1", "mid", "low0", "low1"]);
}

/// A rule of every backend.
pub(crate) async fn fasthooks_bug_readding_a_pending_key_never_leaves_one_pending_forever(make: &Make) {
    // fasthooks: both jobs ran against the second result object; the first stayed PENDING.
    let tasks = tasks(make, 1);
    let gate = block_workers(&tasks, 1);
    until_running(&tasks, "blocker0").await;
    let first = tasks.add(Double, 1);
    let second = tasks.add(Double, 2);
    assert_ne!(first.id, second.id);
    drop(gate);
    assert_eq!(tasks.wait(Double, LONG).await, Some(4), "the newest arguments win");
    assert_eq!(tasks.pop(Double), Some(4));
    assert!(tasks.pop_all().iter().all(|(k, _)| k != "double"), "the replaced one produced nothing");
}

/// A rule of every backend.
pub(crate) async fn readding_a_running_key_replaces_the_result_only_when_the_new_one_finishes(make: &Make) {
    let tasks = tasks(make, 2);
    let (release_old, old_gate) = mpsc::channel::<()>();
    let (release_new, new_gate) = mpsc::channel::<()>();
    tasks.spawn("job", AddOptions::new(), move || old_gate.recv().map(|_| "old").unwrap_or("old"));
    until_running(&tasks, "job").await;
    let newest = tasks.spawn("job", AddOptions::new(), move || new_gate.recv().map(|_| "new").unwrap_or("new"));
    let shown = tasks.get("job").unwrap();
    assert_eq!(shown.id, newest.id, "get shows the newest submission");
    assert!(!shown.status.is_finished());
    release_old.send(()).unwrap();
    // The old one finishes first: its result is visible until the new one finishes.
    for _ in 0..2000 {
        if tasks.has("job") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(tasks.has("job"));
    assert_ne!(tasks.get("job").unwrap().status, TaskStatus::Completed, "the newest is still running");
    release_new.send(()).unwrap();
    assert_eq!(tasks.wait("job", LONG).await, Some(json!("new")));
    assert_eq!(tasks.pop("job"), Some(json!("new")));
    assert_eq!(tasks.pop("job"), None, "one visible result per key");
}

/// A rule of every backend.
pub(crate) async fn fasthooks_bug_sessions_never_collide(make: &Make) {
    // fasthooks stored "{session}:{key}": session "a:b" + key "c" was session "a" + key "b:c".
    let backend = make(4);
    let ab = Tasks::new(Arc::clone(&backend), "a:b");
    let a = Tasks::new(Arc::clone(&backend), "a");
    ab.spawn("c", AddOptions::new(), || 420);
    assert_eq!(ab.wait("c", LONG).await, Some(json!(420)));
    assert_eq!(a.pop("b:c"), None);
    assert!(!a.has("b:c") && !a.has_any());
    assert!(a.get("b:c").is_none());
    assert!(a.pop_all().is_empty());
    assert_eq!(a.cancel_all(), 0);
    for weird in ["", ":", "a\0b", "ключ", "x::y"] {
        let t = Tasks::new(Arc::clone(&backend), weird);
        t.spawn(weird, AddOptions::new(), || 1);
        assert_eq!(t.wait(weird, LONG).await, Some(json!(1)), "session and key {weird:?}");
    }
    assert_eq!(ab.pop("c"), Some(json!(420)));
}

/// A rule of every backend.
pub(crate) async fn fasthooks_bug_a_panicking_task_is_failed_not_running_forever(make: &Make) {
    // fasthooks: a task raising SystemExit stayed RUNNING forever.
    let tasks = tasks(make, 2);
    tasks.spawn("boom", AddOptions::new(), || -> i32 { panic!("kaboom") });
    tasks.spawn_async("async_boom", AddOptions::new(), async {
        tokio::task::yield_now().await;
        if std::hint::black_box(true) {
            panic!("async kaboom");
        }
        1
    });
    tasks.wait_all(["boom", "async_boom"], LONG).await;
    assert_eq!(tasks.get("boom").unwrap().status, TaskStatus::Failed);
    let mut errors = tasks.pop_errors();
    errors.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].0, "async_boom");
    assert_eq!(errors[0].1.message, "async kaboom");
    assert_eq!(errors[1].1, TaskError::new(TaskErrorKind::Panicked, "kaboom"));
    assert!(tasks.pop_errors().is_empty(), "popped once");
}

/// A rule of every backend.
pub(crate) async fn errors_and_transform_failures_are_failed(make: &Make) {
    #[derive(Default)]
    struct Parse;
    impl Task for Parse {
        type Args = String;
        type Output = u32;
        fn name(&self) -> &str {
            "parse"
        }
        fn run(&self, s: String) -> TaskRun<u32> {
            TaskRun::blocking(move || s.parse::<u32>().map_err(TaskError::failed))
                .map(|n| if n > 100 { Err(TaskError::new(TaskErrorKind::Transform, "too big")) } else { Ok(n) })
        }
    }
    let tasks = tasks(make, 2);
    tasks.add(Parse.keyed("bad"), "x".into());
    tasks.add(Parse.keyed("big"), "500".into());
    tasks.add(Parse.keyed("ok"), "7".into());
    tasks.wait_all(["bad", "big", "ok"], LONG).await;
    assert_eq!(tasks.pop(Parse.keyed("ok")), Some(7));
    assert!(!tasks.has("bad"), "a failure is not a result");
    let errors: std::collections::HashMap<String, TaskError> = tasks.pop_errors().into_iter().collect();
    assert_eq!(errors["bad"].kind, TaskErrorKind::Failed);
    assert_eq!(errors["big"], TaskError::new(TaskErrorKind::Transform, "too big"));
}

/// A rule of every backend.
pub(crate) async fn ttl_counts_from_completion_and_results_expire(make: &Make) {
    let tasks = tasks(make, 2);
    tasks.add_with(SlowDouble, (1, 600), AddOptions::new().ttl(Duration::from_millis(300)));
    // Running longer than its ttl: it does not expire while running.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(tasks.get(SlowDouble).is_some());
    assert_eq!(tasks.wait(SlowDouble, LONG).await, Some(2), "present right after completion");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(tasks.get(SlowDouble).is_none(), "gone once the ttl after completion has passed");
    assert!(!tasks.has_any());
}

/// A rule of every backend.
pub(crate) async fn cancel_pending_always_works_and_cancel_running_async_stops_it(make: &Make) {
    let tasks = tasks(make, 1);
    let gate = block_workers(&tasks, 1);
    until_running(&tasks, "blocker0").await;
    tasks.add(Double, 1);
    assert!(tasks.cancel(Double), "pending: cancelled");
    assert_eq!(tasks.get(Double).unwrap().status, TaskStatus::Cancelled);
    assert!(!tasks.cancel(Double), "nothing left to cancel");
    assert!(!tasks.cancel("missing"));
    drop(gate);

    let finished = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&finished);
    tasks.spawn_async("sleeper", AddOptions::new(), async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        flag.store(true, Ordering::SeqCst);
    });
    until_running(&tasks, "sleeper").await;
    assert!(tasks.cancel("sleeper"), "running async: stopped");
    assert_eq!(tasks.get("sleeper").unwrap().status, TaskStatus::Cancelled);
    assert_eq!(tasks.wait("sleeper", LONG).await, None::<Value>, "a cancelled task has no value");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!finished.load(Ordering::SeqCst), "the future was dropped at its await");
}

/// A rule of every backend.
pub(crate) async fn cancelling_a_running_blocking_task_discards_its_result(make: &Make) {
    let tasks = tasks(make, 2);
    let (release, gate) = mpsc::channel::<()>();
    tasks.spawn("blocking", AddOptions::new(), move || gate.recv().is_ok());
    until_running(&tasks, "blocking").await;
    assert!(tasks.cancel("blocking"));
    assert_eq!(tasks.get("blocking").unwrap().status, TaskStatus::Cancelled);
    release.send(()).unwrap();
    // It ran to its end on its worker; the result was thrown away and the slot freed.
    tasks.spawn("after", AddOptions::new(), || 1);
    assert_eq!(tasks.wait("after", LONG).await, Some(json!(1)));
    assert_eq!(tasks.get("blocking").unwrap().status, TaskStatus::Cancelled);
    assert!(!tasks.has("blocking"));
}

/// A rule of every backend.
pub(crate) async fn cancel_all_counts_pending_and_running(make: &Make) {
    let tasks = tasks(make, 1);
    let gate = block_workers(&tasks, 1);
    until_running(&tasks, "blocker0").await;
    tasks.add(Double.keyed("a"), 1);
    tasks.add(Double.keyed("b"), 2);
    assert_eq!(tasks.cancel_all(), 3, "two pending and the running blocker");
    drop(gate);
}

/// A rule of every backend.
pub(crate) async fn fasthooks_bug_waits_look_even_with_a_zero_timeout(make: &Make) {
    // fasthooks: wait(timeout=0) returned None without looking, even for a completed task.
    let tasks = tasks(make, 2);
    tasks.add(Double, 4);
    assert_eq!(tasks.wait(Double, LONG).await, Some(8));
    assert_eq!(tasks.wait(Double, Duration::ZERO).await, Some(8));
    assert_eq!(tasks.wait("unknown", Duration::ZERO).await, None::<Value>);
}

/// A rule of every backend.
pub(crate) async fn wait_any_and_wait_all(make: &Make) {
    let tasks = tasks(make, 4);
    tasks.add(SlowDouble.keyed("slow"), (1, 300));
    tasks.add(SlowDouble.keyed("fast"), (2, 10));
    tasks.spawn("fails", AddOptions::new(), || -> i32 { panic!("no") });
    assert_eq!(tasks.wait_any(["slow", "fast"], LONG).await, Some(("fast".into(), json!(4))));
    assert_eq!(tasks.wait_any(["fails", "missing"], LONG).await, None, "none can complete");
    let all = tasks.wait_all(["slow", "fast", "fails", "missing"], LONG).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all["slow"], json!(2));
    // A timeout gives what has completed so far.
    tasks.add(SlowDouble.keyed("slower"), (3, 2_000));
    let partial = tasks.wait_all(["fast", "slower"], Duration::from_millis(20)).await;
    assert_eq!(partial.keys().collect::<Vec<_>>(), ["fast"]);
    assert!(tasks.cancel("slower"));
}

/// A rule of every backend.
pub(crate) async fn a_completed_null_is_not_a_missing_result(make: &Make) {
    // fasthooks: a completed None looked like "not ready" under `if r := tasks.pop(..)`.
    let tasks = tasks(make, 2);
    tasks.spawn("unit", AddOptions::new(), || ());
    assert_eq!(tasks.wait("unit", LONG).await, Some(Value::Null));
    assert!(tasks.has("unit"));
    assert_eq!(tasks.pop("unit"), Some(Value::Null));
    assert!(!tasks.has("unit"));
}

/// A rule of every backend.
pub(crate) async fn pop_all_returns_keys_oldest_first_and_a_wrong_type_stays(make: &Make) {
    let tasks = tasks(make, 1);
    for key in ["b", "a", "c"] {
        tasks.add(Double.keyed(key), 1);
    }
    tasks.wait_all(["a", "b", "c"], LONG).await;
    assert_eq!(tasks.pop(SlowDouble.keyed("a")), Some(2), "same output type");
    let wrong: Option<String> = {
        #[derive(Default)]
        struct Text;
        impl Task for Text {
            type Args = ();
            type Output = String;
            fn name(&self) -> &str {
                "b"
            }
            fn run(&self, _: ()) -> TaskRun<String> {
                TaskRun::blocking(|| Ok(String::new()))
            }
        }
        tasks.pop(Text)
    };
    assert_eq!(wrong, None, "an i64 is not a String");
    assert!(tasks.has("b"), "it is left in place");
    assert_eq!(tasks.pop_all(), [("b".to_owned(), json!(2)), ("c".to_owned(), json!(2))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_views_are_thin() {
    let tasks = in_process(2);
    tasks.writer().add(Double, 3);
    let reader = tasks.reader();
    assert_eq!(reader.wait(Double, LONG).await, Some(6));
    assert!(reader.has(Double) && reader.has_any());
    assert_eq!(reader.pop(Double), Some(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_added_while_a_worker_watches_the_queue_still_run_side_by_side() {
    // A worker that runs out of jobs watches the queue for a moment before sleeping; two jobs
    // added then must still run at once on two workers (each one waits for the other to start).
    let tasks = in_process(2);
    for round in 0..200 {
        let warm = format!("warm{round}");
        tasks.spawn(&warm, AddOptions::new(), || 0);
        // Busy-polled, so the next adds come while the worker that ran it still watches.
        while !tasks.get(warm.as_str()).is_some_and(|r| r.status.is_finished()) {
            std::hint::spin_loop();
        }
        let (a_started, a_seen) = mpsc::channel::<()>();
        let (b_started, b_seen) = mpsc::channel::<()>();
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        tasks.spawn(&a, AddOptions::new(), move || {
            let _ = a_started.send(());
            b_seen.recv_timeout(LONG).is_ok()
        });
        tasks.spawn(&b, AddOptions::new(), move || {
            let _ = b_started.send(());
            a_seen.recv_timeout(LONG).is_ok()
        });
        let both = [tasks.wait(a.as_str(), LONG).await, tasks.wait(b.as_str(), LONG).await];
        assert_eq!(both, [Some(json!(true)), Some(json!(true))], "round {round}: the two jobs ran one after the other");
    }
}

#[test]
fn immediate_backend_runs_inside_add() {
    let tasks = Tasks::new(Arc::new(ImmediateBackend::new()), "test");
    let done = tasks.add(Double, 5);
    assert_eq!(done.status, TaskStatus::Completed);
    // What `add` returns is the finished result, value and times included.
    assert_eq!((done.key.as_str(), done.session_id.as_str()), ("double", "test"));
    assert_eq!(done.value_as::<i32>(), Some(10));
    assert!(done.finished_at.is_some());
    assert_eq!(tasks.pop(Double), Some(10));
    let failed = tasks.spawn("boom", AddOptions::new(), || -> i32 { panic!("bad") });
    assert_eq!(failed.status, TaskStatus::Failed);
    assert_eq!(tasks.pop_errors()[0].1.message, "bad");
    // Async tasks outside a runtime run on a temporary one.
    let slow = tasks.add(SlowDouble, (2, 5));
    assert_eq!(slow.status, TaskStatus::Completed);
    assert_eq!(tasks.pop(SlowDouble), Some(4));
    assert!(!tasks.cancel(Double), "nothing is ever pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immediate_backend_inside_a_runtime() {
    let tasks = Tasks::new(Arc::new(ImmediateBackend::new()), "test");
    assert_eq!(tasks.add(SlowDouble, (3, 5)).status, TaskStatus::Completed);
    assert_eq!(tasks.wait(SlowDouble, Duration::ZERO).await, Some(6));
}

#[test]
fn async_task_without_a_runtime_fails_clearly() {
    let tasks = in_process(1);
    tasks.add(SlowDouble, (1, 1));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..2000 {
            if let Some(r) = tasks.get(SlowDouble).filter(|r| r.status.is_finished()) {
                let _ = tx.send(r);
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let result = rx.recv_timeout(LONG).expect("finished");
    assert_eq!(result.status, TaskStatus::Failed);
    assert_eq!(result.error.unwrap().kind, TaskErrorKind::Lost);
}

#[test]
fn only_forward_transitions() {
    use TaskStatus::*;
    let all = [Pending, Running, Completed, Failed, Cancelled];
    let valid: Vec<(TaskStatus, TaskStatus)> =
        all.iter().flat_map(|a| all.iter().map(move |b| (*a, *b))).filter(|(a, b)| a.can_become(*b)).collect();
    assert_eq!(
        valid,
        [
            (Pending, Running),
            (Pending, Failed),
            (Pending, Cancelled),
            (Running, Completed),
            (Running, Failed),
            (Running, Cancelled)
        ]
    );
    for s in all {
        assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
        assert_eq!(s.is_finished(), matches!(s, Completed | Failed | Cancelled));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_added_back_to_back_each_get_a_free_worker() {
    // One idle worker and two jobs added at once: the second must not wait behind the first
    // while the pool may still start a worker for it. Repeated, since it depends on when the
    // idle worker wakes.
    for _ in 0..30 {
        let tasks = in_process(3);
        let gates = block_workers(&tasks, 1);
        until_running(&tasks, "blocker0").await;
        tasks.spawn("warm", AddOptions::new(), || 0);
        assert_eq!(tasks.wait("warm", LONG).await, Some(json!(0)), "a second worker exists and is idle");
        let (release, gate) = mpsc::channel::<()>();
        tasks.spawn("long", AddOptions::new(), move || gate.recv().is_ok());
        tasks.spawn("quick", AddOptions::new(), || 1);
        let quick = tasks.wait("quick", Duration::from_secs(2)).await;
        assert_eq!(quick, Some(json!(1)), "ran while `long` and the blocker still hold theirs");
        release.send(()).unwrap();
        drop(gates);
    }
}
