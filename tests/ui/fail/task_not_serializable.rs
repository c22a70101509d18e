#![allow(unused)]

use agno::prelude::*;

struct Code(String);

struct Report;

#[task]
fn analyze(code: Code, lines: u32) -> Report {
    Report
}

#[task]
fn single(code: Code) {}

fn main() {}
