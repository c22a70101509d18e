#![allow(unused)]

use agno::prelude::*;

#[hook]
extern "C" fn log_request(debug_mode: bool) {}

fn main() {}
