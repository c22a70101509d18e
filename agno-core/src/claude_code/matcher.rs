//! Which tools a tool handler is for, written as Claude Code writes its matchers.

use regex::Regex;

/// A tool matcher: `""` or `"*"` is every tool; a name or an `A|B` list of names matches those
/// names exactly; anything else is a regular expression that must match the whole tool name
/// (`Notebook.*`, `mcp__github__.*`). Case-sensitive, as in Claude Code.
#[derive(Debug, Clone)]
pub enum ToolMatcher {
    /// Every tool.
    Any,
    /// These names.
    Names(Vec<String>),
    /// A regular expression over the whole name.
    Pattern(Regex),
}

/// A tool matcher that is not a valid regular expression.
#[derive(Debug, thiserror::Error)]
#[error("tool matcher `{matcher}` is not a valid regular expression: {source}")]
pub struct MatcherError {
    /// The matcher as written.
    pub matcher: String,
    /// What the regex parser said.
    #[source]
    pub source: regex::Error,
}

/// Whether `s` is a plain tool name (no regular-expression syntax).
fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl ToolMatcher {
    /// Parses a matcher; an invalid regular expression is an error that says so.
    pub fn parse(matcher: &str) -> Result<Self, MatcherError> {
        let matcher = matcher.trim();
        if matcher.is_empty() || matcher == "*" {
            return Ok(Self::Any);
        }
        let names: Vec<&str> = matcher.split('|').map(str::trim).collect();
        if names.iter().all(|n| is_name(n)) {
            return Ok(Self::Names(names.into_iter().map(str::to_owned).collect()));
        }
        Regex::new(&format!("^(?:{matcher})$"))
            .map(Self::Pattern)
            .map_err(|source| MatcherError { matcher: matcher.to_owned(), source })
    }

    /// Whether the matcher takes this tool.
    pub fn matches(&self, tool: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Names(names) => names.iter().any(|n| n == tool),
            Self::Pattern(re) => re.is_match(tool),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lists_patterns_and_everything() {
        let m = |s: &str| ToolMatcher::parse(s).unwrap();
        assert!(m("Write").matches("Write"));
        assert!(!m("Write").matches("write"), "case-sensitive");
        assert!(!m("Write").matches("MultiWrite"), "a name is matched whole");
        assert!(m("Write|Edit").matches("Edit"));
        assert!(m(" Write | Edit ").matches("Write"));
        assert!(m("Notebook.*").matches("NotebookEdit"));
        assert!(!m("Notebook.*").matches("MyNotebookEdit"));
        assert!(m("mcp__github__.*").matches("mcp__github__search"));
        assert!(m("").matches("Bash") && m("*").matches("Bash"));
        let err = ToolMatcher::parse("Write(").unwrap_err().to_string();
        assert!(err.contains("not a valid regular expression"), "{err}");
    }
}
