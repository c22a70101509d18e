//! The `tasks` hook parameter: a pre-hook adds a task, a post-hook pops it.
#![deny(warnings)]

use std::sync::Arc;

use agno::hooks::{Hook, HookParams};
use agno::prelude::*;
use agno::tasks::ImmediateBackend;

#[task]
fn analyze_code(code: String) -> String {
    format!("Analysis complete: {} chars", code.len())
}

#[hook]
fn starter(tasks: &Tasks, run_input: &RunInput) {
    tasks.add(analyze_code, run_input.input_content_string());
}

#[hook]
async fn check_results(run_output: &mut RunOutput, tasks: &Tasks) {
    if let Some(result) = tasks.pop(analyze_code) {
        run_output.content = Some(format!("Previous analysis: {result}"));
    }
}

#[hook(run_in_background = true)]
fn background_reader(tasks: &Tasks) {
    let _ = tasks.has_any();
}

#[hook]
fn only_tasks(mut tasks: &Tasks) {
    tasks = &*tasks;
    let _ = tasks.session_id();
}

fn main() {
    assert_eq!(only_tasks.params(), HookParams::TASKS);
    let agent = Agent::builder()
        .tasks_backend(Arc::new(ImmediateBackend::new()))
        .pre_hook(starter)
        .post_hooks(agno::hooks![check_results, background_reader, only_tasks])
        .build()
        .unwrap();
    let _ = agent;
}
