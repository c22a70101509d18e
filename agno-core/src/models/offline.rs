//! The offline default model: no network, no key, the same answer for the same input.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::{BoxFuture, BoxStream, Model, ModelChunk, ModelError, ModelRequest, ModelResponse, Role, Usage};

/// A deterministic model that answers from the input, for examples, tests and benchmarks.
///
/// It answers `You said: "<last user message>"`, streamed one word at a time. Token counts are
/// whitespace-separated words: every message's words as input tokens, the answer's words as
/// output tokens. It never fails and never touches the network.
///
/// ```
/// use agno_core::models::{Model, ModelRequest, Message, Role, OfflineModel};
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let model = OfflineModel::new();
/// let request = ModelRequest { messages: vec![Message::new(Role::User, "Hello")] };
/// let answer = model.invoke(&request).await.unwrap();
/// assert_eq!(answer.content, "You said: \"Hello\"");
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct OfflineModel {
    _private: (),
}

impl OfflineModel {
    /// Its provider name, `"Offline"`.
    pub const PROVIDER: &'static str = "Offline";

    /// The offline model.
    pub fn new() -> Self {
        Self::default()
    }

    fn answer(request: &ModelRequest) -> (String, Usage) {
        let input = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .and_then(|m| m.content.as_deref())
            .unwrap_or("");
        let content = format!("You said: \"{input}\"");
        let words = |s: &str| s.split_whitespace().count() as u64;
        let input_tokens = request.messages.iter().filter_map(|m| m.content.as_deref()).map(words).sum();
        let usage = Usage { input_tokens: Some(input_tokens), output_tokens: Some(words(&content)) };
        (content, usage)
    }
}

impl Model for OfflineModel {
    fn id(&self) -> &str {
        "offline"
    }

    fn provider(&self) -> &str {
        Self::PROVIDER
    }

    fn invoke<'a>(&'a self, request: &'a ModelRequest) -> BoxFuture<'a, Result<ModelResponse, ModelError>> {
        let (content, usage) = Self::answer(request);
        Box::pin(std::future::ready(Ok(ModelResponse { content, usage })))
    }

    fn invoke_stream<'a>(&'a self, request: &'a ModelRequest) -> BoxStream<'a, Result<ModelChunk, ModelError>> {
        let (content, usage) = Self::answer(request);
        let mut chunks: Vec<ModelChunk> =
            content.split_inclusive(' ').map(|w| ModelChunk::Content(w.to_owned())).collect();
        chunks.push(ModelChunk::Usage(usage));
        Box::pin(IterStream(chunks.into_iter()))
    }
}

/// A stream over an iterator that is always ready.
struct IterStream<I>(I);

impl<I: Iterator<Item = ModelChunk> + Unpin> Stream for IterStream<I> {
    type Item = Result<ModelChunk, ModelError>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.next().map(Ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Message;

    #[tokio::test]
    async fn stream_and_invoke_agree() {
        let m = OfflineModel::new();
        let req = ModelRequest {
            messages: vec![Message::new(Role::System, "Be brief."), Message::new(Role::User, "hi there")],
        };
        let full = m.invoke(&req).await.unwrap();
        assert_eq!(full.content, "You said: \"hi there\"");
        assert_eq!(full.usage.input_tokens, Some(4));
        assert_eq!(full.usage.output_tokens, Some(4));
        let mut stream = m.invoke_stream(&req);
        let mut text = String::new();
        let mut pieces = 0;
        let mut usage = None;
        while let Some(item) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            match item.unwrap() {
                ModelChunk::Content(c) => {
                    pieces += 1;
                    text.push_str(&c)
                }
                ModelChunk::Usage(u) => usage = Some(u),
            }
        }
        assert_eq!(text, full.content);
        assert_eq!(pieces, 4);
        assert_eq!(usage, Some(full.usage));
    }
}
