//! fasthooks' "Background Tasks" quick start (seed 004) as a Claude Code hook command, plus a
//! guard. One program serves every event: install it in `.claude/settings.json` (README,
//! "Claude Code hooks") and build it once with `cargo build --release --example
//! claude_code_quickstart`.
//!
//! * A `Write` queues `analyze_code` with the written content and is allowed at once; a detached
//!   worker (this program again, in a session of its own) runs the 2 s analysis.
//! * The next prompt of the session pops the result and hands `Previous analysis: ...` to the
//!   model.
//! * Writing a file named `.env` is denied, and the model is told why.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use agno::claude_code::{HookApp, PreToolUse, Response, allow, context, deny};
use agno::prelude::*;

/// The analysis: slow on purpose, as in the seed. It runs in the detached worker.
#[task]
fn analyze_code(code: String) -> String {
    std::thread::sleep(Duration::from_secs(2));
    format!("Analysis complete: {} chars", code.len())
}

/// Queues the analysis of what is written; returns at once.
#[hook]
fn on_write(event: &PreToolUse, tasks: &Tasks) -> Response {
    if let Some(content) = event.content() {
        tasks.add(analyze_code, content.to_owned());
    }
    allow()
}

/// Hands the previous analysis, if it is done, to the model.
#[hook]
fn check_results(tasks: &Tasks) -> Response {
    match tasks.pop(analyze_code) {
        Some(result) => context(format!("Previous analysis: {result}")),
        None => allow(),
    }
}

/// Never writes secrets.
#[hook]
fn guard_env_files(event: &PreToolUse) -> Response {
    let is_env = event.file_path().and_then(|p| Path::new(p).file_name()).is_some_and(|name| name == ".env");
    if is_env { deny("writing .env files is not allowed: they hold secrets") } else { allow() }
}

/// The app: the guard first, so a denied write queues nothing.
fn app() -> HookApp {
    HookApp::new().pre_tool("Write", guard_env_files).pre_tool("Write", on_write).on_prompt(check_results)
}

fn main() -> ExitCode {
    app().run()
}
