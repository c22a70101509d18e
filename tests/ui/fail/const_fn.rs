#![allow(unused)]

use agno::prelude::*;

#[hook]
const fn log_request(debug_mode: bool) {}

fn main() {}
