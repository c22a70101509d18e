//! The events of a streaming run, with agno's names and fields.
//!
//! Order of an agent run (agno's async order, which AgentOS uses): `RunStarted`, then for each
//! inline pre-hook `PreHookStarted`/`PreHookCompleted`, `ModelRequestStarted`, `RunContent`...,
//! `ModelRequestCompleted`, `RunContentCompleted`, the post-hook events, `RunCompleted`. A check
//! error ends the stream with `RunError` instead. Background hooks emit no events; a failing hook
//! emits `...Started` and no `...Completed`.
//!
//! Team events carry `team_id` and are named as agno names them (`TeamRunStarted`,
//! `TeamPreHookStarted`, ...); workflow events carry `workflow_id` (`WorkflowStarted`,
//! `StepStarted`, `StepCompleted`, `WorkflowCompleted`, `WorkflowError`). The events of member
//! and step runs are streamed too, with their own ids, `parent_run_id` and `nested_depth`.

use std::borrow::Cow;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{RunInput, RunMetrics, RunnerKind};

/// One event of a run: the fields every event has, plus the event-specific part.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvent {
    /// Unix seconds.
    pub created_at: i64,
    /// The event's own fields (serialised with `"event": "<Name>"`, see [`name`](Self::name)).
    pub kind: RunEventKind,
    /// The agent that runs (empty for team and workflow events).
    pub agent_id: String,
    /// The agent's name.
    pub agent_name: Option<String>,
    /// The team that runs (team events).
    pub team_id: Option<String>,
    /// The team's name.
    pub team_name: Option<String>,
    /// The workflow that runs (workflow events).
    pub workflow_id: Option<String>,
    /// The workflow's name.
    pub workflow_name: Option<String>,
    /// The run.
    pub run_id: String,
    /// The session.
    pub session_id: String,
    /// The team or workflow run this run belongs to.
    pub parent_run_id: Option<String>,
    /// 0 for a top-level run, 1 for its members or steps, and so on.
    pub nested_depth: u32,
}

/// The fields of a [`RunEvent`] besides its kind, as they are serialised (borrowed from the
/// event when writing, owned when reading).
#[derive(Serialize, Deserialize)]
struct Common<'a> {
    created_at: i64,
    #[serde(default, skip_serializing_if = "str::is_empty")]
    agent_id: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agent_name: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    team_id: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    team_name: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    workflow_id: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    workflow_name: Option<Cow<'a, str>>,
    run_id: Cow<'a, str>,
    session_id: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent_run_id: Option<Cow<'a, str>>,
    #[serde(default)]
    nested_depth: u32,
}

/// A borrowed optional text.
fn cow(text: &Option<String>) -> Option<Cow<'_, str>> {
    text.as_deref().map(Cow::Borrowed)
}

/// An owned optional text.
fn owned(text: Option<Cow<'_, str>>) -> Option<String> {
    text.map(Cow::into_owned)
}

impl RunEvent {
    /// An event of the run `run_id` of the agent, team or workflow `runner` (the id in the field
    /// its kind names), at the top level, without names; set the other fields as needed.
    pub fn new(kind: RunEventKind, runner: (RunnerKind, &str), run_id: &str, session_id: &str) -> Self {
        let mut event = Self {
            created_at: crate::clock::now_unix(),
            kind,
            agent_id: String::new(),
            agent_name: None,
            team_id: None,
            team_name: None,
            workflow_id: None,
            workflow_name: None,
            run_id: run_id.to_owned(),
            session_id: session_id.to_owned(),
            parent_run_id: None,
            nested_depth: 0,
        };
        let (runner_kind, id) = runner;
        match runner_kind {
            RunnerKind::Agent => event.agent_id = id.to_owned(),
            RunnerKind::Team => event.team_id = Some(id.to_owned()),
            RunnerKind::Workflow => event.workflow_id = Some(id.to_owned()),
        }
        event
    }

    /// What emitted the event.
    pub fn scope(&self) -> RunnerKind {
        if self.team_id.is_some() {
            RunnerKind::Team
        } else if self.workflow_id.is_some() {
            RunnerKind::Workflow
        } else {
            RunnerKind::Agent
        }
    }

    /// The event's name as it appears on the wire (`"RunStarted"`, `"TeamRunStarted"`, ...).
    pub fn name(&self) -> &'static str {
        scoped_name(self.scope(), self.kind.name())
    }
}

