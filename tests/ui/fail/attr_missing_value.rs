#![allow(unused)]

use agno::prelude::*;

#[hook(run_in_background)]
fn no_value(run_input: &RunInput) {}

#[hook(run_in_background =)]
fn empty_value(run_input: &RunInput) {}

#[hook(crate)]
fn no_crate(run_input: &RunInput) {}

fn main() {}
