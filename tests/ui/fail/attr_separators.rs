#![allow(unused)]

use agno::prelude::*;

#[hook(run_in_background: true)]
fn colon(run_input: &RunInput) {}

#[hook(run_in_background(true))]
fn call_style(run_input: &RunInput) {}

#[hook(run_in_background = true; crate = agno)]
fn semicolon(run_input: &RunInput) {}

#[hook(run_in_background = true crate = agno)]
fn no_comma(run_input: &RunInput) {}

#[hook(run_in_background == true)]
fn double_eq(run_input: &RunInput) {}

#[hook(, run_in_background = true)]
fn leading_comma(run_input: &RunInput) {}

fn main() {}
