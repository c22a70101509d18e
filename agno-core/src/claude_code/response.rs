//! What a handler answers ([`Response`], made with [`allow`], [`deny`], [`ask`], [`block`],
//! [`approve`], [`modify`] and [`context`]) and how the answers of all handlers of one event
//! become the stdout and exit code Claude Code acts on.
//!
//! The protocol is the one Claude Code 2.1.332 really honours (measured, see the crate README):
//! * a tool is denied with `hookSpecificOutput.permissionDecision: "deny"` and its reason reaches
//!   the model; `ask` and `allow` are the other decisions, `updatedInput` rewrites the input;
//! * a prompt is dropped, and a Stop forced into one more turn, with `decision: "block"` and a
//!   `reason` (the reason reaches the model);
//! * text for the model goes in `hookSpecificOutput.additionalContext`; `systemMessage` is shown
//!   to the user only.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::event::EventName;

/// What a handler decides about the event.
#[derive(Debug, Clone, PartialEq)]
enum Decision {
    /// No objection: Claude Code goes on as it would without the hook.
    None,
    /// Allow the tool without asking the user.
    Approve(Option<String>),
    /// Allow the tool with this input instead.
    Modify(Value),
    /// Ask the user.
    Ask(String),
    /// Deny the tool, drop the prompt, or (Stop) make the model go on.
    Block(String),
}

/// A handler's answer. Start from one of the functions of this module and add to it:
///
/// ```
/// use agno_core::claude_code::{allow, deny};
///
/// let ok = allow().context("Previous analysis: Analysis complete: 120 chars");
/// let no = deny("writing .env files is not allowed: they hold secrets");
/// assert!(no.is_blocking() && !ok.is_blocking());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a response does nothing unless the handler returns it"]
pub struct Response {
    decision: Decision,
    context: Vec<String>,
    user_message: Vec<String>,
}

/// No objection: the event goes on as it would without this hook (Claude Code's own permission
/// rules still apply to a tool). fasthooks' `allow(message=...)` is `allow().context(...)`.
pub fn allow() -> Response {
    Response { decision: Decision::None, context: Vec::new(), user_message: Vec::new() }
}

/// Allows a tool without asking the user (`permissionDecision: "allow"`; on a
/// `PermissionRequest`, `behavior: "allow"`).
pub fn approve() -> Response {
    Response { decision: Decision::Approve(None), ..allow() }
}

/// Denies a tool; the reason reaches the model. On events that are not about a tool it is
/// [`block`].
pub fn deny(reason: impl Into<String>) -> Response {
    Response { decision: Decision::Block(reason.into()), ..allow() }
}

/// Blocks the event: a tool is not run, a prompt is dropped, a `Stop` makes the model take one
/// more turn. The reason reaches the model.
pub fn block(reason: impl Into<String>) -> Response {
    deny(reason)
}

/// Asks the user whether the tool may run (in `claude -p` this denies).
pub fn ask(reason: impl Into<String>) -> Response {
    Response { decision: Decision::Ask(reason.into()), ..allow() }
}

/// Runs the tool with this input instead (the whole input, as the tool takes it: Claude Code
/// replaces the input, it does not merge). An input that cannot be serialised denies the call
/// with the reason.
pub fn modify(updated_input: impl Serialize) -> Response {
    match serde_json::to_value(updated_input) {
        Ok(input) => Response { decision: Decision::Modify(input), ..allow() },
        Err(e) => deny(format!("the hook's rewrite of the tool input cannot be serialised: {e}")),
    }
}

/// No objection, and this text for the model (`allow().context(text)`).
pub fn context(text: impl Into<String>) -> Response {
    allow().context(text)
}

impl Response {
    /// Adds text for the model (`additionalContext`); several are joined by a blank line.
    pub fn context(mut self, text: impl Into<String>) -> Self {
        self.context.push(text.into());
        self
    }

    /// Adds a message shown to the user, not to the model (`systemMessage`).
    pub fn user_message(mut self, text: impl Into<String>) -> Self {
        self.user_message.push(text.into());
        self
    }

