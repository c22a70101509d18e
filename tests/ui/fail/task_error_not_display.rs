#![allow(unused)]

use agno::prelude::*;

#[derive(Debug)]
struct Failure;

#[task]
fn analyze(code: String) -> Result<usize, Failure> {
    Err(Failure)
}

fn main() {}
