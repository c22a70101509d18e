//! A run: one call of an agent, from its input to its stored output.
//!
//! The types a hook sees live here ([`RunInput`], [`RunOutput`], [`RunContext`], [`RunStatus`],
//! [`RunMetrics`]); the events of a streaming run in [`events`]; the pipeline that starts a run,
//! calls the hooks and the model and stores the result in [`pipeline`]; the event stream in
//! [`stream`].

pub mod events;
pub mod pipeline;
pub mod runner;
mod session_row;
pub mod stream;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::models::{Message, Usage};
pub use events::{RunEvent, RunEventKind};
pub use pipeline::{BackgroundMode, RunBuilder, RunJson};
pub use runner::{Runner, RunnerKind};
pub use stream::RunStream;

/// The content of a run's input: text, or any JSON value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InputContent {
    /// Plain text (what AgentOS passes from the `message` field).
    Text(String),
    /// Structured input, sent to the model as compact JSON.
    Json(Value),
}

impl InputContent {
    /// The text, if the content is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            Self::Json(_) => None,
        }
    }
}

impl fmt::Display for InputContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(s) => f.write_str(s),
            Self::Json(v) => write!(f, "{v}"),
        }
    }
}

impl From<&str> for InputContent {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for InputContent {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<Value> for InputContent {
    fn from(v: Value) -> Self {
        match v {
            Value::String(s) => Self::Text(s),
            other => Self::Json(other),
        }
    }
}

/// The input of a run, as pre-hooks see (and may change) it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInput {
    /// What the user sent. A pre-hook that changes it changes what the model sees.
    pub input_content: InputContent,
}

impl RunInput {
    /// An input with this content.
    pub fn new(content: impl Into<InputContent>) -> Self {
        Self { input_content: content.into() }
    }

    /// The content as a string: text as is, anything else as compact JSON (agno's
    /// `input_content_string()`).
    pub fn input_content_string(&self) -> String {
        self.input_content.to_string()
    }
}

impl<T: Into<InputContent>> From<T> for RunInput {
    fn from(content: T) -> Self {
        Self::new(content)
    }
}

/// The status of a run; serialised upper-case as agno does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    /// Accepted, not started (background runs).
    Pending,
    /// In progress; post-hooks see this status.
    Running,
    /// Finished normally.
    Completed,
    /// Paused for a human.
    Paused,
    /// Cancelled.
    Cancelled,
    /// Rejected by a check or failed by the model.
    Error,
}

impl RunStatus {
    /// The wire value (`"COMPLETED"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Paused => "PAUSED",
            Self::Cancelled => "CANCELLED",
            Self::Error => "ERROR",
        }
    }

    /// A wire value back (`"COMPLETED"`, any case), or `None`.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Pending, Self::Running, Self::Completed, Self::Paused, Self::Cancelled, Self::Error]
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(value))
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Timings and token counts of a run (fields that were not measured are omitted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// Tokens sent to the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Tokens the model produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// `input_tokens + output_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
    /// Seconds from the model request to its first content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_token: Option<f64>,
    /// Seconds the run took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
}

/// The sum of two token counts, `None` only when neither is known.
fn sum_tokens(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}

impl RunMetrics {
    /// Takes the token counts a model reported (the total is their sum).
    pub(crate) fn set_usage(&mut self, usage: Usage) {
        self.input_tokens = usage.input_tokens;
        self.output_tokens = usage.output_tokens;
        self.total_tokens = sum_tokens(usage.input_tokens, usage.output_tokens);
    }

    /// Adds another run's token counts (a team member's) to these.
    pub(crate) fn add_tokens(&mut self, other: &RunMetrics) {
        self.input_tokens = sum_tokens(self.input_tokens, other.input_tokens);
        self.output_tokens = sum_tokens(self.output_tokens, other.output_tokens);
        self.total_tokens = sum_tokens(self.total_tokens, other.total_tokens);
    }
}

/// What a run knows about itself; handed to hooks as `run_context`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunContext {
    /// The run's id (the same as `run_output.run_id`).
    pub run_id: String,
    /// The session the run belongs to.
    pub session_id: String,
    /// The user, when the caller gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Caller metadata: always a JSON object when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// The session state, carried from run to run.
    #[serde(default)]
    pub session_state: Map<String, Value>,
    /// Extra fields of the request (AgentOS: form fields it does not know), which agno passes to
    /// hooks as keyword arguments. `"true"`/`"false"` arrive as booleans, `"null"`/`"none"` as
    /// null.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    /// For a durable background hook (AgentOS on PostgreSQL): which delivery this is. Delivery
    /// is at least once, so a hook with effects outside the run checks
    /// [`Delivery::idempotency_key`] before repeating them. `None` everywhere else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
}

/// How a durable background hook is being delivered: it may run more than once (a replica that
/// died mid-hook has it run again by another), so it is told which attempt this is and a key
/// that is the same on every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// `<run_id>:<pre|post>:<position>:<hook name>`: the same on every attempt of this hook of
    /// this run, and different for every other.
    pub idempotency_key: String,
}

