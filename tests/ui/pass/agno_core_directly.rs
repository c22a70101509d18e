//! `crate = agno_core` for programs that depend on agno-core, not the facade.
#![deny(warnings)]

use agno_core::hooks::Hook;
use agno_core::{Agent, RunInput};
use agno_macros::hook;

#[hook(crate = agno_core)]
fn log_request(run_input: &RunInput, agent: &Agent) {
    let _ = (run_input, agent);
}

#[hook(crate = agno_core, run_in_background = true)]
async fn send_notification(agent: &Agent) {
    let _ = agent;
}

fn main() {
    assert_eq!(log_request.name(), "log_request");
    assert!(send_notification::DESCRIPTOR.module_path.starts_with("trybuild"));
    let agent = Agent::builder().pre_hook(log_request).post_hook(send_notification).build().unwrap();
    let _ = agent;
}
