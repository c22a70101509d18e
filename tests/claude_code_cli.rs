//! End to end with the real Claude Code CLI (pinned, installed from npm into a cache outside the
//! repo at test time; skipped with a visible message when that is impossible), talking to the
//! loopback Anthropic stand-in, with the example hook commands installed for every event.
//!
//! The examples must be built: `cargo test` builds them (`cargo build --examples` otherwise).

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::anthropic::AnthropicStandIn;
use common::claude_cli::{ClaudeHome, ClaudeOutput, ClaudeRun, claude_cli};
use serde_json::{Value, json};

/// One `claude -p` at a time: they are heavy on this 2-core machine.
static SERIAL: Mutex<()> = Mutex::new(());

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let binary = dir.join("examples").join(name);
    assert!(binary.exists(), "{} is missing: run `cargo build --examples` (plain `cargo test` does)", binary.display());
    binary
}

/// The hook command installed for every event Claude Code has.
fn settings(command: &Path) -> Value {
    let hook = json!([{"type": "command", "command": command.display().to_string(), "timeout": 60}]);
    let tool = json!([{"matcher": "*", "hooks": hook}]);
    let plain = json!([{"hooks": hook}]);
    json!({"hooks": {
        "SessionStart": plain, "UserPromptSubmit": plain, "PreToolUse": tool, "PermissionRequest": tool,
        "PostToolUse": tool, "Notification": plain, "Stop": plain, "SubagentStop": plain, "PreCompact": plain,
        "SessionEnd": plain,
    }})
}

fn run(
    cli: &Path,
    home: &ClaudeHome,
    project: &Path,
    server: &AnthropicStandIn,
    hook: &Path,
    prompt: &str,
) -> ClaudeRun {
    ClaudeRun::new(cli, home.path(), project).base_url(server.base_url()).settings(&settings(hook)).prompt(prompt)
}

fn ok(output: Result<ClaudeOutput, impl std::fmt::Debug>) -> ClaudeOutput {
    let output = output.expect("claude -p ran");
    assert!(output.success(), "claude -p failed: {}\n{}", output.stdout, output.stderr);
    output
}