/// The output of a run: what the caller gets back and what is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutput {
    /// The run's id (a UUID v7, see [`crate::ids`]).
    pub run_id: String,
    /// The agent that ran (empty, and not serialised, for team and workflow runs).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent_id: String,
    /// The agent's name, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// The team that ran (team runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// The team's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_name: Option<String>,
    /// The workflow that ran (workflow runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    /// The workflow's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_name: Option<String>,
    /// The session the run belongs to.
    pub session_id: String,
    /// The run this one was started by (team members).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_run_id: Option<String>,
    /// The user, when the caller gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The answer (or, for a rejected run without an answer, the rejection message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The content's type; `"str"` for text.
    pub content_type: String,
    /// The model's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The model's provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_provider: Option<String>,
    /// Caller metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// The session state after the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_state: Option<Map<String, Value>>,
    /// Unix seconds when the run started.
    pub created_at: i64,
    /// Where the run stands.
    pub status: RunStatus,
    /// Timings and token counts.
    #[serde(default)]
    pub metrics: RunMetrics,
    /// The messages exchanged with the model (absent if the run stopped before the model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    /// Tool calls (none yet: agno writes an empty list).
    #[serde(default)]
    pub tools: Vec<Value>,
    /// The run's input, after the pre-hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<RunInput>,
    /// The events of a streamed run, when the agent stores events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<RunEvent>>,
    /// A team's member runs, in the order they ran (also stored as runs of the session, with
    /// `parent_run_id` set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub member_responses: Vec<RunOutput>,
    /// A workflow's steps, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_results: Vec<StepResult>,
}

impl RunOutput {
    /// What ran: the agent, team or workflow id, with its kind.
    pub fn runner(&self) -> (RunnerKind, &str) {
        if let Some(team) = &self.team_id {
            (RunnerKind::Team, team)
        } else if let Some(workflow) = &self.workflow_id {
            (RunnerKind::Workflow, workflow)
        } else {
            (RunnerKind::Agent, &self.agent_id)
        }
    }
}

/// One step of a workflow run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// The step's name.
    pub step_name: String,
    /// 0-based position.
    pub step_index: usize,
    /// `"agent"`, `"team"` or `"function"`.
    pub executor_type: String,
    /// The agent's or team's id; the function's name.
    pub executor_name: String,
    /// The step's child run (agent and team steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// What the step produced (the next step's input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// `COMPLETED` or `ERROR`.
    pub status: RunStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_content_string_follows_agno() {
        assert_eq!(RunInput::new("hi").input_content_string(), "hi");
        let json = RunInput::new(serde_json::json!({"a": [1, 2]}));
        assert_eq!(json.input_content_string(), r#"{"a":[1,2]}"#);
        assert_eq!(serde_json::to_string(&RunInput::new("hi")).unwrap(), r#"{"input_content":"hi"}"#);
        let back: RunInput = serde_json::from_str(r#"{"input_content":{"k":1}}"#).unwrap();
        assert_eq!(back.input_content, InputContent::Json(serde_json::json!({"k": 1})));
    }

    #[test]
    fn status_serialises_upper_case() {
        for (s, w) in [
            (RunStatus::Pending, "PENDING"),
            (RunStatus::Running, "RUNNING"),
            (RunStatus::Completed, "COMPLETED"),
            (RunStatus::Paused, "PAUSED"),
            (RunStatus::Cancelled, "CANCELLED"),
            (RunStatus::Error, "ERROR"),
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), Value::String(w.into()));
            assert_eq!(s.as_str(), w);
        }
    }

    #[test]
    fn none_fields_are_omitted() {
        let out = RunOutput {
            run_id: "r".into(),
            agent_id: "a".into(),
            agent_name: None,
            session_id: "s".into(),
            parent_run_id: None,
            user_id: None,
            content: Some("x".into()),
            content_type: "str".into(),
            model: None,
            model_provider: None,
            metadata: None,
            session_state: None,
            created_at: 1,
            status: RunStatus::Completed,
            metrics: RunMetrics { duration: Some(0.5), ..Default::default() },
            messages: None,
            tools: vec![],
            input: None,
            events: None,
            team_id: None,
            team_name: None,
            workflow_id: None,
            workflow_name: None,
            member_responses: Vec::new(),
            step_results: Vec::new(),
        };
        let v = serde_json::to_value(&out).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for absent in ["agent_name", "user_id", "model", "messages", "events", "input", "metadata"] {
            assert!(!keys.contains(&absent), "{absent} should be omitted: {keys:?}");
        }
        assert_eq!(v["metrics"], serde_json::json!({"duration": 0.5}));
        assert_eq!(v["tools"], serde_json::json!([]));
        let back: RunOutput = serde_json::from_value(v).unwrap();
        assert_eq!(back, out);
    }
}
