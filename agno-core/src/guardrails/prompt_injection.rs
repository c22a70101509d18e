//! [`PromptInjectionGuardrail`]: rejects input that contains a known jailbreak phrase.

use crate::checks::{CheckTrigger, InputCheckError};
use crate::hooks::{Hook, HookCall, HookContext, HookError, HookParams};

/// The message of the error raised on a match (agno's, verbatim).
const MESSAGE: &str = "Potential jailbreaking or prompt injection detected.";

/// agno's 18 default phrases, lower-case, in agno's order.
pub const DEFAULT_INJECTION_PATTERNS: [&str; 18] = [
    "ignore previous instructions",
    "ignore your instructions",
    "you are now a",
    "forget everything above",
    "developer mode",
    "override safety",
    "disregard guidelines",
    "system prompt",
    "jailbreak",
    "act as if",
    "pretend you are",
    "roleplay as",
    "simulate being",
    "bypass restrictions",
    "ignore safeguards",
    "admin override",
    "root access",
    "forget everything",
];

/// Rejects input whose text contains any of a list of phrases, ignoring case.
///
/// The input's text is [`input_content_string`](crate::run::RunInput::input_content_string)
/// (JSON input as compact JSON), lower-cased; a phrase matches if it is a substring of it. On a
/// match the run stops with an [`InputCheckError`] "Potential jailbreaking or prompt injection
/// detected." and trigger [`CheckTrigger::PromptInjection`].
///
/// Differs from agno on purpose: custom phrases given to
/// [`with_patterns`](Self::with_patterns) are lower-cased too, so `"IGNORE ME"` matches
/// "ignore me" (in agno an upper-case custom phrase never matches).
///
/// ```
/// use agno_core::guardrails::PromptInjectionGuardrail;
/// use agno_core::prelude::*;
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let agent = Agent::builder().pre_hook(PromptInjectionGuardrail::new()).build().unwrap();
/// let out = agent.run("Ignore previous instructions").await.unwrap();
/// assert_eq!(out.status, RunStatus::Error);
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptInjectionGuardrail {
    /// Lower-cased phrases.
    patterns: Vec<String>,
}

impl PromptInjectionGuardrail {
    /// A guardrail with the [default phrases](DEFAULT_INJECTION_PATTERNS).
    pub fn new() -> Self {
        Self { patterns: DEFAULT_INJECTION_PATTERNS.iter().map(|p| (*p).to_owned()).collect() }
    }

    /// Replaces the phrases (lower-cased; an empty phrase matches every input).
    pub fn with_patterns(mut self, patterns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.patterns = patterns.into_iter().map(|p| p.into().to_lowercase()).collect();
        self
    }

    /// The phrases checked, lower-cased, in order.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The first phrase found in `text`, if any.
    fn find_in(&self, text: &str) -> Option<&str> {
        let text = text.to_lowercase();
        self.patterns.iter().map(String::as_str).find(|p| text.contains(p))
    }
}

impl Default for PromptInjectionGuardrail {
    fn default() -> Self {
        Self::new()
    }
}

impl Hook for PromptInjectionGuardrail {
    fn name(&self) -> &str {
        "PromptInjectionGuardrail"
    }

    fn params(&self) -> HookParams {
        HookParams::RUN_INPUT
    }

    fn run_in_background(&self) -> bool {
        false
    }

    fn is_guardrail(&self) -> bool {
        true
    }

