//! Models: the [`Model`] trait every provider implements, the messages sent to it, the offline
//! default, [`OfflineModel`], the OpenAI models in [`openai`] and Anthropic's [`Claude`] in
//! [`anthropic`].
//!
//! [`default_model`] picks one without a code change: OpenAI when `OPENAI_API_KEY` is set, the
//! offline model otherwise. [`claude_or_offline`] does the same for Claude (what
//! `#[agent_task(model = "haiku")]` uses).

pub mod anthropic;
mod http;
mod offline;
pub mod openai;
pub mod sse;

use std::pin::Pin;
use std::sync::Arc;

use futures_core::Stream;
use serde::{Deserialize, Serialize};

pub use anthropic::Claude;
pub use offline::{BINARY_VERDICT_INSTRUCTION, NUMERIC_VERDICT_INSTRUCTION, OfflineModel};
pub use openai::{OpenAIChat, OpenAIResponses};

/// The OpenAI model [`default_model`] picks when `OPENAI_API_KEY` is set (the seeds' choice).
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-5.2";

/// The model to use when the program does not name one: [`OpenAIResponses`] with
/// [`DEFAULT_OPENAI_MODEL`] when `OPENAI_API_KEY` is set (and not empty), the [`OfflineModel`]
/// otherwise. The choice is logged at `info` level; [`describe`] words it for a start-up line.
///
/// ```
/// let model = agno_core::models::default_model();
/// println!("Model: {}", agno_core::models::describe(&*model));
/// ```
pub fn default_model() -> Arc<dyn Model> {
    with_key_or_offline("OPENAI_API_KEY", || OpenAIResponses::new(DEFAULT_OPENAI_MODEL), "default model")
}

/// [`Claude`] with this id (or short name: `"haiku"`, `"sonnet"`, `"opus"`, see
/// [`anthropic::resolve_model_id`]) when `ANTHROPIC_API_KEY` is set (and not empty), the
/// [`OfflineModel`] otherwise, so a program runs without a key. The choice is logged at `info`
/// level, as [`default_model`] logs its own. `#[agent_task(model = "haiku")]` calls this.
///
/// ```
/// let model = agno_core::models::claude_or_offline("haiku");
/// println!("Model: {}", agno_core::models::describe(&*model));
/// ```
pub fn claude_or_offline(id: &str) -> Arc<dyn Model> {
    with_key_or_offline("ANTHROPIC_API_KEY", || Claude::new(id), "model")
}

/// `build()` when the environment variable `key_env` is set and not empty, the offline model
/// otherwise; logs the choice as `what: <model>`.
fn with_key_or_offline<M: Model>(key_env: &str, build: impl FnOnce() -> M, what: &str) -> Arc<dyn Model> {
    let key_set = std::env::var(key_env).is_ok_and(|k| !k.trim().is_empty());
    let model: Arc<dyn Model> = if key_set { Arc::new(build()) } else { Arc::new(OfflineModel::new()) };
    if key_set {
        tracing::info!(model = model.id(), provider = model.provider(), "{what}: {}", describe(&*model));
    } else {
        tracing::info!(
            model = model.id(),
            provider = model.provider(),
            "{what}: {} ({key_env} is not set)",
            describe(&*model)
        );
    }
    model
}

/// One line saying which model answers: `offline (Offline): no network, no key` or
/// `gpt-5.2 (OpenAI) at https://api.openai.com/v1`.
pub fn describe(model: &dyn Model) -> String {
    match model.endpoint() {
        Some(url) => format!("{} ({}) at {url}", model.id(), model.provider()),
        None => format!("{} ({}): no network, no key", model.id(), model.provider()),
    }
}

/// A boxed, sendable future (what [`Model`] and async hooks return).
pub use crate::future::BoxFuture;
/// A boxed, sendable stream (what [`Model::invoke_stream`] returns).
pub type BoxStream<'a, T> = Pin<Box<dyn Stream<Item = T> + Send + 'a>>;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The system prompt.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
}

/// Timings of one message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageMetrics {
    /// Seconds to the first token of this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_token: Option<f64>,
}

/// One message of a conversation with the model, laid out as agno stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// A UUID (v7, see [`crate::ids`]).
    pub id: String,
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Whether it came from an earlier run.
    #[serde(default)]
    pub from_history: bool,
    /// agno's flag for tool calls; always false here.
    #[serde(default)]
    pub stop_after_tool_call: bool,
    /// Who wrote it.
    pub role: Role,
    /// Unix seconds.
    pub created_at: i64,
    /// Timings (assistant messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MessageMetrics>,
}

impl Message {
    /// A new message with a fresh id.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            id: crate::ids::new_id(),
            content: Some(content.into()),
            from_history: false,
            stop_after_tool_call: false,
            role,
            created_at: crate::clock::now_unix(),
            metrics: None,
        }
    }
}

/// What is sent to a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRequest {
    /// The conversation, system message first.
    pub messages: Vec<Message>,
}

/// Token counts reported by a model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Tokens sent.
    pub input_tokens: Option<u64>,
    /// Tokens produced.
    pub output_tokens: Option<u64>,
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelResponse {
    /// The text.
    pub content: String,
    /// Token counts.
    pub usage: Usage,
}

/// One item of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelChunk {
    /// A piece of text.
    Content(String),
    /// Token counts (usually once, at the end).
    Usage(Usage),
}

/// A model call failed; the run ends with status `ERROR` and this message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ModelError {
    /// What went wrong, safe to show (never contains a key).
    pub message: String,
}

impl ModelError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

/// A language model. Implementations must be cheap to share: the agent keeps one in an `Arc`.
pub trait Model: Send + Sync + 'static {
    /// The model's id (`"gpt-5.2"`, `"offline"`).
    fn id(&self) -> &str;
    /// The provider's name (`"OpenAI"`, `"Offline"`).
    fn provider(&self) -> &str;
    /// Sends the request and waits for the whole answer.
    fn invoke<'a>(&'a self, request: &'a ModelRequest) -> BoxFuture<'a, Result<ModelResponse, ModelError>>;
    /// Sends the request and streams the answer.
    fn invoke_stream<'a>(&'a self, request: &'a ModelRequest) -> BoxStream<'a, Result<ModelChunk, ModelError>>;
    /// The address requests go to, for models that use the network (default: none).
    fn endpoint(&self) -> Option<&str> {
        None
    }
}

impl<M: Model + ?Sized> Model for Arc<M> {
    fn id(&self) -> &str {
        (**self).id()
    }
    fn provider(&self) -> &str {
        (**self).provider()
    }
    fn invoke<'a>(&'a self, request: &'a ModelRequest) -> BoxFuture<'a, Result<ModelResponse, ModelError>> {
        (**self).invoke(request)
    }
    fn invoke_stream<'a>(&'a self, request: &'a ModelRequest) -> BoxStream<'a, Result<ModelChunk, ModelError>> {
        (**self).invoke_stream(request)
    }
    fn endpoint(&self) -> Option<&str> {
        (**self).endpoint()
    }
}
