//! A loopback stand-in of Anthropic's Messages API, for the Claude model's tests and for
//! end-to-end tests that run the real Claude Code CLI against it.
//!
//! It runs on a thread of its own with its own tokio runtime, so sync `#[test]`s and
//! `#[tokio::test]`s can both use it, binds `127.0.0.1:0`, answers one request per connection
//! (`connection: close`) and records every request. Two modes:
//!
//! * **Scripted** ([`AnthropicStandIn::scripted`]): each `POST` to `/v1/messages` takes the next
//!   [`Reply`]; when the script has run out it answers 500.
//! * **Claude Code** ([`AnthropicStandIn::claude_code`]): a streamed request that offers a tool
//!   named `Write` and has no `tool_result` block yet gets a `tool_use` of `Write` with the
//!   configured `file_path` and `content`; every other request gets the configured text
//!   (`stop_reason: end_turn`), streamed or whole as asked.
//!
//! In both modes `POST /v1/messages/count_tokens` answers `{"input_tokens": ..}`, `HEAD` and
//! `GET /` answer 200, and other paths a 404 with Anthropic's error body.
//!
//! ```ignore
//! let server = AnthropicStandIn::claude_code("/tmp/p/app.py", "print(1)\n", "Done.");
//! // run `claude -p` with ANTHROPIC_BASE_URL=server.base_url() ...
//! let bodies = server.message_bodies();
//! server.set_text("Something else.");
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// One scripted answer to a `POST /v1/messages`.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A text answer with these token counts: a whole `message` when the request says
    /// `stream: false`, the event stream of [`sse_text`] when it says `stream: true`.
    Text { text: String, input_tokens: u64, output_tokens: u64 },
    /// A whole HTTP response.
    Http { status: u16, headers: Vec<(String, String)>, body: String },
    /// A `text/event-stream` body without a length, written in these pieces (each written and
    /// flushed on its own, with a short pause between), then the connection is closed.
    Sse(Vec<String>),
}

impl Reply {
    /// A text answer with 10 input and 5 output tokens.
    pub fn text(text: &str) -> Self {
        Self::Text { text: text.to_owned(), input_tokens: 10, output_tokens: 5 }
    }

    /// A text answer with these token counts.
    pub fn text_with_usage(text: &str, input_tokens: u64, output_tokens: u64) -> Self {
        Self::Text { text: text.to_owned(), input_tokens, output_tokens }
    }

    /// An HTTP error with Anthropic's error body:
    /// `{"type": "error", "error": {"type": error_type, "message": message}}`.
    pub fn error(status: u16, error_type: &str, message: &str) -> Self {
        let body = json!({"type": "error", "error": {"type": error_type, "message": message}});
        Self::json(status, body)
    }

    /// A JSON answer with this status.
    pub fn json(status: u16, body: Value) -> Self {
        Self::Http { status, headers: vec![("content-type".into(), "application/json".into())], body: body.to_string() }
    }

    /// Adds a header (`retry-after`, `retry-after-ms`) to an [`Reply::Http`] answer.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Self::Http { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }
}

/// What the stand-in received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `POST`, `HEAD`, ...
    pub method: String,
    /// The path with its query (`/v1/messages?beta=true`).
    pub path: String,
    /// Every header, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
}

impl Recorded {
    /// The value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The path without its query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
}

/// What the Claude Code mode answers.
#[derive(Debug, Clone)]
struct ClaudeCode {
    file_path: String,
    content: String,
    text: String,
}

/// How the stand-in answers `/v1/messages`.
#[derive(Debug)]
enum Mode {
    Scripted(VecDeque<Reply>),
    ClaudeCode(ClaudeCode),
}

#[derive(Debug)]
struct State {
    mode: Mutex<Mode>,
    requests: Mutex<Vec<Recorded>>,
    ids: AtomicU64,
}

