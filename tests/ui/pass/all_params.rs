//! All parameters together, in an unusual order, sync and async.
#![deny(warnings)]

use agno::prelude::*;
use serde_json::Value;

#[hook]
fn everything_pre(
    debug_mode: bool,
    metadata: Option<&Value>,
    session: &Session,
    user_id: Option<&str>,
    agent: &Agent,
    run_context: &RunContext,
    run_input: &mut RunInput,
) {
    let _ = (debug_mode, metadata, session, user_id, agent, run_context);
    run_input.input_content = "changed".into();
}

#[hook]
async fn everything_post(
    user_id: Option<&str>,
    run_output: &RunOutput,
    run_context: &RunContext,
    debug_mode: bool,
    agent: &Agent,
    metadata: Option<&serde_json::Map<String, Value>>,
    session: &Session,
) {
    let _ = (user_id, run_context, debug_mode, agent, metadata, session);
    std::future::ready(run_output.run_id.len()).await;
}

fn main() {
    let agent = Agent::builder().pre_hook(everything_pre).post_hook(everything_post).build().unwrap();
    assert_eq!(agent.post_hooks().len(), 1);
}
