#![allow(unused)]

use agno::prelude::*;

#[hook(run_in_bg = true)]
fn log_request(run_input: &RunInput) {}

#[hook(background = true, krate = agno)]
fn log_more(run_input: &RunInput) {}

fn main() {}
