//! Anthropic's models: [`Claude`], on the Messages API (`POST {base_url}/v1/messages`), for
//! Anthropic and any server that speaks that API.
//!
//! * **Key**: `ANTHROPIC_API_KEY`, or [`api_key`](Claude::api_key). It is sent only in the
//!   `x-api-key` header (marked sensitive) and never appears in logs or errors. Without a key, a
//!   request to Anthropic's own address fails at once; other servers are asked without one.
//! * **Address**: `ANTHROPIC_BASE_URL` (as Claude Code reads it), or
//!   [`base_url`](Claude::base_url); default [`DEFAULT_BASE_URL`], without `/v1`.
//! * **Short names**: `haiku`, `sonnet` and `opus` stand for [`HAIKU`], [`SONNET`] and [`OPUS`]
//!   (see [`resolve_model_id`]); any other id is sent as given.
//! * **Messages**: the system message goes to the top-level `system` field; user and assistant
//!   messages alternate in `messages`, starting with the user (consecutive messages of one role
//!   are joined, and an empty or missing first user turn is sent as [`EMPTY_TURN`]).
//! * **Retries, timeout, streaming, errors** work as for the [OpenAI models](super::openai):
//!   429, 408, 409 and 5xx (529 is Anthropic's "overloaded") are retried after `retry-after-ms` /
//!   `retry-after` or an exponential backoff; a stream is retried only until its first byte and
//!   must end with `message_stop`; an error ends the run with status `ERROR` and a message such
//!   as `Anthropic error: HTTP 429 Too Many Requests: Number of requests has exceeded your rate
//!   limit (rate_limit_error) (after 3 attempts)`.
//!
//! ```no_run
//! use agno_core::Agent;
//! use agno_core::models::Claude;
//!
//! let agent = Agent::builder().model(Claude::new("haiku").max_tokens(2048)).build()?;
//! # Ok::<(), agno_core::Error>(())
//! ```

use std::collections::VecDeque;

use serde_json::{Value, json};

use super::http::{
    Auth, Client, Decoder, Provider, connection_methods, excerpt, http_model, json_error_message, tokens,
};
use super::sse::SseEvent;
use super::{Message, ModelChunk, ModelError, ModelRequest, ModelResponse, Role, Usage};

pub use super::http::{DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_DELAY, DEFAULT_RETRY_BACKOFF, DEFAULT_TIMEOUT};

/// The provider name [`Claude`] reports.
pub const PROVIDER: &str = "Anthropic";
/// Anthropic's API address; `ANTHROPIC_BASE_URL` or `.base_url(..)` replace it.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The `anthropic-version` header every request carries.
pub const API_VERSION: &str = "2023-06-01";
/// Default `max_tokens`, the longest answer asked for (the API requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;
/// The model the short name `haiku` stands for.
pub const HAIKU: &str = "claude-haiku-4-5";
/// The model the short name `sonnet` stands for.
pub const SONNET: &str = "claude-sonnet-4-5";
/// The model the short name `opus` stands for.
pub const OPUS: &str = "claude-opus-4-1";
/// What is sent as the user's turn when the conversation has none before the model's, or when it
/// is empty (the API refuses both).
pub const EMPTY_TURN: &str = "(no message)";

/// The path of the Messages API under the base URL.
const PATH: &str = "v1/messages";

/// Anthropic on the HTTP side.
static ANTHROPIC: Provider = Provider {
    name: PROVIDER,
    key_env: "ANTHROPIC_API_KEY",
    base_url_env: "ANTHROPIC_BASE_URL",
    default_base_url: DEFAULT_BASE_URL,
    auth: Auth::Header("x-api-key"),
    headers: &[("anthropic-version", API_VERSION)],
};

/// The model id a short name stands for: `haiku` → [`HAIKU`], `sonnet` → [`SONNET`], `opus` →
/// [`OPUS`] (in any case); any other string is returned as given.
///
/// ```
/// use agno_core::models::anthropic::resolve_model_id;
///
/// assert_eq!(resolve_model_id("haiku"), "claude-haiku-4-5");
/// assert_eq!(resolve_model_id("claude-3-5-haiku-latest"), "claude-3-5-haiku-latest");
/// ```
pub fn resolve_model_id(name: &str) -> &str {
    match name.trim().to_ascii_lowercase().as_str() {
        "haiku" => HAIKU,
        "sonnet" => SONNET,
        "opus" => OPUS,
        _ => name,
    }
}