    /// Whether this answer denies or blocks (later handlers of the event do not run).
    pub fn is_blocking(&self) -> bool {
        matches!(self.decision, Decision::Block(_))
    }

    /// The reason of a deny, block or ask.
    pub fn reason(&self) -> Option<&str> {
        match &self.decision {
            Decision::Block(r) | Decision::Ask(r) => Some(r),
            Decision::Approve(r) => r.as_deref(),
            _ => None,
        }
    }

    /// The text for the model added so far.
    pub fn contexts(&self) -> &[String] {
        &self.context
    }
}

impl Default for Response {
    fn default() -> Self {
        allow()
    }
}

/// What a handler function may return: `()` (no objection), a [`Response`], an
/// `Option<Response>` (`None`: no objection), or a `Result` of those (an `Err` is a failed
/// handler, reported on stderr).
#[diagnostic::on_unimplemented(
    message = "a Claude Code handler must return `()`, `Response`, `Option<Response>` or a `Result` of those, not `{Self}`",
    label = "unsupported return type",
    note = "build the answer with `allow()`, `deny(reason)`, `ask(reason)`, `block(reason)`, `approve()`, `modify(input)` or `context(text)` from `agno::claude_code`"
)]
pub trait IntoResponse {
    /// Converts.
    fn into_response(self) -> Result<Response, Box<dyn std::error::Error + Send + Sync>>;
}

impl IntoResponse for () {
    fn into_response(self) -> Result<Response, Box<dyn std::error::Error + Send + Sync>> {
        Ok(allow())
    }
}

impl IntoResponse for Response {
    fn into_response(self) -> Result<Response, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self)
    }
}

impl IntoResponse for Option<Response> {
    fn into_response(self) -> Result<Response, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.unwrap_or_default())
    }
}

impl<T, E> IntoResponse for Result<T, E>
where
    T: IntoResponse,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn into_response(self) -> Result<Response, Box<dyn std::error::Error + Send + Sync>> {
        self.map_err(Into::into).and_then(IntoResponse::into_response)
    }
}

/// The answers of one event's handlers, folded in registration order: the first deny or block
/// wins (and ends the event); otherwise the strongest answer stands, ask over modify over
/// approve (so a later handler's `ask` or rewrite is never lost to an earlier `approve`), the
/// first of equals; contexts and user messages are joined.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    decision: Option<Decision>,
    context: Vec<String>,
    user_message: Vec<String>,
    /// Lines for stderr (answers that mean nothing for this event).
    pub(crate) notes: Vec<String>,
    /// Handlers that failed (non-blocking policy).
    failures: usize,
}

/// What the process writes and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Standard output: empty, or one JSON object and a newline.
    pub stdout: String,
    /// Standard error: one line per problem.
    pub stderr: String,
    /// 0 (Claude Code reads stdout), 1 (a non-blocking error: Claude Code still reads stdout and
    /// goes on) or 2 (block: stdout is ignored and stderr goes to Claude).
    pub exit_code: i32,
}

impl Outcome {
    /// Exit 1 with one line on stderr: the input could not be used; Claude Code goes on.
    pub(crate) fn bad_input(reason: impl std::fmt::Display) -> Self {
        Self { stdout: String::new(), stderr: format!("agno hook: {reason}\n"), exit_code: 1 }
    }
}

/// Where text for the model can go on this event without side effects. (On `Stop`, Claude Code
/// 2.1.332 treats `additionalContext` like a block and takes one more turn, so context there is
/// shown to the user instead; `block(reason)` is the way to make the model go on.)
fn takes_context(event: EventName) -> bool {
    matches!(
        event,
        EventName::UserPromptSubmit | EventName::SessionStart | EventName::PostToolUse | EventName::PreToolUse
    )
}

impl Verdict {
    /// Adds one handler's answer; whether the event is decided (a deny or block).
    pub(crate) fn add(&mut self, response: Response) -> bool {
        let Response { decision, context, user_message } = response;
        self.context.extend(context.into_iter().filter(|c| !c.is_empty()));
        self.user_message.extend(user_message.into_iter().filter(|m| !m.is_empty()));
        let blocking = matches!(decision, Decision::Block(_));
        let current = self.decision.as_ref().map_or(0, rank);
        if rank(&decision) > current {
            self.decision = Some(decision);
        } else if matches!((&self.decision, &decision), (Some(Decision::Modify(_)), Decision::Modify(_))) {
            self.notes
                .push("agno hook: a second `modify` of one tool call is ignored; the first one stands".to_owned());
        }
        blocking
    }

