//! The events Claude Code sends a hook command, parsed leniently: unknown fields are ignored and
//! the whole JSON object stays available ([`HookEvent::raw`]).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a hook's input could not be read. Each is one line, for stderr.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Standard input is not a JSON object.
    #[error("the hook input is not valid JSON: {0}")]
    Json(serde_json::Error),
    /// The object has no `hook_event_name`.
    #[error("the hook input has no `hook_event_name` (is this program installed as a Claude Code hook command?)")]
    NoEventName,
    /// The event is not one this version knows.
    #[error("unknown Claude Code event `{0}`")]
    Unknown(String),
    /// A field the event needs is missing or has the wrong type.
    #[error("{event} input: {source}")]
    Field {
        /// The event's name.
        event: EventName,
        /// What serde said.
        source: serde_json::Error,
    },
    /// Standard input could not be read.
    #[error("cannot read the hook input from stdin: {0}")]
    Io(#[from] std::io::Error),
}

/// The events a handler can be registered for, plus the ones that are only recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventName {
    /// `PreToolUse`: before a tool runs; can deny, ask, approve or rewrite it.
    PreToolUse,
    /// `PostToolUse`: after a tool ran.
    PostToolUse,
    /// `PermissionRequest`: Claude Code is about to ask the user for a permission.
    PermissionRequest,
    /// `UserPromptSubmit`: the user sent a prompt, before the model sees it.
    UserPromptSubmit,
    /// `Stop`: the model finished its turn.
    Stop,
    /// `SubagentStop`: a subagent finished.
    SubagentStop,
    /// `SessionStart`: a session started or resumed.
    SessionStart,
    /// `SessionEnd`: a session ended.
    SessionEnd,
    /// `PreCompact`: before the conversation is compacted.
    PreCompact,
    /// `Notification`: Claude Code shows a notification.
    Notification,
    /// `PostCompact`, `SubagentStart`, `PostToolUseFailure`: recognised, answered with nothing.
    Other(&'static str),
}

/// Events that are recognised but have no handler registration of their own.
const RECOGNISED_ONLY: &[&str] = &["PostCompact", "SubagentStart", "PostToolUseFailure"];

/// Calls `$callback!(PreToolUse, PostToolUse, ..., Notification $(, $extra)*)`: the one list of
/// the typed events, for the code that is the same for each of them.
macro_rules! with_typed_events {
    ($callback:ident $(, $extra:ident)*) => {
        $callback!(
            PreToolUse,
            PostToolUse,
            PermissionRequest,
            UserPromptSubmit,
            Stop,
            SubagentStop,
            SessionStart,
            SessionEnd,
            PreCompact,
            Notification
            $(, $extra)*
        );
    };
}
pub(crate) use with_typed_events;

/// `EventName::HANDLED` and `EventName::as_str`.
macro_rules! event_names {
    ($($event:ident),*) => {
        impl EventName {
            /// Every event with its own registration, in the order the docs list them.
            pub const HANDLED: [EventName; 10] = [$(Self::$event),*];

            /// The name as Claude Code writes it in `hook_event_name`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$event => stringify!($event),)*
                    Self::Other(name) => name,
                }
            }
        }
    };
}

with_typed_events!(event_names);

impl EventName {
    /// Parses `hook_event_name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::HANDLED
            .into_iter()
            .find(|e| e.as_str() == name)
            .or_else(|| RECOGNISED_ONLY.iter().find(|n| **n == name).map(|n| Self::Other(n)))
    }

    /// Whether the event concerns one tool (handlers are matched on its name).
    pub fn is_tool_event(self) -> bool {
        matches!(self, Self::PreToolUse | Self::PostToolUse | Self::PermissionRequest)
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields every event has.
#[derive(Debug, Clone, Deserialize)]
struct Common {
    session_id: String,
    #[serde(default)]
    transcript_path: Option<PathBuf>,
    #[serde(default)]
    cwd: Option<PathBuf>,
    #[serde(default)]
    permission_mode: Option<String>,
}

/// A number that may come as an integer, a float or not at all; anything else is `None`
/// (models write `60000.0` as readily as `60000`, and a guard must not fail on it).
fn lenient_u64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(value.as_u64().or_else(|| value.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64)))
}

