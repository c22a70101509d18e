//! Who runs: an [`Agent`], a [`Team`] or a [`Workflow`]. The pipeline treats the three alike
//! (session, hooks, storage, background hooks) and differs only in how each one answers.

use std::sync::Arc;

use crate::agent::{Agent, id_from_name};
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
        self.session_type().as_str()
    }

    /// The field naming a runner of this kind in runs and events: `"agent_id"`, `"team_id"` or
    /// `"workflow_id"`.
    pub fn id_field(self) -> &'static str {
        match self {
            Self::Agent => "agent_id",
            Self::Team => "team_id",
            Self::Workflow => "workflow_id",
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

/// The settings every runner has, as its builder collects them.
#[derive(Default)]
pub(crate) struct Settings {
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) db: Option<Arc<dyn Db>>,
    pub(crate) pre_hooks: Vec<SharedHook>,
    pub(crate) post_hooks: Vec<SharedHook>,
    pub(crate) debug_mode: bool,
    pub(crate) store_events: bool,
    pub(crate) tasks_backend: Option<Arc<dyn TaskBackend>>,
    pub(crate) add_history_to_context: bool,
    pub(crate) num_history_runs: Option<usize>,
}

/// How many earlier runs go to the model when chat history is on and no count is given (agno's
/// default).
pub const DEFAULT_HISTORY_RUNS: usize = 3;

/// The settings every runner has, checked: what the pipeline reads of any runner.
#[derive(Clone)]
pub(crate) struct Base {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) db: Option<Arc<dyn Db>>,
    pub(crate) pre_hooks: Vec<SharedHook>,
    pub(crate) post_hooks: Vec<SharedHook>,
    pub(crate) debug_mode: bool,
    pub(crate) store_events: bool,
    pub(crate) tasks_backend: Option<Arc<dyn TaskBackend>>,
    /// Whether a hook takes `tasks`.
    pub(crate) needs_tasks: bool,
    /// With chat history on, how many earlier runs of the session go to the model.
    pub(crate) history_runs: Option<usize>,
}

impl Base {
    /// The backend `tasks` hook parameters use: the one given to the runner, else its database's
    /// ([`Db::task_backend`], shared by replicas on PostgreSQL), else
    /// [`default_backend`](crate::tasks::default_backend).
    pub(crate) fn tasks_backend(&self) -> Arc<dyn TaskBackend> {
        self.tasks_backend_in(self.db.as_ref())
    }

    /// [`Base::tasks_backend`] for a run stored in `db` (a member's or step's runs are stored in
    /// the database of the run they belong to, and so are their tasks).
    pub(crate) fn tasks_backend_in(&self, db: Option<&Arc<dyn Db>>) -> Arc<dyn TaskBackend> {
        self.tasks_backend
            .clone()
            .or_else(|| db.and_then(|db| db.task_backend()))
            .unwrap_or_else(crate::tasks::default_backend)
    }
}

impl Settings {
    /// Resolves the id (given, from the name as agno derives it, or new) and checks the hooks;
    /// every problem goes to `problems`.
    pub(crate) fn check(self, kind: RunnerKind, problems: &mut Vec<String>) -> Base {
        let id = match (self.id, self.name.as_deref()) {
            (Some(id), _) => id,
            (None, Some(name)) => id_from_name(name),
            (None, None) => crate::ids::new_id(),
        };
        if id.trim().is_empty() {
            problems.push(format!("the {} id is empty; set .id(..) or a non-empty .name(..)", kind.as_str()));
        }
        check_hooks(kind, &self.pre_hooks, &self.post_hooks, problems);
        let needs_tasks = self.pre_hooks.iter().chain(&self.post_hooks).any(|h| h.params().contains(HookParams::TASKS));
        Base {
            id,
            name: self.name,
            db: self.db,
            pre_hooks: self.pre_hooks,
            post_hooks: self.post_hooks,
            debug_mode: self.debug_mode,
            store_events: self.store_events,
            tasks_backend: self.tasks_backend,
            needs_tasks,
            history_runs: self.add_history_to_context.then(|| self.num_history_runs.unwrap_or(DEFAULT_HISTORY_RUNS)),
        }
    }
}

/// The builder methods of the settings every runner has, written once for `AgentBuilder`,
/// `TeamBuilder` and `WorkflowBuilder` (each keeps them in a `settings` field).
macro_rules! settings_methods {
    ($what:literal) => {
        #[doc = concat!("Sets the id (default: derived from the name as agno does: `\"My ", $what, "\"` is `my-", $what, "`).")]
        pub fn id(mut self, id: impl Into<String>) -> Self {
            self.settings.id = Some(id.into());
            self
        }

        /// Sets the name.
        pub fn name(mut self, name: impl Into<String>) -> Self {
            self.settings.name = Some(name.into());
            self
        }

        #[doc = concat!("Sets the storage; every run of the ", $what, " is stored at its end, with its child runs. (Run as a member or a step, it is stored where its top-level run is.)")]
        pub fn db(mut self, db: impl $crate::db::Db) -> Self {
            self.settings.db = Some(::std::sync::Arc::new(db));
            self
        }

        /// Appends a pre-hook.
        pub fn pre_hook(mut self, hook: impl $crate::hooks::IntoHook) -> Self {
            self.settings.pre_hooks.push(hook.into_hook());
            self
        }

        /// Appends several pre-hooks (see [`hooks!`](crate::hooks!)).
        pub fn pre_hooks(mut self, hooks: impl IntoIterator<Item = $crate::hooks::SharedHook>) -> Self {
            self.settings.pre_hooks.extend(hooks);
            self
        }

        /// Appends a post-hook.
        pub fn post_hook(mut self, hook: impl $crate::hooks::IntoHook) -> Self {
            self.settings.post_hooks.push(hook.into_hook());
            self
        }

        /// Appends several post-hooks (see [`hooks!`](crate::hooks!)).
        pub fn post_hooks(mut self, hooks: impl IntoIterator<Item = $crate::hooks::SharedHook>) -> Self {
            self.settings.post_hooks.extend(hooks);
            self
        }

        /// Sets the debug flag hooks receive by default.
        pub fn debug_mode(mut self, debug_mode: bool) -> Self {
            self.settings.debug_mode = debug_mode;
            self
        }

        /// Stores the events of streamed runs (all but `RunContent`), as AgentOS does.
        pub fn store_events(mut self, store_events: bool) -> Self {
            self.settings.store_events = store_events;
            self
        }

        /// Sets the backend behind hooks' `tasks` parameter (default: one in-process backend
        /// shared by the whole program).
        pub fn tasks_backend(mut self, backend: ::std::sync::Arc<dyn $crate::tasks::TaskBackend>) -> Self {
            self.settings.tasks_backend = Some(backend);
            self
        }
    };
}
pub(crate) use settings_methods;

