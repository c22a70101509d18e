//! A live check against OpenAI, run only when `OPENAI_API_KEY` is set (it prints that it was
//! skipped otherwise). `OPENAI_LIVE_MODEL` picks the model (default `gpt-4o-mini`, cheap and
//! served by both APIs); `OPENAI_BASE_URL` points it at a compatible server instead.

use std::io::Write;

use agno::models::Model;
use agno::models::openai::{OpenAIChat, OpenAIResponses};
use agno::prelude::*;

fn live_model_id() -> Option<String> {
    if std::env::var("OPENAI_API_KEY").map_or(true, |k| k.trim().is_empty()) {
        // Written to the stderr handle, not with `eprintln!`, so the test harness does not capture it.
        let _ =
            writeln!(std::io::stderr(), "skipped: OPENAI_API_KEY is not set, so the live OpenAI check does not run");
        return None;
    }
    Some(std::env::var("OPENAI_LIVE_MODEL").unwrap_or_else(|_| "gpt-4o-mini".to_owned()))
}

async fn check(model: impl Model) {
    let label = format!("{} via {:?}", model.id(), model.endpoint());
    let agent = Agent::builder().instructions("Answer in at most five words.").model(model).build().unwrap();
    let out = agent.run("Say hello.").await.unwrap();
    assert_eq!(out.status, RunStatus::Completed, "{label}: {:?}", out.content);
    assert!(!out.content.as_deref().unwrap_or("").trim().is_empty(), "{label}");
    assert!(out.metrics.input_tokens.unwrap_or(0) > 0 && out.metrics.output_tokens.unwrap_or(0) > 0, "{label}");

    let mut stream = agent.run("Say goodbye.").stream();
    let mut pieces = 0;
    while let Some(event) = stream.next().await {
        if matches!(event.unwrap().kind, RunEventKind::RunContent { .. }) {
            pieces += 1;
        }
    }
    let out = stream.into_output().unwrap();
    assert_eq!(out.status, RunStatus::Completed, "{label}: {:?}", out.content);
    assert!(pieces > 0, "{label}");
    assert!(out.metrics.total_tokens.unwrap_or(0) > 0, "{label}: streaming reports usage");
    println!("{label}: ok ({:?} tokens)", out.metrics.total_tokens);
}

#[tokio::test]
async fn live_openai_responses_and_chat() {
    let Some(id) = live_model_id() else { return };
    check(OpenAIResponses::new(&id)).await;
    check(OpenAIChat::new(&id)).await;
}
