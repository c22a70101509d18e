//! `HookApp` as Claude Code runs it: one process per event, tasks handed to a detached worker,
//! results picked up by later processes of the same session.
//!
//! This test binary is its own hook command (`harness = false`): started with `HOOK_DB` set it
//! runs the app below on stdin; started by the app as its task worker (`HOOK_DB` is inherited),
//! `HookApp::run` serves as the worker. Otherwise it runs the tests. A prompt is a small JSON command (`{"op": "add",
//! ...}`) and the answer's `additionalContext` is the JSON result, so each test drives tasks
//! across processes exactly as hooks do.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use agno::claude_code::{HookApp, PreToolUse, Response, UserPromptSubmit, allow, context};
use agno::prelude::*;
use agno::tasks::AddOptions;
use serde_json::{Value, json};

/// Writes this process's id to `<gate>.pids`, then waits (up to 60 s) for the file `gate`.
#[task]
fn gated(gate: String) -> String {
    use std::io::Write;
    if let Ok(mut pids) = std::fs::OpenOptions::new().create(true).append(true).open(format!("{gate}.pids")) {
        let _ = writeln!(pids, "{}", std::process::id());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !Path::new(&gate).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    format!("opened {gate}")
}

/// Like `gated`, async: it can be stopped while it waits.
#[task]
async fn gated_async(gate: String) -> String {
    let _ = std::fs::write(format!("{gate}.pid"), std::process::id().to_string());
    while !Path::new(&gate).exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = std::fs::write(format!("{gate}.done"), "");
    format!("opened {gate}")
}

fn double(n: i64) -> i64 {
    n * 2
}

#[task(transform = double)]
fn doubled(n: i64) -> i64 {
    n
}

#[task]
fn explode(why: String) -> Result<String, String> {
    Err(why)
}

/// Appends `label` to the file `log` (the order tasks ran in).
#[task]
fn record(log: String, label: String) -> String {
    use std::io::Write;
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(&log) {
        let _ = writeln!(file, "{label}");
    }
    label
}

/// Whether a worker holds the lock of the database named in the command.
fn worker_lock_held(cmd: &Value) -> bool {
    let lock = format!("{}.worker.lock", cmd["db"].as_str().unwrap_or_default());
    match std::fs::OpenOptions::new().write(true).open(lock) {
        Ok(file) => matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

fn options(cmd: &Value) -> AddOptions {
    let mut options = AddOptions::new();
    if let Some(key) = cmd["key"].as_str() {
        options = options.key(key);
    }
    if let Some(ttl) = cmd["ttl_ms"].as_u64() {
        options = options.ttl(Duration::from_millis(ttl));
    }
    if let Some(priority) = cmd["priority"].as_i64() {
        options = options.priority(priority);
    }
    options
}

/// Runs one command of a prompt.
#[hook]
async fn command(event: &UserPromptSubmit, tasks: &Tasks) -> Response {
    let cmd: Value = serde_json::from_str(&event.prompt).unwrap_or(Value::Null);
    let key = cmd["key"].as_str().unwrap_or_default().to_owned();
    let arg = cmd["arg"].clone();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let result = match cmd["op"].as_str().unwrap_or_default() {
        "add" => {
            let added = match cmd["task"].as_str().unwrap_or_default() {
                "gated" => tasks.add_with(gated, text(&arg), options(&cmd)),
                "gated_async" => tasks.add_with(gated_async, text(&arg), options(&cmd)),
                "doubled" => tasks.add_with(doubled, arg.as_i64().unwrap_or(0), options(&cmd)),
                "explode" => tasks.add_with(explode, text(&arg), options(&cmd)),
                "record" => tasks.add_with(record, (text(&arg[0]), text(&arg[1])), options(&cmd)),
                "closure" => tasks.spawn(&key, AddOptions::new(), || 1),
                other => return context(json!({"error": format!("no task {other}")}).to_string()),
            };
            json!({"status": added.status, "error": added.error.map(|e| e.message)})
        }
        "pop" => json!(tasks.pop(key.as_str())),
        "get" => json!(tasks.get(key.as_str()).map(|r| json!({"status": r.status, "value": r.value}))),
        "wait" => json!(tasks.wait(key.as_str(), Duration::from_secs(30)).await),
        "cancel" => json!(tasks.cancel(key.as_str())),
        // Two adds in one process, the worker of the first gone before the second.
        "add_wait_add" => {
            tasks.add_with(doubled, 1, AddOptions::new().key("first"));
            let first = tasks.wait("first", Duration::from_secs(30)).await;
            let worker_gone = Instant::now() + Duration::from_secs(30);
            while Instant::now() < worker_gone && worker_lock_held(&cmd) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tasks.add_with(doubled, 2, AddOptions::new().key("second"));
            json!(first)
        }
        "errors" => json!(tasks.pop_errors().into_iter().map(|(k, e)| json!([k, e.message])).collect::<Vec<_>>()),
        _ => Value::Null,
    };
    context(result.to_string())
}

/// The quick start's write handler: every Write queues a `doubled` of its content length under
/// the key `len:<file>`, and pops whatever earlier writes of the session finished.
#[hook]
fn on_write(event: &PreToolUse, tasks: &Tasks) -> Response {
    let file = event.file_path().unwrap_or_default();
    let len = event.content().map_or(0, str::len) as i64;
    tasks.add_with(doubled, len, AddOptions::new().key(format!("len:{file}")));
    let popped: Vec<Value> = tasks.pop_all().into_iter().map(|(k, v)| json!([k, v])).collect();
    if popped.is_empty() { allow() } else { context(json!(popped).to_string()) }
}

fn app(db: &Path) -> HookApp {
    HookApp::new().task_db(db).task_threads(1).on_prompt(command).pre_tool("Write", on_write)
}

/// One hook process: the event in, `(answer, stderr, exit code)` out.
fn hook(db: &Path, event: &Value) -> (Value, String, i32) {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .env("HOOK_DB", db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a hook process");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(event.to_string().as_bytes()).expect("write the event");
    }
    let out = child.wait_with_output().expect("hook process");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let answer =
        if stdout.trim().is_empty() { Value::Null } else { serde_json::from_str(&stdout).expect("JSON answer") };
    (answer, String::from_utf8_lossy(&out.stderr).into_owned(), out.status.code().unwrap_or(-1))
}

fn prompt(session: &str, cwd: &Path, cmd: Value) -> Value {
    json!({"hook_event_name": "UserPromptSubmit", "session_id": session, "cwd": cwd, "prompt": cmd.to_string(),
           "transcript_path": cwd.join("t.jsonl"), "permission_mode": "acceptEdits"})
}

/// Runs a command in a new hook process; its result.
fn ask(db: &Path, session: &str, cmd: Value) -> Value {
    let dir = db.parent().expect("db folder");
    let (answer, stderr, code) = hook(db, &prompt(session, dir, cmd.clone()));
    assert_eq!((code, stderr.as_str()), (0, ""), "{cmd}");
    let text = answer["hookSpecificOutput"]["additionalContext"].as_str().unwrap_or_else(|| panic!("{cmd}: {answer}"));
    serde_json::from_str(text).expect("a JSON result")
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Env {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

fn env() -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("tasks.db");
    Env { _dir: dir, db }
}

fn gate_path(env: &Env, name: &str) -> String {
    env.db.with_file_name(name).to_string_lossy().into_owned()
}

fn the_hook_returns_before_its_task_and_the_next_process_gets_the_result() {
    let env = env();
    let gate = gate_path(&env, "gate");
    let added = ask(&env.db, "s1", json!({"op": "add", "task": "gated", "key": "g", "arg": gate}));
    assert_eq!(added["status"], "PENDING");
    // The hook process has exited, and its task cannot have finished: the gate is still shut.
    until("the worker to start the task", || Path::new(&format!("{gate}.pids")).exists());
    assert_eq!(ask(&env.db, "s1", json!({"op": "get", "key": "g"}))["status"], "RUNNING");
    assert_eq!(ask(&env.db, "s1", json!({"op": "pop", "key": "g"})), Value::Null);
    assert_eq!(ask(&env.db, "other", json!({"op": "get", "key": "g"})), Value::Null, "sessions are separate");
    std::fs::write(&gate, "").expect("open the gate");
    assert_eq!(ask(&env.db, "s1", json!({"op": "wait", "key": "g"})), json!(format!("opened {gate}")));
    assert_eq!(ask(&env.db, "s1", json!({"op": "pop", "key": "g"})), json!(format!("opened {gate}")));
    assert_eq!(ask(&env.db, "s1", json!({"op": "pop", "key": "g"})), Value::Null, "popped once");
}

fn transform_ttl_errors_and_closures_across_processes() {
    let env = env();
    ask(&env.db, "s", json!({"op": "add", "task": "doubled", "key": "d", "arg": 21}));
    assert_eq!(ask(&env.db, "s", json!({"op": "wait", "key": "d"})), json!(42), "the transform ran in the worker");

    ask(&env.db, "s", json!({"op": "add", "task": "doubled", "key": "short", "arg": 1, "ttl_ms": 300}));
    assert_eq!(ask(&env.db, "s", json!({"op": "wait", "key": "short"})), json!(2));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(ask(&env.db, "s", json!({"op": "get", "key": "short"})), Value::Null, "expired after its ttl");

    ask(&env.db, "s", json!({"op": "add", "task": "explode", "key": "x", "arg": "no network"}));
    until("the failure", || ask(&env.db, "s", json!({"op": "get", "key": "x"}))["status"] == "FAILED");
    assert_eq!(ask(&env.db, "s", json!({"op": "errors"})), json!([["x", "no network"]]));
    assert_eq!(ask(&env.db, "s", json!({"op": "errors"})), json!([]));

    let closure = ask(&env.db, "s", json!({"op": "add", "task": "closure", "key": "c"}));
    assert_eq!(closure["status"], "FAILED");
    assert!(closure["error"].as_str().unwrap().contains("cannot be handed to a worker process"), "{closure}");
}

fn cancel_and_priority_across_processes() {
    let env = env();
    let gate = gate_path(&env, "gate");
    let log = gate_path(&env, "order.log");
    // One task at a time (task_threads(1)): the gated one holds the worker.
    ask(&env.db, "s", json!({"op": "add", "task": "gated", "key": "g", "arg": gate}));
    until("the gated task to run", || Path::new(&format!("{gate}.pids")).exists());
    for (label, priority) in [("low", 1), ("high", 9), ("doomed", 7), ("mid", 5)] {
        ask(
            &env.db,
            "s",
            json!({"op": "add", "task": "record", "key": label, "arg": [log, label], "priority": priority}),
        );
    }
    assert_eq!(ask(&env.db, "s", json!({"op": "cancel", "key": "doomed"})), json!(true));
    // Every queued row has been taken over by the running worker before the gate opens.
    let conn = rusqlite::Connection::open(&env.db).expect("open the db");
    until("the worker to take the rows", || {
        conn.query_row("SELECT COUNT(*) FROM agno_task_results WHERE status = 'PENDING' AND owner IS NULL", [], |row| {
            row.get::<_, i64>(0)
        })
        .is_ok_and(|n| n == 0)
    });
    std::fs::write(&gate, "").expect("open the gate");
    assert_eq!(ask(&env.db, "s", json!({"op": "wait", "key": "low"})), json!("low"));
    let order = std::fs::read_to_string(&log).expect("order log");
    assert_eq!(
        order.lines().collect::<Vec<_>>(),
        ["high", "mid", "low"],
        "highest priority first; cancelled never ran"
    );
    assert_eq!(ask(&env.db, "s", json!({"op": "get", "key": "doomed"}))["status"], "CANCELLED");
}

fn a_killed_worker_is_replaced_and_its_task_resumed() {
    let env = env();
    let gate = gate_path(&env, "gate");
    ask(&env.db, "s", json!({"op": "add", "task": "gated", "key": "g", "arg": gate}));
    let pids = format!("{gate}.pids");
    until("the worker to start the task", || Path::new(&pids).exists());
    let first = std::fs::read_to_string(&pids).expect("pids").trim().to_owned();
    assert!(Command::new("kill").args(["-KILL", &first]).status().expect("kill").success());
    until("the worker to die", || !Path::new(&format!("/proc/{first}")).exists() || is_zombie(&first));
    // Any later hook of the file that uses tasks notices the orphan and starts a new worker.
    assert_eq!(ask(&env.db, "s", json!({"op": "get", "key": "g"}))["status"], "RUNNING");
    until("a second worker", || std::fs::read_to_string(&pids).is_ok_and(|p| p.lines().count() == 2));
    std::fs::write(&gate, "").expect("open the gate");
    assert_eq!(ask(&env.db, "s", json!({"op": "wait", "key": "g"})), json!(format!("opened {gate}")));
    let conn = rusqlite::Connection::open(&env.db).expect("open the db");
    let attempts: i64 =
        conn.query_row("SELECT attempts FROM agno_task_results WHERE key = 'g'", [], |r| r.get(0)).expect("row");
    assert_eq!(attempts, 2, "resumed once");
}

fn a_second_add_after_the_first_worker_left_is_not_stranded() {
    let env = env();
    let db = env.db.display().to_string();
    assert_eq!(ask(&env.db, "s", json!({"op": "add_wait_add", "db": db})), json!(2));
    // No other hook runs (one would start a worker for orphaned rows): the second add itself
    // must have started a worker.
    let conn = rusqlite::Connection::open(&env.db).expect("open the db");
    until("the second task, with no further hook", || {
        conn.query_row("SELECT status FROM agno_task_results WHERE key = 'second'", [], |r| r.get::<_, String>(0))
            .is_ok_and(|status| status == "COMPLETED")
    });
    assert_eq!(ask(&env.db, "s", json!({"op": "pop", "key": "second"})), json!(4));
}

fn cancelling_a_running_async_task_from_another_process_stops_it() {
    let env = env();
    let gate = gate_path(&env, "gate");
    ask(&env.db, "s", json!({"op": "add", "task": "gated_async", "key": "ga", "arg": gate}));
    let pid_file = format!("{gate}.pid");
    until("the task to run", || Path::new(&pid_file).exists());
    let pid = std::fs::read_to_string(&pid_file).expect("pid");
    assert_eq!(ask(&env.db, "s", json!({"op": "cancel", "key": "ga"})), json!(true));
    // The worker stops the task and, with nothing left, exits while the gate is still shut.
    until("the worker to stop the task and exit", || !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(&pid));
    assert!(!Path::new(&format!("{gate}.done")).exists(), "the cancelled task never got past its gate");
    assert_eq!(ask(&env.db, "s", json!({"op": "get", "key": "ga"}))["status"], "CANCELLED");
}

fn is_zombie(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"))
}

fn sixteen_parallel_hooks_on_one_session_lose_nothing() {
    let env = env();
    let dir = env.db.parent().expect("dir").to_path_buf();
    let writes = 16;
    let results: Vec<(Value, String, i32)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writes)
            .map(|i| {
                let (db, dir) = (&env.db, &dir);
                scope.spawn(move || {
                    let event = json!({"hook_event_name": "PreToolUse", "session_id": "parallel", "cwd": dir,
                        "tool_name": "Write", "tool_use_id": format!("t{i}"),
                        "tool_input": {"file_path": format!("{}/f{i}.txt", dir.display()), "content": "x".repeat(i)}});
                    hook(db, &event)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("hook thread")).collect()
    });
    let mut seen: Vec<(String, i64)> = Vec::new();
    fn take(seen: &mut Vec<(String, i64)>, answer: &Value) {
        if let Some(text) = answer["hookSpecificOutput"]["additionalContext"].as_str() {
            let popped: Vec<(String, i64)> = serde_json::from_str(text).expect("popped results");
            seen.extend(popped);
        }
    }
    for (answer, stderr, code) in &results {
        assert_eq!((*code, stderr.as_str()), (0, ""), "no hook reported an error");
        take(&mut seen, answer);
    }
    // Later writes pop what is left, until all 16 were seen.
    let mut round = 0;
    while seen.len() < writes && round < 200 {
        round += 1;
        let event = json!({"hook_event_name": "PreToolUse", "session_id": "parallel", "cwd": dir, "tool_name": "Write",
            "tool_input": {"file_path": format!("{}/late.txt", dir.display()), "content": ""}});
        let (answer, stderr, code) = hook(&env.db, &event);
        assert_eq!((code, stderr.as_str()), (0, ""));
        take(&mut seen, &answer);
        seen.retain(|(k, _)| !k.ends_with("/late.txt"));
        std::thread::sleep(Duration::from_millis(50));
    }
    seen.sort();
    let mut expected: Vec<(String, i64)> =
        (0..writes).map(|i| (format!("len:{}/f{i}.txt", dir.display()), 2 * i as i64)).collect();
    expected.sort();
    assert_eq!(seen, expected, "every result popped exactly once, none lost or corrupted");
}

type Test = (&'static str, fn());

const TESTS: &[Test] = &[
    (
        "the_hook_returns_before_its_task_and_the_next_process_gets_the_result",
        the_hook_returns_before_its_task_and_the_next_process_gets_the_result,
    ),
    ("transform_ttl_errors_and_closures_across_processes", transform_ttl_errors_and_closures_across_processes),
    ("cancel_and_priority_across_processes", cancel_and_priority_across_processes),
    ("a_killed_worker_is_replaced_and_its_task_resumed", a_killed_worker_is_replaced_and_its_task_resumed),
    ("sixteen_parallel_hooks_on_one_session_lose_nothing", sixteen_parallel_hooks_on_one_session_lose_nothing),
    (
        "a_second_add_after_the_first_worker_left_is_not_stranded",
        a_second_add_after_the_first_worker_left_is_not_stranded,
    ),
    (
        "cancelling_a_running_async_task_from_another_process_stops_it",
        cancelling_a_running_async_task_from_another_process_stops_it,
    ),
];

fn main() -> ExitCode {
    // A hook process (and the workers it starts, which inherit `HOOK_DB`): the app's `run`.
    if let Some(db) = std::env::var_os("HOOK_DB") {
        return app(Path::new(&db)).run();
    }
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in TESTS {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let result = std::panic::catch_unwind(test);
        match result {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
