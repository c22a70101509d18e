#![allow(unused)]

use agno::prelude::*;

#[hook]
fn log_request(run_input: RunInput) {}

fn main() {}
