//! The session's transcript, read from its file the first time a handler looks at it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

/// The transcript file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the transcript {}: {message}", path.display())]
pub struct TranscriptError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub message: String,
}

/// The transcript of the session (a JSON-lines file Claude Code keeps), read lazily: a handler
/// that takes `transcript: &Transcript` costs nothing until it calls [`entries`](Self::entries).
#[derive(Debug, Default)]
pub struct Transcript {
    path: Option<PathBuf>,
    entries: OnceLock<Result<Vec<Value>, TranscriptError>>,
}

impl Transcript {
    /// The transcript at `path` (none when Claude Code gave no path).
    pub fn new(path: Option<PathBuf>) -> Self {
        Self { path, entries: OnceLock::new() }
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Every entry (one JSON value per line; lines that are not JSON are skipped). An error says
    /// why the file could not be read; no path means no entries.
    pub fn entries(&self) -> Result<&[Value], &TranscriptError> {
        self.entries.get_or_init(|| self.read()).as_deref()
    }

    fn read(&self) -> Result<Vec<Value>, TranscriptError> {
        let Some(path) = &self.path else { return Ok(Vec::new()) };
        let text = std::fs::read_to_string(path)
            .map_err(|e| TranscriptError { path: path.clone(), message: e.to_string() })?;
        Ok(text.lines().filter(|l| !l.trim().is_empty()).filter_map(|l| serde_json::from_str(l).ok()).collect())
    }

    /// The text of the last assistant message, if the transcript has one.
    pub fn last_assistant_text(&self) -> Option<String> {
        let entries = self.entries().ok()?;
        entries.iter().rev().find_map(|entry| {
            let message = entry.get("message")?;
            if message.get("role")?.as_str()? != "assistant" {
                return None;
            }
            let text: Vec<&str> = match message.get("content")? {
                Value::String(s) => vec![s.as_str()],
                Value::Array(blocks) => blocks
                    .iter()
                    .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                    .filter_map(|b| b.get("text").and_then(Value::as_str))
                    .collect(),
                _ => return None,
            };
            (!text.is_empty()).then(|| text.join("\n"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_once_and_finds_the_last_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"type":"user","message":{"role":"user","content":"hi"}}"#,
                "\nnot json\n",
                r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"hello"}]}}"#,
                "\n"
            ),
        )
        .unwrap();
        let transcript = Transcript::new(Some(path.clone()));
        assert_eq!(transcript.entries().unwrap().len(), 2);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(transcript.last_assistant_text().as_deref(), Some("hello"), "read once, kept");
        let missing = Transcript::new(Some(dir.path().join("none.jsonl")));
        assert!(missing.entries().unwrap_err().to_string().contains("cannot read the transcript"));
        assert!(Transcript::new(None).entries().unwrap().is_empty());
    }
}