/// agno's chat-history settings, for `AgentBuilder` and `TeamBuilder` (the runners that call a
/// model with the conversation).
macro_rules! history_methods {
    () => {
        /// Sends the user and assistant messages of the session's last runs to the model, before
        /// the new message, marked `from_history` (default: off, as in agno). Runs that ended in
        /// `ERROR`, were cancelled or paused are left out.
        pub fn add_history_to_context(mut self, add: bool) -> Self {
            self.settings.add_history_to_context = add;
            self
        }

        /// How many earlier runs history holds (default: 3). Only with
        /// [`add_history_to_context`](Self::add_history_to_context).
        pub fn num_history_runs(mut self, runs: usize) -> Self {
            self.settings.num_history_runs = Some(runs);
            self
        }
    };
}
pub(crate) use history_methods;

/// The read accessors of the settings every runner has, written once for `Agent`, `Team` and
/// `Workflow` (each keeps them in `inner.base`).
macro_rules! base_accessors {
    ($what:literal) => {
        #[doc = concat!("The ", $what, "'s id (from the builder, or derived from the name as agno does).")]
        pub fn id(&self) -> &str {
            &self.inner.base.id
        }

        #[doc = concat!("The ", $what, "'s name.")]
        pub fn name(&self) -> Option<&str> {
            self.inner.base.name.as_deref()
        }

        #[doc = concat!("Where the ", $what, "'s runs are stored, if anywhere.")]
        pub fn db(&self) -> Option<&::std::sync::Arc<dyn $crate::db::Db>> {
            self.inner.base.db.as_ref()
        }

        /// The pre-hooks, in the order they run.
        pub fn pre_hooks(&self) -> &[$crate::hooks::SharedHook] {
            &self.inner.base.pre_hooks
        }

        /// The post-hooks, in the order they run.
        pub fn post_hooks(&self) -> &[$crate::hooks::SharedHook] {
            &self.inner.base.post_hooks
        }

        /// The default debug flag handed to hooks.
        pub fn debug_mode(&self) -> bool {
            self.inner.base.debug_mode
        }

        /// Whether streamed runs store their events (all but `RunContent`).
        pub fn store_events(&self) -> bool {
            self.inner.base.store_events
        }

        /// The backend `tasks` hook parameters use: the one set, else the database's (PostgreSQL
        /// keeps tasks for every replica), else [`default_backend`](crate::tasks::default_backend).
        pub fn tasks_backend(&self) -> ::std::sync::Arc<dyn $crate::tasks::TaskBackend> {
            self.inner.base.tasks_backend()
        }

        #[doc = concat!("The same ", $what, " storing its runs in `db` (AgentOS gives its database to those that have none).")]
        pub fn with_db(&self, db: ::std::sync::Arc<dyn $crate::db::Db>) -> Self {
            let mut inner = (*self.inner).clone();
            inner.base.db = Some(db);
            Self { inner: ::std::sync::Arc::new(inner) }
        }

        /// Whether earlier runs of the session go to the model.
        pub fn add_history_to_context(&self) -> bool {
            self.inner.base.history_runs.is_some()
        }

        /// How many earlier runs go to the model (`None` with history off).
        pub fn num_history_runs(&self) -> Option<usize> {
            self.inner.base.history_runs
        }

        pub(crate) fn base(&self) -> &$crate::run::runner::Base {
            &self.inner.base
        }
    };
}
pub(crate) use base_accessors;

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
        &self.base().id
    }

    /// The runner's name.
    pub fn name(&self) -> Option<&str> {
        self.base().name.as_deref()
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
        self.base().db.as_ref()
    }

    /// Starts a run of this agent, team or workflow.
    pub fn run(&self, input: impl Into<RunInput>) -> RunBuilder {
        RunBuilder::new(self.clone(), input.into())
    }

    /// The pre-hooks, in order.
    pub fn pre_hooks(&self) -> &[SharedHook] {
        &self.base().pre_hooks
    }

    /// The post-hooks, in order.
    pub fn post_hooks(&self) -> &[SharedHook] {
        &self.base().post_hooks
    }

    pub(crate) fn base(&self) -> &Base {
        match self {
            Self::Agent(agent) => agent.base(),
            Self::Team(team) => team.base(),
            Self::Workflow(workflow) => workflow.base(),
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
