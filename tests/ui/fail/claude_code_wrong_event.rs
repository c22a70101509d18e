use agno::claude_code::{HookApp, PreToolUse, Response, UserPromptSubmit, allow};
use agno::prelude::*;

#[hook]
fn check_results(event: &UserPromptSubmit) -> Response {
    allow()
}

#[hook]
fn on_write(event: &PreToolUse) -> Response {
    allow()
}

fn main() {
    let _ = HookApp::new().pre_tool("Write", check_results);
    let _ = HookApp::new().on_permission("Write", on_write);
    let _ = Agent::builder().pre_hook(on_write);
}
