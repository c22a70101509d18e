#![allow(unused)]

use agno::prelude::*;

#[hook]
fn log_request(run_inptu: &RunInput, agnet: &Agent, input: &RunInput) {}

fn main() {}
