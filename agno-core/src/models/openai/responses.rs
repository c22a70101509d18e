//! [`OpenAIResponses`]: the Responses API.

use std::collections::VecDeque;

use serde_json::{Value, json};

use super::{PROVIDER, client, connection_methods, messages_json};
use crate::models::http::tokens;
use crate::models::http::{Client, Decoder, excerpt, http_model, json_error_message};
use crate::models::sse::SseEvent;
use crate::models::{ModelChunk, ModelError, ModelRequest, ModelResponse, Usage};

/// The path of the Responses API under the base URL.
const PATH: &str = "responses";

/// An OpenAI model through the Responses API (`POST {base_url}/responses`), what agno's
/// `OpenAIResponses` uses. See the [module docs](super) for keys, retries and errors.
///
/// ```
/// use agno_core::models::Model;
/// use agno_core::models::openai::OpenAIResponses;
///
/// let model = OpenAIResponses::new("gpt-5.2");
/// assert_eq!((model.id(), model.provider()), ("gpt-5.2", "OpenAI"));
/// ```
#[derive(Debug, Clone)]
pub struct OpenAIResponses {
    id: String,
    client: Client,
}

impl OpenAIResponses {
    /// The model `id` (`"gpt-5.2"`), with `OPENAI_API_KEY` and `OPENAI_BASE_URL` from the
    /// environment.
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into(), client: client() }
    }

    connection_methods!();

    fn body(&self, request: &ModelRequest, stream: bool) -> Value {
        let mut body = json!({ "model": self.id, "input": messages_json(&request.messages) });
        if stream {
            body["stream"] = json!(true);
        }
        body
    }
}

/// Token counts of a Responses `usage` object.
fn usage(value: Option<&Value>) -> Usage {
    let value = value.filter(|v| v.is_object());
    Usage {
        input_tokens: tokens(value.and_then(|u| u.get("input_tokens"))),
        output_tokens: tokens(value.and_then(|u| u.get("output_tokens"))),
    }
}

/// The message of a failed response (`error`, or the reason it is incomplete).
fn failure(response: &Value) -> Option<String> {
    if let Some(error) = response.get("error").filter(|e| !e.is_null()) {
        return Some(json_error_message(error).unwrap_or_else(|| error.to_string()));
    }
    (response.get("status").and_then(Value::as_str) == Some("failed")).then(|| "the response failed".to_owned())
}

/// The text of a whole answer: every `output_text` (or `refusal`) part of every `message` item.
pub(crate) fn parse_response(json: &Value) -> Result<ModelResponse, ModelError> {
    if let Some(message) = failure(json) {
        return Err(ModelError::new(format!("{PROVIDER} error: {message}")));
    }
    let output = json
        .get("output")
        .and_then(Value::as_array)
        .ok_or_else(|| ModelError::new(format!("{PROVIDER} error: the answer has no `output`")))?;
    let mut content = String::new();
    for item in output.iter().filter(|i| i.get("type").and_then(Value::as_str) == Some("message")) {
        for part in item.get("content").and_then(Value::as_array).into_iter().flatten() {
            let text = match part.get("type").and_then(Value::as_str) {
                Some("output_text") => part.get("text"),
                Some("refusal") => part.get("refusal"),
                _ => None,
            };
            if let Some(text) = text.and_then(Value::as_str) {
                content.push_str(text);
            }
        }
    }
    if json.get("status").and_then(Value::as_str) == Some("incomplete") {
        let reason = json.pointer("/incomplete_details/reason").and_then(Value::as_str).unwrap_or("unknown");
        tracing::warn!(reason, "OpenAI response is incomplete");
    }
    Ok(ModelResponse { content, usage: usage(json.get("usage")) })
}

/// Reads Responses stream events up to `response.completed`.
#[derive(Debug, Default)]
struct ResponsesDecoder;

