//! fasthooks' Background Tasks page (seed 004), in Rust.
#![deny(warnings)]

use std::sync::Arc;
use std::time::Duration;

use agno::prelude::*;
use agno::tasks::{AddOptions, ImmediateBackend, TaskExt};

#[task]
fn analyze_code(code: String) -> String {
    format!("Analysis complete: {} chars", code.len())
}

#[task]
fn simple_task(x: i64) -> i64 {
    x * 2
}

#[task(ttl = 600, priority = 5)]
fn important_task(query: String) -> String {
    format!("results for {query}")
}

fn first_500(r: String) -> String {
    r.chars().take(500).collect()
}

#[task(transform = first_500)]
fn long_output_task() -> String {
    "x".repeat(2000)
}

#[task]
fn search_memory(query: String, session_id: String) -> String {
    format!("{session_id}: {query}")
}

#[task(ttl = 600)]
fn fetch_documentation(url: String) -> String {
    url.chars().take(5000).collect()
}

#[task]
fn risky_task() -> Result<String, String> {
    Err("Something went wrong".to_owned())
}

#[agent_task(instructions = "You review code for security issues.")]
async fn security_review(agent: Agent, code: String) -> Result<String, agno::Error> {
    Ok(agent.run(format!("Review for security:\n{code}")).await?.content.unwrap_or_default())
}

#[hook]
fn on_write(run_input: &RunInput, tasks: &Tasks) {
    let content = run_input.input_content_string();
    tasks.add(analyze_code, content.clone());
    tasks.add(security_review, content.clone());
    tasks.add_with(simple_task, 21, AddOptions::new().ttl(Duration::from_secs(600)));
    tasks.add(fetch_documentation.keyed(format!("doc:{content}")), content);
}

#[hook]
fn check_results(run_output: &mut RunOutput, tasks: &Tasks) {
    if let Some(result) = tasks.pop(analyze_code) {
        run_output.content = Some(format!("Previous analysis: {result}"));
    }
    for (key, error) in tasks.pop_errors() {
        println!("Task {key} failed: {error}");
    }
}

fn main() {
    let backend = ImmediateBackend::new();
    let tasks = Tasks::new(Arc::new(backend), "test");
    tasks.add(simple_task, 5);
    assert_eq!(tasks.pop(simple_task), Some(10));
    tasks.add(important_task, "q".to_owned());
    tasks.add(long_output_task, ());
    tasks.add(search_memory, ("q".to_owned(), "s".to_owned()));
    tasks.add(risky_task, ());
    let agent = Agent::builder().pre_hook(on_write).post_hook(check_results).build().unwrap();
    let _ = agent;
}
