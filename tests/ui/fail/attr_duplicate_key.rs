#![allow(unused)]

use agno::prelude::*;

#[hook(run_in_background = true, run_in_background = false)]
fn log_request(run_input: &RunInput) {}

fn main() {}