/// A text that may be missing or of another type (then `None`).
fn lenient_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Value::deserialize(deserializer)?.as_str().map(str::to_owned))
}

/// A flag that may be missing or of another type (then `false`).
fn lenient_bool<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Value::deserialize(deserializer)?.as_bool().unwrap_or(false))
}

/// The input of a tool, typed for the tools whose shape is known.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ToolInput {
    /// `Write`: create or overwrite a file.
    Write(WriteInput),
    /// `Edit`: replace a string in a file.
    Edit(EditInput),
    /// `MultiEdit`: several edits of one file.
    MultiEdit(MultiEditInput),
    /// `Bash`: run a shell command.
    Bash(BashInput),
    /// `Read`: read a file.
    Read(ReadInput),
    /// Any other tool: its input as sent.
    Other(Value),
}

/// The input of `Write`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WriteInput {
    /// The file.
    pub file_path: String,
    /// Its new content.
    pub content: String,
}

/// The input of `Edit`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EditInput {
    /// The file.
    pub file_path: String,
    /// The text to replace.
    pub old_string: String,
    /// What replaces it.
    pub new_string: String,
    /// Every occurrence, not just one.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub replace_all: bool,
}

/// One edit of `MultiEdit`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EditOperation {
    /// The text to replace.
    pub old_string: String,
    /// What replaces it.
    pub new_string: String,
    /// Every occurrence, not just one.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub replace_all: bool,
}

/// The input of `MultiEdit`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MultiEditInput {
    /// The file.
    pub file_path: String,
    /// The edits, in order.
    pub edits: Vec<EditOperation>,
}

/// The input of `Bash`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BashInput {
    /// The command line.
    pub command: String,
    /// What the model says it does.
    #[serde(default, deserialize_with = "lenient_text")]
    pub description: Option<String>,
    /// Milliseconds before it is stopped.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub timeout: Option<u64>,
    /// Whether it runs in the background.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub run_in_background: bool,
}

/// The input of `Read`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReadInput {
    /// The file.
    pub file_path: String,
    /// The first line to read.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub offset: Option<u64>,
    /// How many lines.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub limit: Option<u64>,
}

impl ToolInput {
    /// Types `input` for `tool`. An input of a known tool that lacks a field it needs is kept as
    /// [`Other`](Self::Other), with a note saying why: the handlers still run (a guard must not
    /// fail open because a new version changed a shape), and the accessors ([`file_path`],
    /// [`content`], [`command`]) still read its fields.
    ///
    /// [`file_path`]: Self::file_path
    /// [`content`]: Self::content
    /// [`command`]: Self::command
    fn parse(tool: &str, input: &Value) -> (Self, Option<String>) {
        fn typed<T: DeserializeOwned>(input: &Value, wrap: fn(T) -> ToolInput) -> Result<ToolInput, serde_json::Error> {
            T::deserialize(input).map(wrap)
        }
        let parsed = match tool {
            "Write" => typed(input, Self::Write),
            "Edit" => typed(input, Self::Edit),
            "MultiEdit" => typed(input, Self::MultiEdit),
            "Bash" => typed(input, Self::Bash),
            "Read" => typed(input, Self::Read),
            _ => return (Self::Other(input.clone()), None),
        };
        match parsed {
            Ok(typed) => (typed, None),
            Err(e) => (
                Self::Other(input.clone()),
                Some(format!(
                    "`tool_input` of {tool} is not of the known shape ({e}); handlers get it as ToolInput::Other"
                )),
            ),
        }
    }

    /// The file the tool works on (`Write`, `Edit`, `MultiEdit`, `Read`, or a `file_path` field
    /// of another tool).
    pub fn file_path(&self) -> Option<&str> {
        match self {
            Self::Write(w) => Some(&w.file_path),
            Self::Edit(e) => Some(&e.file_path),
            Self::MultiEdit(m) => Some(&m.file_path),
            Self::Read(r) => Some(&r.file_path),
            Self::Bash(_) => None,
            Self::Other(v) => v.get("file_path").and_then(Value::as_str),
        }
    }

    /// The content a `Write` writes (or a `content` field of another tool).
    pub fn content(&self) -> Option<&str> {
        match self {
            Self::Write(w) => Some(&w.content),
            Self::Other(v) => v.get("content").and_then(Value::as_str),
            _ => None,
        }
    }

