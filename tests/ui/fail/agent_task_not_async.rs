#![allow(unused)]

use agno::prelude::*;

#[agent_task(instructions = "You review code.")]
fn review(agent: Agent, code: String) -> String {
    code
}

fn main() {}
