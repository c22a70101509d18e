//! OpenAI models: [`OpenAIResponses`] (the Responses API, `POST {base_url}/responses`) and
//! [`OpenAIChat`] (Chat Completions, `POST {base_url}/chat/completions`), for OpenAI and any
//! OpenAI-compatible server (Ollama, vLLM, LM Studio, ...).
//!
//! * **Key**: `OPENAI_API_KEY`, or [`api_key`](OpenAIChat::api_key). It is sent only in the
//!   `Authorization` header (marked sensitive) and never appears in logs or errors. Without a key,
//!   a request to OpenAI's own address fails at once; other servers are asked without one.
//! * **Address**: `OPENAI_BASE_URL`, or [`base_url`](OpenAIChat::base_url) (default
//!   `https://api.openai.com/v1`; Ollama is `http://localhost:11434/v1`).
//! * **Retries**: answers 429, 408, 409 and 5xx, failed connections and timeouts are retried up to
//!   [`max_retries`](OpenAIChat::max_retries) times (default 2) after waiting the server's
//!   `retry-after-ms` / `Retry-After` (seconds), or else an exponential backoff starting at
//!   [`retry_backoff`](OpenAIChat::retry_backoff) (500 ms, doubling), never longer than
//!   [`max_retry_delay`](OpenAIChat::max_retry_delay) (60 s). A stream is retried only until its
//!   first byte.
//! * **Timeout**: [`timeout`](OpenAIChat::timeout) (default 600 s) bounds a whole non-streamed
//!   request, and the wait between two reads of a stream.
//! * **Streaming** reads server-sent events in pieces of any size; token counts are reported in
//!   streams too (Chat asks for them with `stream_options.include_usage`; the Responses API sends
//!   them in `response.completed`). A stream that ends before the provider's end marker is an error.
//! * **Errors** end the run with status `ERROR` and a message such as
//!   `OpenAI error: HTTP 429 Too Many Requests: Rate limit reached (rate_limit_exceeded) (after 3 attempts)`.
//! * **HTTPS** needs the `rustls` feature of `agno-core` (on by default through the `agno` facade):
//!   rustls with the `ring` provider, installed as the process default if none is (see
//!   [`install_tls_provider`] if the program builds its own `reqwest` clients).
//!
//! ```no_run
//! use agno_core::Agent;
//! use agno_core::models::openai::{OpenAIChat, OpenAIResponses};
//!
//! let agent = Agent::builder().model(OpenAIResponses::new("gpt-5.2")).build()?;
//! let local = OpenAIChat::new("llama3.2").base_url("http://localhost:11434/v1").max_retries(5);
//! # Ok::<(), agno_core::Error>(())
//! ```

mod chat;
mod responses;

pub use super::http::{
    DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_DELAY, DEFAULT_RETRY_BACKOFF, DEFAULT_TIMEOUT, install_tls_provider,
};
pub use super::sse;
pub use chat::OpenAIChat;
pub use responses::OpenAIResponses;

use serde_json::{Value, json};

use super::http::{Auth, Client, Provider};
use super::{Message, Role};

/// The provider name both models report.
pub const PROVIDER: &str = "OpenAI";
/// OpenAI's API address; `OPENAI_BASE_URL` or `.base_url(..)` replace it.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// OpenAI on the HTTP side: a bearer token, `OPENAI_API_KEY`, `OPENAI_BASE_URL`.
static OPENAI: Provider = Provider {
    name: PROVIDER,
    key_env: "OPENAI_API_KEY",
    base_url_env: "OPENAI_BASE_URL",
    default_base_url: DEFAULT_BASE_URL,
    auth: Auth::Bearer,
    headers: &[],
};

/// A client with OpenAI's settings from the environment.
fn client() -> Client {
    Client::from_env(&OPENAI)
}

/// The messages as OpenAI's `{"role", "content"}` objects.
fn messages_json(messages: &[Message]) -> Vec<Value> {
    messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            json!({ "role": role, "content": m.content.as_deref().unwrap_or("") })
        })
        .collect()
}

/// The connection builder methods both models share.
macro_rules! connection_methods {
    () => {
        super::super::http::connection_methods!(
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "OpenAI's (`http://localhost:11434/v1` for Ollama)"
        );
    };
}
use connection_methods;
