#![allow(unused)]

use agno::prelude::*;

#[hook]
fn log_request(agent: &Agent, run_input: &RunInput, agent: &Agent) {}

fn main() {}
