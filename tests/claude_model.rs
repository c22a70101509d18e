//! `Claude` against the loopback stand-in of Anthropic's Messages API (`common::anthropic`):
//! whole and streamed answers with their token counts, the system prompt in `system`, frames
//! split across writes, retries on 429, 529 and 500, retries running out, a 401 that never shows
//! the key, malformed JSON, a stream cut mid-frame, an `error` event, a server that is not there,
//! the short names, `claude_or_offline`, and `#[agent_task(model = "haiku", system_prompt = ..)]`.
//! Every model case runs a real `Agent` and checks its `RunOutput`.
//!
//! Environment variables are process-wide and the tests run in parallel threads: every test
//! that reads them (a `Claude::new`) or writes them holds [`ENV`]. Nothing here measures time;
//! retry waits are a millisecond.

mod common;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use agno::models::anthropic::{self, HAIKU, OPUS, SONNET, resolve_model_id};
use agno::models::{Claude, Model, claude_or_offline};
use agno::prelude::*;
use agno::tasks::ImmediateBackend;
use common::anthropic::{AnthropicStandIn, Reply, sse_text};
use common::model_runs::{assert_completed, assert_error, drain, split_awkwardly};
use serde_json::json;

const KEY: &str = "sk-ant-test-SECRET-0123456789";

/// Held by every test that reads or writes environment variables.
static ENV: Mutex<()> = Mutex::new(());

fn env_lock() -> MutexGuard<'static, ()> {
    ENV.lock().unwrap_or_else(|e| e.into_inner())
}

/// `Claude::new(id)` (which reads the environment) under the lock.
fn new_claude(id: &str) -> Claude {
    let _env = env_lock();
    Claude::new(id)
}

fn claude(server: &AnthropicStandIn) -> Claude {
    new_claude("claude-haiku-4-5").base_url(server.base_url()).api_key(KEY).retry_backoff(Duration::from_millis(1))
}

fn agent(model: impl Model) -> Agent {
    Agent::builder().id("claude-agent").instructions("Be brief.").model(model).build().unwrap()
}

#[tokio::test]
async fn whole_answer_with_usage_and_the_system_prompt_in_system() {
    let server = AnthropicStandIn::scripted(vec![Reply::text_with_usage("Hello! How can I help?", 19, 9)]);
    let out = agent(claude(&server)).run("Hi").await.unwrap();
    assert_completed(&out, "Hello! How can I help?", 19, 9);
    assert_eq!(out.model.as_deref(), Some("claude-haiku-4-5"));
    assert_eq!(out.model_provider.as_deref(), Some("Anthropic"));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/v1/messages"));
    assert_eq!(request.header("x-api-key"), Some(KEY));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.body,
        json!({"model": "claude-haiku-4-5", "max_tokens": anthropic::DEFAULT_MAX_TOKENS, "system": "Be brief.",
               "messages": [{"role": "user", "content": "Hi"}]})
    );
}

#[tokio::test]
async fn streamed_answer_with_frames_split_across_writes() {
    let server = AnthropicStandIn::scripted(vec![Reply::Sse(split_awkwardly(&sse_text("Héllo wörld!", 25, 3)))]);
    let (pieces, out) = drain(agent(claude(&server).max_tokens(64)).run("Hi").stream()).await;
    assert_eq!(pieces, ["Héllo ", "wörld!"]);
    assert_completed(&out, "Héllo wörld!", 25, 3);
    let body = &server.message_bodies()[0];
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["system"], "Be brief.");
    assert_eq!(server.requests()[0].header("accept"), Some("text/event-stream"));

    // The same answer in one write.
    let server = AnthropicStandIn::scripted(vec![Reply::text_with_usage("One piece", 4, 2)]);
    let (pieces, out) = drain(agent(claude(&server)).run("Hi").stream()).await;
    assert_eq!(pieces, ["One ", "piece"]);
    assert_completed(&out, "One piece", 4, 2);
}

