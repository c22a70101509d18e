//! Every form of the attribute's arguments.
#![deny(warnings)]

use agno::hooks::Hook;
use agno::prelude::*;

#[hook]
fn plain(agent: &Agent) {
    let _ = agent;
}

#[hook()]
fn empty_parens(agent: &Agent) {
    let _ = agent;
}

#[hook(run_in_background = false)]
fn not_background(run_input: &mut RunInput) {
    let _ = run_input;
}

#[hook(run_in_background = true)]
fn background(run_input: &RunInput) {
    let _ = run_input;
}

#[hook(run_in_background = true)]
async fn background_async(run_output: &RunOutput) {
    let _ = run_output;
}

#[hook(crate = ::agno, run_in_background = true)]
fn explicit_crate(agent: &Agent) {
    let _ = agent;
}

#[hook(run_in_background = false, crate = "agno")]
fn crate_as_string(agent: &Agent) {
    let _ = agent;
}

fn main() {
    assert!(!plain.run_in_background());
    assert!(!empty_parens.run_in_background());
    assert!(!not_background.run_in_background());
    assert!(background.run_in_background());
    assert!(background_async.run_in_background());
    assert!(explicit_crate.run_in_background());
    assert!(!crate_as_string.run_in_background());
}
