#![allow(unused)]

use agno::prelude::*;

#[hook(run_in_background = 1)]
fn one(run_input: &RunInput) {}

#[hook(run_in_background = "yes")]
fn yes(run_input: &RunInput) {}

#[hook(run_in_background = "true")]
fn quoted(run_input: &RunInput) {}

#[hook(crate = 1)]
fn bad_crate(run_input: &RunInput) {}

fn main() {}
