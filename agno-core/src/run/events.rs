//! The events of a streaming run, with agno's names and fields.
//!
//! Order of an agent run (agno's async order, which AgentOS uses): `RunStarted`, then for each
//! inline pre-hook `PreHookStarted`/`PreHookCompleted`, `ModelRequestStarted`, `RunContent`...,
//! `ModelRequestCompleted`, `RunContentCompleted`, the post-hook events, `RunCompleted`. A check
//! error ends the stream with `RunError` instead. Background hooks emit no events; a failing hook
//! emits `...Started` and no `...Completed`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{RunInput, RunMetrics};

/// One event of a run: the fields every event has, plus the event-specific part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    /// Unix seconds.
    pub created_at: i64,
    /// The event's name (serialised as `"event": "<Name>"`) and its own fields.
    #[serde(flatten)]
    pub kind: RunEventKind,
    /// The agent that runs.
    pub agent_id: String,
    /// The agent's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// The run.
    pub run_id: String,
    /// The session.
    pub session_id: String,
    /// 0 for a top-level run.
    #[serde(default)]
    pub nested_depth: u32,
}

impl RunEvent {
    /// The event's name as it appears on the wire (`"RunStarted"`, ...).
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }
}

/// The event-specific part of a [`RunEvent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum RunEventKind {
    /// The run started.
    RunStarted {
        /// The model's id.
        model: String,
        /// The model's provider.
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
            run_id: "r".into(),
            session_id: "s".into(),
            nested_depth: 0,
        };
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["event"], "PreHookStarted");
        assert_eq!(v["pre_hook_name"], "log_request");
        assert_eq!(v["run_input"], serde_json::json!({"input_content": "hi"}));
        assert_eq!(ev.name(), "PreHookStarted");
        let back: RunEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, ev);
        let done = RunEventKind::RunContentCompleted {};
        assert_eq!(serde_json::to_value(&done).unwrap(), serde_json::json!({"event": "RunContentCompleted"}));
    }
}
