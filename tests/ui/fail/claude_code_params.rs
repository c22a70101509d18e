use agno::claude_code::{PreToolUse, Response, allow};
use agno::prelude::*;

#[hook]
fn mixed(event: &PreToolUse, run_input: &RunInput) -> Response {
    allow()
}

#[hook]
fn not_an_event(event: &str) -> Response {
    allow()
}

#[hook]
fn mutable_event(event: &mut PreToolUse) {}

#[hook]
fn wrong_types(event: &PreToolUse, session_id: String, cwd: u32) -> Response {
    allow()
}

#[hook(run_in_background = true)]
fn in_background(event: &PreToolUse) {}

#[hook]
fn returns_a_path(event: &PreToolUse) -> std::path::PathBuf {
    std::path::PathBuf::new()
}

#[hook]
fn misspelt(evnt: &PreToolUse) {}

fn main() {}
