//! A loopback stand-in of OpenAI's Chat Completions and Responses APIs that records every
//! request body, for tests that need to see exactly what a real `OpenAIChat` / `OpenAIResponses`
//! client sends.
//!
//! It binds `127.0.0.1:0` on the test's runtime, answers one request per connection
//! (`connection: close`) and takes the next [`Reply`] of its script for each request; when the
//! script has run out it answers 500. A [`Reply::Text`] is answered in the shape of the API the
//! path names (`/chat/completions` or `/responses`), whole or as an event stream as the request's
//! `stream` asks.
//!
//! Not part of `common/mod.rs`: a test that uses it includes it with
//! `#[path = "common/openai.rs"] mod openai_stand_in;`.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A text answer (whole, or streamed when the request says `stream: true`).
    Text(String),
    /// An HTTP error with OpenAI's error body.
    Error { status: u16, message: String },
}

impl Reply {
    pub fn text(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
    pub fn error(status: u16, message: &str) -> Self {
        Self::Error { status, message: message.to_owned() }
    }
}

/// What the stand-in received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The path (`/v1/chat/completions`).
    pub path: String,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
}

struct State {
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
}

/// The running stand-in; it stops with the test's runtime.
pub struct OpenAIStandIn {
    base_url: String,
    state: Arc<State>,
}

impl OpenAIStandIn {
    /// Starts serving `replies`, in order.
    pub async fn start(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let state = Arc::new(State { script: Mutex::new(replies.into()), requests: Mutex::new(Vec::new()) });
        let served = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, Arc::clone(&served)));
            }
        });
        Self { base_url, state }
    }

    /// `http://127.0.0.1:<port>/v1`: what `OpenAIChat::base_url` takes.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every request so far, in the order they arrived.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The request bodies, in order.
    pub fn bodies(&self) -> Vec<Value> {
        self.requests().into_iter().map(|r| r.body).collect()
    }

    /// Adds replies to the end of the script.
    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap_or_else(|e| e.into_inner()).extend(replies);
    }
}

async fn serve(mut socket: TcpStream, state: Arc<State>) {
    let _ = socket.set_nodelay(true);
    let Some(request) = read_request(&mut socket).await else { return };
    state.requests.lock().unwrap_or_else(|e| e.into_inner()).push(request.clone());
    let reply = state.script.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
    let reply = reply.unwrap_or_else(|| Reply::error(500, "the script ran out"));
    let stream = request.body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let responses = request.path.ends_with("/responses");
    let response = match reply {
        Reply::Error { status, message } => {
            http(status, "application/json", &json!({"error": {"message": message, "type": "test_error"}}).to_string())
        }
        Reply::Text(text) if stream && responses => http(200, "text/event-stream", &responses_stream(&text)),
        Reply::Text(text) if stream => http(200, "text/event-stream", &chat_stream(&text)),
        Reply::Text(text) if responses => http(200, "application/json", &response_object(&text).to_string()),
        Reply::Text(text) => http(200, "application/json", &chat_completion(&text).to_string()),
    };
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// Reads the head and `content-length` bytes of body.
async fn read_request(socket: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
    Some(Recorded { path, body })
}

fn http(status: u16, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// About a token per word (at least 1).
fn words(text: &str) -> u64 {
    (text.split_whitespace().count() as u64).max(1)
}

fn chat_completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-standin", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": words(content), "total_tokens": 10 + words(content)}
    })
}

fn chat_stream(content: &str) -> String {
    let mut frames = vec![json!({"id": "c1", "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]})];
    for piece in content.split_inclusive(' ') {
        frames.push(json!({"id": "c1", "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]}));
    }
    frames.push(json!({"id": "c1", "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}));
    frames.push(json!({"id": "c1", "object": "chat.completion.chunk", "choices": [],
        "usage": {"prompt_tokens": 10, "completion_tokens": words(content), "total_tokens": 10 + words(content)}}));
    let mut text: String = frames.iter().map(|f| format!("data: {f}\n\n")).collect();
    text.push_str("data: [DONE]\n\n");
    text
}

fn response_object(content: &str) -> Value {
    json!({
        "id": "resp_standin", "object": "response", "created_at": 1_700_000_000, "status": "completed",
        "model": "gpt-5.2-2025-12-11", "error": null, "incomplete_details": null,
        "output": [{"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "annotations": [], "text": content}]}],
        "usage": {"input_tokens": 10, "output_tokens": words(content), "total_tokens": 10 + words(content)}
    })
}

fn responses_stream(content: &str) -> String {
    let mut events = vec![(
        "response.created",
        json!({"type": "response.created", "response": {"id": "resp_1", "status": "in_progress", "output": []}}),
    )];
    for piece in content.split_inclusive(' ') {
        events.push((
            "response.output_text.delta",
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": piece}),
        ));
    }
    events.push((
        "response.completed",
        json!({"type": "response.completed", "response": {"id": "resp_1", "status": "completed", "output": [],
               "usage": {"input_tokens": 10, "output_tokens": words(content), "total_tokens": 10 + words(content)}}}),
    ));
    events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect()
}