impl State {
    fn mode(&self) -> MutexGuard<'_, Mode> {
        self.mode.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running stand-in; it stops when dropped.
pub struct AnthropicStandIn {
    base_url: String,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AnthropicStandIn {
    /// A stand-in that answers `/v1/messages` with `replies`, in order.
    pub fn scripted(replies: Vec<Reply>) -> Self {
        Self::start(Mode::Scripted(replies.into()))
    }

    /// A stand-in in Claude Code mode: it asks for a `Write` of `content` to `file_path` once
    /// per conversation, and otherwise answers `text`.
    pub fn claude_code(file_path: &str, content: &str, text: &str) -> Self {
        Self::start(Mode::ClaudeCode(ClaudeCode {
            file_path: file_path.to_owned(),
            content: content.to_owned(),
            text: text.to_owned(),
        }))
    }

    fn start(mode: Mode) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let base_url = format!("http://{}", listener.local_addr().expect("a local address"));
        let state =
            Arc::new(State { mode: Mutex::new(mode), requests: Mutex::new(Vec::new()), ids: AtomicU64::new(1) });
        let (stop, stopped) = oneshot::channel::<()>();
        let served = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("anthropic-stand-in".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("a tokio listener");
                    let accept = async {
                        while let Ok((socket, _)) = listener.accept().await {
                            tokio::spawn(serve(socket, Arc::clone(&served)));
                        }
                    };
                    tokio::select! {
                        _ = accept => {}
                        _ = stopped => {}
                    }
                });
            })
            .expect("the stand-in's thread");
        Self { base_url, state, stop: Some(stop), thread: Some(thread) }
    }

    /// `http://127.0.0.1:<port>`: what `ANTHROPIC_BASE_URL` or `Claude::base_url` takes.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every request so far, in the order they arrived.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The JSON bodies of the requests to `/v1/messages` (any query), in order.
    pub fn message_bodies(&self) -> Vec<Value> {
        self.requests().into_iter().filter(|r| r.route() == "/v1/messages").map(|r| r.body).collect()
    }

    /// Claude Code mode: the `Write` asked for from now on.
    pub fn set_write(&self, file_path: &str, content: &str) {
        if let Mode::ClaudeCode(cc) = &mut *self.state.mode() {
            cc.file_path = file_path.to_owned();
            cc.content = content.to_owned();
        }
    }

    /// Claude Code mode: the text answered from now on.
    pub fn set_text(&self, text: &str) {
        if let Mode::ClaudeCode(cc) = &mut *self.state.mode() {
            cc.text = text.to_owned();
        }
    }
}

impl Drop for AnthropicStandIn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request and answers it.
async fn serve(mut socket: TcpStream, state: Arc<State>) {
    let _ = socket.set_nodelay(true);
    let Some(request) = read_request(&mut socket).await else { return };
    state.requests.lock().unwrap_or_else(|e| e.into_inner()).push(request.clone());
    let reply = answer(&request, &state);
    write_reply(&mut socket, reply).await;
    let _ = socket.shutdown().await;
}

/// Reads the head and the body (`content-length` or chunked).
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
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    if header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        let _ = socket.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
    }
    let mut body = buf.split_off(head_end);
    let body = if chunked {
        loop {
            if let Some(decoded) = dechunk(&body) {
                break decoded;
            }
            let n = socket.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        while body.len() < length {
            let n = socket.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(length);
        body
    };
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Some(Recorded { method, path, headers, body })
}

/// A whole chunked body, or `None` while its last chunk has not arrived.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// What to answer `request` with.
fn answer(request: &Recorded, state: &State) -> Reply {
    let route = request.route();
    if request.method == "HEAD" || (request.method == "GET" && route == "/") {
        return Reply::Http { status: 200, headers: vec![], body: String::new() };
    }
    if request.method == "POST" && route == "/v1/messages/count_tokens" {
        return Reply::json(200, json!({"input_tokens": rough_tokens(&request.body)}));
    }
    if request.method != "POST" || route != "/v1/messages" {
        return Reply::error(
            404,
            "not_found_error",
            &format!("the stand-in does not serve {} {route}", request.method),
        );
    }
    let id = state.ids.fetch_add(1, Ordering::Relaxed);
    let stream = request.body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let model = request.body.get("model").and_then(Value::as_str).unwrap_or("claude-stand-in").to_owned();
    let reply = match &mut *state.mode() {
        Mode::Scripted(script) => {
            script.pop_front().unwrap_or_else(|| Reply::error(500, "api_error", "the script ran out"))
        }
        Mode::ClaudeCode(cc) => {
            let input_tokens = rough_tokens(&request.body);
            if stream && offers_write(&request.body) && !has_tool_result(&request.body) {
                return Reply::Sse(vec![sse_write(id, &model, input_tokens, &cc.file_path, &cc.content)]);
            }
            Reply::Text { text: cc.text.clone(), input_tokens, output_tokens: rough_count(&cc.text) }
        }
    };
    match reply {
        Reply::Text { text, input_tokens, output_tokens } if stream => {
            Reply::Sse(vec![sse_text_with(id, &model, &text, input_tokens, output_tokens)])
        }
        Reply::Text { text, input_tokens, output_tokens } => Reply::json(
            200,
            json!({
                "id": format!("msg_standin_{id}"), "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn", "stop_sequence": null,
                "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "output_tokens": output_tokens}
            }),
        ),
        other => other,
    }
}

/// Whether the request offers a tool named `Write`.
fn offers_write(body: &Value) -> bool {
    body.get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| tools.iter().any(|t| t.get("name").and_then(Value::as_str) == Some("Write")))
}

