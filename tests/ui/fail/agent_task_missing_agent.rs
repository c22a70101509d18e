#![allow(unused)]

use agno::prelude::*;

#[agent_task]
async fn nothing() {}

#[agent_task]
async fn forgot_agent(code: String) {}

#[agent_task]
async fn borrowed_agent(agent: &Agent, code: String) {}

#[agent_task]
async fn two_agents(agent: Agent, other: Agent) {}

#[agent_task]
async fn method(self, code: String) {}

fn main() {}