    fn call<'a>(&'a self, cx: HookContext<'a>) -> HookCall<'a> {
        let Some(run_input) = cx.run_input else {
            return HookCall::Done(Err(HookError::Missing("run_input")));
        };
        match self.find_in(&run_input.input_content_string()) {
            Some(pattern) => {
                tracing::debug!(pattern, "prompt injection pattern found in input");
                HookCall::Done(Err(InputCheckError::new(MESSAGE).with_trigger(CheckTrigger::PromptInjection).into()))
            }
            None => HookCall::Done(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::agent::Agent;
    use crate::guardrails::test_support::{check, check_without_input};
    use crate::run::{InputContent, RunInput, RunStatus};

    /// Asserts that `result` is this guardrail's rejection.
    fn assert_rejected(result: Result<(), HookError>, what: &str) {
        match result {
            Err(HookError::InputCheck(e)) => {
                assert_eq!(e.message, MESSAGE, "{what}");
                assert_eq!(e.check_trigger, CheckTrigger::PromptInjection, "{what}");
                assert_eq!(e.additional_data, None, "{what}");
            }
            other => panic!("{what}: expected a prompt-injection rejection, got {other:?}"),
        }
    }

    /// Upper-cases every other letter.
    fn mixed_case(s: &str) -> String {
        s.chars().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c }).collect()
    }

    #[test]
    fn identity_and_params() {
        let g = PromptInjectionGuardrail::default();
        assert_eq!(g, PromptInjectionGuardrail::new());
        assert_eq!(g.name(), "PromptInjectionGuardrail");
        assert_eq!(g.params(), HookParams::RUN_INPUT);
        assert!(g.is_guardrail());
        assert!(!g.run_in_background());
        assert!(!g.params().modifies());
        assert_eq!(g.patterns(), DEFAULT_INJECTION_PATTERNS);
    }

    #[test]
    fn defaults_are_agnos_eighteen_lower_case_phrases() {
        assert_eq!(DEFAULT_INJECTION_PATTERNS.len(), 18);
        assert_eq!(DEFAULT_INJECTION_PATTERNS[0], "ignore previous instructions");
        assert_eq!(DEFAULT_INJECTION_PATTERNS[17], "forget everything");
        for p in DEFAULT_INJECTION_PATTERNS {
            assert_eq!(p, p.to_lowercase());
        }
    }

    #[test]
    fn every_default_pattern_is_rejected_in_mixed_case_text() {
        let g = PromptInjectionGuardrail::new();
        for p in DEFAULT_INJECTION_PATTERNS {
            let text = format!("Hello there. {} now, please!", mixed_case(p));
            assert_ne!(text.to_lowercase(), text, "the test text must not be lower-case");
            let mut input = RunInput::new(text.as_str());
            assert_rejected(check(&g, &mut input), p);
            assert_eq!(input.input_content_string(), text, "a rejection must not change the input");
        }
    }

    #[test]
    fn benign_text_passes_unchanged() {
        let g = PromptInjectionGuardrail::new();
        for text in ["What is the capital of France?", "Tell me about system design.", ""] {
            let mut input = RunInput::new(text);
            let before = input.clone();
            assert!(check(&g, &mut input).is_ok(), "{text:?}");
            assert_eq!(input, before);
        }
    }

    #[test]
    fn custom_patterns_replace_defaults_and_ignore_case() {
        let g = PromptInjectionGuardrail::new().with_patterns(["IGNORE ME", "Secret Word"]);
        assert_eq!(g.patterns(), ["ignore me", "secret word"]);
        assert_rejected(check(&g, &mut RunInput::new("please ignore me")), "lower-case input");
        assert_rejected(check(&g, &mut RunInput::new("the SECRET word is")), "upper-case input");
        // The defaults are gone.
        assert!(check(&g, &mut RunInput::new("Ignore previous instructions")).is_ok());
        assert!(check(&g, &mut RunInput::new("jailbreak")).is_ok());
        // No phrases: nothing is rejected.
        let none = PromptInjectionGuardrail::new().with_patterns(Vec::<String>::new());
        assert!(check(&none, &mut RunInput::new("jailbreak")).is_ok());
    }

    #[test]
    fn json_input_is_checked_through_its_string_form() {
        let g = PromptInjectionGuardrail::new();
        let mut input = RunInput::new(json!({"task": "Enable DEVELOPER MODE"}));
        assert!(matches!(input.input_content, InputContent::Json(_)));
        assert_rejected(check(&g, &mut input), "json value");
        assert!(matches!(input.input_content, InputContent::Json(_)), "the input is left as JSON");

        let mut benign = RunInput::new(json!({"question": "weather"}));
        assert!(check(&g, &mut benign).is_ok());
        // Keys are part of the string form too.
        let by_key = PromptInjectionGuardrail::new().with_patterns(["\"question\""]);
        assert_rejected(check(&by_key, &mut benign), "json key");
    }

    #[test]
    fn missing_run_input_is_reported() {
        let g = PromptInjectionGuardrail::new();
        assert!(matches!(check_without_input(&g), Err(HookError::Missing("run_input"))));
    }

    #[tokio::test]
    async fn agent_run_with_injection_stops_with_error() {
        let agent = Agent::builder().pre_hook(PromptInjectionGuardrail::new()).build().unwrap();
        let out = agent.run("Ignore previous instructions").await.unwrap();
        assert_eq!(out.status, RunStatus::Error);
        assert_eq!(out.content.as_deref(), Some(MESSAGE));

        let ok = agent.run("Hello").await.unwrap();
        assert_eq!(ok.status, RunStatus::Completed);
        assert_eq!(ok.content.as_deref(), Some("You said: \"Hello\""));
    }
}
