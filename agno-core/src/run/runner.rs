//! Who runs: an [`Agent`], a [`Team`] or a [`Workflow`]. The pipeline treats the three alike
//! (session, hooks, storage, background hooks) and differs only in how each one answers.

use std::sync::Arc;

use crate::agent::Agent;
use crate::db::Db;
use crate::hooks::{HookParams, HookStage, SharedHook};
use crate::models::Model;
use crate::run::{RunBuilder, RunInput};
use crate::session::SessionType;
use crate::tasks::TaskBackend;
use crate::team::Team;
use crate::workflow::Workflow;

/// What a run belongs to. Cloning is an `Arc` bump.
#[derive(Clone, Debug)]
pub enum Runner {
    /// An agent: one model call.
    Agent(Agent),
    /// A team: its members answer, its leader decides or combines.
    Team(Team),
    /// A workflow: steps in order, each over the previous step's output.
    Workflow(Workflow),
}

/// The kind of a [`Runner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunnerKind {
    /// An agent.
    Agent,
    /// A team.
    Team,
    /// A workflow.
    Workflow,
}

impl RunnerKind {
    /// `"agent"`, `"team"` or `"workflow"` (agno's `run_type` and session type values).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Team => "team",
            Self::Workflow => "workflow",
        }
    }

    /// The session type of this kind's sessions.
    pub fn session_type(self) -> SessionType {
        match self {
            Self::Agent => SessionType::Agent,
            Self::Team => SessionType::Team,
            Self::Workflow => SessionType::Workflow,
        }
    }

    /// The hook parameter that names this kind's runner (`agent`, `team`, `workflow`).
    fn own_param(self) -> HookParams {
        match self {
            Self::Agent => HookParams::AGENT,
            Self::Team => HookParams::TEAM,
            Self::Workflow => HookParams::WORKFLOW,
        }
    }
}

/// The settings every runner has, borrowed from it.
pub(crate) struct Common<'a> {
    pub id: &'a str,
    pub name: Option<&'a str>,
    pub db: Option<&'a Arc<dyn Db>>,
    pub pre_hooks: &'a [SharedHook],
    pub post_hooks: &'a [SharedHook],
    pub debug_mode: bool,
    pub store_events: bool,
    pub needs_tasks: bool,
    pub tasks_backend: Option<&'a Arc<dyn TaskBackend>>,
}

impl Runner {
    /// Which kind of runner this is.
    pub fn kind(&self) -> RunnerKind {
        match self {
            Self::Agent(_) => RunnerKind::Agent,
            Self::Team(_) => RunnerKind::Team,
            Self::Workflow(_) => RunnerKind::Workflow,
        }
    }

    /// The runner's id.
    pub fn id(&self) -> &str {
        self.common().id
    }

    /// The runner's name.
    pub fn name(&self) -> Option<&str> {
        self.common().name
    }

    /// The model that answers (the team's leader); `None` for workflows.
    pub fn model(&self) -> Option<&dyn Model> {
        match self {
            Self::Agent(agent) => Some(agent.model()),
            Self::Team(team) => Some(team.model()),
            Self::Workflow(_) => None,
        }
    }

    /// The runner's storage.
    pub fn db(&self) -> Option<&Arc<dyn Db>> {
        self.common().db
    }

    /// Starts a run of this agent, team or workflow.
    pub fn run(&self, input: impl Into<RunInput>) -> RunBuilder {
        RunBuilder::new(self.clone(), input.into())
    }

    /// The pre-hooks, in order.
    pub fn pre_hooks(&self) -> &[SharedHook] {
        self.common().pre_hooks
    }

    /// The post-hooks, in order.
    pub fn post_hooks(&self) -> &[SharedHook] {
        self.common().post_hooks
    }

    pub(crate) fn common(&self) -> Common<'_> {
        match self {
            Self::Agent(agent) => agent.common(),
            Self::Team(team) => team.common(),
            Self::Workflow(workflow) => workflow.common(),
        }
    }
}

impl From<Agent> for Runner {
    fn from(agent: Agent) -> Self {
        Self::Agent(agent)
    }
}

impl From<Team> for Runner {
    fn from(team: Team) -> Self {
        Self::Team(team)
    }
}

impl From<Workflow> for Runner {
    fn from(workflow: Workflow) -> Self {
        Self::Workflow(workflow)
    }
}

/// Checks a runner's hooks before it is built: a pre-hook must not ask for `run_output`, a
/// post-hook not for `run_input`, and no hook for another kind of runner (`team` on an agent).
pub(crate) fn check_hooks(kind: RunnerKind, pre: &[SharedHook], post: &[SharedHook], problems: &mut Vec<String>) {
    for (stage, hooks) in [(HookStage::Pre, pre), (HookStage::Post, post)] {
        for (i, hook) in hooks.iter().enumerate() {
            let params = hook.params_at(stage);
            let (position, name) = (i + 1, hook.name());
            match stage {
                HookStage::Pre if params.needs_output() => problems.push(format!(
                    "pre-hook #{position} `{name}` takes `run_output`, which does not exist before the model call; move it to post_hooks"
                )),
                HookStage::Post if params.needs_input() => problems.push(format!(
                    "post-hook #{position} `{name}` takes `run_input`, which post-hooks do not receive; move it to pre_hooks or read `run_output.input`"
                )),
                _ => {}
            }
            for other in [RunnerKind::Agent, RunnerKind::Team, RunnerKind::Workflow] {
                if other != kind && params.contains(other.own_param()) {
                    problems.push(format!(
                        "{} #{position} `{name}` takes `{}`, but it is a hook of a {}; take `{}` instead",
                        stage.label().to_lowercase(),
                        other.as_str(),
                        kind.as_str(),
                        kind.as_str(),
                    ));
                }
            }
        }
    }
}
