//! The cost of one Claude Code hook process: `claude_code_quickstart` started as Claude Code
//! starts it, on a `PreToolUse` Write whose handler queues the 2 s analysis task. Each run is a
//! new process reading the event from stdin; the time is from spawn to exit (the task itself
//! runs afterwards in the detached worker, so it is not in the figure).
//!
//! Two series: every run in a new project (so every hook also starts the worker: the cost of a
//! first write), and every run in one project (the worker of the previous write is still busy,
//! so the hook only queues: the cost of writes in a row).
//!
//! ```sh
//! cargo build --release --examples
//! cargo run --release --example claude_code_hook_bench -- [runs] [--peer 'python3 hook.py' [peer runs]]
//! ```
//!
//! `--peer` times another hook command on the same payload in the same run (fasthooks' quick
//! start, for the README), with fewer runs since it takes seconds each.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// One hook process on `payload`; its wall time in milliseconds.
fn once(command: &mut Command, payload: &[u8]) -> Result<f64, String> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the hook: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(payload).map_err(|e| format!("cannot write the event: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("the hook did not finish: {e}"))?;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    if !out.status.success() {
        return Err(format!("the hook failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    Ok(elapsed)
}

/// Median, 90th percentile and minimum.
fn summary(mut times: Vec<f64>) -> String {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    format!("median {:.2} ms, p90 {:.2} ms, min {:.2} ms over {} runs", at(0.5), at(0.9), times[0], times.len())
}

fn series(mut command: impl FnMut() -> Command, runs: usize, payload: &[u8]) -> Result<Vec<f64>, String> {
    // One warm-up run (page cache, first database creation).
    once(&mut command(), payload)?;
    (0..runs).map(|_| once(&mut command(), payload)).collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(200);
    let peer = args.iter().position(|a| a == "--peer").and_then(|i| args.get(i + 1)).cloned();
    let peer_runs: usize =
        args.iter().position(|a| a == "--peer").and_then(|i| args.get(i + 2)).and_then(|a| a.parse().ok()).unwrap_or(5);

    let hook = match std::env::current_exe() {
        Ok(exe) => exe.with_file_name("claude_code_quickstart"),
        Err(e) => {
            eprintln!("cannot find this program: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !hook.exists() {
        eprintln!("{} is missing: run `cargo build --release --examples` first", hook.display());
        return ExitCode::FAILURE;
    }
    let base = std::env::temp_dir().join(format!("agno-hook-bench-{}", std::process::id()));
    let payload_in = |project: &Path| {
        serde_json::json!({
            "session_id": "bench-session", "transcript_path": project.join("t.jsonl"), "cwd": project,
            "permission_mode": "acceptEdits", "hook_event_name": "PreToolUse", "tool_name": "Write",
            "tool_use_id": "toolu_bench", "tool_input": {"file_path": project.join("app.py"), "content": "print('hello')\n"},
        })
        .to_string()
    };
    let command = |program: &Path, project: &Path| {
        let mut c = Command::new(program);
        c.current_dir(project).env("CLAUDE_PROJECT_DIR", project);
        c
    };
    let mut results = Vec::new();
    for fresh in [true, false] {
        let mut times = Vec::with_capacity(runs);
        for run in 0..=runs {
            let project = if fresh { base.join(format!("p{run}")) } else { base.join("shared") };
            if let Err(e) = std::fs::create_dir_all(&project) {
                eprintln!("cannot create {}: {e}", project.display());
                return ExitCode::FAILURE;
            }
            match once(&mut command(&hook, &project), payload_in(&project).as_bytes()) {
                // The first run warms the page cache.
                Ok(_) if run == 0 => {}
                Ok(ms) => times.push(ms),
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        let what =
            if fresh { "starting the worker (a new project each run)" } else { "a worker already busy (one project)" };
        results.push(format!("agno for Rust, claude_code_quickstart on PreToolUse Write, {what}: {}", summary(times)));
    }
    for line in &results {
        println!("{line}");
    }
    let project = base.join("peer");
    let _ = std::fs::create_dir_all(&project);
    let payload = payload_in(&project);
    if let Some(peer) = peer {
        let shell = PathBuf::from("/bin/sh");
        let times = series(
            || {
                let mut c = command(&shell, &project);
                c.arg("-c").arg(&peer);
                c
            },
            peer_runs,
            payload.as_bytes(),
        );
        match times {
            Ok(times) => println!("peer `{peer}` on the same payload: {}", summary(times)),
            Err(e) => eprintln!("peer: {e}"),
        }
    }
    let _ = std::fs::remove_dir_all(&base);
    ExitCode::SUCCESS
}
