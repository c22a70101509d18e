//! `#[agent_task]` with and without `model` and `instructions`, with `ttl` and `priority`.
#![deny(warnings)]

use std::sync::Arc;

use agno::models::OfflineModel;
use agno::prelude::*;
use agno::tasks::{ImmediateBackend, Task};

mod models {
    pub fn offline() -> agno::models::OfflineModel {
        agno::models::OfflineModel::new()
    }
}

fn local_model() -> OfflineModel {
    OfflineModel::new()
}

/// The seed's code reviewer.
#[agent_task(instructions = "You review code for security issues.")]
async fn review_code(agent: Agent, code: String, file_path: String) -> String {
    agent
        .run(format!("Review {file_path}:\n```\n{code}\n```"))
        .await
        .map(|o| o.content.unwrap_or_default())
        .unwrap_or_else(|e| e.to_string())
}

#[agent_task(model = models::offline, instructions = r"You search the codebase.", ttl = 600, priority = 3)]
async fn codebase_search(agent: Agent, query: String) -> Result<String, agno::Error> {
    Ok(agent.run(query).await?.content.unwrap_or_default())
}

#[agent_task(model = local_model)]
pub async fn no_arguments(_agent: Agent) {}

#[agent_task]
async fn defaults(agent: agno::Agent, n: u32) -> u32 {
    n + agent.instructions().len() as u32
}

#[agent_task()]
async fn empty_parens(mut agent: Agent) -> String {
    agent = agent.clone();
    agent.id().to_owned()
}

#[agent_task(crate = agno_core, model = OfflineModel::new)]
async fn via_core(agent: agno_core::Agent) -> Option<String> {
    agent.name().map(str::to_owned)
}

fn main() {
    let tasks = Tasks::new(Arc::new(ImmediateBackend::new()), "s");
    tasks.add(review_code, ("x".to_owned(), "a.py".to_owned()));
    tasks.add(codebase_search, "q".to_owned());
    tasks.add(no_arguments, ());
    tasks.add(defaults, 1);
    tasks.add(empty_parens, ());
    tasks.add(via_core, ());
    let _: Option<String> = tasks.pop(review_code);
    let _: Option<String> = tasks.pop(codebase_search);
    assert_eq!(codebase_search.priority(), 3);
    assert_eq!(codebase_search::DESCRIPTOR.ttl_secs, 600);
    assert_eq!(defaults.name(), "defaults");
}
