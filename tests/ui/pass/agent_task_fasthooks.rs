//! `#[agent_task]` with fasthooks' arguments: `model = "haiku"` (a short name or an id, Claude
//! when `ANTHROPIC_API_KEY` is set, the offline model otherwise) and `system_prompt = "..."`.
#![deny(warnings)]

use std::sync::Arc;

use agno::prelude::*;
use agno::tasks::{ImmediateBackend, Task};

#[agent_task(model = "haiku", system_prompt = "You review code for security issues.")]
async fn security_review(agent: Agent, code: String) -> String {
    match agent.run(format!("Review for security:\n{code}")).await {
        Ok(output) => output.content.unwrap_or_default(),
        Err(error) => error.to_string(),
    }
}

#[agent_task(model = "claude-sonnet-4-5", instructions = "You search the codebase.", ttl = 60, priority = 3)]
async fn codebase_search(agent: Agent, query: String) -> Result<String, agno::Error> {
    Ok(agent.run(query).await?.content.unwrap_or_default())
}

#[agent_task(crate = agno_core, model = "opus")]
async fn via_core(agent: agno_core::Agent) -> Vec<String> {
    agent.instructions().to_owned()
}

fn main() {
    let tasks = Tasks::new(Arc::new(ImmediateBackend::new()), "s");
    tasks.add(security_review, "eval(input())".to_owned());
    tasks.add(codebase_search, "q".to_owned());
    tasks.add(via_core, ());
    let _: Option<String> = tasks.pop(security_review);
    let _: Option<String> = tasks.pop(codebase_search);
    assert_eq!(codebase_search.priority(), 3);
    assert_eq!(security_review.name(), "security_review");
}
