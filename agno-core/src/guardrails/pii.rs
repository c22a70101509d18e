//! [`PIIDetectionGuardrail`]: rejects, or masks, personal data in the input.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::json;

use crate::checks::{CheckTrigger, InputCheckError};
use crate::hooks::{Hook, HookCall, HookContext, HookError, HookParams};
use crate::run::InputContent;

/// The message of the error raised when PII is found and not masked (agno's, verbatim).
const MESSAGE: &str = "Potential PII detected in input";

/// The built-in types, in agno's order: names and regexes.
static BUILTIN_SOURCES: [(&str, &str); 4] = [
    ("SSN", r"\b\d{3}-\d{2}-\d{4}\b"),
    ("Credit Card", r"\b\d{4}[\s-]?\d{4}[\s-]?\d{4}[\s-]?\d{4}\b"),
    ("Email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    ("Phone", r"\b\d{3}[\s.-]?\d{3}[\s.-]?\d{4}\b"),
];

/// The built-in regexes, compiled once. They are constants covered by the unit tests; should one
/// ever fail to compile, the guardrail reports the error on each call instead of panicking.
static BUILTINS: LazyLock<Result<[Regex; 4], regex::Error>> = LazyLock::new(compile_builtins);

/// Compiles [`BUILTIN_SOURCES`], in order.
fn compile_builtins() -> Result<[Regex; 4], regex::Error> {
    let [a, b, c, d] = BUILTIN_SOURCES.map(|(_, source)| Regex::new(source));
    Ok([a?, b?, c?, d?])
}

/// A custom PII pattern that is not a valid regex.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid custom PII pattern `{name}`: {source}")]
pub struct PiiPatternError {
    /// The name the pattern was given.
    pub name: String,
    /// Why the regex did not compile.
    #[source]
    pub source: regex::Error,
}

/// Finds Social Security, credit card, email and phone numbers (and custom patterns) in the
/// input; rejects the run, or masks them with `*`.
///
/// The text checked is [`input_content_string`](crate::run::RunInput::input_content_string)
/// (JSON input as compact JSON). Types are checked in order: "SSN", "Credit Card", "Email",
/// "Phone" (those enabled), then custom patterns in the order they were added.
///
/// * Without masking (the default), any match stops the run with an [`InputCheckError`]
///   "Potential PII detected in input", trigger [`CheckTrigger::PiiDetected`] and data
///   `{"detected_pii": [the types found, in order]}`.
/// * With [`mask_pii(true)`](Self::mask_pii), each match of each type found is replaced by as
///   many `*` as it has characters, type after type, and the input becomes that text (always
///   text, even if it was JSON, as in agno): `"hi my email is a@b.com"` becomes
///   `"hi my email is *******"`. Input without PII is left untouched.
///
/// Custom patterns use the syntax of the [`regex`] crate (no look-around or back-references).
/// As in agno (a Python dict), a custom pattern named like an enabled built-in type replaces its
/// regex in place, and adding a name again replaces the earlier pattern.
///
/// ```
/// use agno_core::guardrails::PIIDetectionGuardrail;
///
/// let g = PIIDetectionGuardrail::new()
///     .enable_phone_check(false)
///     .custom_pattern("Employee ID", r"\bEMP-\d{6}\b")
///     .unwrap();
/// assert_eq!(g.pattern_names(), ["SSN", "Credit Card", "Email", "Employee ID"]);
/// assert!(PIIDetectionGuardrail::new().custom_pattern("Bad", "(").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct PIIDetectionGuardrail {
    mask_pii: bool,
    /// Whether the built-in types are checked, in [`BUILTIN_SOURCES`] order.
    enabled: [bool; 4],
    /// Custom patterns, in the order they were first added; names are unique.
    custom: Vec<(String, Regex)>,
}

impl PIIDetectionGuardrail {
    /// A guardrail checking all four built-in types and rejecting the run on a match.
    pub fn new() -> Self {
        Self { mask_pii: false, enabled: [true; 4], custom: Vec::new() }
    }

    /// Masks PII with `*` instead of rejecting the run (default `false`).
    pub fn mask_pii(mut self, mask: bool) -> Self {
        self.mask_pii = mask;
        self
    }

    /// Checks Social Security numbers, "SSN" (default `true`).
    pub fn enable_ssn_check(mut self, enable: bool) -> Self {
        self.enabled[0] = enable;
        self
    }

