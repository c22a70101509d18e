//! Both OpenAI models against a fake OpenAI-compatible server on loopback, started inside each
//! test: recorded answer shapes (whole and streamed), retries on 429 and 5xx, retries running out,
//! malformed JSON, a stream cut in the middle of a frame, and frames split across TCP writes.
//! Every case runs a real `Agent` and checks its `RunOutput`.
//!
//! The server answers one request per connection from a script, and records the requests.
//! Nothing here measures time; retry waits are set to a millisecond.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agno::models::openai::{OpenAIChat, OpenAIResponses};
use agno::prelude::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::model_runs::{assert_completed, assert_error, drain, split_awkwardly};

const KEY: &str = "sk-test-SECRET-0123456789";

/// One scripted answer.
#[derive(Clone)]
enum Reply {
    /// A whole HTTP response.
    Full { status: u16, headers: Vec<(&'static str, String)>, body: String },
    /// A `text/event-stream` body without length, written piece by piece (each written and flushed
    /// separately, with a short pause), then the connection is closed.
    Pieces(Vec<String>),
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self::Full { status, headers: vec![("content-type", "application/json".into())], body: body.to_string() }
    }
    fn with_header(mut self, name: &'static str, value: &str) -> Self {
        if let Self::Full { headers, .. } = &mut self {
            headers.push((name, value.to_owned()));
        }
        self
    }
}

/// What the server received.
#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    authorization: Option<String>,
    body: Value,
}

struct FakeServer {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeServer {
    async fn start(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(replies)));
        let recorded = Arc::clone(&requests);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let reply = script.lock().unwrap().pop_front();
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move { serve(socket, reply, recorded).await });
            }
        });
        Self { url, requests }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads one request (headers, then `Content-Length` bytes of body) and answers it.
async fn serve(mut socket: TcpStream, reply: Option<Reply>, recorded: Arc<Mutex<Vec<Recorded>>>) {
    socket.set_nodelay(true).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = socket.read(&mut chunk).await.unwrap();
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while buf.len() < header_end + length {
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the client closed mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    let body = serde_json::from_slice(&buf[header_end..header_end + length]).unwrap_or(Value::Null);
    recorded.lock().unwrap().push(Recorded { path, authorization: header("authorization"), body });

    let reply = reply.unwrap_or_else(|| Reply::json(500, json!({"error": {"message": "the script ran out"}})));
    match reply {
        Reply::Full { status, headers, body } => {
            let mut response =
                format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
            for (name, value) in headers {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str("\r\n");
            response.push_str(&body);
            let _ = socket.write_all(response.as_bytes()).await;
        }
        Reply::Pieces(pieces) => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
            let _ = socket.write_all(head.as_bytes()).await;
            for piece in pieces {
                let _ = socket.write_all(piece.as_bytes()).await;
                let _ = socket.flush().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    let _ = socket.shutdown().await;
}

fn chat(server: &FakeServer) -> OpenAIChat {
    OpenAIChat::new("gpt-4o").base_url(&server.url).api_key(KEY).retry_backoff(Duration::from_millis(1))
}

fn responses(server: &FakeServer) -> OpenAIResponses {
    OpenAIResponses::new("gpt-5.2").base_url(&server.url).api_key(KEY).retry_backoff(Duration::from_millis(1))
}

fn agent(model: impl agno::models::Model) -> Agent {
    Agent::builder().id("openai-agent").instructions("Be brief.").model(model).build().unwrap()
}

fn chat_completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-abc", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 19, "completion_tokens": 9, "total_tokens": 28,
                  "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}},
        "system_fingerprint": "fp_1"
    })
}

fn response_object(content: &str) -> Value {
    json!({
        "id": "resp_abc", "object": "response", "created_at": 1_700_000_000, "status": "completed",
        "model": "gpt-5.2-2025-12-11", "error": null, "incomplete_details": null,
        "output": [
            {"id": "rs_1", "type": "reasoning", "summary": []},
            {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": content}]}
        ],
        "usage": {"input_tokens": 21, "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": 12, "output_tokens_details": {"reasoning_tokens": 4}, "total_tokens": 33}
    })
}

/// A chat stream as OpenAI sends it, cut into awkward pieces (inside `data:`, inside JSON, inside
/// a UTF-8 character, between the two newlines of a frame end).
fn chat_stream_pieces() -> Vec<String> {
    let frames = [
        r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
        r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Héllo"},"finish_reason":null}],"usage":null}"#,
        r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" world!"},"finish_reason":null}],"usage":null}"#,
        r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#,
        r#"{"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":3,"total_tokens":22}}"#,
    ];
    let mut text: String = frames.iter().map(|f| format!("data: {f}\n\n")).collect();
    text.push_str("data: [DONE]\n\n");
    split_awkwardly(&text)
}

