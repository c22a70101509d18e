//! Teams and workflows under AgentOS with `run_hooks_in_background(true)`: the flag reaches a
//! team, its nested team and their member agents, and a workflow of two steps. Every level has a
//! hook that records where it ran; all of them run after the response.
//!
//! `cargo run --example teams_and_workflows` starts AgentOS on a free loopback port, posts one
//! team run and one workflow run with a real HTTP client, prints when each answer arrived and
//! then what each background hook recorded, and exits. `-- --serve` keeps serving on
//! http://localhost:7777 instead, for curl:
//!
//! ```sh
//! curl -X POST http://localhost:7777/teams/newsroom/runs -F "message=Hello" -F "stream=false"
//! curl -X POST http://localhost:7777/workflows/publish/runs -F "message=Hello" -F "stream=false"
//! ```
//!
//! The model is OpenAI's when `OPENAI_API_KEY` is set, the offline one otherwise (it answers
//! `You said: "<input>"`); the first line says which.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agno::db::InMemoryDb;
use agno::models::{Model, default_model, describe};
use agno::os::AgentOS;
use agno::prelude::*;

/// What the hooks recorded, in the order they ran.
static RECORD: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// When the last request was sent.
static SENT: Mutex<Option<Instant>> = Mutex::new(None);

/// Records where a hook ran, and when (since the request was sent).
fn record(line: String) {
    let at = SENT.lock().ok().and_then(|t| *t).map_or(Duration::ZERO, |t| t.elapsed());
    if let Ok(mut lines) = RECORD.lock() {
        lines.push(format!("at {at:>9.1?}: {line}"));
    }
}

/// A member agent's post-hook.
#[hook]
fn agent_ran(agent: &Agent, run_output: &RunOutput) {
    record(format!(
        "agent {} (run {}, parent {:?})",
        agent.id(),
        short(&run_output.run_id),
        run_output.parent_run_id.as_deref().map(short)
    ));
}

/// A team's post-hook: it receives the team, not an agent.
#[hook]
async fn team_ran(team: &Team, run_output: &RunOutput) {
    // Slow on purpose: the response does not wait for it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    record(format!("team {} with {} member answer(s)", team.id(), run_output.member_responses.len()));
}

/// The workflow's post-hook.
#[hook]
fn workflow_ran(workflow: &Workflow, run_output: &RunOutput) {
    let steps: Vec<&str> = run_output.step_results.iter().map(|s| s.step_name.as_str()).collect();
    record(format!("workflow {} after steps {steps:?}", workflow.id()));
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn build_os(model: &Arc<dyn Model>) -> Result<AgentOS, Box<dyn std::error::Error>> {
    let agent = |name: &str| Agent::builder().name(name).model(Arc::clone(model)).post_hook(agent_ran).build();
    let (reporter, fact_checker, editor) = (agent("Reporter")?, agent("Fact Checker")?, agent("Editor")?);
    let team = |name: &str| Team::builder().name(name).model(Arc::clone(model)).post_hook(team_ran);
    let desk = team("Desk").member(reporter).member(fact_checker).build()?;
    let newsroom = team("Newsroom").member(desk).member(editor.clone()).build()?;

    let writer = agent("Writer")?;
    let publish = Workflow::builder()
        .name("Publish")
        .step(Step::agent("write", writer))
        .step(Step::agent("edit", editor))
        .post_hook(workflow_ran)
        .build()?;

    Ok(AgentOS::builder()
        .teams([newsroom])
        .workflows([publish])
        .db(InMemoryDb::new())
        .run_hooks_in_background(true)
        .build()?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).init();
    let model = default_model();
    println!("Model: {}", describe(&*model));
    println!("{}", agno::registry::describe());
    let agent_os = build_os(&model)?;
    let app = agent_os.get_app();
    if std::env::args().any(|a| a == "--serve") {
        agent_os.serve(app).await?;
        return Ok(());
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        agent_os
            .serve_with(listener, app, async move {
                let _ = stopped.await;
            })
            .await
    });

    // reqwest shares agno's TLS build, which needs a process-wide crypto provider.
    agno::models::openai::install_tls_provider();
    let client = reqwest::Client::new();
    for (path, expected_hooks) in [("/teams/newsroom/runs", 5), ("/workflows/publish/runs", 3)] {
        RECORD.lock().map_err(|_| "poisoned")?.clear();
        let started = Instant::now();
        *SENT.lock().map_err(|_| "poisoned")? = Some(started);
        let response =
            client.post(format!("{base}{path}")).form(&[("message", "Hello"), ("stream", "false")]).send().await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        println!("POST {path}: {status} {} in {:.1?}", body["status"], started.elapsed());
        println!("  content: {}", body["content"]);
        // Wait for the background hooks (a real client would not).
        let deadline = Instant::now() + Duration::from_secs(10);
        while RECORD.lock().map_err(|_| "poisoned")?.len() < expected_hooks && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let lines = RECORD.lock().map_err(|_| "poisoned")?.clone();
        println!(
            "  {} of {expected_hooks} background hooks ran after the response; each one at (since sent):",
            lines.len()
        );
        for line in lines {
            println!("  {line}");
        }
    }

    let _ = stop.send(());
    let report = server.await??;
    println!("shutdown: {} unfinished background task(s)", report.unfinished.len());
    Ok(())
}