/// The status of the task rows of the project's task store.
fn task_statuses(project: &Path) -> Vec<String> {
    let db = project.join(".claude").join("agno-tasks.db");
    if !db.exists() {
        return Vec::new();
    }
    let conn = rusqlite::Connection::open(db).expect("open the task store");
    let mut stmt = conn.prepare("SELECT status FROM agno_task_results ORDER BY seq").expect("query");
    stmt.query_map([], |r| r.get::<_, String>(0)).expect("rows").collect::<Result<_, _>>().expect("statuses")
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The requests Claude Code itself sent (not those of the hooks' own Claude models).
fn cli_requests(server: &AnthropicStandIn) -> Vec<Value> {
    server.requests().into_iter().filter(|r| r.header("x-app") == Some("cli")).map(|r| r.body).collect()
}

#[test]
fn quick_start_over_two_runs() {
    let Some(cli) = claude_cli() else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = tempfile::tempdir().expect("project dir");
    let home = ClaudeHome::new().expect("home");
    let file = project.path().join("hello.py");
    let content = "print('hello')\n";
    let server = AnthropicStandIn::claude_code(&file.display().to_string(), content, "Done.");
    let hook = example("claude_code_quickstart");

    let first = ok(run(&cli, &home, project.path(), &server, &hook, "Write hello.py").run());
    assert_eq!(std::fs::read_to_string(&file).expect("the Write ran"), content, "the Write is allowed");
    // Claude did not wait for the 2 s analysis: it is still queued or running now that `claude -p` is done.
    let statuses = task_statuses(project.path());
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert!(statuses[0] == "PENDING" || statuses[0] == "RUNNING", "{statuses:?}");
    until("the analysis", || task_statuses(project.path()) == ["COMPLETED"]);

    server.set_text("Noted.");
    let second =
        ok(run(&cli, &home, project.path(), &server, &hook, "What did the analysis say?").continue_session().run());
    assert_eq!(second.session_id(), first.session_id(), "--continue keeps the session");
    let last = cli_requests(&server).pop().expect("a model request").to_string();
    assert!(last.contains("Previous analysis: Analysis complete: 15 chars"), "{last}");
    assert!(task_statuses(project.path()).is_empty(), "popped");
}

#[test]
fn the_env_guard_stops_the_write_and_tells_the_model() {
    let Some(cli) = claude_cli() else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = tempfile::tempdir().expect("project dir");
    let home = ClaudeHome::new().expect("home");
    let file = project.path().join(".env");
    let server = AnthropicStandIn::claude_code(&file.display().to_string(), "SECRET=1\n", "I will not write it.");
    let hook = example("claude_code_quickstart");

    ok(run(&cli, &home, project.path(), &server, &hook, "Put the key in .env").run());
    assert!(!file.exists(), "the .env file was not written");
    let requests = cli_requests(&server);
    assert_eq!(requests.len(), 2, "the tool_use, then the answer to the denial");
    let last = requests[1].to_string();
    assert!(last.contains("writing .env files is not allowed: they hold secrets"), "{last}");
    assert!(task_statuses(project.path()).is_empty(), "a denied write queues no analysis");
}

#[test]
fn a_stop_block_forces_exactly_one_more_turn() {
    let Some(cli) = claude_cli() else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = tempfile::tempdir().expect("project dir");
    let home = ClaudeHome::new().expect("home");
    let file = project.path().join("app.py");
    let server =
        AnthropicStandIn::claude_code(&file.display().to_string(), "def run(x):\n    return eval(x)\n", "Done.");
    let hook = example("claude_code_review");

    ok(run(&cli, &home, project.path(), &server, &hook, "Write app.py").run());
    let requests = cli_requests(&server);
    assert_eq!(requests.len(), 3, "tool_use, the answer, and exactly one more turn after the Stop block");
    let extra = requests[2].to_string();
    assert!(extra.contains("Code review of your last change"), "{extra}");
    assert!(!requests[1].to_string().contains("Code review of your last change"));
    // The review itself ran in the detached worker, with the example's Claude model: hooks get
    // Claude Code's environment, so its key and base URL lead the model to the stand-in too.
    let reviews: Vec<Value> =
        server.requests().into_iter().filter(|r| r.header("x-app") != Some("cli")).map(|r| r.body).collect();
    assert_eq!(reviews.len(), 1, "one review by the Claude model");
    for review in &reviews {
        assert!(review["system"].to_string().contains("You are a code reviewer"), "{review}");
        assert_eq!(review["model"], "claude-sonnet-4-5");
    }
}

/// Not a test: `cargo test --release --test claude_code_cli -- --ignored --nocapture bench`
/// prints the median wall time of `claude -p` with the quick start installed and with a no-op
/// hook, over 5 runs each, alternating.
#[test]
#[ignore = "a benchmark"]
fn bench_claude_p_with_the_quick_start_and_with_a_no_op_hook() {
    let Some(cli) = claude_cli() else { return };
    let noop_dir = tempfile::tempdir().expect("dir");
    let noop = noop_dir.path().join("noop.sh");
    std::fs::write(&noop, "#!/bin/sh\ncat > /dev/null\n").expect("write the no-op hook");
    std::process::Command::new("chmod").arg("+x").arg(&noop).status().expect("chmod");
    let quick = example("claude_code_quickstart");
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..6 {
        for (i, hook) in [&quick, &noop].into_iter().enumerate() {
            let project = tempfile::tempdir().expect("project dir");
            let home = ClaudeHome::new().expect("home");
            let file = project.path().join("hello.py");
            let server = AnthropicStandIn::claude_code(&file.display().to_string(), "print('hello')\n", "Done.");
            let out = ok(run(&cli, &home, project.path(), &server, hook, "Write hello.py").run());
            if round > 0 {
                times[i].push(out.duration.as_secs_f64() * 1000.0);
            }
        }
    }
    for t in &mut times {
        t.sort_by(f64::total_cmp);
    }
    let median = |t: &Vec<f64>| t[t.len() / 2];
    println!(
        "claude -p (one Write, one answer), median of {}: quick start {:.0} ms, no-op hook {:.0} ms, difference {:+.0} ms",
        times[0].len(),
        median(&times[0]),
        median(&times[1]),
        median(&times[0]) - median(&times[1])
    );
}