    /// The command a `Bash` runs (or a `command` field of another tool).
    pub fn command(&self) -> Option<&str> {
        match self {
            Self::Bash(b) => Some(&b.command),
            Self::Other(v) => v.get("command").and_then(Value::as_str),
            _ => None,
        }
    }
}

/// Accessors every event type has.
macro_rules! common_accessors {
    ($($event:ident),* $(,)?) => {$(
        impl $event {
            /// Claude Code's session id (the same across `--continue`).
            pub fn session_id(&self) -> &str {
                &self.common.session_id
            }
            /// The session's transcript file (JSON lines), if Claude Code gave one.
            pub fn transcript_path(&self) -> Option<&Path> {
                self.common.transcript_path.as_deref()
            }
            /// The working directory of the session, if given.
            pub fn cwd(&self) -> Option<&Path> {
                self.common.cwd.as_deref()
            }
            /// `default`, `acceptEdits`, `plan`, `bypassPermissions`, ..., if given.
            pub fn permission_mode(&self) -> Option<&str> {
                self.common.permission_mode.as_deref()
            }
        }
    )*};
}

/// Accessors of the events about one tool.
macro_rules! tool_accessors {
    ($($event:ident),* $(,)?) => {$(
        impl $event {
            /// The file the tool works on, if any.
            pub fn file_path(&self) -> Option<&str> {
                self.tool_input.file_path()
            }
            /// The content a `Write` writes.
            pub fn content(&self) -> Option<&str> {
                self.tool_input.content()
            }
            /// The command a `Bash` runs.
            pub fn command(&self) -> Option<&str> {
                self.tool_input.command()
            }
        }
    )*};
}

/// `PreToolUse`: a tool is about to run.
#[derive(Debug, Clone)]
pub struct PreToolUse {
    common: Common,
    /// The tool (`Write`, `Bash`, `mcp__server__tool`, ...).
    pub tool_name: String,
    /// Its input.
    pub tool_input: ToolInput,
    /// The id of this call.
    pub tool_use_id: Option<String>,
}

/// `PermissionRequest`: Claude Code would ask the user to allow a tool (no `tool_use_id`).
#[derive(Debug, Clone)]
pub struct PermissionRequest {
    common: Common,
    /// The tool.
    pub tool_name: String,
    /// Its input.
    pub tool_input: ToolInput,
}

/// `PostToolUse`: a tool ran.
#[derive(Debug, Clone)]
pub struct PostToolUse {
    common: Common,
    /// The tool.
    pub tool_name: String,
    /// Its input.
    pub tool_input: ToolInput,
    /// What it answered, as sent.
    pub tool_response: Value,
    /// The id of this call.
    pub tool_use_id: Option<String>,
    /// How long it took.
    pub duration_ms: Option<u64>,
}

/// `UserPromptSubmit`: the user sent a prompt.
#[derive(Debug, Clone)]
pub struct UserPromptSubmit {
    common: Common,
    /// What the user wrote.
    pub prompt: String,
}

/// `Stop`: the model finished its turn.
#[derive(Debug, Clone)]
pub struct Stop {
    common: Common,
    /// Whether this turn was forced by an earlier Stop hook's `block` (so do not block again).
    pub stop_hook_active: bool,
    /// The model's last message, if given.
    pub last_assistant_message: Option<String>,
}

/// `SubagentStop`: a subagent finished.
#[derive(Debug, Clone)]
pub struct SubagentStop {
    common: Common,
    /// Whether this turn was forced by an earlier block.
    pub stop_hook_active: bool,
    /// The subagent's last message, if given.
    pub last_assistant_message: Option<String>,
    /// The subagent's id, if given.
    pub agent_id: Option<String>,
    /// Its type (`Explore`, ...; empty for the compaction agent), if given.
    pub agent_type: Option<String>,
    /// The subagent's own transcript, if given.
    pub agent_transcript_path: Option<PathBuf>,
}

/// `SessionStart`: a session started.
#[derive(Debug, Clone)]
pub struct SessionStart {
    common: Common,
    /// `startup`, `resume`, `clear` or `compact`.
    pub source: String,
}

/// `SessionEnd`: a session ended.
#[derive(Debug, Clone)]
pub struct SessionEnd {
    common: Common,
    /// Why (`clear`, `logout`, `prompt_input_exit`, `other`, ...).
    pub reason: String,
}