/// Whether any message holds a `tool_result` block.
fn has_tool_result(body: &Value) -> bool {
    let messages = body.get("messages").and_then(Value::as_array).into_iter().flatten();
    messages
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .any(|block| block.get("type").and_then(Value::as_str) == Some("tool_result"))
}

/// About a token per four bytes of the body (at least 1).
fn rough_tokens(body: &Value) -> u64 {
    (body.to_string().len() as u64 / 4).max(1)
}

/// About a token per word (at least 1).
fn rough_count(text: &str) -> u64 {
    (text.split_whitespace().count() as u64).max(1)
}

/// One SSE frame as Anthropic writes it.
fn frame(event: &str, data: Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// `message_start` with these counts.
fn message_start(id: u64, model: &str, input_tokens: u64) -> String {
    frame(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": format!("msg_standin_{id}"), "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": 1}
        }}),
    )
}

/// `content_block_stop`, `message_delta` and `message_stop`.
fn message_end(stop_reason: &str, output_tokens: u64) -> String {
    let mut text = frame("content_block_stop", json!({"type": "content_block_stop", "index": 0}));
    text += &frame(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
               "usage": {"output_tokens": output_tokens}}),
    );
    text += &frame("message_stop", json!({"type": "message_stop"}));
    text
}

/// The event stream of a text answer, as Anthropic sends it: `message_start`, a text block
/// whose text comes in word-sized `text_delta`s, a `ping`, `message_delta` with
/// `stop_reason: end_turn` and the output tokens, and `message_stop`.
pub fn sse_text(text: &str, input_tokens: u64, output_tokens: u64) -> String {
    sse_text_with(1, "claude-haiku-4-5", text, input_tokens, output_tokens)
}

fn sse_text_with(id: u64, model: &str, text: &str, input_tokens: u64, output_tokens: u64) -> String {
    let mut out = message_start(id, model, input_tokens);
    out += &frame(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    );
    out += &frame("ping", json!({"type": "ping"}));
    for piece in text.split_inclusive(' ') {
        out += &frame(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}),
        );
    }
    out + &message_end("end_turn", output_tokens)
}

/// The event stream of a `tool_use` of `Write`, its input in three `input_json_delta`s.
fn sse_write(id: u64, model: &str, input_tokens: u64, file_path: &str, content: &str) -> String {
    let mut out = message_start(id, model, input_tokens);
    out += &frame(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": format!("toolu_standin_{id}"), "name": "Write", "input": {}
        }}),
    );
    let input = json!({"file_path": file_path, "content": content}).to_string();
    let mut cuts = vec![0, input.len() / 3, 2 * input.len() / 3, input.len()];
    for cut in &mut cuts {
        while !input.is_char_boundary(*cut) {
            *cut += 1;
        }
    }
    for pair in cuts.windows(2) {
        out += &frame(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "input_json_delta", "partial_json": &input[pair[0]..pair[1]]}}),
        );
    }
    out + &message_end("tool_use", 20)
}

/// Writes `reply` (a text reply was turned into HTTP or SSE by [`answer`]).
async fn write_reply(socket: &mut TcpStream, reply: Reply) {
    match reply {
        Reply::Http { status, headers, body } => {
            let mut response = format!(
                "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\nconnection: close\r\n",
                reason(status),
                body.len()
            );
            for (name, value) in headers {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str("request-id: req_standin\r\n\r\n");
            response.push_str(&body);
            let _ = socket.write_all(response.as_bytes()).await;
        }
        Reply::Sse(pieces) => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\n\
                        request-id: req_standin\r\nconnection: close\r\n\r\n";
            let _ = socket.write_all(head.as_bytes()).await;
            let several = pieces.len() > 1;
            for piece in pieces {
                let _ = socket.write_all(piece.as_bytes()).await;
                let _ = socket.flush().await;
                if several {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        }
        Reply::Text { .. } => unreachable!("answer() turns text into HTTP or SSE"),
    }
}

/// The reason phrase of a status.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}