    /// Records a handler that failed under the non-blocking policy: the user is told, and the
    /// process exits 1 (Claude Code reports a non-blocking hook error and still reads stdout).
    pub(crate) fn failed(&mut self, message: String) {
        self.notes.push(format!("agno hook: {message}; going on (error policy: non-blocking)"));
        self.user_message.push(format!("agno hook: {message}"));
        self.failures += 1;
    }

    /// The JSON answer for `event`, or nothing when there is nothing to say.
    pub(crate) fn render(mut self, event: EventName) -> Outcome {
        let mut top = Map::new();
        let mut specific = Map::new();
        let decision = self.decision.take().unwrap_or(Decision::None);
        match (event, decision) {
            (_, Decision::None) => {}
            (EventName::PreToolUse, decision) => {
                let (verdict, reason, input) = match decision {
                    Decision::Block(reason) => ("deny", Some(reason), None),
                    Decision::Ask(reason) => ("ask", Some(reason), None),
                    Decision::Modify(input) => ("allow", None, Some(input)),
                    Decision::Approve(reason) => ("allow", reason, None),
                    Decision::None => ("allow", None, None),
                };
                specific.insert("permissionDecision".into(), verdict.into());
                if let Some(reason) = reason {
                    specific.insert("permissionDecisionReason".into(), reason.into());
                }
                if let Some(input) = input {
                    specific.insert("updatedInput".into(), input);
                }
            }
            (EventName::PermissionRequest, decision) => {
                let answer = match decision {
                    Decision::Block(reason) => Some(json!({"behavior": "deny", "message": reason})),
                    Decision::Modify(input) => Some(json!({"behavior": "allow", "updatedInput": input})),
                    Decision::Approve(_) | Decision::None => Some(json!({"behavior": "allow"})),
                    Decision::Ask(_) => None, // Claude Code asks the user anyway.
                };
                if let Some(answer) = answer {
                    specific.insert("decision".into(), answer);
                }
            }
            (
                EventName::UserPromptSubmit | EventName::Stop | EventName::SubagentStop | EventName::PostToolUse,
                Decision::Block(reason),
            ) => {
                top.insert("decision".into(), "block".into());
                top.insert("reason".into(), reason.into());
            }
            (event, decision) => {
                self.notes.push(format!("agno hook: {} has no meaning on {event}; ignored", describe(&decision)))
            }
        }
        if !self.context.is_empty() {
            let text = self.context.join("\n\n");
            if takes_context(event) {
                specific.insert("additionalContext".into(), text.into());
            } else {
                self.notes.push(format!("agno hook: {event} cannot pass text to the model; shown to the user instead"));
                self.user_message.push(text);
            }
        }
        if !specific.is_empty() {
            specific.insert("hookEventName".into(), event.as_str().into());
            top.insert("hookSpecificOutput".into(), Value::Object(specific));
        }
        if !self.user_message.is_empty() {
            top.insert("systemMessage".into(), self.user_message.join("\n").into());
        }
        let stdout = if top.is_empty() { String::new() } else { format!("{}\n", Value::Object(top)) };
        let stderr: String = self.notes.iter().map(|n| format!("{n}\n")).collect();
        Outcome { stdout, stderr, exit_code: if self.failures > 0 { 1 } else { 0 } }
    }
}

/// How strong an answer is: a stronger one replaces a weaker one of an earlier handler.
fn rank(decision: &Decision) -> u8 {
    match decision {
        Decision::None => 0,
        Decision::Approve(_) => 1,
        Decision::Modify(_) => 2,
        Decision::Ask(_) => 3,
        Decision::Block(_) => 4,
    }
}