/// `PreCompact`: the conversation is about to be compacted.
#[derive(Debug, Clone)]
pub struct PreCompact {
    common: Common,
    /// `manual` or `auto`.
    pub trigger: String,
    /// What the user asked the summary to keep (`/compact ...`).
    pub custom_instructions: Option<String>,
}

/// `Notification`: Claude Code shows the user a notification.
#[derive(Debug, Clone)]
pub struct Notification {
    common: Common,
    /// The notification's text.
    pub message: String,
    /// Its title, if any.
    pub title: Option<String>,
}

/// An event that is recognised but has no type of its own (`PostCompact`, ...).
#[derive(Debug, Clone)]
pub struct OtherEvent {
    common: Common,
    /// Its name.
    pub name: &'static str,
}

with_typed_events!(common_accessors, OtherEvent);
tool_accessors!(PreToolUse, PermissionRequest, PostToolUse);

/// `HookEvent::name` and `HookEvent::common`.
macro_rules! kind_methods {
    ($($event:ident),*) => {
        impl HookEvent {
            /// Which event this is.
            pub fn name(&self) -> EventName {
                match &self.kind {
                    $(EventKind::$event(_) => EventName::$event,)*
                    EventKind::Other(other) => EventName::Other(other.name),
                }
            }

            fn common(&self) -> &Common {
                match &self.kind {
                    $(EventKind::$event(e) => &e.common,)*
                    EventKind::Other(e) => &e.common,
                }
            }
        }
    };
}

with_typed_events!(kind_methods);

/// One event, typed, with the JSON it came from.
#[derive(Debug, Clone)]
pub struct HookEvent {
    kind: EventKind,
    raw: Value,
    warnings: Vec<String>,
}

/// The typed part of a [`HookEvent`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EventKind {
    /// See [`PreToolUse`].
    PreToolUse(PreToolUse),
    /// See [`PostToolUse`].
    PostToolUse(PostToolUse),
    /// See [`PermissionRequest`].
    PermissionRequest(PermissionRequest),
    /// See [`UserPromptSubmit`].
    UserPromptSubmit(UserPromptSubmit),
    /// See [`Stop`].
    Stop(Stop),
    /// See [`SubagentStop`].
    SubagentStop(SubagentStop),
    /// See [`SessionStart`].
    SessionStart(SessionStart),
    /// See [`SessionEnd`].
    SessionEnd(SessionEnd),
    /// See [`PreCompact`].
    PreCompact(PreCompact),
    /// See [`Notification`].
    Notification(Notification),
    /// See [`OtherEvent`].
    Other(OtherEvent),
}

/// A string field that may be missing or null.
fn text(raw: &Value, field: &str) -> Option<String> {
    raw.get(field).and_then(Value::as_str).map(str::to_owned)
}

impl HookEvent {
    /// Parses what Claude Code wrote to the hook's stdin.
    pub fn parse(input: &str) -> Result<Self, EventError> {
        let raw: Value = serde_json::from_str(input).map_err(EventError::Json)?;
        Self::from_value(raw)
    }

