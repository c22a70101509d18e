#![allow(unused)]

use agno::prelude::*;

#[task]
async fn review(agent: Agent, code: String) -> String {
    code
}

fn main() {}
