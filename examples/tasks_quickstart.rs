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

/// Starts the analysis of what the user sent, and returns at once.
#[hook]
fn on_write(run_input: &RunInput, tasks: &Tasks) {
    let added = tasks.add(analyze_code, run_input.input_content_string());
    println!("[on_write] added `{}` ({})", added.key, added.status);
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
}

#[tokio::main]
async fn main() -> Result<(), agno::Error> {
    let agent = Agent::builder().name("Code Assistant").pre_hook(check_results).post_hook(on_write).build()?;
    let first = agent.run("fn main() { println!(\"hi\"); }").await?;
    println!("run 1: {}\n", first.content.unwrap_or_default());
    let second = agent.run("now add error handling").session_id(first.session_id).await?;
    println!("run 2: {}", second.content.unwrap_or_default());
    Ok(())
}
