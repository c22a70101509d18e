#![allow(unused)]

use agno::prelude::*;

fn haiku() -> &'static str {
    "haiku"
}

#[agent_task(model = haiku)]
async fn review(agent: Agent, code: String) -> String {
    code
}

fn main() {}
