//! Background output evaluation: an agent-as-judge checks every answer after the response has
//! gone, and stores its verdict.
//!
//! `cargo run --example background_output_evaluation`, then:
//!
//! ```sh
//! curl -X POST http://localhost:7777/agents/evaluated-agent/runs \
//!   -F "message=What is the capital of France?" \
//!   -F "stream=false"
//! ```
//!
//! The answer comes back at once; the server log then shows the evaluation ("evaluation passed"
//! or "failed", with the judge's reason), and `on_fail` prints failures. Every verdict is a row of
//! `agno_eval_runs` in `tmp/agent.db` (`eval_type` `agent_as_judge`, the judge model, and in
//! `eval_data` the input, output, passed, score, reason and criteria):
//!
//! ```sh
//! sqlite3 tmp/agent.db "SELECT agent_id, model_id, eval_data FROM agno_eval_runs"
//! ```
//!
//! Ctrl-C or SIGTERM stops the server after the evaluations still running have finished.
//! `AGENT_OS_HOST` / `AGENT_OS_PORT` override the address.
//!
//! The Rust twin of agno's "Output Evaluation" example (background hooks overview, third card).
//! With `OPENAI_API_KEY` set, the agent and the judge are `gpt-5.2` (OpenAI Responses); without
//! it both are the offline model: the agent answers `You said: "<input>"` and the judge answers a
//! deterministic verdict (a non-empty answer passes with score 10), so a meaningful row is stored
//! with no network and no key.

use agno::db::default_db;
use agno::eval::{AgentAsJudgeEval, ScoringStrategy};
use agno::models::{default_model, describe};
use agno::os::AgentOS;
use agno::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).init();

    // OpenAI when OPENAI_API_KEY is set, the offline model otherwise (for the agent and the judge).
    let model = default_model();
    let judge = std::sync::Arc::clone(&model);
    println!("Model: {}", describe(&*model));
    println!("Judge: {}", describe(&*judge));

    // The judge runs after the response (`run_in_background`), scores 1-10, and passes at 7.
    let evaluation = AgentAsJudgeEval::builder()
        .name("Response Quality Check")
        .model(judge)
        .criteria("The response is helpful, accurate and answers the user's question")
        .additional_guidelines(["Penalise answers that are vague or evasive", "Keep the reason to one sentence"])
        .scoring_strategy(ScoringStrategy::Numeric)
        .threshold(7)
        .on_fail(|e| {
            println!("[Eval] FAILED for run {} (score {:?}): {}", e.run_id, e.score, e.reason);
        })
        .run_in_background(true)
        .build()?;

    let agent = Agent::builder()
        .id("evaluated-agent")
        .name("EvaluatedAgent")
        .model(model)
        .instructions("You are a helpful assistant")
        .db(default_db("tmp/agent.db")?) // the evaluation is stored here too
        .post_hook(evaluation)
        .markdown(true)
        .build()?;

    let agent_os = AgentOS::builder().agents([agent]).port(7777).build()?;
    let app = agent_os.get_app();
    agent_os.serve(app).await?;
    Ok(())
}
