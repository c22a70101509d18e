//! Checks shared by the model tests (`openai_models`, `claude_model`): draining a run's stream,
//! asserting a completed or failed run, and cutting a stream into awkward pieces.
//!
//! The API keys those tests use contain `SECRET`, so [`assert_error`] can tell that none leaked.

use agno::prelude::*;
use agno::run::RunStream;

/// The run's streamed content pieces and its output.
pub async fn drain(mut stream: RunStream) -> (Vec<String>, RunOutput) {
    let mut pieces = Vec::new();
    while let Some(event) = stream.next().await {
        if let RunEventKind::RunContent { content, .. } = event.unwrap().kind {
            pieces.push(content);
        }
    }
    (pieces, stream.into_output().expect("the stream finished"))
}

/// A completed run with this content and these token counts.
pub fn assert_completed(out: &RunOutput, content: &str, input: u64, output: u64) {
    assert_eq!(out.status, RunStatus::Completed, "{:?}", out.content);
    assert_eq!(out.content.as_deref(), Some(content));
    assert_eq!(out.metrics.input_tokens, Some(input));
    assert_eq!(out.metrics.output_tokens, Some(output));
    assert_eq!(out.metrics.total_tokens, Some(input + output));
    assert!(out.metrics.time_to_first_token.is_some());
    assert!(out.metrics.duration.is_some());
}

/// A failed run whose message contains every one of `needles` and never the key (nothing with
/// `SECRET` in it).
pub fn assert_error(out: &RunOutput, needles: &[&str]) {
    assert_eq!(out.status, RunStatus::Error, "{:?}", out.content);
    let content = out.content.as_deref().unwrap_or("");
    for needle in needles {
        assert!(content.contains(needle), "`{needle}` not in {content:?}");
    }
    let whole = serde_json::to_string(out).unwrap();
    assert!(!whole.contains("SECRET"), "the key leaked: {whole}");
}

/// Cuts `text` into pieces of about 1, 7, 13, 2, 31, ... bytes (moved to the next character
/// boundary; cuts inside a UTF-8 character are covered by the SSE parser's unit tests).
pub fn split_awkwardly(text: &str) -> Vec<String> {
    let sizes = [1usize, 7, 13, 2, 31, 5, 64, 3];
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while start < text.len() {
        let mut end = (start + sizes[i % sizes.len()]).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        pieces.push(text[start..end].to_owned());
        start = end;
        i += 1;
    }
    pieces
}