#[tokio::test]
async fn a_429_is_retried_after_the_servers_wait() {
    let limited = Reply::error(429, "rate_limit_error", "Number of requests has exceeded your rate limit");
    // The backoff is an hour: the run finishes only because `retry-after` / `retry-after-ms` are
    // honoured (the guard turns a hang into a failure; it measures nothing).
    for (header, value) in [("retry-after", "0"), ("retry-after-ms", "1")] {
        let server =
            AnthropicStandIn::scripted(vec![limited.clone().with_header(header, value), Reply::text("after the wait")]);
        let model = claude(&server).retry_backoff(Duration::from_secs(3600)).max_retry_delay(Duration::from_secs(3600));
        let run = tokio::time::timeout(Duration::from_secs(120), agent(model).run("Hi"));
        let out = run.await.expect("retry-after was not honoured").unwrap();
        assert_completed(&out, "after the wait", 10, 5);
        assert_eq!(server.message_bodies().len(), 2, "{header}");
    }
}

#[tokio::test]
async fn overloaded_and_server_errors_are_retried_whole_and_streamed() {
    let server = AnthropicStandIn::scripted(vec![
        Reply::error(529, "overloaded_error", "Overloaded"),
        Reply::error(500, "api_error", "Internal server error"),
        Reply::text("third time lucky"),
    ]);
    let out = agent(claude(&server)).run("Hi").await.unwrap();
    assert_completed(&out, "third time lucky", 10, 5);
    assert_eq!(server.requests().len(), 3);

    let server = AnthropicStandIn::scripted(vec![
        Reply::error(529, "overloaded_error", "Overloaded"),
        Reply::Sse(vec![sse_text("streamed after all", 7, 3)]),
    ]);
    let (_, out) = drain(agent(claude(&server)).run("Hi").stream()).await;
    assert_completed(&out, "streamed after all", 7, 3);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn retries_run_out() {
    let limited = Reply::error(429, "rate_limit_error", "Number of requests has exceeded your rate limit");
    let server = AnthropicStandIn::scripted(vec![limited.clone(); 3]);
    let out = agent(claude(&server).max_retries(2)).run("Hi").await.unwrap();
    assert_error(
        &out,
        &[
            "Anthropic error: HTTP 429 Too Many Requests: Number of requests has exceeded your rate limit (rate_limit_error) (after 3 attempts)",
        ],
    );
    assert_eq!(server.requests().len(), 3);

    // Streamed: the same, as the run's error.
    let overloaded = Reply::error(529, "overloaded_error", "Overloaded");
    let server = AnthropicStandIn::scripted(vec![overloaded.clone(); 2]);
    let (_, out) = drain(agent(claude(&server).max_retries(1)).run("Hi").stream()).await;
    assert_error(&out, &["Anthropic error: HTTP 529", "Overloaded (overloaded_error) (after 2 attempts)"]);

    // No retries at all.
    let server = AnthropicStandIn::scripted(vec![overloaded]);
    let out = agent(claude(&server).max_retries(0)).run("Hi").await.unwrap();
    assert_error(&out, &["HTTP 529"]);
    assert!(!out.content.as_deref().unwrap_or("").contains("attempts"));
    assert_eq!(server.requests().len(), 1);
}

/// Everything this test binary logs, from the first [`captured_logs`] on.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// A `tracing` writer into [`LOGS`].
struct Captured;

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing every log of the binary (a global subscriber: a scoped one can miss events
/// whose call sites other threads reached first) and returns what was logged so far.
fn captured_logs() -> String {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(|| Captured)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

#[tokio::test]
async fn a_401_is_not_retried_and_the_key_is_never_shown_or_logged() {
    captured_logs();
    let server = AnthropicStandIn::scripted(vec![
        Reply::error(529, "overloaded_error", "Overloaded"),
        Reply::error(401, "authentication_error", "invalid x-api-key"),
    ]);
    let model = claude(&server);
    assert!(!format!("{model:?}").contains("SECRET"), "{model:?}");
    let out = agent(model).run("Hi").await.unwrap();
    assert_error(
        &out,
        &["Anthropic error: HTTP 401 Unauthorized: invalid x-api-key (authentication_error) (after 2 attempts)"],
    );
    assert_eq!(server.requests().len(), 2, "the 529 is retried, the 401 is not");
    assert_eq!(server.requests()[1].header("x-api-key"), Some(KEY), "the key was sent");

    let logged = captured_logs();
    assert!(logged.contains("model request failed; retrying"), "the retry is logged: {logged}");
    assert!(logged.contains("invalid x-api-key (authentication_error)"), "the failure is logged: {logged}");
    assert!(!logged.contains(KEY) && !logged.contains("SECRET"), "the key was logged: {logged}");
}

#[tokio::test]
async fn malformed_answers_are_run_errors() {
    let garbage = Reply::Http { status: 200, headers: vec![], body: "{\"content\": [ oops".into() };
    let server = AnthropicStandIn::scripted(vec![garbage]);
    let out = agent(claude(&server)).run("Hi").await.unwrap();
    assert_error(&out, &["Anthropic error: the answer is not valid JSON", "{\"content\": [ oops"]);

    // Valid JSON of the wrong shape.
    let server = AnthropicStandIn::scripted(vec![Reply::json(200, json!({"unexpected": true}))]);
    let out = agent(claude(&server)).run("Hi").await.unwrap();
    assert_error(&out, &["Anthropic error: the answer has no `content`"]);

    // A stream event that is not JSON.
    let server = AnthropicStandIn::scripted(vec![Reply::Sse(vec!["event: message_start\ndata: {nope}\n\n".into()])]);
    let (_, out) = drain(agent(claude(&server)).run("Hi").stream()).await;
    assert_error(&out, &["Anthropic error: a stream event is not valid JSON"]);
}

#[tokio::test]
async fn a_stream_cut_mid_frame_is_a_run_error() {
    let whole = sse_text("Hello there world", 5, 3);
    let cut = whole.find("world").unwrap();
    let server = AnthropicStandIn::scripted(vec![Reply::Sse(vec![whole[..cut].to_owned()])]);
    let (pieces, out) = drain(agent(claude(&server)).run("Hi").stream()).await;
    assert_eq!(pieces, ["Hello ", "there "], "what came before the cut was streamed");
    assert_error(
        &out,
        &["Anthropic error: the stream was cut in the middle of an event before the answer was complete"],
    );

    // Closed between two frames, before `message_stop`.
    let cut = whole.find("event: message_stop").unwrap();
    let server = AnthropicStandIn::scripted(vec![Reply::Sse(vec![whole[..cut].to_owned()])]);
    let (_, out) = drain(agent(claude(&server)).run("Hi").stream()).await;
    assert_error(&out, &["Anthropic error: the stream was cut before the answer was complete"]);
}

#[tokio::test]
async fn an_error_event_in_the_stream_is_a_run_error() {
    let whole = sse_text("Hello there", 5, 3);
    let cut = whole.find("event: content_block_delta").unwrap();
    let error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let server = AnthropicStandIn::scripted(vec![Reply::Sse(vec![whole[..cut].to_owned(), error.to_owned()])]);
    let (_, out) = drain(agent(claude(&server)).run("Hi").stream()).await;
    assert_error(&out, &["Anthropic error: Overloaded (overloaded_error)"]);
    assert_eq!(server.requests().len(), 1, "a stream that has started is not retried");
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_run_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let model = new_claude("haiku").base_url(url).api_key(KEY).max_retries(1).retry_backoff(Duration::ZERO);
    let out = agent(model).run("Hi").await.unwrap();
    assert_error(&out, &["Anthropic error: request to http://127.0.0.1:", "/v1/messages failed", "(after 2 attempts)"]);
}

#[tokio::test]
async fn short_names_become_current_ids() {
    assert_eq!(
        (resolve_model_id("haiku"), resolve_model_id("sonnet"), resolve_model_id("opus")),
        (HAIKU, SONNET, OPUS)
    );
    assert_eq!(HAIKU, "claude-haiku-4-5");
    assert_eq!(resolve_model_id("claude-3-7-sonnet-latest"), "claude-3-7-sonnet-latest");
    let server = AnthropicStandIn::scripted(vec![Reply::text("hi"), Reply::text("hi")]);
    for (name, id) in [("opus", OPUS), ("claude-custom-1", "claude-custom-1")] {
        let model = new_claude(name).base_url(server.base_url()).api_key(KEY);
        assert_eq!(model.id(), id);
        let out = agent(model).run("Hi").await.unwrap();
        assert_eq!(out.model.as_deref(), Some(id));
    }
    let models: Vec<_> = server.message_bodies().iter().map(|b| b["model"].clone()).collect();
    assert_eq!(models, [json!(OPUS), json!("claude-custom-1")]);
}

/// The reviewer of fasthooks' seed, with fasthooks' arguments.
#[agent_task(model = "haiku", system_prompt = "You review code for security issues.")]
async fn security_review(agent: Agent, code: String) -> Result<String, agno::Error> {
    let output = agent.run(format!("Review for security:\n{code}")).await?;
    Ok(output.content.unwrap_or_default())
}

/// Sets (or, with `None`, removes) an environment variable; the caller holds [`ENV`].
fn set_env(name: &str, value: Option<&str>) {
    // SAFETY: every test of this binary that reads or writes the environment holds `ENV`.
    unsafe {
        match value {
            Some(value) => std::env::set_var(name, value),
            None => std::env::remove_var(name),
        }
    }
}

/// Everything that depends on `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL`, in one test under
/// the lock: the offline fallback, the refusal of Anthropic's address without a key, a local
/// server asked without one, and the agent task.
#[test]
fn environment_the_offline_fallback_and_the_agent_task() {
    let _env = env_lock();
    let saved: Vec<(&str, Option<String>)> =
        ["ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"].into_iter().map(|n| (n, std::env::var(n).ok())).collect();
    // Multi-threaded: the immediate task backend then runs the task's agent on it (its own
    // fallback runtime has no I/O).
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();

    // No key: the offline model, and Anthropic's own address is refused at once.
    set_env("ANTHROPIC_API_KEY", None);
    set_env("ANTHROPIC_BASE_URL", None);
    let model = claude_or_offline("haiku");
    assert_eq!((model.id(), model.provider()), ("offline", "Offline"));
    set_env("ANTHROPIC_API_KEY", Some("  "));
    assert_eq!(claude_or_offline("haiku").provider(), "Offline", "an empty key is no key");
    let model = Claude::new("haiku");
    assert!(!model.has_api_key());
    assert_eq!(model.endpoint(), Some(anthropic::DEFAULT_BASE_URL));
    let out = runtime.block_on(agent(model).run("Hi").into_future()).unwrap();
    assert_error(&out, &["Anthropic: no API key: set ANTHROPIC_API_KEY or call .api_key(..)"]);

    // No key, another address: asked without one.
    let server = AnthropicStandIn::scripted(vec![Reply::text("no key needed")]);
    set_env("ANTHROPIC_BASE_URL", Some(server.base_url()));
    let out = runtime.block_on(agent(Claude::new("sonnet")).run("Hi").into_future()).unwrap();
    assert_completed(&out, "no key needed", 10, 5);
    assert_eq!(server.requests()[0].header("x-api-key"), None);

    // The task's agent without a key: the offline model answers.
    let tasks = Tasks::new(Arc::new(ImmediateBackend::new()), "session-1");
    tasks.add(security_review, "eval(input())".to_owned());
    assert_eq!(tasks.pop(security_review).as_deref(), Some("You said: \"Review for security:\neval(input())\""));

    // With a key and the stand-in's address: Claude, with the system prompt and the resolved id.
    let server = AnthropicStandIn::scripted(vec![Reply::text("No issues found.")]);
    set_env("ANTHROPIC_API_KEY", Some(KEY));
    set_env("ANTHROPIC_BASE_URL", Some(server.base_url()));
    let model = claude_or_offline("opus");
    assert_eq!((model.id(), model.provider(), model.endpoint()), (OPUS, "Anthropic", Some(server.base_url())));
    runtime.block_on(async { tasks.add(security_review, "eval(input())".to_owned()) });
    assert_eq!(tasks.pop(security_review).as_deref(), Some("No issues found."));
    assert!(tasks.pop_errors().is_empty());
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("x-api-key"), Some(KEY));
    assert_eq!(
        requests[0].body,
        json!({"model": HAIKU, "max_tokens": anthropic::DEFAULT_MAX_TOKENS,
               "system": "You review code for security issues.",
               "messages": [{"role": "user", "content": "Review for security:\neval(input())"}]})
    );

    for (name, value) in &saved {
        set_env(name, value.as_deref());
    }
}

/// Reads an SSE body with agno's own parser; the `(event, data)` pairs.
fn sse_events(body: &str) -> Vec<(String, serde_json::Value)> {
    let mut parser = agno::models::sse::SseParser::new();
    let mut frames = Vec::new();
    parser.feed(body.as_bytes(), &mut frames);
    assert!(!parser.has_partial_frame());
    frames.into_iter().map(|f| (f.event.unwrap_or_default(), serde_json::from_str(&f.data).unwrap())).collect()
}

#[tokio::test]
async fn the_stand_in_plays_claude_code() {
    let server = AnthropicStandIn::claude_code("/tmp/project/app.py", "print('héllo')\n", "Done.");
    agno::models::openai::install_tls_provider();
    let http = reqwest::Client::new();
    let url = format!("{}/v1/messages?beta=true", server.base_url());
    let post = |body: serde_json::Value| http.post(&url).json(&body).send();
    let write_tool =
        json!([{"name": "Write", "input_schema": {"type": "object"}}, {"name": "Read", "input_schema": {}}]);

    // A streamed request offering Write, no tool_result yet: a tool_use of Write.
    let ask = json!({"model": "claude-sonnet-4-5", "stream": true, "tools": write_tool,
                     "messages": [{"role": "user", "content": [{"type": "text", "text": "write app.py"}]}]});
    let answer = post(ask.clone()).await.unwrap();
    assert_eq!(answer.headers()["content-type"], "text/event-stream; charset=utf-8");
    let events = sse_events(&answer.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(events.iter().all(|(name, data)| data["type"] == name.as_str()));
    assert_eq!(events[0].1["message"]["model"], "claude-sonnet-4-5");
    let start = events.iter().find(|(e, _)| e == "content_block_start").unwrap();
    assert_eq!(start.1["content_block"]["type"], "tool_use");
    assert_eq!(start.1["content_block"]["name"], "Write");
    assert!(start.1["content_block"]["id"].as_str().unwrap().starts_with("toolu_"));
    let input: String = events
        .iter()
        .filter(|(e, _)| e == "content_block_delta")
        .map(|(_, d)| {
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"].as_str().unwrap().to_owned()
        })
        .collect();
    let input: serde_json::Value = serde_json::from_str(&input).unwrap();
    assert_eq!(input, json!({"file_path": "/tmp/project/app.py", "content": "print('héllo')\n"}));
    let delta = events.iter().find(|(e, _)| e == "message_delta").unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "tool_use");

    // Once the conversation has a tool_result: the text, streamed.
    server.set_text("All written.");
    let mut after = ask.clone();
    after["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Write", "input": input}]}),
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]}),
    ]);
    let events = sse_events(&post(after).await.unwrap().text().await.unwrap());
    let text: String = events
        .iter()
        .filter(|(e, _)| e == "content_block_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "All written.");
    assert!(events.iter().any(|(_, d)| d["delta"]["stop_reason"] == "end_turn"));

    // Not streamed: a whole text message, even with Write offered.
    let mut whole = ask.clone();
    whole["stream"] = json!(false);
    let answer: serde_json::Value = post(whole).await.unwrap().json().await.unwrap();
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["content"], json!([{"type": "text", "text": "All written."}]));
    assert_eq!(answer["stop_reason"], "end_turn");

    // The same Write again, for a new conversation, at the new path.
    server.set_write("/tmp/project/.env", "SECRET=1");
    let events = sse_events(&post(ask).await.unwrap().text().await.unwrap());
    let input: String =
        events.iter().filter_map(|(_, d)| d["delta"]["partial_json"].as_str()).collect::<Vec<_>>().concat();
    assert!(input.contains("/tmp/project/.env"), "{input}");

    // Other routes.
    let base = server.base_url();
    let count = http.post(format!("{base}/v1/messages/count_tokens?beta=true")).json(&json!({"messages": []}));
    let count: serde_json::Value = count.send().await.unwrap().json().await.unwrap();
    assert!(count["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(http.head(format!("{base}/")).send().await.unwrap().status(), 200);
    let missing = http.get(format!("{base}/v1/models")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let missing: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(missing["error"]["type"], "not_found_error");

    let requests = server.requests();
    let seen: Vec<(&str, &str)> = requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("POST", "/v1/messages?beta=true"),
            ("POST", "/v1/messages?beta=true"),
            ("POST", "/v1/messages?beta=true"),
            ("POST", "/v1/messages?beta=true"),
            ("POST", "/v1/messages/count_tokens?beta=true"),
            ("HEAD", "/"),
            ("GET", "/v1/models"),
        ]
    );
    assert_eq!(server.message_bodies().len(), 4);
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
}