fn responses_stream_text() -> String {
    let events = [
        (
            "response.created",
            json!({"type": "response.created", "sequence_number": 0, "response": {"id": "resp_1", "status": "in_progress", "output": [], "usage": null}}),
        ),
        (
            "response.in_progress",
            json!({"type": "response.in_progress", "sequence_number": 1, "response": {"id": "resp_1", "status": "in_progress"}}),
        ),
        (
            "response.output_item.added",
            json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0, "item": {"id": "msg_1", "type": "message", "status": "in_progress", "content": [], "role": "assistant"}}),
        ),
        (
            "response.output_text.delta",
            json!({"type": "response.output_text.delta", "sequence_number": 3, "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hi", "logprobs": []}),
        ),
        (
            "response.output_text.delta",
            json!({"type": "response.output_text.delta", "sequence_number": 4, "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": " there", "logprobs": []}),
        ),
        (
            "response.output_text.done",
            json!({"type": "response.output_text.done", "sequence_number": 5, "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": "Hi there", "logprobs": []}),
        ),
        (
            "response.completed",
            json!({"type": "response.completed", "sequence_number": 6, "response": {"id": "resp_1", "status": "completed", "output": [], "usage": {"input_tokens": 14, "output_tokens": 2, "total_tokens": 16}}}),
        ),
    ];
    events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect()
}

#[tokio::test]
async fn chat_whole_answer() {
    let server = FakeServer::start(vec![Reply::json(200, chat_completion("Hello! How can I help?"))]).await;
    let out = agent(chat(&server)).run("Hi").await.unwrap();
    assert_completed(&out, "Hello! How can I help?", 19, 9);
    assert_eq!(out.model.as_deref(), Some("gpt-4o"));
    assert_eq!(out.model_provider.as_deref(), Some("OpenAI"));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert_eq!(requests[0].authorization.as_deref(), Some(&*format!("Bearer {KEY}")));
    assert_eq!(
        requests[0].body,
        json!({"model": "gpt-4o", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})
    );
}

#[tokio::test]
async fn chat_stream_with_frames_split_across_writes() {
    let server = FakeServer::start(vec![Reply::Pieces(chat_stream_pieces())]).await;
    let (pieces, out) = drain(agent(chat(&server)).run("Hi").stream()).await;
    assert_eq!(pieces, ["Héllo", " world!"]);
    assert_completed(&out, "Héllo world!", 19, 3);
    let body = &server.requests()[0].body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
}

#[tokio::test]
async fn responses_whole_answer() {
    let server = FakeServer::start(vec![Reply::json(200, response_object("Hello from gpt-5.2"))]).await;
    let out = agent(responses(&server)).run("Hi").await.unwrap();
    assert_completed(&out, "Hello from gpt-5.2", 21, 12);
    let requests = server.requests();
    assert_eq!(requests[0].path, "/v1/responses");
    assert_eq!(
        requests[0].body,
        json!({"model": "gpt-5.2", "input": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})
    );
}

#[tokio::test]
async fn responses_stream_with_frames_split_across_writes() {
    let server = FakeServer::start(vec![Reply::Pieces(split_awkwardly(&responses_stream_text()))]).await;
    let (pieces, out) = drain(agent(responses(&server)).run("Hi").stream()).await;
    assert_eq!(pieces, ["Hi", " there"]);
    assert_completed(&out, "Hi there", 14, 2);
    assert_eq!(server.requests()[0].body["stream"], true);
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried() {
    let limited =
        json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}});
    for retry_after in ["0", "1"] {
        let server = FakeServer::start(vec![
            Reply::json(429, limited.clone()).with_header("retry-after", retry_after),
            Reply::json(200, chat_completion("after the wait")),
        ])
        .await;
        let out = agent(chat(&server)).run("Hi").await.unwrap();
        assert_completed(&out, "after the wait", 19, 9);
        assert_eq!(server.requests().len(), 2);
    }
}