/// Every (team name, workflow name, agent name) triple; a `None` keeps the agent name.
const SCOPED: &[(&str, Option<&str>, Option<&str>)] = &[
    ("RunStarted", Some("TeamRunStarted"), Some("WorkflowStarted")),
    ("RunContent", Some("TeamRunContent"), Some("WorkflowRunContent")),
    ("RunContentCompleted", Some("TeamRunContentCompleted"), Some("WorkflowRunContentCompleted")),
    ("ModelRequestStarted", Some("TeamModelRequestStarted"), None),
    ("ModelRequestCompleted", Some("TeamModelRequestCompleted"), None),
    ("PreHookStarted", Some("TeamPreHookStarted"), Some("WorkflowPreHookStarted")),
    ("PreHookCompleted", Some("TeamPreHookCompleted"), Some("WorkflowPreHookCompleted")),
    ("PostHookStarted", Some("TeamPostHookStarted"), Some("WorkflowPostHookStarted")),
    ("PostHookCompleted", Some("TeamPostHookCompleted"), Some("WorkflowPostHookCompleted")),
    ("RunCompleted", Some("TeamRunCompleted"), Some("WorkflowCompleted")),
    ("RunError", Some("TeamRunError"), Some("WorkflowError")),
];

/// The wire name of an event of kind `base` emitted by a runner of kind `scope`.
fn scoped_name(scope: RunnerKind, base: &'static str) -> &'static str {
    let Some(&(_, team, workflow)) = SCOPED.iter().find(|(b, ..)| *b == base) else { return base };
    match scope {
        RunnerKind::Agent => base,
        RunnerKind::Team => team.unwrap_or(base),
        RunnerKind::Workflow => workflow.unwrap_or(base),
    }
}

/// The kind name behind a wire name (`"TeamRunStarted"` -> `"RunStarted"`).
fn base_name(wire: &str) -> &str {
    SCOPED.iter().find(|(_, t, w)| *t == Some(wire) || *w == Some(wire)).map_or(wire, |(base, ..)| base)
}

impl Serialize for RunEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a, F> {
            #[serde(flatten)]
            common: Common<'a>,
            #[serde(flatten)]
            fields: F,
        }
        let common = Common {
            created_at: self.created_at,
            agent_id: Cow::Borrowed(&self.agent_id),
            agent_name: cow(&self.agent_name),
            team_id: cow(&self.team_id),
            team_name: cow(&self.team_name),
            workflow_id: cow(&self.workflow_id),
            workflow_name: cow(&self.workflow_name),
            run_id: Cow::Borrowed(&self.run_id),
            session_id: Cow::Borrowed(&self.session_id),
            parent_run_id: cow(&self.parent_run_id),
            nested_depth: self.nested_depth,
        };
        let name = self.name();
        if name == self.kind.name() {
            // The kind's own tag is the wire name (agent events).
            return Wire { common, fields: &self.kind }.serialize(serializer);
        }
        let mut fields = match serde_json::to_value(&self.kind).map_err(S::Error::custom)? {
            Value::Object(fields) => fields,
            _ => return Err(S::Error::custom("an event kind serialises to an object")),
        };
        fields.insert("event".to_owned(), Value::String(name.to_owned()));
        Wire { common, fields }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RunEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut fields = Map::deserialize(deserializer)?;
        let wire = fields.get("event").and_then(Value::as_str).ok_or_else(|| D::Error::missing_field("event"))?;
        let base = base_name(wire).to_owned();
        fields.insert("event".to_owned(), Value::String(base));
        let fields = Value::Object(fields);
        let common = Common::deserialize(&fields).map_err(D::Error::custom)?;
        let kind = RunEventKind::deserialize(&fields).map_err(D::Error::custom)?;
        Ok(Self {
            created_at: common.created_at,
            kind,
            agent_id: common.agent_id.into_owned(),
            agent_name: owned(common.agent_name),
            team_id: owned(common.team_id),
            team_name: owned(common.team_name),
            workflow_id: owned(common.workflow_id),
            workflow_name: owned(common.workflow_name),
            run_id: common.run_id.into_owned(),
            session_id: common.session_id.into_owned(),
            parent_run_id: owned(common.parent_run_id),
            nested_depth: common.nested_depth,
        })
    }
}

