//! Long-conversation benchmark: thousands of runs of one session in SQLite, with agno's chat
//! history on, and whether a run's cost grows with the session.
//!
//! ```sh
//! cargo run --release --example long_conversation -- [runs=10000] [--history=3] [--db=PATH]
//! ```
//!
//! An agent on the offline model with seed 001's instructions, a [`SqliteDb`] and
//! `add_history_to_context(true)` / `num_history_runs(3)` answers `runs` messages, one after
//! another, all in the session `long-conversation`. Each run reads the session row and its last
//! three answered runs, sends them to the model as history, and stores itself before it returns.
//! The benchmark first warms up with 200 runs of another session (not timed), then times every
//! run and prints the median of each block of 100 runs, and the last block's median against the
//! first's.
//!
//! `--db=PATH` uses (and keeps) that file instead of a temporary one, so a session can be
//! prefilled by one call and measured by the next, under `valgrind --tool=callgrind` for
//! instruction counts (see the README: the instructions of 100 runs are the count of a call with
//! `100` runs minus the count of a call with `0`). The process exits with status 1 if a run
//! failed or a history window was not what it should be.

use std::time::{Duration, Instant};

use agno::db::{Db, RunQuery, SqliteDb};
use agno::models::OfflineModel;
use agno::prelude::*;

/// The session every run continues.
const SESSION: &str = "long-conversation";
/// Runs per timing block.
const BLOCK: usize = 100;
/// Runs of another session before the timed ones (caches, allocator, threads warmed up).
const WARM_UP: usize = 200;

struct Options {
    runs: usize,
    history: usize,
    db: Option<std::path::PathBuf>,
}

const USAGE: &str = "usage: long_conversation [runs=10000] [--history=3] [--db=PATH]";

fn options() -> Result<Options, String> {
    let mut options = Options { runs: 10_000, history: 3, db: None };
    for arg in std::env::args().skip(1) {
        if let Some(n) = arg.strip_prefix("--history=") {
            options.history = n.parse().map_err(|e| format!("`{arg}`: {e}\n{USAGE}"))?;
        } else if let Some(path) = arg.strip_prefix("--db=") {
            options.db = Some(path.into());
        } else if arg == "-h" || arg == "--help" {
            return Err(USAGE.into());
        } else if arg.starts_with('-') {
            return Err(format!("unknown option `{arg}`\n{USAGE}"));
        } else {
            options.runs = arg.replace('_', "").parse().map_err(|e| format!("`{arg}`: {e}\n{USAGE}"))?;
        }
    }
    Ok(options)
}

/// The median of some durations, in µs.
fn median_us(times: &[Duration]) -> f64 {
    let mut sorted: Vec<Duration> = times.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = match options() {
        Ok(options) => options,
        Err(message) if message == USAGE => {
            println!("{USAGE}");
            return Ok(());
        }
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let ok = runtime.block_on(run(options))?;
    std::process::exit(i32::from(!ok));
}

/// Runs the conversation; whether every run and history window was right.
async fn run(options: Options) -> Result<bool, Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let path = options.db.clone().unwrap_or_else(|| temp.path().join("agent.db"));
    let db = std::sync::Arc::new(SqliteDb::new(&path)?);
    let before = db.count_runs(SESSION, &RunQuery::all()).await?;
    let agent = Agent::builder()
        .id("long-conversation-agent")
        .name("Long Conversation Agent")
        .model(OfflineModel::new())
        .instructions("You are a helpful assistant")
        .markdown(true)
        .db(std::sync::Arc::clone(&db))
        .add_history_to_context(options.history > 0)
        .num_history_runs(options.history)
        .build()?;

    // Also with 0 runs, so that the warm-up cancels out of an instruction count's difference.
    for i in 0..WARM_UP {
        agent.run(format!("warm-up {i}")).session_id("warm-up").await?;
    }
    let mut times = Vec::with_capacity(options.runs);
    let mut ok = true;
    for i in 0..options.runs {
        let started = Instant::now();
        let out = agent.run(format!("message {}", before + i)).session_id(SESSION).await?;
        times.push(started.elapsed());
        // The model saw the system message, the window of earlier runs and the new message.
        let window = options.history.min(before + i);
        let sent = out.messages.as_ref().map_or(0, Vec::len);
        let expected = 1 + 2 * window + 2;
        if out.status != RunStatus::Completed || sent != expected {
            eprintln!("run {}: status {}, {sent} messages, expected {expected}", before + i, out.status);
            ok = false;
        }
    }
    let after = db.count_runs(SESSION, &RunQuery::all()).await?;
    if after != before + options.runs {
        eprintln!("{} runs stored, expected {}", after - before, options.runs);
        ok = false;
    }

    println!(
        "long_conversation: {} runs of one session (runs {}..{} of it), history {}, SqliteDb at {}",
        options.runs,
        before + 1,
        before + options.runs,
        options.history,
        if options.db.is_some() { path.display().to_string() } else { "a temporary file".to_owned() }
    );
    if times.len() >= BLOCK {
        println!("{:>14} {:>12}", "runs", "median µs");
        let blocks: Vec<&[Duration]> = times.chunks(BLOCK).filter(|b| b.len() == BLOCK).collect();
        let step = (blocks.len() / 10).max(1);
        for (n, block) in blocks.iter().enumerate() {
            if n % step == 0 || n + 1 == blocks.len() {
                let first = before + n * BLOCK + 1;
                println!("{:>14} {:>12.1}", format!("{first}-{}", first + BLOCK - 1), median_us(block));
            }
        }
        if let (Some(first), Some(last)) = (blocks.first(), blocks.last()) {
            let (first, last) = (median_us(first), median_us(last));
            println!("last block / first block: {:.2} ({last:.1} µs against {first:.1} µs)", last / first.max(1e-9));
        }
    }
    drop(agent);
    Ok(ok)
}
