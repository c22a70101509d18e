//! fasthooks' memory-lookup pattern with agno hooks: each prompt starts a background memory
//! search; the next prompt of the session gets the result added to its input.
//!
//! `cargo run --example tasks_memory_lookup` (offline, exits by itself).

use std::time::Duration;

use agno::prelude::*;

/// What the "vector database" knows (a real program would query one).
const MEMORY: [&str; 4] = [
    "The deploy script lives in ops/deploy.sh",
    "Production runs on three nodes behind a load balancer",
    "The database is migrated with `cargo run --bin migrate`",
    "Error budgets are reviewed every Friday",
];

/// Finds the memory lines sharing the most words with the query (a stand-in for a vector search).
#[task(ttl = 600)]
fn search_memory(query: String, session_id: String) -> String {
    std::thread::sleep(Duration::from_millis(100));
    let words: Vec<String> = query
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 4)
        .map(str::to_owned)
        .collect();
    let mut scored: Vec<(usize, &str)> = MEMORY
        .iter()
        .map(|line| (words.iter().filter(|w| line.to_lowercase().contains(w.as_str())).count(), *line))
        .filter(|(score, _)| *score > 0)
        .collect();
    scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    let found: Vec<&str> = scored.into_iter().take(3).map(|(_, line)| line).collect();
    format!("[{session_id}] {}", found.join("; "))
}

/// Adds the previous search's result to the input, then starts a search for this prompt.
#[hook]
async fn enrich_prompt(run_input: &mut RunInput, run_context: &RunContext, tasks: &Tasks) {
    let prompt = run_input.input_content_string();
    tasks.wait(search_memory, Duration::from_secs(5)).await;
    if let Some(context) = tasks.pop(search_memory) {
        println!("[enrich_prompt] Relevant context: {context}");
        run_input.input_content = format!("{}\n\nRelevant context:\n{context}", run_input.input_content).into();
    }
    tasks.add(search_memory, (prompt, run_context.session_id.clone()));
}

#[tokio::main]
async fn main() -> Result<(), agno::Error> {
    println!("{}\n", agno::registry::describe());
    let agent = Agent::builder().name("Ops Assistant").pre_hook(enrich_prompt).build()?;
    let mut session = None;
    for prompt in ["how do we deploy to production?", "and the database?", "thanks"] {
        let mut run = agent.run(prompt);
        if let Some(id) = &session {
            run = run.session_id(id);
        }
        let out = run.await?;
        println!("> {prompt}\n{}\n", out.content.unwrap_or_default());
        session = Some(out.session_id);
    }
    Ok(())
}
