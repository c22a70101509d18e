//! Seed 001: "Background Hooks (Per-Hook)", `@hook(run_in_background=True)` on some hooks.
#![deny(warnings)]

use agno::prelude::*;
use std::time::Duration;

/// This pre-hook runs in the background.
/// Note: Pre-hooks in background mode cannot modify run_input.
#[hook(run_in_background = true)]
fn log_request(run_input: &RunInput, agent: &Agent) {
    println!("[Background Pre-Hook] Request received for agent: {:?}", agent.name());
    println!("[Background Pre-Hook] Input: {}", run_input.input_content);
}

/// This post-hook runs synchronously (no decorator arguments).
#[hook]
async fn log_analytics(run_output: &RunOutput, agent: &Agent, session: &Session) {
    println!("[Sync Post-Hook] Logging analytics for run: {}", run_output.run_id);
    println!("[Sync Post-Hook] Agent: {:?}", agent.name());
    println!("[Sync Post-Hook] Session: {}", session.session_id);
    println!("[Sync Post-Hook] Analytics logged successfully!");
}

/// This post-hook runs in the background (has decorator).
#[hook(run_in_background = true)]
async fn send_notification(run_output: &RunOutput, agent: &Agent) {
    println!("[Background Post-Hook] Sending notification for agent: {:?}", agent.name());
    let _ = run_output;
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!("[Background Post-Hook] Notification sent!");
}

fn main() {
    let agent = Agent::builder()
        .id("background-task-agent")
        .name("BackgroundTaskAgent")
        .instructions("You are a helpful assistant")
        .markdown(true)
        .pre_hook(log_request)
        .post_hooks(agno::hooks![log_analytics, send_notification])
        .build()
        .unwrap();
    assert!(agent.pre_hooks()[0].run_in_background());
    assert!(!agent.post_hooks()[0].run_in_background());
    assert!(agent.post_hooks()[1].run_in_background());
}
