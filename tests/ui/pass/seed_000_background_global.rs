//! Seed 000: hooks of "Background Hooks (Global)"; AgentOS puts them all in the background.
#![deny(warnings)]

use agno::prelude::*;
use std::time::Duration;

/// This pre-hook will run in the background before the agent processes the request.
/// Note: Pre-hooks in background mode cannot modify run_input.
#[hook]
fn log_request(run_input: &RunInput, agent: &Agent) {
    println!("[Background Pre-Hook] Request received for agent: {:?}", agent.name());
    println!("[Background Pre-Hook] Input: {}", run_input.input_content);
}

/// This post-hook will run in the background after the response is sent.
#[hook]
async fn log_analytics(run_output: &RunOutput, agent: &Agent, session: &Session) {
    println!("[Background Post-Hook] Logging analytics for run: {}", run_output.run_id);
    println!("[Background Post-Hook] Agent: {:?}", agent.name());
    println!("[Background Post-Hook] Session: {}", session.session_id);
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("[Background Post-Hook] Analytics logged successfully!");
}

/// Another background task that sends notifications without blocking the response.
#[hook]
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
    assert_eq!(agent.id(), "background-task-agent");
}