fn describe(decision: &Decision) -> &'static str {
    match decision {
        Decision::None => "allow",
        Decision::Approve(_) => "approve",
        Decision::Modify(_) => "modify",
        Decision::Ask(_) => "ask",
        Decision::Block(_) => "deny/block",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(event: EventName, responses: Vec<Response>) -> Outcome {
        let mut verdict = Verdict::default();
        for r in responses {
            if verdict.add(r) {
                break;
            }
        }
        verdict.render(event)
    }

    fn json(outcome: &Outcome) -> Value {
        serde_json::from_str(&outcome.stdout).unwrap()
    }

    #[test]
    fn nothing_to_say_writes_nothing() {
        let out = render(EventName::PreToolUse, vec![allow(), ().into_response().unwrap()]);
        assert_eq!(out, Outcome { stdout: String::new(), stderr: String::new(), exit_code: 0 });
    }

    #[test]
    fn the_first_deny_wins_and_contexts_are_joined() {
        let out =
            render(EventName::PreToolUse, vec![context("one"), ask("maybe"), deny("no").context("two"), deny("later")]);
        assert_eq!(
            json(&out),
            json!({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                "permissionDecisionReason": "no", "additionalContext": "one\n\ntwo"}})
        );
    }

    #[test]
    fn a_stronger_answer_of_a_later_handler_is_never_lost() {
        let out = render(EventName::PreToolUse, vec![approve(), ask("sure?")]);
        assert_eq!(json(&out)["hookSpecificOutput"]["permissionDecision"], "ask");
        let out = render(EventName::PreToolUse, vec![approve(), modify(json!({"command": "ls"}))]);
        assert_eq!(json(&out)["hookSpecificOutput"]["updatedInput"], json!({"command": "ls"}));
        let out = render(EventName::PreToolUse, vec![modify(json!({"a": 1})), approve(), modify(json!({"a": 2}))]);
        assert_eq!(json(&out)["hookSpecificOutput"]["updatedInput"], json!({"a": 1}));
        assert!(out.stderr.contains("a second `modify`"), "{}", out.stderr);
        let out = render(EventName::PreToolUse, vec![ask("sure?"), approve()]);
        assert_eq!(json(&out)["hookSpecificOutput"]["permissionDecision"], "ask");
    }

    #[test]
    fn block_on_prompt_and_stop_and_context_for_the_model() {
        let out = render(EventName::Stop, vec![block("run the tests first")]);
        assert_eq!(json(&out), json!({"decision": "block", "reason": "run the tests first"}));
        let out = render(EventName::UserPromptSubmit, vec![context("Previous analysis: done")]);
        assert_eq!(
            json(&out),
            json!({"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": "Previous analysis: done"}})
        );
    }

    #[test]
    fn permission_requests_and_rewrites() {
        let out = render(EventName::PermissionRequest, vec![deny("no")]);
        assert_eq!(
            json(&out),
            json!({"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "deny", "message": "no"}}})
        );
        let out = render(EventName::PreToolUse, vec![modify(json!({"file_path": "a", "content": "b"}))]);
        assert_eq!(json(&out)["hookSpecificOutput"]["updatedInput"], json!({"file_path": "a", "content": "b"}));
        assert_eq!(json(&out)["hookSpecificOutput"]["permissionDecision"], "allow");
    }

    #[test]
    fn answers_that_mean_nothing_here_are_reported() {
        let out = render(EventName::SessionEnd, vec![deny("x").context("for the model").user_message("hi")]);
        assert_eq!(json(&out), json!({"systemMessage": "hi\nfor the model"}));
        assert!(out.stderr.contains("deny/block has no meaning on SessionEnd"), "{}", out.stderr);
        assert!(out.stderr.contains("cannot pass text to the model"), "{}", out.stderr);
    }

    #[test]
    fn results_and_options_convert() {
        let r: Result<Response, std::io::Error> = Err(std::io::Error::other("disk"));
        assert_eq!(r.into_response().unwrap_err().to_string(), "disk");
        assert_eq!(None::<Response>.into_response().unwrap(), allow());
        let r: Result<(), &str> = Ok(());
        assert_eq!(r.into_response().unwrap(), allow());
    }
}
