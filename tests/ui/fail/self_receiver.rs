#![allow(unused)]

use agno::prelude::*;

struct Logger;

impl Logger {
    #[hook]
    fn log_request(&self, run_input: &RunInput) {}
}

fn main() {}
