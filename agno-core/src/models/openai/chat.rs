//! [`OpenAIChat`]: the Chat Completions API.

use std::collections::VecDeque;

use serde_json::{Value, json};

use super::{PROVIDER, client, connection_methods, messages_json};
use crate::models::http::tokens;
use crate::models::http::{Client, Decoder, http_model, json_error_message};
use crate::models::sse::SseEvent;
use crate::models::{ModelChunk, ModelError, ModelRequest, ModelResponse, Usage};

/// The path of the Chat Completions API under the base URL.
const PATH: &str = "chat/completions";

/// An OpenAI model through Chat Completions (`POST {base_url}/chat/completions`), the API most
/// OpenAI-compatible servers offer. See the [module docs](super) for keys, retries and errors.
///
/// ```
/// use agno_core::models::Model;
/// use agno_core::models::openai::OpenAIChat;
///
/// let model = OpenAIChat::new("gpt-4o").api_key("sk-...").max_retries(4);
/// assert_eq!((model.id(), model.provider()), ("gpt-4o", "OpenAI"));
/// ```
#[derive(Debug, Clone)]
pub struct OpenAIChat {
    id: String,
    client: Client,
}

impl OpenAIChat {
    /// The model `id` (`"gpt-4o"`), with `OPENAI_API_KEY` and `OPENAI_BASE_URL` from the
    /// environment.
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into(), client: client() }
    }

    connection_methods!();

    fn body(&self, request: &ModelRequest, stream: bool) -> Value {
        let mut body = json!({ "model": self.id, "messages": messages_json(&request.messages) });
        if stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({ "include_usage": true });
        }
        body
    }
}

/// Token counts of a Chat Completions `usage` object.
fn usage(value: Option<&Value>) -> Usage {
    let value = value.filter(|v| v.is_object());
    Usage {
        input_tokens: tokens(value.and_then(|u| u.get("prompt_tokens"))),
        output_tokens: tokens(value.and_then(|u| u.get("completion_tokens"))),
    }
}

/// The text of a whole answer.
pub(crate) fn parse_response(json: &Value) -> Result<ModelResponse, ModelError> {
    if let Some(error) = json.get("error").filter(|e| !e.is_null()) {
        let message = json_error_message(error).unwrap_or_else(|| error.to_string());
        return Err(ModelError::new(format!("{PROVIDER} error: {message}")));
    }
    let choice = json
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| ModelError::new(format!("{PROVIDER} error: the answer has no `choices`")))?;
    let message = choice.get("message");
    let content = message
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .or_else(|| message.and_then(|m| m.get("refusal")).and_then(Value::as_str))
        .ok_or_else(|| ModelError::new(format!("{PROVIDER} error: the answer has no `choices[0].message.content`")))?;
    Ok(ModelResponse { content: content.to_owned(), usage: usage(json.get("usage")) })
}

/// Reads `chat.completion.chunk` frames up to `data: [DONE]`.
#[derive(Debug, Default)]
struct ChatDecoder {
    /// A choice reported its `finish_reason`.
    finished: bool,
}

impl Decoder for ChatDecoder {
    fn frame(&mut self, frame: &SseEvent, out: &mut VecDeque<ModelChunk>) -> Result<bool, ModelError> {
        let data = frame.data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let json: Value = serde_json::from_str(data).map_err(|e| {
            ModelError::new(format!(
                "{PROVIDER} error: a stream event is not valid JSON ({e}): {}",
                crate::models::http::excerpt(data)
            ))
        })?;
        if let Some(error) = json.get("error").filter(|e| !e.is_null()) {
            let message = json_error_message(error).unwrap_or_else(|| error.to_string());
            return Err(ModelError::new(format!("{PROVIDER} error: {message}")));
        }
        for choice in json.get("choices").and_then(Value::as_array).into_iter().flatten() {
            let delta = choice.get("delta");
            let text = delta
                .and_then(|d| d.get("content"))
                .and_then(Value::as_str)
                .or_else(|| delta.and_then(|d| d.get("refusal")).and_then(Value::as_str));
            if let Some(text) = text.filter(|t| !t.is_empty()) {
                out.push_back(ModelChunk::Content(text.to_owned()));
            }
            if choice.get("finish_reason").is_some_and(|r| !r.is_null()) {
                self.finished = true;
            }
        }
        if json.get("usage").is_some_and(Value::is_object) {
            out.push_back(ModelChunk::Usage(usage(json.get("usage"))));
        }
        Ok(false)
    }

    fn complete_at_end(&self) -> bool {
        // Some compatible servers close without `[DONE]`; a finished choice is a whole answer.
        self.finished
    }
}

http_model!(OpenAIChat, PATH, parse_response, ChatDecoder::default());

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Message, Role};

    #[test]
    fn request_bodies() {
        let model = OpenAIChat::new("gpt-4o").api_key("k");
        let request =
            ModelRequest { messages: vec![Message::new(Role::System, "Be brief."), Message::new(Role::User, "hi")] };
        let body = model.body(&request, false);
        assert_eq!(
            body,
            json!({"model": "gpt-4o", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]})
        );
        let body = model.body(&request, true);
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
    }

    #[test]
    fn whole_answers() {
        let json = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
        });
        let answer = parse_response(&json).unwrap();
        assert_eq!(answer.content, "Hello!");
        assert_eq!(answer.usage, Usage { input_tokens: Some(9), output_tokens: Some(3) });
        let refusal = json!({"choices": [{"message": {"content": null, "refusal": "I can't."}}]});
        assert_eq!(parse_response(&refusal).unwrap().content, "I can't.");
        assert!(parse_response(&json!({"choices": []})).unwrap_err().message.contains("choices"));
        let err = parse_response(&json!({"error": {"message": "boom"}})).unwrap_err();
        assert_eq!(err.message, "OpenAI error: boom");
    }

    #[test]
    fn stream_frames() {
        let mut d = ChatDecoder::default();
        let mut out = VecDeque::new();
        let frame = |data: &str| SseEvent { event: None, data: data.into() };
        assert!(!d.frame(&frame(r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#), &mut out).unwrap());
        assert!(
            !d.frame(&frame(r#"{"choices":[{"delta":{"content":"Hel"},"finish_reason":null}]}"#), &mut out).unwrap()
        );
        assert!(!d.complete_at_end());
        assert!(
            !d.frame(&frame(r#"{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":null}"#), &mut out).unwrap()
        );
        assert!(d.complete_at_end());
        let usage_frame = r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#;
        assert!(!d.frame(&frame(usage_frame), &mut out).unwrap());
        assert!(d.frame(&frame("[DONE]"), &mut out).unwrap());
        assert_eq!(
            Vec::from(out),
            [
                ModelChunk::Content("Hel".into()),
                ModelChunk::Usage(Usage { input_tokens: Some(5), output_tokens: Some(2) })
            ]
        );
        let err = d.frame(&frame("{not json"), &mut VecDeque::new()).unwrap_err();
        assert!(err.message.contains("not valid JSON"), "{err}");
        let err = d.frame(&frame(r#"{"error":{"message":"overloaded"}}"#), &mut VecDeque::new()).unwrap_err();
        assert_eq!(err.message, "OpenAI error: overloaded");
    }
}
