//! Background hooks (per hook): `#[hook(run_in_background = true)]` moves one hook after the
//! response; the others run before it.
//!
//! `cargo run --example background_hooks_decorator`, then:
//!
//! ```sh
//! curl -X POST http://localhost:7777/agents/background-task-agent/runs \
//!   -F "message=Hello, how are you?" \
//!   -F "stream=false"
//! ```
//!
//! The response comes back once `log_analytics` has run; the server's output then shows
//! `log_request` and `send_notification` running in the background. Ctrl-C or SIGTERM stops the
//! server after the hooks still running have finished. `AGENT_OS_HOST` / `AGENT_OS_PORT` override
//! the address.
//!
//! The Rust twin of agno's `background_hooks_decorator.py`. Runs are stored in `tmp/agent.db`.
//! The model is `gpt-5.2` through OpenAI's Responses API when `OPENAI_API_KEY` is set, else the
//! offline one, which answers `You said: "<input>"`; the first line printed says which.

use std::time::Duration;

use agno::db::default_db;
use agno::models::{default_model, describe};
use agno::os::AgentOS;
use agno::prelude::*;

/// This pre-hook runs in the background.
/// Note: pre-hooks in background mode cannot modify `run_input` (taking `&mut RunInput` here is a
/// compile error).
#[hook(run_in_background = true)]
fn log_request(run_input: &RunInput, agent: &Agent) {
    println!("[Background Pre-Hook] Request received for agent: {}", agent.name().unwrap_or("-"));
    println!("[Background Pre-Hook] Input: {}", run_input.input_content);
}

/// This post-hook runs synchronously (no `run_in_background`).
/// It will block the response until complete.
#[hook]
async fn log_analytics(run_output: &RunOutput, agent: &Agent, session: &Session) {
    println!("[Sync Post-Hook] Logging analytics for run: {}", run_output.run_id);
    println!("[Sync Post-Hook] Agent: {}", agent.name().unwrap_or("-"));
    println!("[Sync Post-Hook] Session: {}", session.session_id);
    println!("[Sync Post-Hook] Analytics logged successfully!");
}

/// This post-hook runs in the background (`run_in_background = true`).
/// It won't block the API response.
#[hook(run_in_background = true)]
#[allow(unused_variables)] // the seed's signature: `run_output` is received, not used
async fn send_notification(run_output: &RunOutput, agent: &Agent) {
    println!("[Background Post-Hook] Sending notification for agent: {}", agent.name().unwrap_or("-"));
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

    // Create an agent with mixed hooks
    let agent = Agent::builder()
        .id("background-task-agent")
        .name("BackgroundTaskAgent")
        .model(model)
        .instructions("You are a helpful assistant")
        .db(default_db("tmp/agent.db")?)
        .pre_hooks(hooks![log_request]) // Runs in background
        .post_hooks(hooks![log_analytics, send_notification]) // log_analytics is sync, send_notification is background
        .markdown(true)
        .build()?;

    // Create AgentOS (run_hooks_in_background is false by default)
    let agent_os = AgentOS::builder().agents([agent]).port(7777).build()?;

    // Get the app (an axum Router)
    let app = agent_os.get_app();

    agent_os.serve(app).await?;
    Ok(())
}
