//! A hook program as fasthooks users run it: one process per event. Each start pops the result
//! the previous process left (its task may still have been pending when that process exited),
//! then adds a new task and exits without waiting for it.
//!
//! `cargo run --example tasks_across_processes -- [database path] [code]` (default database
//! `tmp/tasks.db`); run it several times.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agno::prelude::*;
use agno::tasks::SqliteTaskBackend;

/// The analysis. `#[task]` registers it, so a later process can resume it by name from its
/// stored arguments.
#[task]
fn analyze_code(code: String) -> String {
    format!("Analysis complete: {} chars", code.len())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("{}", agno::registry::describe());
    let path = std::env::args().nth(1).unwrap_or_else(|| "tmp/tasks.db".to_owned());
    // Opening takes over the tasks of processes that exited before finishing them.
    let backend = Arc::new(SqliteTaskBackend::open(&path)?);
    let tasks = Tasks::new(backend, "demo-session");

    // A task the previous process left pending runs now; wait for it (at once if there is none).
    tasks.wait(analyze_code, Duration::from_secs(5)).await;
    match tasks.pop(analyze_code) {
        Some(result) => println!("previous result: {result}"),
        None => println!("previous result: none"),
    }

    // The code of this event: the second argument, else a stamped snippet.
    let code = std::env::args().nth(2).unwrap_or_else(|| {
        let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        format!("fn event() {{ /* process {} at {stamp} */ }}", std::process::id())
    });
    let added = tasks.add(analyze_code, code.clone());
    println!("added analyze_code ({} chars, {})", code.len(), added.status);
    // No wait: the task may still be pending when this process exits; the next one resumes it.
    Ok(())
}