impl Decoder for ResponsesDecoder {
    fn frame(&mut self, frame: &SseEvent, out: &mut VecDeque<ModelChunk>) -> Result<bool, ModelError> {
        let data = frame.data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let json: Value = serde_json::from_str(data).map_err(|e| {
            ModelError::new(format!("{PROVIDER} error: a stream event is not valid JSON ({e}): {}", excerpt(data)))
        })?;
        let kind = json.get("type").and_then(Value::as_str).or(frame.event.as_deref()).unwrap_or("");
        match kind {
            "response.output_text.delta" | "response.refusal.delta" => {
                if let Some(delta) = json.get("delta").and_then(Value::as_str).filter(|d| !d.is_empty()) {
                    out.push_back(ModelChunk::Content(delta.to_owned()));
                }
                Ok(false)
            }
            "response.completed" | "response.incomplete" => {
                let response = json.get("response").unwrap_or(&Value::Null);
                if kind == "response.incomplete" {
                    let reason = response.pointer("/incomplete_details/reason").and_then(Value::as_str);
                    tracing::warn!(reason = reason.unwrap_or("unknown"), "OpenAI response is incomplete");
                }
                out.push_back(ModelChunk::Usage(usage(response.get("usage"))));
                Ok(true)
            }
            "response.failed" => {
                let response = json.get("response").unwrap_or(&Value::Null);
                let message = failure(response).unwrap_or_else(|| "the response failed".to_owned());
                Err(ModelError::new(format!("{PROVIDER} error: {message}")))
            }
            "error" => {
                let message = json_error_message(&json).unwrap_or_else(|| excerpt(data));
                Err(ModelError::new(format!("{PROVIDER} error: {message}")))
            }
            _ => Ok(false),
        }
    }

    fn complete_at_end(&self) -> bool {
        false
    }
}

http_model!(OpenAIResponses, PATH, parse_response, ResponsesDecoder);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Message, Role};

    #[test]
    fn request_bodies() {
        let model = OpenAIResponses::new("gpt-5.2");
        let request =
            ModelRequest { messages: vec![Message::new(Role::System, "Be brief."), Message::new(Role::User, "hi")] };
        assert_eq!(
            model.body(&request, false),
            json!({"model": "gpt-5.2", "input": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]})
        );
        assert_eq!(model.body(&request, true)["stream"], true);
    }

    #[test]
    fn whole_answers() {
        let json = json!({
            "id": "resp_1", "object": "response", "status": "completed", "model": "gpt-5.2",
            "output": [
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "message", "id": "msg_1", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Hello", "annotations": []},
                             {"type": "output_text", "text": " there", "annotations": []}]}
            ],
            "usage": {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}
        });
        let answer = parse_response(&json).unwrap();
        assert_eq!(answer.content, "Hello there");
        assert_eq!(answer.usage, Usage { input_tokens: Some(11), output_tokens: Some(4) });
        let failed = json!({"status": "failed", "error": {"code": "server_error", "message": "oops"}, "output": []});
        assert_eq!(parse_response(&failed).unwrap_err().message, "OpenAI error: oops (server_error)");
        assert!(parse_response(&json!({"status": "completed"})).unwrap_err().message.contains("output"));
    }

    #[test]
    fn stream_events() {
        let mut d = ResponsesDecoder;
        let mut out = VecDeque::new();
        let frame = |event: &str, data: &str| SseEvent { event: Some(event.into()), data: data.into() };
        assert!(
            !d.frame(&frame("response.created", r#"{"type":"response.created","response":{}}"#), &mut out).unwrap()
        );
        let delta =
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"Hi"}"#;
        assert!(!d.frame(&frame("response.output_text.delta", delta), &mut out).unwrap());
        let done = r#"{"type":"response.completed","response":{"status":"completed","usage":{"input_tokens":3,"output_tokens":1}}}"#;
        assert!(d.frame(&frame("response.completed", done), &mut out).unwrap());
        assert_eq!(
            Vec::from(out),
            [
                ModelChunk::Content("Hi".into()),
                ModelChunk::Usage(Usage { input_tokens: Some(3), output_tokens: Some(1) })
            ]
        );
        let failed = r#"{"type":"response.failed","response":{"status":"failed","error":{"message":"quota"}}}"#;
        assert_eq!(
            d.frame(&frame("response.failed", failed), &mut VecDeque::new()).unwrap_err().message,
            "OpenAI error: quota"
        );
        let error = r#"{"type":"error","code":"bad","message":"no"}"#;
        assert_eq!(
            d.frame(&frame("error", error), &mut VecDeque::new()).unwrap_err().message,
            "OpenAI error: no (bad)"
        );
        assert!(!d.complete_at_end());
    }
}
