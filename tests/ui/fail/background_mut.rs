#![allow(unused)]

use agno::prelude::*;

#[hook(run_in_background = true)]
fn mask_input(run_input: &mut RunInput) {}

#[hook(run_in_background = true)]
async fn fix_output(agent: &Agent, run_output: &mut RunOutput) {}

fn main() {}
