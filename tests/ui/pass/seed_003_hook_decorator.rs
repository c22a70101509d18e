//! Seed 003: the `@hook` decorator reference; an inline validator next to a background hook.
#![deny(warnings)]

use agno::prelude::*;

/// Runs synchronously, blocks the response until complete.
#[hook]
fn validate_output(run_output: &RunOutput, agent: &Agent) -> Result<(), OutputCheckError> {
    let _ = agent;
    if run_output.content.as_deref().is_none_or(str::is_empty) {
        return Err(OutputCheckError::new("Empty response not allowed"));
    }
    Ok(())
}

async fn notify_user(content: Option<&str>) {
    let _ = content;
}

/// Runs in background after response is sent.
#[hook(run_in_background = true)]
async fn send_notification(run_output: &RunOutput, agent: &Agent) {
    let _ = agent;
    notify_user(run_output.content.as_deref()).await;
}

/// Runs after the response is sent to the user.
#[hook(run_in_background = true)]
async fn log_analytics(run_output: &RunOutput, agent: &Agent) {
    let _ = (run_output, agent);
}

fn main() {
    let agent =
        Agent::builder().post_hooks(agno::hooks![validate_output, send_notification, log_analytics]).build().unwrap();
    assert_eq!(agent.post_hooks().len(), 3);
}
