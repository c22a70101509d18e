//! The return types a hook may have.
#![deny(warnings)]

use agno::prelude::*;

#[hook]
fn unit(run_input: &RunInput) -> () {
    let _ = run_input;
}

#[hook]
fn input_check(run_input: &RunInput) -> Result<(), InputCheckError> {
    if run_input.input_content_string().is_empty() {
        return Err(InputCheckError::new("empty input"));
    }
    Ok(())
}

#[hook]
async fn boxed(run_output: &RunOutput) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if run_output.content.is_none() {
        return Err("no content".into());
    }
    Ok(())
}

#[hook]
fn boxed_sync(agent: &Agent) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    agent.id().parse::<String>()?;
    Ok(())
}

#[hook]
fn output_check(run_output: &RunOutput) -> Result<(), OutputCheckError> {
    let _ = run_output;
    Ok(())
}

#[hook]
async fn string_error(agent: &Agent) -> Result<(), String> {
    let _ = agent;
    Ok(())
}

#[hook]
fn hook_error(agent: &Agent) -> Result<(), agno::HookError> {
    let _ = agent;
    Ok(())
}

fn main() {
    let agent = Agent::builder()
        .pre_hook(unit)
        .pre_hook(input_check)
        .post_hook(boxed)
        .pre_hook(boxed_sync)
        .post_hook(output_check)
        .post_hook(string_error)
        .post_hook(hook_error)
        .build()
        .unwrap();
    let _ = agent;
}
