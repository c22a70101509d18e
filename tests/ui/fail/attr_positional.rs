#![allow(unused)]

use agno::prelude::*;

#[hook(true)]
fn log_request(run_input: &RunInput) {}

#[hook("background")]
fn log_more(run_input: &RunInput) {}

fn main() {}
