//! Seed 004's memory lookup as a Claude Code hook command: each prompt starts a search of what
//! earlier prompts of this project said (a background task over `.claude/memory.jsonl`), and the
//! next prompt hands what it found to the model (`Relevant context: ...`).
//!
//! The "vector DB" of the seed is a small word-overlap search over a JSON-lines file, so the
//! example runs offline; swap `search_memory`'s body for a real store.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use agno::claude_code::{HookApp, Response, UserPromptSubmit, allow, context};
use agno::prelude::*;
use serde_json::json;

/// Words of a text, lower-case, without the short ones.
fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 3).map(str::to_lowercase).collect()
}

/// The three earlier prompts (of other sessions too) sharing most words with `query`; then
/// `query` is remembered.
#[task(ttl = 600)]
fn search_memory(query: String, session_id: String, memory: PathBuf) -> Result<String, std::io::Error> {
    let wanted = words(&query);
    let text = std::fs::read_to_string(&memory).unwrap_or_default();
    let mut scored: Vec<(usize, String)> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|entry| entry["prompt"].as_str().map(str::to_owned))
        .map(|prompt| (words(&prompt).intersection(&wanted).count(), prompt))
        .filter(|(score, _)| *score > 0)
        .collect();
    scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    if let Some(parent) = memory.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&memory)?;
    writeln!(file, "{}", json!({"session_id": session_id, "prompt": query}))?;
    Ok(scored.into_iter().take(3).map(|(_, p)| format!("- {p}")).collect::<Vec<_>>().join("\n"))
}

/// Hands over what the previous search found, and starts a search for this prompt.
#[hook]
fn enrich_prompt(event: &UserPromptSubmit, tasks: &Tasks, cwd: &Path) -> Response {
    let found = tasks.pop(search_memory).filter(|found| !found.is_empty());
    let project = std::env::var_os("CLAUDE_PROJECT_DIR").map_or_else(|| cwd.to_path_buf(), PathBuf::from);
    let memory = project.join(".claude").join("memory.jsonl");
    tasks.add(search_memory, (event.prompt.clone(), event.session_id().to_owned(), memory));
    match found {
        Some(found) => context(format!("Relevant context:\n{found}")),
        None => allow(),
    }
}

fn main() -> ExitCode {
    HookApp::new().on_prompt(enrich_prompt).run()
}
