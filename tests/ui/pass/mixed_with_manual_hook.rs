//! A hand-written `Hook` next to macro hooks, through `agno::hooks![..]`.
#![deny(warnings)]

use agno::hooks::{Hook, HookCall, HookContext, HookParams};
use agno::prelude::*;

/// Rejects empty input.
struct NotEmpty;

impl Hook for NotEmpty {
    fn name(&self) -> &str {
        "not_empty"
    }
    fn params(&self) -> HookParams {
        HookParams::RUN_INPUT
    }
    fn call<'a>(&'a self, cx: HookContext<'a>) -> HookCall<'a> {
        let empty = cx.run_input.is_none_or(|i| i.input_content_string().trim().is_empty());
        if empty { HookCall::Done(Err(InputCheckError::new("empty input").into())) } else { HookCall::Done(Ok(())) }
    }
}

#[hook]
fn log_request(run_input: &RunInput, agent: &Agent) {
    let _ = (run_input, agent);
}

#[hook(run_in_background = true)]
async fn log_input(run_input: &RunInput) {
    let _ = run_input;
}

#[hook]
fn validate_output(run_output: &RunOutput) -> Result<(), OutputCheckError> {
    let _ = run_output;
    Ok(())
}

fn main() {
    let agent = Agent::builder()
        .pre_hooks(agno::hooks![log_request, NotEmpty, log_input])
        .post_hooks(agno::hooks![validate_output])
        .build()
        .unwrap();
    assert_eq!(agent.pre_hooks().len(), 3);
    assert_eq!(agent.pre_hooks()[1].name(), "not_empty");
    assert_eq!(agent.pre_hooks()[2].name(), "log_input");
}
