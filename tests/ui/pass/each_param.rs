//! Every parameter alone, in each form it accepts.
#![deny(warnings)]

use agno::prelude::*;
use serde_json::{Map, Value};

#[hook]
fn nothing() {}

#[hook]
fn input_ref(run_input: &RunInput) {
    let _ = run_input;
}

#[hook]
fn input_mut(run_input: &mut RunInput) {
    run_input.input_content = "changed".into();
}

#[hook]
fn output_ref(run_output: &RunOutput) {
    let _ = run_output;
}

#[hook]
fn output_mut(run_output: &mut RunOutput) {
    run_output.content = Some("changed".to_owned());
}

#[hook]
fn context(run_context: &RunContext) {
    let _ = &run_context.run_id;
}

#[hook]
fn the_agent(agent: &Agent) {
    let _ = agent.id();
}

#[hook]
fn the_team(team: &Team) {
    let _ = team.members();
}

#[hook(run_in_background = true)]
async fn the_workflow(workflow: &Workflow, run_output: &RunOutput) {
    let _ = (workflow.steps(), &run_output.step_results);
}

#[hook]
fn the_session(session: &Session) {
    let _ = &session.session_id;
}

#[hook]
fn user(user_id: Option<&str>) {
    let _ = user_id;
}

#[hook]
fn metadata_value(metadata: Option<&Value>) {
    let _ = metadata;
}

#[hook]
fn metadata_map(metadata: Option<&Map<String, Value>>) {
    let _ = metadata;
}

#[hook]
fn debug(debug_mode: bool) {
    let _ = debug_mode;
}

#[hook]
fn mutable_binding(mut debug_mode: bool) {
    debug_mode = !debug_mode;
    let _ = debug_mode;
}

fn main() {
    let agent = Agent::builder()
        .pre_hook(nothing)
        .pre_hook(input_ref)
        .pre_hook(input_mut)
        .post_hook(output_ref)
        .post_hook(output_mut)
        .pre_hook(context)
        .pre_hook(the_agent)
        .post_hook(the_session)
        .post_hook(user)
        .pre_hook(metadata_value)
        .pre_hook(metadata_map)
        .post_hook(debug)
        .post_hook(mutable_binding)
        .build()
        .unwrap();
    assert_eq!(agent.pre_hooks().len(), 7);
    let team = Team::builder().member(agent.clone()).pre_hook(the_team).post_hook(the_session).build().unwrap();
    let workflow = Workflow::builder().step(Step::team("t", team)).post_hook(the_workflow).build().unwrap();
    assert_eq!(workflow.post_hooks().len(), 1);
}
