#![allow(unused)]

use agno::prelude::*;

#[hook]
fn log_request(foo: &RunInput) {}

fn main() {}