    /// Checks credit card numbers, "Credit Card" (default `true`).
    pub fn enable_credit_card_check(mut self, enable: bool) -> Self {
        self.enabled[1] = enable;
        self
    }

    /// Checks email addresses, "Email" (default `true`).
    pub fn enable_email_check(mut self, enable: bool) -> Self {
        self.enabled[2] = enable;
        self
    }

    /// Checks phone numbers, "Phone" (default `true`).
    pub fn enable_phone_check(mut self, enable: bool) -> Self {
        self.enabled[3] = enable;
        self
    }

    /// Adds a custom type; fails if `pattern` is not a valid regex.
    pub fn custom_pattern(mut self, name: impl Into<String>, pattern: &str) -> Result<Self, PiiPatternError> {
        let name = name.into();
        let regex = match Regex::new(pattern) {
            Ok(regex) => regex,
            Err(source) => return Err(PiiPatternError { name, source }),
        };
        match self.custom.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = regex,
            None => self.custom.push((name, regex)),
        }
        Ok(self)
    }

    /// Whether PII is masked rather than rejected.
    pub fn masks_pii(&self) -> bool {
        self.mask_pii
    }

    /// The types checked, in order.
    pub fn pattern_names(&self) -> Vec<&str> {
        // Any regexes do for the names; the order does not depend on them.
        match &*BUILTINS {
            Ok(builtins) => self.patterns(builtins).map(|(name, _)| name).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The enabled types and their regexes, in order (custom ones override built-ins by name).
    fn patterns<'s>(&'s self, builtins: &'s [Regex; 4]) -> impl Iterator<Item = (&'s str, &'s Regex)> + 's {
        let custom = move |name: &str| self.custom.iter().find(|(n, _)| n == name).map(|(_, r)| r);
        let builtin = BUILTIN_SOURCES
            .iter()
            .zip(builtins)
            .zip(self.enabled)
            .filter(|(_, on)| *on)
            .map(move |(((name, _), regex), _)| (*name, custom(name).unwrap_or(regex)));
        let extra = self
            .custom
            .iter()
            .filter(move |(name, _)| !self.builtin_enabled(name))
            .map(|(name, regex)| (name.as_str(), regex));
        builtin.chain(extra)
    }

    /// Whether `name` is an enabled built-in type.
    fn builtin_enabled(&self, name: &str) -> bool {
        BUILTIN_SOURCES.iter().zip(self.enabled).any(|((n, _), on)| on && *n == name)
    }

    /// Checks `content`: `Ok(None)` if clean, `Ok(Some(masked))` when masking, `Err` otherwise.
    fn inspect(&self, content: &str) -> Result<Option<String>, HookError> {
        let builtins = match &*BUILTINS {
            Ok(builtins) => builtins,
            Err(e) => return Err(HookError::Failed(Box::new(e.clone()))),
        };
        let detected: Vec<(&str, &Regex)> = self.patterns(builtins).filter(|(_, r)| r.is_match(content)).collect();
        if detected.is_empty() {
            return Ok(None);
        }
        let names: Vec<&str> = detected.iter().map(|(name, _)| *name).collect();
        if !self.mask_pii {
            tracing::debug!(detected_pii = ?names, "PII found in input");
            return Err(InputCheckError::new(MESSAGE)
                .with_trigger(CheckTrigger::PiiDetected)
                .with_data(json!({ "detected_pii": names }))
                .into());
        }
        tracing::debug!(masked_pii = ?names, "masking PII in input");
        let mut masked = content.to_owned();
        for (_, regex) in detected {
            if let Cow::Owned(next) = regex.replace_all(&masked, stars) {
                masked = next;
            }
        }
        Ok(Some(masked))
    }
}

/// As many `*` as the match has characters.
fn stars(caps: &Captures<'_>) -> String {
    let len = caps.get(0).map_or(0, |m| m.as_str().chars().count());
    "*".repeat(len)
}

impl Default for PIIDetectionGuardrail {
    fn default() -> Self {
        Self::new()
    }
}

impl Hook for PIIDetectionGuardrail {
    fn name(&self) -> &str {
        "PIIDetectionGuardrail"
    }

    fn params(&self) -> HookParams {
        if self.mask_pii { HookParams::RUN_INPUT_MUT } else { HookParams::RUN_INPUT }
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
        let result = self.inspect(&run_input.input_content_string()).map(|masked| {
            if let Some(masked) = masked {
                run_input.input_content = InputContent::Text(masked);
            }
        });
        HookCall::Done(result)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::agent::Agent;
    use crate::guardrails::test_support::{check, check_without_input};
    use crate::models::Role;
    use crate::run::{RunInput, RunStatus};

    /// The `detected_pii` list of a rejection; panics on anything else.
    fn detected(result: Result<(), HookError>) -> Vec<String> {
        match result {
            Err(HookError::InputCheck(e)) => {
                assert_eq!(e.message, MESSAGE);
                assert_eq!(e.check_trigger, CheckTrigger::PiiDetected);
                let data = e.additional_data.expect("a PII rejection carries data");
                let list = data["detected_pii"].as_array().expect("detected_pii is a list");
                list.iter().map(|v| v.as_str().expect("a type name").to_owned()).collect()
            }
            other => panic!("expected a PII rejection, got {other:?}"),
        }
    }

    /// Runs `g` on `text` and returns the `detected_pii` list.
    fn detect(g: &PIIDetectionGuardrail, text: &str) -> Vec<String> {
        let mut input = RunInput::new(text);
        let result = check(g, &mut input);
        assert_eq!(input.input_content_string(), text, "a rejection must not change the input");
        detected(result)
    }

    /// Runs a masking `g` on `text` and returns the resulting input text.
    fn mask(g: &PIIDetectionGuardrail, text: &str) -> String {
        let mut input = RunInput::new(text);
        check(g, &mut input).expect("masking never rejects");
        input.input_content_string()
    }

    #[test]
    fn builtins_compile_in_agnos_order() {
        let builtins = compile_builtins().expect("the built-in regexes compile");
        for ((name, source), regex) in BUILTIN_SOURCES.iter().zip(&builtins) {
            assert_eq!(regex.as_str(), *source, "{name}");
        }
        assert!(BUILTINS.is_ok());
        let names: Vec<&str> = BUILTIN_SOURCES.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["SSN", "Credit Card", "Email", "Phone"]);
        assert_eq!(PIIDetectionGuardrail::new().pattern_names(), names);
    }

    #[test]
    fn identity_and_params_follow_masking() {
        let g = PIIDetectionGuardrail::default();
        assert_eq!(g.name(), "PIIDetectionGuardrail");
        assert!(g.is_guardrail());
        assert!(!g.run_in_background());
        assert!(!g.masks_pii());
        assert_eq!(g.params(), HookParams::RUN_INPUT);
        assert!(!g.params().modifies());
        let m = g.mask_pii(true);
        assert!(m.masks_pii());
        assert_eq!(m.params(), HookParams::RUN_INPUT_MUT);
        assert!(m.params().modifies());
        assert!(m.params().needs_input());
    }

    #[test]
    fn each_type_is_detected() {
        let g = PIIDetectionGuardrail::new();
        assert_eq!(detect(&g, "My SSN is 123-45-6789."), ["SSN"]);
        assert_eq!(detect(&g, "card 4111 1111 1111 1111 please"), ["Credit Card"]);
        assert_eq!(detect(&g, "card 4111-1111-1111-1111 please"), ["Credit Card"]);
        assert_eq!(detect(&g, "card 4111111111111111 please"), ["Credit Card"]);
        assert_eq!(detect(&g, "write to john.doe+x@example.co.uk"), ["Email"]);
        assert_eq!(detect(&g, "call 555-123-4567"), ["Phone"]);
        assert_eq!(detect(&g, "call 555.123.4567"), ["Phone"]);
        assert_eq!(detect(&g, "call 555 123 4567"), ["Phone"]);
    }

    #[test]
    fn clean_text_passes_unchanged() {
        for g in [PIIDetectionGuardrail::new(), PIIDetectionGuardrail::new().mask_pii(true)] {
            for text in ["What is the return policy?", "Order 12345 shipped on 2024-01-02", "a@b", ""] {
                let mut input = RunInput::new(text);
                let before = input.clone();
                assert!(check(&g, &mut input).is_ok(), "{text:?}");
                assert_eq!(input, before);
            }
        }
    }

    #[test]
    fn detected_types_are_listed_in_pattern_order() {
        let g = PIIDetectionGuardrail::new();
        // Written in the reverse order of the patterns.
        let text = "phone 555-123-4567, mail a@b.com, card 4111 1111 1111 1111, ssn 123-45-6789";
        assert_eq!(detect(&g, text), ["SSN", "Credit Card", "Email", "Phone"]);
        assert_eq!(detect(&g, "mail a@b.com or 555.123.4567"), ["Email", "Phone"]);
    }

    #[test]
    fn disabled_checks_skip_their_type() {
        let text = "ssn 123-45-6789 mail a@b.com card 4111-1111-1111-1111 phone 555-123-4567";
        let no_ssn = PIIDetectionGuardrail::new().enable_ssn_check(false);
        assert_eq!(detect(&no_ssn, text), ["Credit Card", "Email", "Phone"]);
        let no_card = PIIDetectionGuardrail::new().enable_credit_card_check(false);
        assert_eq!(detect(&no_card, text), ["SSN", "Email", "Phone"]);
        let no_email = PIIDetectionGuardrail::new().enable_email_check(false);
        assert_eq!(detect(&no_email, text), ["SSN", "Credit Card", "Phone"]);
        let no_phone = PIIDetectionGuardrail::new().enable_phone_check(false);
        assert_eq!(detect(&no_phone, text), ["SSN", "Credit Card", "Email"]);

        let none = PIIDetectionGuardrail::new()
            .enable_ssn_check(false)
            .enable_credit_card_check(false)
            .enable_email_check(false)
            .enable_phone_check(false);
        assert!(none.pattern_names().is_empty());
        assert!(check(&none, &mut RunInput::new(text)).is_ok());
        // Re-enabling works.
        assert_eq!(detect(&none.enable_email_check(true), text), ["Email"]);
    }

    #[test]
    fn masking_matches_agno_example() {
        let g = PIIDetectionGuardrail::new().mask_pii(true);
        let mut input = RunInput::new("hi my email is a@b.com");
        assert!(check(&g, &mut input).is_ok());
        assert_eq!(input.input_content, InputContent::Text("hi my email is *******".into()));
    }

    #[test]
    fn masking_keeps_lengths_of_every_match() {
        let g = PIIDetectionGuardrail::new().mask_pii(true);
        assert_eq!(mask(&g, "ssn 123-45-6789 and 987-65-4321"), "ssn *********** and ***********");
        assert_eq!(mask(&g, "card 4111 1111 1111 1111"), format!("card {}", "*".repeat(19)));
        assert_eq!(mask(&g, "call 555.123.4567 or a@b.com"), "call ************ or *******");
        let text = "x 123-45-6789 y jane@example.org z 555-123-4567";
        let masked = mask(&g, text);
        assert_eq!(masked.chars().count(), text.chars().count());
        assert_eq!(masked, format!("x {} y {} z {}", "*".repeat(11), "*".repeat(16), "*".repeat(12)));
    }

    #[test]
    fn masking_counts_characters_not_bytes() {
        let g = PIIDetectionGuardrail::new().custom_pattern("Name", "Zoë").unwrap().mask_pii(true);
        assert_eq!(mask(&g, "hi Zoë!"), "hi ***!");
    }

    #[test]
    fn masking_json_input_gives_text() {
        let g = PIIDetectionGuardrail::new().mask_pii(true);
        let mut input = RunInput::new(serde_json::json!({"email": "a@b.com"}));
        assert!(check(&g, &mut input).is_ok());
        assert_eq!(input.input_content, InputContent::Text(r#"{"email":"*******"}"#.into()));
        // JSON without PII stays JSON.
        let mut clean = RunInput::new(serde_json::json!({"q": "weather"}));
        assert!(check(&g, &mut clean).is_ok());
        assert!(matches!(clean.input_content, InputContent::Json(Value::Object(_))));
    }

    #[test]
    fn json_input_is_detected_through_its_string_form() {
        let g = PIIDetectionGuardrail::new();
        let mut input = RunInput::new(serde_json::json!({"ssn": "123-45-6789"}));
        assert_eq!(detected(check(&g, &mut input)), ["SSN"]);
    }

    #[test]
    fn custom_patterns_are_checked_after_builtins() {
        let g = PIIDetectionGuardrail::new()
            .custom_pattern("Employee ID", r"\bEMP-\d{6}\b")
            .unwrap()
            .custom_pattern("Passport", r"\b[A-Z]\d{8}\b")
            .unwrap();
        assert_eq!(g.pattern_names(), ["SSN", "Credit Card", "Email", "Phone", "Employee ID", "Passport"]);
        assert_eq!(detect(&g, "I am EMP-123456"), ["Employee ID"]);
        assert_eq!(detect(&g, "P12345678, EMP-000001 and a@b.com"), ["Email", "Employee ID", "Passport"]);
        assert!(check(&g, &mut RunInput::new("EMP-12")).is_ok());
        let masking = g.mask_pii(true);
        assert_eq!(mask(&masking, "id EMP-123456."), "id **********.");
    }

    #[test]
    fn custom_names_behave_like_dict_keys() {
        // Re-adding a name replaces the earlier pattern in place.
        let g = PIIDetectionGuardrail::new()
            .custom_pattern("A", "alpha")
            .unwrap()
            .custom_pattern("B", "beta")
            .unwrap()
            .custom_pattern("A", "gamma")
            .unwrap();
        assert_eq!(g.pattern_names(), ["SSN", "Credit Card", "Email", "Phone", "A", "B"]);
        assert!(check(&g, &mut RunInput::new("alpha")).is_ok());
        assert_eq!(detect(&g, "gamma beta"), ["A", "B"]);

        // A custom "Email" replaces the built-in regex and keeps its place.
        let g = PIIDetectionGuardrail::new().custom_pattern("Email", r"\bmail:\w+").unwrap();
        assert_eq!(g.pattern_names(), ["SSN", "Credit Card", "Email", "Phone"]);
        assert!(check(&g, &mut RunInput::new("a@b.com")).is_ok());
        assert_eq!(detect(&g, "mail:jo 555-123-4567"), ["Email", "Phone"]);

        // With the built-in disabled, it goes after the built-ins.
        let g = g.enable_email_check(false);
        assert_eq!(g.pattern_names(), ["SSN", "Credit Card", "Phone", "Email"]);
        assert_eq!(detect(&g, "mail:jo 555-123-4567"), ["Phone", "Email"]);
    }

    #[test]
    fn bad_custom_regex_is_an_error_naming_it() {
        let err = PIIDetectionGuardrail::new().custom_pattern("Badge Number", r"(\d+").unwrap_err();
        assert_eq!(err.name, "Badge Number");
        let text = err.to_string();
        assert!(text.contains("Badge Number"), "{text}");
        assert!(text.contains("invalid custom PII pattern"), "{text}");
        assert!(std::error::Error::source(&err).is_some());
        // Look-around is not supported by the regex crate.
        let err = PIIDetectionGuardrail::new().custom_pattern("Ahead", r"a(?=b)").unwrap_err();
        assert!(err.to_string().contains("Ahead"));
    }

    #[test]
    fn missing_run_input_is_reported() {
        let g = PIIDetectionGuardrail::new().mask_pii(true);
        assert!(matches!(check_without_input(&g), Err(HookError::Missing("run_input"))));
    }

    #[tokio::test]
    async fn agent_run_masks_email_before_the_model() {
        let agent = Agent::builder().pre_hook(PIIDetectionGuardrail::new().mask_pii(true)).build().unwrap();
        let out = agent.run("my email is a@b.com").await.unwrap();
        assert_eq!(out.status, RunStatus::Completed);
        let input = out.input.as_ref().expect("the run keeps its input");
        assert_eq!(input.input_content_string(), "my email is *******");
        let messages = out.messages.as_ref().expect("the model was called");
        let user: Vec<&str> =
            messages.iter().filter(|m| m.role == Role::User).filter_map(|m| m.content.as_deref()).collect();
        assert_eq!(user, ["my email is *******"]);
        let content = out.content.as_deref().expect("the model answered");
        assert!(content.contains("my email is *******"), "{content}");
        assert!(!content.contains("a@b.com"), "{content}");
        assert_eq!(content, "You said: \"my email is *******\"");
    }

    #[tokio::test]
    async fn agent_run_with_pii_and_no_masking_stops_with_error() {
        let agent = Agent::builder().pre_hook(PIIDetectionGuardrail::new()).build().unwrap();
        let out = agent.run("my ssn is 123-45-6789").await.unwrap();
        assert_eq!(out.status, RunStatus::Error);
        assert_eq!(out.content.as_deref(), Some(MESSAGE));
    }
}
