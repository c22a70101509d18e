//! A session: the runs of one conversation, with its owner and state.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::run::RunOutput;

/// What owns a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionType {
    /// A single agent's session.
    Agent,
    /// A team's session.
    Team,
    /// A workflow's session.
    Workflow,
}

impl SessionType {
    /// The stored value (`"agent"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Team => "team",
            Self::Workflow => "workflow",
        }
    }

    /// Of three things kept one per kind of runner (the `agent_data`, `team_data` and
    /// `workflow_data` columns, say), this session type's.
    pub(crate) fn pick<T>(self, agent: T, team: T, workflow: T) -> T {
        match self {
            Self::Agent => agent,
            Self::Team => team,
            Self::Workflow => workflow,
        }
    }

    /// Parses a stored value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "agent" => Some(Self::Agent),
            "team" => Some(Self::Team),
            "workflow" => Some(Self::Workflow),
            _ => None,
        }
    }
}

/// One conversation: handed to hooks as `session`.
///
/// In a run, `runs` is the chat-history window and nothing more: with
/// `add_history_to_context(true)`, the last `num_history_runs` runs of this runner that answered
/// (oldest first, not the current one); without history, empty. A run never reads a session's
/// whole past, so its cost does not grow with the session; a hook that needs more asks the
/// runner's `db()` ([`Db::get_runs`](crate::db::Db::get_runs)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The session's id.
    pub session_id: String,
    /// What owns it.
    pub session_type: SessionType,
    /// The agent, for agent sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The team, for team sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// The workflow, for workflow sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    /// The owner; a session with an owner is only written for that user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// `{"session_state": {...}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_data: Option<Value>,
    /// `{"name", "agent_id", "model": {"id", "provider"}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_data: Option<Value>,
    /// `{"name", "team_id", "model": {...}}` for team sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_data: Option<Value>,
    /// `{"name", "workflow_id"}` for workflow sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_data: Option<Value>,
    /// Caller metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Runs of the session, oldest first: those the read asked for
    /// ([`Db::get_session_with_runs`](crate::db::Db::get_session_with_runs)); in a run, its history
    /// window.
    #[serde(default)]
    pub runs: Vec<RunOutput>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl Session {
    /// A new, empty agent session.
    pub fn new(session_id: impl Into<String>) -> Self {
        let now = crate::clock::now_unix();
        Self {
            session_id: session_id.into(),
            session_type: SessionType::Agent,
            agent_id: None,
            team_id: None,
            workflow_id: None,
            user_id: None,
            session_data: None,
            agent_data: None,
            team_data: None,
            workflow_data: None,
            metadata: None,
            runs: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The session state stored in `session_data`, if any.
    pub fn session_state(&self) -> Option<&serde_json::Map<String, Value>> {
        self.session_data.as_ref()?.get("session_state")?.as_object()
    }

    /// A run of `runs` by id.
    pub fn get_run(&self, run_id: &str) -> Option<&RunOutput> {
        self.runs.iter().find(|r| r.run_id == run_id)
    }
}
