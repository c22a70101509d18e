//! A run's background hooks written down as data, a [`HookJob`]: what a durable queue stores
//! (storage depends on this, not on the runners). Making a job from a finished run and finding
//! its hooks again in a served runner is [`durable`](super::durable)'s part.

use serde::{Deserialize, Serialize};

use crate::run::{RunContext, RunInput, RunOutput};
use crate::session::Session;

/// One run's background hooks, in queue order, with their copies of the run: what a durable
/// queue stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookJob {
    /// The run the request was for (a member's or step's hooks belong to its child runs).
    pub run_id: String,
    /// The agent, team or workflow the request was for.
    pub owner: RunnerRef,
    /// The hooks, in the order they run.
    pub hooks: Vec<HookEntry>,
}

/// An agent, team or workflow, by kind and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerRef {
    /// `agent`, `team` or `workflow`.
    pub kind: String,
    /// Its id.
    pub id: String,
}

/// One background hook of a job, with its own copies of its run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookEntry {
    /// Stays the same across attempts: `<run_id>:<pre|post>:<position>:<hook>`.
    pub key: String,
    /// The hook's name.
    pub hook: String,
    /// Whose hook it is (the request's runner, or a member or step of it).
    pub runner: RunnerRef,
    /// `pre` or `post`.
    pub stage: String,
    /// 1-based position in the runner's pre- or post-hook list.
    pub position: usize,
    pub(crate) run_input: Option<RunInput>,
    pub(crate) run_output: Option<RunOutput>,
    pub(crate) run_context: RunContext,
    pub(crate) session: Session,
    pub(crate) debug_mode: bool,
}

impl HookEntry {
    /// The run this hook belongs to.
    pub fn run_id(&self) -> &str {
        &self.run_context.run_id
    }
}
