//! Claude Code handlers: every parameter, sync and async, every return type, every registration.

use std::path::Path;

use agno::claude_code::{
    HookApp, HookEvent, Notification, PermissionRequest, PostToolUse, PreCompact, PreToolUse, Response, SessionEnd,
    SessionStart, Stop, SubagentStop, Transcript, UserPromptSubmit, allow, context, deny,
};
use agno::prelude::*;

#[task]
fn analyze(code: String) -> String {
    code
}

#[hook]
fn every_param(event: &PreToolUse, tasks: &Tasks, session_id: &str, cwd: &Path, transcript: &Transcript) -> Response {
    tasks.add(analyze, event.content().unwrap_or_default().to_owned());
    let _ = (session_id, cwd, transcript.path());
    allow()
}

#[hook]
async fn async_handler(event: &UserPromptSubmit) -> Result<Response, std::io::Error> {
    Ok(context(event.prompt.clone()))
}

#[hook]
fn any_event(event: &HookEvent) {
    let _ = event.raw();
}

/// Takes nothing of either side and returns `()`: an agent hook and a handler at once.
#[hook]
fn both(tasks: &Tasks) {
    let _ = tasks.has_any();
}

#[hook]
fn cwd_as_str(cwd: &str) -> Option<Response> {
    cwd.is_empty().then(|| deny("no cwd"))
}

#[hook]
fn unit_result(event: &Stop) -> Result<(), String> {
    if event.stop_hook_active { Err("again".into()) } else { Ok(()) }
}

#[hook]
fn on_post(event: &PostToolUse) {
    let _ = event;
}
#[hook]
fn on_permission(event: &PermissionRequest) {
    let _ = event;
}
#[hook]
fn on_subagent(event: &SubagentStop) {
    let _ = event;
}
#[hook]
fn on_start(event: &SessionStart) {
    let _ = event;
}
#[hook]
fn on_end(event: &SessionEnd) {
    let _ = event;
}
#[hook]
fn on_compact(event: &PreCompact) {
    let _ = event;
}
#[hook]
fn on_notify(event: &Notification) {
    let _ = event;
}

fn main() {
    let app = HookApp::new()
        .pre_tool("Write|Edit", every_param)
        .pre_tool("", any_event)
        .on_prompt(async_handler)
        .on_stop(unit_result)
        .on_stop(any_event)
        .post_tool("*", both)
        .post_tool("Bash", on_post)
        .on_permission("Bash", on_permission)
        .on_subagent_stop(on_subagent)
        .on_session_start(on_start)
        .on_session_end(on_end)
        .on_session_end(cwd_as_str)
        .on_pre_compact(on_compact)
        .on_notification(on_notify);
    let _ = app.check();
    let _ = Agent::builder().pre_hook(both).build();
}
