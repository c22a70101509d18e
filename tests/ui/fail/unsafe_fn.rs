#![allow(unused)]

use agno::prelude::*;

#[hook]
unsafe fn log_request(run_input: &RunInput) {}

fn main() {}