/// A Claude model through Anthropic's Messages API (`POST {base_url}/v1/messages`). See the
/// [module docs](self) for keys, short names, retries and errors.
///
/// ```
/// use agno_core::models::{Claude, Model};
///
/// let model = Claude::new("sonnet").api_key("sk-ant-...").max_retries(4);
/// assert_eq!((model.id(), model.provider()), ("claude-sonnet-4-5", "Anthropic"));
/// ```
#[derive(Debug, Clone)]
pub struct Claude {
    id: String,
    max_tokens: u32,
    client: Client,
}

impl Claude {
    /// The model `id` (`"claude-haiku-4-5"`, or a short name: `"haiku"`, `"sonnet"`, `"opus"`),
    /// with `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL` from the environment.
    pub fn new(id: impl Into<String>) -> Self {
        let id = id.into();
        let id = match resolve_model_id(&id) {
            resolved if resolved != id => resolved.to_owned(),
            _ => id,
        };
        Self { id, max_tokens: DEFAULT_MAX_TOKENS, client: Client::from_env(&ANTHROPIC) }
    }

    connection_methods!("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "Anthropic's (`https://api.anthropic.com`)");

    /// The longest answer to ask for, in tokens (default [`DEFAULT_MAX_TOKENS`]; at least 1).
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = max_tokens.max(1);
        self
    }

    fn body(&self, request: &ModelRequest, stream: bool) -> Value {
        let (system, messages) = messages_json(&request.messages);
        let mut body = json!({ "model": self.id, "max_tokens": self.max_tokens, "messages": messages });
        if let Some(system) = system {
            body["system"] = json!(system);
        }
        if stream {
            body["stream"] = json!(true);
        }
        body
    }
}

/// The system prompt (every system message, joined) and the user/assistant turns, alternating
/// and starting with the user.
fn messages_json(messages: &[Message]) -> (Option<String>, Vec<Value>) {
    let text = |m: &Message| m.content.as_deref().unwrap_or("").trim_end().to_owned();
    let system: Vec<String> =
        messages.iter().filter(|m| m.role == Role::System).map(text).filter(|t| !t.is_empty()).collect();
    let mut turns: Vec<(&str, String)> = Vec::new();
    for message in messages.iter().filter(|m| m.role != Role::System) {
        let role = if message.role == Role::User { "user" } else { "assistant" };
        let content = text(message);
        match turns.last_mut() {
            Some((last, joined)) if *last == role => {
                if !content.is_empty() {
                    if !joined.is_empty() {
                        joined.push_str("\n\n");
                    }
                    joined.push_str(&content);
                }
            }
            _ => turns.push((role, content)),
        }
    }
    if turns.first().is_none_or(|(role, _)| *role != "user") {
        turns.insert(0, ("user", String::new()));
    }
    let turns = turns
        .into_iter()
        .map(|(role, content)| {
            let content = if content.is_empty() && role == "user" { EMPTY_TURN.to_owned() } else { content };
            json!({ "role": role, "content": content })
        })
        .collect();
    let system = (!system.is_empty()).then(|| system.join("\n\n"));
    (system, turns)
}

/// Tokens sent, from a `usage` object: `input_tokens` plus the cache's reads and writes.
fn input_tokens(usage: &Value) -> Option<u64> {
    let counts: Vec<u64> = ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"]
        .iter()
        .filter_map(|k| tokens(usage.get(*k)))
        .collect();
    (!counts.is_empty()).then(|| counts.iter().sum())
}

/// The message of an error object (`{"type": "error", "error": {"type", "message"}}`).
fn error(json: &Value) -> ModelError {
    let message = json_error_message(json).unwrap_or_else(|| excerpt(&json.to_string()));
    ModelError::new(format!("{PROVIDER} error: {message}"))
}

