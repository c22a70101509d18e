#![allow(unused)]

use agno::prelude::*;

#[hook]
fn log_request(debug_mode: bool, _: ...) {}

fn main() {}
