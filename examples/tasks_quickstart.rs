//! fasthooks' quick start with agno hooks: a hook starts a background analysis on one run, and a
//! hook of the next run of the same session picks its result up.
//!
//! `cargo run --example tasks_quickstart` (offline, exits by itself).

use std::time::Duration;

use agno::prelude::*;

/// A slow analysis; it runs on a worker thread, never in the hook.
#[task]
fn analyze_code(code: String) -> String {
    std::thread::sleep(Duration::from_millis(200));
    format!("Analysis complete: {} chars", code.len())
}

/// A background code review by an agent (fasthooks' `agent_task`); offline here, so the review
/// echoes what it was asked.
#[agent_task(instructions = "You are a code reviewer. Check for security, performance and style.")]
async fn review_code(agent: Agent, code: String) -> Result<String, agno::Error> {
    let review = agent.run(format!("Review:\n```\n{code}\n```")).await?;
    Ok(review.content.unwrap_or_default())
}

/// Starts the analysis and the review of what the user sent, and returns at once.
#[hook]
fn on_write(run_input: &RunInput, tasks: &Tasks) {
    let code = run_input.input_content_string();
    let added = tasks.add(analyze_code, code.clone());
    tasks.add(review_code, code);
    println!("[on_write] added `{}` and `review_code` ({})", added.key, added.status);
}

/// On the next run of the session, reports the previous analysis.
#[hook]
async fn check_results(tasks: &Tasks) {
    if tasks.get(analyze_code).is_some_and(|r| !r.status.is_finished()) {
        println!("[check_results] analysis still running; waiting for it");
        tasks.wait(analyze_code, Duration::from_secs(5)).await;
    }
    match tasks.pop(analyze_code) {
        Some(result) => println!("[check_results] Previous analysis: {result}"),
        None => println!("[check_results] no previous analysis"),
    }
    if let Some(review) = tasks.wait(review_code, Duration::from_secs(5)).await {
        tasks.pop(review_code);
        println!("[check_results] Code review: {review}");
    }
}

#[tokio::main]
async fn main() -> Result<(), agno::Error> {
    println!("{}\n", agno::registry::describe());
    let agent = Agent::builder().name("Code Assistant").pre_hooks(hooks![check_results, on_write]).build()?;
    let first = agent.run("fn main() { println!(\"hi\"); }").await?;
    println!("run 1: {}\n", first.content.unwrap_or_default());
    let second = agent.run("now add error handling").session_id(first.session_id).await?;
    println!("run 2: {}", second.content.unwrap_or_default());
    Ok(())
}