    /// Types an already parsed JSON object.
    pub fn from_value(raw: Value) -> Result<Self, EventError> {
        let name = raw.get("hook_event_name").and_then(Value::as_str).ok_or(EventError::NoEventName)?;
        let event = EventName::parse(name).ok_or_else(|| EventError::Unknown(name.to_owned()))?;
        let field = |source| EventError::Field { event, source };
        let common = Common::deserialize(&raw).map_err(field)?;
        let tool = || -> Result<(String, ToolInput, Option<String>), EventError> {
            let tool_name = match raw.get("tool_name") {
                Some(Value::String(name)) => name.clone(),
                _ => return Err(field(serde::de::Error::missing_field("tool_name"))),
            };
            let input = raw.get("tool_input").unwrap_or(&Value::Null);
            let (tool_input, warning) = ToolInput::parse(&tool_name, input);
            Ok((tool_name, tool_input, warning))
        };
        let mut warnings = Vec::new();
        let stop_hook_active = raw.get("stop_hook_active").and_then(Value::as_bool).unwrap_or(false);
        let kind = match event {
            EventName::PreToolUse => {
                let (tool_name, tool_input, warning) = tool()?;
                warnings.extend(warning);
                EventKind::PreToolUse(PreToolUse {
                    tool_use_id: text(&raw, "tool_use_id"),
                    common,
                    tool_name,
                    tool_input,
                })
            }
            EventName::PermissionRequest => {
                let (tool_name, tool_input, warning) = tool()?;
                warnings.extend(warning);
                EventKind::PermissionRequest(PermissionRequest { common, tool_name, tool_input })
            }
            EventName::PostToolUse => {
                let (tool_name, tool_input, warning) = tool()?;
                warnings.extend(warning);
                EventKind::PostToolUse(PostToolUse {
                    tool_response: raw.get("tool_response").cloned().unwrap_or(Value::Null),
                    tool_use_id: text(&raw, "tool_use_id"),
                    duration_ms: raw.get("duration_ms").and_then(Value::as_u64),
                    common,
                    tool_name,
                    tool_input,
                })
            }
            EventName::UserPromptSubmit => {
                let prompt = text(&raw, "prompt").ok_or_else(|| field(serde::de::Error::missing_field("prompt")))?;
                EventKind::UserPromptSubmit(UserPromptSubmit { common, prompt })
            }
            EventName::Stop => EventKind::Stop(Stop {
                stop_hook_active,
                last_assistant_message: text(&raw, "last_assistant_message"),
                common,
            }),
            EventName::SubagentStop => EventKind::SubagentStop(SubagentStop {
                stop_hook_active,
                last_assistant_message: text(&raw, "last_assistant_message"),
                agent_id: text(&raw, "agent_id"),
                agent_type: text(&raw, "agent_type"),
                agent_transcript_path: text(&raw, "agent_transcript_path").map(PathBuf::from),
                common,
            }),
            EventName::SessionStart => {
                EventKind::SessionStart(SessionStart { source: text(&raw, "source").unwrap_or_default(), common })
            }
            EventName::SessionEnd => {
                EventKind::SessionEnd(SessionEnd { reason: text(&raw, "reason").unwrap_or_default(), common })
            }
            EventName::PreCompact => EventKind::PreCompact(PreCompact {
                trigger: text(&raw, "trigger").unwrap_or_default(),
                custom_instructions: text(&raw, "custom_instructions").filter(|s| !s.is_empty()),
                common,
            }),
            EventName::Notification => EventKind::Notification(Notification {
                message: text(&raw, "message").unwrap_or_default(),
                title: text(&raw, "title"),
                common,
            }),
            EventName::Other(name) => EventKind::Other(OtherEvent { common, name }),
        };
        Ok(Self { kind, raw, warnings })
    }

    /// What was odd about the input but did not stop it (one line each; `run` writes them to
    /// stderr).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The typed event.
    pub fn kind(&self) -> &EventKind {
        &self.kind
    }

    /// The whole JSON object as Claude Code sent it, unknown fields included.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// Claude Code's session id.
    pub fn session_id(&self) -> &str {
        &self.common().session_id
    }

    /// The working directory Claude Code gave, if any.
    pub fn cwd(&self) -> Option<&Path> {
        self.common().cwd.as_deref()
    }

    /// The transcript file, if given.
    pub fn transcript_path(&self) -> Option<&Path> {
        self.common().transcript_path.as_deref()
    }

    /// Whether this is a `Stop` or `SubagentStop` that an earlier block already forced.
    pub fn stop_hook_active(&self) -> bool {
        match &self.kind {
            EventKind::Stop(stop) => stop.stop_hook_active,
            EventKind::SubagentStop(stop) => stop.stop_hook_active,
            _ => false,
        }
    }

