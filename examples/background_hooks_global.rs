//! Background hooks (global): every hook of every agent runs after the response.
//!
//! `cargo run --example background_hooks_global`, then:
//!
//! ```sh
//! curl -X POST http://localhost:7777/agents/background-task-agent/runs \
//!   -F "message=Hello, how are you?" \
//!   -F "stream=false"
//! ```
//!
//! The response comes back at once; the server's output then shows the three hooks running in
//! the background, one after another (5 s in all). Ctrl-C or SIGTERM stops the server after the
//! hooks still running have finished. `AGENT_OS_HOST` / `AGENT_OS_PORT` override the address.
//!
//! The Rust twin of agno's `background_hooks_global.py`. Where agno's AgentOS loses the global
//! flag on its per-request copy of the agent and so runs these hooks inline (reference 7.2), the
//! flag here is an option of each run and holds for HTTP runs too. Runs are stored in
//! `tmp/agent.db`. The model is `gpt-5.2` through OpenAI's Responses API when `OPENAI_API_KEY` is set, else the
//! offline one, which answers `You said: "<input>"`; the first line printed says which.

use std::time::Duration;

use agno::db::default_db;
use agno::models::{default_model, describe};
use agno::os::AgentOS;
use agno::prelude::*;

/// Pre-hook for logging requests.
///
/// This pre-hook will run in the background before the agent processes the request.
/// Note: pre-hooks in background mode cannot modify `run_input`.
#[hook]
fn log_request(run_input: &RunInput, agent: &Agent) {
    println!("[Background Pre-Hook] Request received for agent: {}", agent.name().unwrap_or("-"));
    println!("[Background Pre-Hook] Input: {}", run_input.input_content);
}

/// Post-hook for logging analytics.
///
/// This post-hook will run in the background after the response is sent.
/// It won't block the API response.
#[hook]
async fn log_analytics(run_output: &RunOutput, agent: &Agent, session: &Session) {
    println!("[Background Post-Hook] Logging analytics for run: {}", run_output.run_id);
    println!("[Background Post-Hook] Agent: {}", agent.name().unwrap_or("-"));
    println!("[Background Post-Hook] Session: {}", session.session_id);

    // Simulate a slow operation
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("[Background Post-Hook] Analytics logged successfully!");
}

/// Another post-hook for sending notifications.
///
/// Another background task that sends notifications without blocking the response.
#[hook]
#[allow(unused_variables)] // the seed's signature: `run_output` is received, not used
async fn send_notification(run_output: &RunOutput, agent: &Agent) {
    println!("[Background Post-Hook] Sending notification for agent: {}", agent.name().unwrap_or("-"));
    // Simulate a slow operation
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!("[Background Post-Hook] Notification sent!");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).init();
    // OpenAI when OPENAI_API_KEY is set, the offline model otherwise.
    let model = default_model();
    println!("Model: {}", describe(&*model));

    // Create an agent with hooks
    let agent = Agent::builder()
        .id("background-task-agent")
        .name("BackgroundTaskAgent")
        .model(model)
        .instructions("You are a helpful assistant")
        .db(default_db("tmp/agent.db")?)
        .pre_hooks(hooks![log_request])
        .post_hooks(hooks![log_analytics, send_notification])
        .markdown(true)
        .build()?;

    // Create AgentOS with background hooks enabled
    let agent_os = AgentOS::builder()
        .agents([agent])
        .run_hooks_in_background(true) // All hooks run in background
        .port(7777)
        .build()?;

    // Get the app (an axum Router)
    let app = agent_os.get_app();

    agent_os.serve(app).await?;
    Ok(())
}