/// Logs a stop reason that means the answer is not what was asked for.
fn check_stop_reason(reason: Option<&str>) {
    match reason {
        Some("max_tokens") => tracing::warn!("Claude's answer was cut at max_tokens; raise it with .max_tokens(..)"),
        Some("refusal") => tracing::warn!("Claude refused to answer"),
        _ => {}
    }
}

/// The text of a whole answer: every `text` block of `content`.
fn parse_response(json: &Value) -> Result<ModelResponse, ModelError> {
    if json.get("type").and_then(Value::as_str) == Some("error") || json.get("error").is_some_and(|e| !e.is_null()) {
        return Err(error(json));
    }
    let blocks = json
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| ModelError::new(format!("{PROVIDER} error: the answer has no `content`")))?;
    let content = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    check_stop_reason(json.get("stop_reason").and_then(Value::as_str));
    let usage = json.get("usage").unwrap_or(&Value::Null);
    Ok(ModelResponse {
        content,
        usage: Usage { input_tokens: input_tokens(usage), output_tokens: tokens(usage.get("output_tokens")) },
    })
}

/// Reads Messages stream events up to `message_stop`.
#[derive(Debug, Default)]
struct ClaudeDecoder {
    usage: Usage,
    stop_reason: Option<String>,
}

impl ClaudeDecoder {
    /// Takes the counts of a `usage` object (later events carry the running totals).
    fn count(&mut self, usage: Option<&Value>) {
        let Some(usage) = usage.filter(|u| u.is_object()) else { return };
        if let Some(input) = input_tokens(usage) {
            self.usage.input_tokens = Some(input);
        }
        if let Some(output) = tokens(usage.get("output_tokens")) {
            self.usage.output_tokens = Some(output);
        }
    }
}

impl Decoder for ClaudeDecoder {
    fn frame(&mut self, frame: &SseEvent, out: &mut VecDeque<ModelChunk>) -> Result<bool, ModelError> {
        let data = frame.data.trim();
        if data.is_empty() {
            return Ok(false);
        }
        let json: Value = serde_json::from_str(data).map_err(|e| {
            ModelError::new(format!("{PROVIDER} error: a stream event is not valid JSON ({e}): {}", excerpt(data)))
        })?;
        let text = |value: Option<&Value>| value.and_then(|v| v.get("text")).and_then(Value::as_str).map(str::to_owned);
        match json.get("type").and_then(Value::as_str).or(frame.event.as_deref()).unwrap_or("") {
            "message_start" => self.count(json.pointer("/message/usage")),
            "content_block_start" => {
                let block = json.get("content_block");
                if block.and_then(|b| b.get("type")).and_then(Value::as_str) == Some("text")
                    && let Some(text) = text(block).filter(|t| !t.is_empty())
                {
                    out.push_back(ModelChunk::Content(text));
                }
            }
            "content_block_delta" => {
                let delta = json.get("delta");
                if delta.and_then(|d| d.get("type")).and_then(Value::as_str) == Some("text_delta")
                    && let Some(text) = text(delta).filter(|t| !t.is_empty())
                {
                    out.push_back(ModelChunk::Content(text));
                }
            }
            "message_delta" => {
                if let Some(reason) = json.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(reason.to_owned());
                }
                self.count(json.get("usage"));
            }
            "message_stop" => {
                check_stop_reason(self.stop_reason.as_deref());
                out.push_back(ModelChunk::Usage(self.usage));
                return Ok(true);
            }
            "error" => return Err(error(&json)),
            // `ping`, `content_block_stop`, and events added later.
            _ => {}
        }
        Ok(false)
    }

    fn complete_at_end(&self) -> bool {
        false
    }
}

