#![allow(unused)]

use agno::prelude::*;

#[task]
struct AnalyzeCode;

#[task]
impl AnalyzeCode {
    fn run(&self) {}
}

#[agent_task]
enum Review {}

fn main() {}
