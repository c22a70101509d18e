//! Seed 004's code review agent as a Claude Code hook command: every `Write` or `Edit` of a `.rs`
//! or `.py` file queues a review by a Claude model (`#[agent_task(model = "sonnet", ...)]`, the
//! offline model when `ANTHROPIC_API_KEY` is unset), run by the detached task worker.
//!
//! * The next prompt of the session hands the review to the model (`Code review: ...`).
//! * When Claude is about to stop, the hook waits up to 20 s for a pending review and, if there
//!   is one, blocks the stop once with it, so Claude takes one more turn to address it.

use std::process::ExitCode;
use std::time::Duration;

use agno::claude_code::{HookApp, PreToolUse, Response, Stop, allow, block, context};
use agno::prelude::*;

#[agent_task(
    model = "sonnet",
    system_prompt = "You are a code reviewer. Check for security vulnerabilities, performance issues and \
                     code style problems. Respond with a brief summary."
)]
async fn review_code(agent: Agent, code: String, file_path: String) -> Result<String, agno::Error> {
    let output = agent.run(format!("Review {file_path}:\n```\n{code}\n```")).await?;
    Ok(output.content.unwrap_or_default())
}

/// Queues a review of Rust and Python files as they are written.
#[hook]
fn on_write(event: &PreToolUse, tasks: &Tasks) -> Response {
    let Some(path) = event.file_path().filter(|p| p.ends_with(".rs") || p.ends_with(".py")) else { return allow() };
    let code = match &event.tool_input {
        agno::claude_code::ToolInput::Edit(edit) => edit.new_string.clone(),
        other => other.content().unwrap_or_default().to_owned(),
    };
    tasks.add(review_code, (code, path.to_owned()));
    allow()
}

/// Shows a finished review to the model with the next prompt.
#[hook]
fn show_review(tasks: &Tasks) -> Response {
    match tasks.pop(review_code) {
        Some(review) => context(format!("Code review:\n{review}")),
        None => allow(),
    }
}

/// Before Claude stops: a review still on its way is waited for, and handed over with one more
/// turn (never twice in a row: `stop_hook_active`).
#[hook]
async fn review_before_stop(event: &Stop, tasks: &Tasks) -> Response {
    if event.stop_hook_active {
        return allow();
    }
    if tasks.get(review_code).is_none() {
        return allow();
    }
    tasks.wait(review_code, Duration::from_secs(20)).await;
    match tasks.pop(review_code) {
        Some(review) => block(format!("Code review of your last change:\n{review}\nAddress it before you finish.")),
        None => allow(),
    }
}

fn main() -> ExitCode {
    HookApp::new().pre_tool("Write|Edit", on_write).on_prompt(show_review).on_stop(review_before_stop).run()
}
