#![allow(unused)]

use agno::prelude::*;

fn review_transform(r: String) -> String {
    r
}

#[agent_task(system_prompt = "You review code.", model = "haiku", max_turns = 5)]
async fn fasthooks_style(agent: Agent, code: String) {}

#[agent_task(instructions = 5, model = |_| OfflineModel::new(), transform = review_transform)]
async fn wrong_values(agent: Agent, code: String) {}

#[agent_task("You review code.")]
async fn positional(agent: Agent) {}

#[agent_task(instructions = "You review code.", system_prompt = "You review code.", model = "")]
async fn both_prompts(agent: Agent) {}

#[agent_task(system_prompt = You::review, model = haiku())]
async fn unquoted(agent: Agent) {}

fn main() {}