/// The event-specific part of a [`RunEvent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum RunEventKind {
    /// The run started.
    RunStarted {
        /// The model's id (empty for workflows).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        model: String,
        /// The model's provider (empty for workflows).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        model_provider: String,
    },
    /// A piece of the answer.
    RunContent {
        /// The text of this piece.
        content: String,
        /// `"str"`.
        content_type: String,
    },
    /// The answer is complete.
    RunContentCompleted {},
    /// A request to the model is about to be sent.
    ModelRequestStarted {
        /// The model's id.
        model: String,
        /// The model's provider.
        model_provider: String,
    },
    /// The model answered.
    ModelRequestCompleted {
        /// The model's id.
        model: String,
        /// The model's provider.
        model_provider: String,
        /// Tokens sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input_tokens: Option<u64>,
        /// Tokens received.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_tokens: Option<u64>,
    },
    /// A pre-hook starts.
    PreHookStarted {
        /// The hook's name.
        pre_hook_name: String,
        /// A copy of the input when the event was made.
        run_input: RunInput,
    },
    /// A pre-hook finished without error.
    PreHookCompleted {
        /// The hook's name.
        pre_hook_name: String,
        /// A copy of the input when the event was made.
        run_input: RunInput,
    },
    /// A post-hook starts.
    PostHookStarted {
        /// The hook's name.
        post_hook_name: String,
    },
    /// A post-hook finished without error.
    PostHookCompleted {
        /// The hook's name.
        post_hook_name: String,
    },
    /// The run finished.
    RunCompleted {
        /// The answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        /// `"str"`.
        content_type: String,
        /// The session state after the run.
        session_state: Map<String, Value>,
        /// Timings and token counts.
        metrics: RunMetrics,
    },
    /// The run stopped with an error (a check error or a model failure); always the last event.
    RunError {
        /// The message.
        content: String,
        /// `input_check_error`, `output_check_error` or `model_error`.
        error_type: String,
        /// The check trigger for check errors.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_id: Option<String>,
        /// Extra data from the check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        additional_data: Option<Value>,
    },
    /// A workflow step started.
    StepStarted {
        /// The step's name.
        step_name: String,
        /// 0-based position.
        step_index: usize,
    },
    /// A workflow step failed; the workflow ends with `WorkflowError`.
    StepError {
        /// The step's name.
        step_name: String,
        /// 0-based position.
        step_index: usize,
        /// Why it failed.
        error: String,
    },
    /// A workflow step finished.
    StepCompleted {
        /// The step's name.
        step_name: String,
        /// 0-based position.
        step_index: usize,
        /// What the step produced.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
    },
}

impl RunEventKind {
    /// The wire name of this event.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RunStarted { .. } => "RunStarted",
            Self::RunContent { .. } => "RunContent",
            Self::RunContentCompleted {} => "RunContentCompleted",
            Self::ModelRequestStarted { .. } => "ModelRequestStarted",
            Self::ModelRequestCompleted { .. } => "ModelRequestCompleted",
            Self::PreHookStarted { .. } => "PreHookStarted",
            Self::PreHookCompleted { .. } => "PreHookCompleted",
            Self::PostHookStarted { .. } => "PostHookStarted",
            Self::PostHookCompleted { .. } => "PostHookCompleted",
            Self::RunCompleted { .. } => "RunCompleted",
            Self::RunError { .. } => "RunError",
            Self::StepStarted { .. } => "StepStarted",
            Self::StepError { .. } => "StepError",
            Self::StepCompleted { .. } => "StepCompleted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_agno_names() {
        let ev = RunEvent {
            created_at: 7,
            kind: RunEventKind::PreHookStarted { pre_hook_name: "log_request".into(), run_input: RunInput::new("hi") },
            agent_id: "a".into(),
            agent_name: Some("A".into()),
            team_id: None,
            team_name: None,
            workflow_id: None,
            workflow_name: None,
            run_id: "r".into(),
            session_id: "s".into(),
            parent_run_id: None,
            nested_depth: 0,
        };
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["event"], "PreHookStarted");
        assert_eq!(v["pre_hook_name"], "log_request");
        assert_eq!(v["run_input"], serde_json::json!({"input_content": "hi"}));
        assert_eq!(ev.name(), "PreHookStarted");
        for absent in ["team_id", "workflow_id", "parent_run_id"] {
            assert!(v.get(absent).is_none(), "{absent}: {v}");
        }
        let back: RunEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, ev);

        let team = RunEvent {
            agent_id: String::new(),
            agent_name: None,
            team_id: Some("t".into()),
            kind: RunEventKind::RunStarted { model: "offline".into(), model_provider: "Offline".into() },
            ..ev.clone()
        };
        let v = serde_json::to_value(&team).unwrap();
        assert_eq!(v["event"], "TeamRunStarted");
        assert_eq!(v["team_id"], "t");
        assert!(v.get("agent_id").is_none(), "{v}");
        assert_eq!(serde_json::from_value::<RunEvent>(v).unwrap(), team);

        let workflow = RunEvent {
            team_id: None,
            workflow_id: Some("w".into()),
            kind: RunEventKind::RunError {
                content: "no".into(),
                error_type: "model_error".into(),
                error_id: None,
                additional_data: None,
            },
            ..team.clone()
        };
        let v = serde_json::to_value(&workflow).unwrap();
        assert_eq!(v["event"], "WorkflowError");
        assert_eq!(serde_json::from_value::<RunEvent>(v).unwrap(), workflow);
        let step = RunEvent { kind: RunEventKind::StepStarted { step_name: "a".into(), step_index: 0 }, ..workflow };
        assert_eq!(step.name(), "StepStarted");
        assert!(serde_json::from_value::<RunEvent>(serde_json::json!({"event": "Nope"})).is_err());
        let made = RunEvent::new(RunEventKind::RunContentCompleted {}, (RunnerKind::Team, "t"), "r", "s");
        assert_eq!(
            (made.team_id.as_deref(), made.agent_id.as_str(), made.name()),
            (Some("t"), "", "TeamRunContentCompleted")
        );
        let done = RunEventKind::RunContentCompleted {};
        assert_eq!(serde_json::to_value(&done).unwrap(), serde_json::json!({"event": "RunContentCompleted"}));
    }
}