#[tokio::test]
async fn a_500_is_retried_for_whole_and_streamed_answers() {
    let server_error = json!({"error": {"message": "The server had an error", "type": "server_error"}});
    let server = FakeServer::start(vec![
        Reply::json(500, server_error.clone()),
        Reply::json(502, server_error.clone()),
        Reply::json(200, response_object("third time lucky")),
    ])
    .await;
    let out = agent(responses(&server)).run("Hi").await.unwrap();
    assert_completed(&out, "third time lucky", 21, 12);
    assert_eq!(server.requests().len(), 3);

    let server =
        FakeServer::start(vec![Reply::json(503, server_error), Reply::Pieces(vec![responses_stream_text()])]).await;
    let (_, out) = drain(agent(responses(&server)).run("Hi").stream()).await;
    assert_completed(&out, "Hi there", 14, 2);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn retries_run_out() {
    let overloaded = json!({"error": {"message": "The engine is overloaded", "type": "server_error"}});
    let server = FakeServer::start(vec![Reply::json(503, overloaded.clone()); 3]).await;
    let out = agent(chat(&server).max_retries(2)).run("Hi").await.unwrap();
    assert_error(
        &out,
        &["OpenAI error: HTTP 503 Service Unavailable", "The engine is overloaded", "(after 3 attempts)"],
    );
    assert_eq!(server.requests().len(), 3);

    // Streamed: the same, as the run's error.
    let server = FakeServer::start(vec![Reply::json(429, overloaded.clone()).with_header("retry-after", "0"); 2]).await;
    let (_, out) = drain(agent(responses(&server).max_retries(1)).run("Hi").stream()).await;
    assert_error(&out, &["HTTP 429 Too Many Requests", "(after 2 attempts)"]);

    // No retries at all.
    let server = FakeServer::start(vec![Reply::json(500, overloaded)]).await;
    let out = agent(chat(&server).max_retries(0)).run("Hi").await.unwrap();
    assert_error(&out, &["HTTP 500 Internal Server Error"]);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_never_show_the_key() {
    let bad_key = json!({"error": {"message": "Incorrect API key provided: sk-test-***6789.", "type": "invalid_request_error", "code": "invalid_api_key"}});
    let server = FakeServer::start(vec![Reply::json(401, bad_key)]).await;
    let out = agent(chat(&server)).run("Hi").await.unwrap();
    assert_error(&out, &["HTTP 401 Unauthorized", "Incorrect API key provided", "invalid_api_key"]);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn malformed_json_is_a_run_error() {
    let garbage = Reply::Full { status: 200, headers: vec![], body: "{\"choices\": [ oops".into() };
    let server = FakeServer::start(vec![garbage.clone()]).await;
    let out = agent(chat(&server)).run("Hi").await.unwrap();
    assert_error(&out, &["OpenAI error: the answer is not valid JSON", "{\"choices\": [ oops"]);

    let server = FakeServer::start(vec![garbage]).await;
    let out = agent(responses(&server)).run("Hi").await.unwrap();
    assert_error(&out, &["not valid JSON"]);

    // A valid JSON answer of the wrong shape.
    let server = FakeServer::start(vec![Reply::json(200, json!({"unexpected": true}))]).await;
    let out = agent(chat(&server)).run("Hi").await.unwrap();
    assert_error(&out, &["no `choices`"]);

    // A stream event that is not JSON.
    let server = FakeServer::start(vec![Reply::Pieces(vec!["data: {\"choices\": nope}\n\n".into()])]).await;
    let (_, out) = drain(agent(chat(&server)).run("Hi").stream()).await;
    assert_error(&out, &["a stream event is not valid JSON"]);
}

#[tokio::test]
async fn a_stream_cut_mid_frame_is_a_run_error() {
    let whole = chat_stream_pieces().concat();
    let cut = whole.find(" world").unwrap();
    let server = FakeServer::start(vec![Reply::Pieces(vec![whole[..cut].to_owned()])]).await;
    let (pieces, out) = drain(agent(chat(&server)).run("Hi").stream()).await;
    assert_eq!(pieces, ["Héllo"], "what came before the cut was streamed");
    assert_error(&out, &["the stream was cut in the middle of an event before the answer was complete"]);

    let whole = responses_stream_text();
    let cut = whole.find("response.completed\ndata: {").unwrap() + 30;
    let server = FakeServer::start(vec![Reply::Pieces(vec![whole[..cut].to_owned()])]).await;
    let (_, out) = drain(agent(responses(&server)).run("Hi").stream()).await;
    assert_error(&out, &["the stream was cut"]);

    // Closed between frames, before `response.completed`: cut as well.
    let cut = whole.find("event: response.completed").unwrap();
    let server = FakeServer::start(vec![Reply::Pieces(vec![whole[..cut].to_owned()])]).await;
    let (_, out) = drain(agent(responses(&server)).run("Hi").stream()).await;
    assert_error(&out, &["the stream was cut before the answer was complete"]);
}

#[tokio::test]
async fn a_provider_error_inside_a_stream_is_a_run_error() {
    let failed = "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"Something broke\"}}}\n\n";
    let server = FakeServer::start(vec![Reply::Pieces(vec![failed.into()])]).await;
    let (_, out) = drain(agent(responses(&server)).run("Hi").stream()).await;
    assert_error(&out, &["OpenAI error: Something broke (server_error)"]);
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_run_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let model = OpenAIChat::new("gpt-4o").base_url(url).api_key(KEY).max_retries(1).retry_backoff(Duration::ZERO);
    let out = agent(model).run("Hi").await.unwrap();
    assert_error(&out, &["OpenAI error: request to http://127.0.0.1:", "failed", "(after 2 attempts)"]);
}

#[tokio::test]
async fn teams_route_and_collaborate_through_an_openai_leader() {
    // Route: the leader names a member by id; that member's answer is the team's.
    let server = FakeServer::start(vec![
        Reply::json(200, chat_completion("critic")),
        Reply::json(200, chat_completion("Needs work.")),
    ])
    .await;
    let member = |name: &str| Agent::builder().name(name).model(chat(&server)).build().unwrap();
    let team = Team::builder()
        .id("desk")
        .mode(TeamMode::Route)
        .model(chat(&server))
        .member(member("Writer"))
        .member(member("Critic"))
        .build()
        .unwrap();
    let out = team.run("Is this draft good?").await.unwrap();
    assert_eq!(out.status, RunStatus::Completed, "{:?}", out.content);
    assert_eq!(out.content.as_deref(), Some("Needs work."));
    assert_eq!(out.member_responses[0].agent_id, "critic");
    assert_eq!(out.metrics.input_tokens, Some(19 + 19), "the leader's and the member's tokens");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let roster = requests[0].body["messages"][0]["content"].as_str().unwrap().to_owned();
    assert!(roster.contains("- writer (Writer)") && roster.contains("- critic (Critic)"), "{roster}");
    assert_eq!(requests[1].body["messages"], json!([{"role": "user", "content": "Is this draft good?"}]));

    // Collaborate: both members answer, then the leader answers with their answers in its prompt.
    let server = FakeServer::start(vec![
        Reply::json(200, chat_completion("Draft A.")),
        Reply::json(200, chat_completion("Too long.")),
        Reply::json(200, chat_completion("Shorten draft A.")),
    ])
    .await;
    let member = |name: &str| Agent::builder().name(name).model(chat(&server)).build().unwrap();
    let team = Team::builder().id("room").model(chat(&server)).member(member("Writer")).member(member("Critic"));
    let out = team.build().unwrap().run("Write a title").await.unwrap();
    assert_eq!(out.content.as_deref(), Some("Shorten draft A."));
    let leader_prompt = server.requests()[2].body["messages"][0]["content"].as_str().unwrap().to_owned();
    assert_eq!(leader_prompt, "Write a title\n\nThe team members answered:\n- Writer: Draft A.\n- Critic: Too long.");
}