    /// The tool of a tool event.
    pub fn tool_name(&self) -> Option<&str> {
        match &self.kind {
            EventKind::PreToolUse(e) => Some(&e.tool_name),
            EventKind::PostToolUse(e) => Some(&e.tool_name),
            EventKind::PermissionRequest(e) => Some(&e.tool_name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn base(name: &str) -> Value {
        json!({"session_id": "s1", "transcript_path": "/tmp/t.jsonl", "cwd": "/work", "hook_event_name": name})
    }

    fn with(mut v: Value, extra: Value) -> Value {
        for (k, x) in extra.as_object().cloned().unwrap_or_default() {
            v[k] = x;
        }
        v
    }

    #[test]
    fn typed_tool_inputs_and_raw_json() {
        let raw = with(
            base("PreToolUse"),
            json!({"tool_name": "Write", "tool_input": {"file_path": "/a/.env", "content": "K=V"}, "tool_use_id": "t1", "new_field": 5}),
        );
        let event = HookEvent::from_value(raw).unwrap();
        let EventKind::PreToolUse(pre) = event.kind() else { panic!("{event:?}") };
        assert_eq!(pre.file_path(), Some("/a/.env"));
        assert_eq!(pre.content(), Some("K=V"));
        assert_eq!(pre.session_id(), "s1");
        assert_eq!(event.raw()["new_field"], 5);
        assert_eq!(event.name(), EventName::PreToolUse);

        let raw = with(base("PreToolUse"), json!({"tool_name": "mcp__x__y", "tool_input": {"q": 1}}));
        let event = HookEvent::from_value(raw).unwrap();
        let EventKind::PreToolUse(pre) = event.kind() else { panic!() };
        assert_eq!(pre.tool_input, ToolInput::Other(json!({"q": 1})));

        let raw = with(base("PermissionRequest"), json!({"tool_name": "Bash", "tool_input": {"command": "ls"}}));
        let event = HookEvent::from_value(raw).unwrap();
        let EventKind::PermissionRequest(p) = event.kind() else { panic!() };
        assert_eq!(p.command(), Some("ls"));
    }

    #[test]
    fn bad_input_says_why_in_one_line() {
        let cases = [
            ("{", "not valid JSON"),
            ("[1]", "no `hook_event_name`"),
            (r#"{"hook_event_name": "Bogus", "session_id": "s"}"#, "unknown Claude Code event `Bogus`"),
            (r#"{"hook_event_name": "UserPromptSubmit"}"#, "UserPromptSubmit input: missing field `session_id`"),
            (r#"{"hook_event_name": "UserPromptSubmit", "session_id": "s"}"#, "missing field `prompt`"),
            (r#"{"hook_event_name": "PreToolUse", "session_id": "s"}"#, "missing field `tool_name`"),
        ];
        for (input, expected) in cases {
            let message = HookEvent::parse(input).unwrap_err().to_string();
            assert!(message.contains(expected), "{input}: {message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }

    #[test]
    fn odd_tool_inputs_still_reach_the_handlers() {
        let raw = with(
            base("PreToolUse"),
            json!({"tool_name": "Bash", "tool_input": {"command": "rm -rf /", "timeout": 60000.0, "run_in_background": "yes"}}),
        );
        let event = HookEvent::from_value(raw).unwrap();
        let EventKind::PreToolUse(pre) = event.kind() else { panic!() };
        let ToolInput::Bash(bash) = &pre.tool_input else { panic!("{pre:?}") };
        assert_eq!((bash.timeout, bash.run_in_background), (Some(60000), false));
        assert!(event.warnings().is_empty());

        let raw = with(base("PreToolUse"), json!({"tool_name": "Write", "tool_input": {"file_path": "/p/.env"}}));
        let event = HookEvent::from_value(raw).unwrap();
        let EventKind::PreToolUse(pre) = event.kind() else { panic!() };
        assert!(matches!(pre.tool_input, ToolInput::Other(_)));
        assert_eq!(pre.file_path(), Some("/p/.env"), "a guard on the path still sees it");
        assert!(
            event.warnings()[0].contains("`tool_input` of Write is not of the known shape"),
            "{:?}",
            event.warnings()
        );
    }

    #[test]
    fn every_event_parses_from_its_minimal_shape() {
        let extra = |name: EventName| match name {
            EventName::PreToolUse | EventName::PermissionRequest | EventName::PostToolUse => {
                json!({"tool_name": "Bash", "tool_input": {"command": "true"}})
            }
            EventName::UserPromptSubmit => json!({"prompt": "hi"}),
            _ => json!({}),
        };
        for name in EventName::HANDLED {
            let event = HookEvent::from_value(with(base(name.as_str()), extra(name))).unwrap();
            assert_eq!(event.name(), name);
            assert_eq!(event.session_id(), "s1");
            assert_eq!(event.cwd(), Some(Path::new("/work")));
        }
        let event = HookEvent::from_value(base("PostCompact")).unwrap();
        assert_eq!(event.name(), EventName::Other("PostCompact"));
    }
}