http_model!(Claude, PATH, parse_response, ClaudeDecoder::default());

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Model;

    fn request(messages: &[(Role, &str)]) -> ModelRequest {
        ModelRequest { messages: messages.iter().map(|(role, text)| Message::new(*role, *text)).collect() }
    }

    #[test]
    fn short_names() {
        assert_eq!(resolve_model_id("haiku"), HAIKU);
        assert_eq!(resolve_model_id(" Sonnet "), SONNET);
        assert_eq!(resolve_model_id("opus"), OPUS);
        assert_eq!(resolve_model_id("claude-opus-4-1-20250805"), "claude-opus-4-1-20250805");
        assert_eq!(Claude::new("haiku").id(), HAIKU);
        assert_eq!(Claude::new("my-local-model").id(), "my-local-model");
    }

    #[test]
    fn request_bodies() {
        let model = Claude::new("claude-haiku-4-5").api_key("k").max_tokens(100);
        let body = model.body(&request(&[(Role::System, "Be brief."), (Role::User, "hi")]), false);
        assert_eq!(
            body,
            json!({"model": "claude-haiku-4-5", "max_tokens": 100, "system": "Be brief.",
                   "messages": [{"role": "user", "content": "hi"}]})
        );
        let body = model.body(&request(&[(Role::User, "hi")]), true);
        assert_eq!(body["stream"], true);
        assert!(body.get("system").is_none());
        assert_eq!(Claude::new("x").max_tokens(0).max_tokens, 1);
    }

    #[test]
    fn roles_alternate_starting_with_the_user() {
        let (system, turns) = messages_json(
            &request(&[
                (Role::System, "A."),
                (Role::Assistant, "Earlier answer."),
                (Role::User, "one"),
                (Role::User, "two"),
                (Role::System, "B."),
                (Role::Assistant, "Yes."),
                (Role::User, ""),
            ])
            .messages,
        );
        assert_eq!(system.as_deref(), Some("A.\n\nB."));
        assert_eq!(
            turns,
            [
                json!({"role": "user", "content": EMPTY_TURN}),
                json!({"role": "assistant", "content": "Earlier answer."}),
                json!({"role": "user", "content": "one\n\ntwo"}),
                json!({"role": "assistant", "content": "Yes."}),
                json!({"role": "user", "content": EMPTY_TURN}),
            ]
        );
        let (system, turns) = messages_json(&[]);
        assert_eq!((system, turns), (None, vec![json!({"role": "user", "content": EMPTY_TURN})]));
    }

    #[test]
    fn whole_answers() {
        let json = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": [{"type": "thinking", "thinking": "hm", "signature": "s"},
                        {"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 2, "output_tokens": 4}
        });
        let answer = parse_response(&json).unwrap();
        assert_eq!(answer.content, "Hello there");
        assert_eq!(answer.usage, Usage { input_tokens: Some(12), output_tokens: Some(4) });
        let err = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
        assert_eq!(parse_response(&err).unwrap_err().message, "Anthropic error: Overloaded (overloaded_error)");
        assert!(parse_response(&json!({"type": "message"})).unwrap_err().message.contains("no `content`"));
    }

    #[test]
    fn stream_events() {
        let mut d = ClaudeDecoder::default();
        let mut out = VecDeque::new();
        let frame = |event: &str, data: Value| SseEvent { event: Some(event.into()), data: data.to_string() };
        let events = [
            frame(
                "message_start",
                json!({"type": "message_start", "message": {"id": "m", "content": [], "usage": {"input_tokens": 25, "output_tokens": 1}}}),
            ),
            frame(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            frame("ping", json!({"type": "ping"})),
            frame(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
            ),
            frame(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{"}}),
            ),
            frame("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
            frame(
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}}),
            ),
        ];
        for event in &events {
            assert!(!d.frame(event, &mut out).unwrap());
        }
        assert!(d.frame(&frame("message_stop", json!({"type": "message_stop"})), &mut out).unwrap());
        assert_eq!(
            Vec::from(out),
            [
                ModelChunk::Content("Hi".into()),
                ModelChunk::Usage(Usage { input_tokens: Some(25), output_tokens: Some(7) })
            ]
        );
        let error = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
        assert_eq!(
            d.frame(&frame("error", error), &mut VecDeque::new()).unwrap_err().message,
            "Anthropic error: Overloaded (overloaded_error)"
        );
        let bad = SseEvent { event: None, data: "{nope".into() };
        assert!(d.frame(&bad, &mut VecDeque::new()).unwrap_err().message.contains("not valid JSON"));
        assert!(!d.complete_at_end());
    }
}
