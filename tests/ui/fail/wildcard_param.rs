#![allow(unused)]

use agno::prelude::*;

#[hook]
fn log_request(_: &RunInput) {}

fn main() {}
