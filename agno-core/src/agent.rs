//! The agent: a model, instructions, hooks and storage, shared cheaply (`Clone` is an `Arc` bump).

use std::fmt;
use std::sync::Arc;

use crate::db::Db;
use crate::error::{Error, Result};
use crate::hooks::{HookParams, HookStage, IntoHook, SharedHook};
use crate::models::{Model, OfflineModel};
use crate::run::{RunBuilder, RunInput};
use crate::tasks::{TaskBackend, default_backend};

/// The line agno adds to the system message when `markdown` is on.
pub const MARKDOWN_INSTRUCTION: &str = "Use markdown to format your answers.";

/// An agent. Build one with [`Agent::builder`], run it with [`Agent::run`].
///
/// ```
/// use agno_core::prelude::*;
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let agent = Agent::builder().name("Echo Agent").build().unwrap();
/// assert_eq!(agent.id(), "echo-agent");
/// let out = agent.run("Hello").await.unwrap();
/// assert_eq!(out.status, RunStatus::Completed);
/// assert_eq!(out.content.as_deref(), Some("You said: \"Hello\""));
/// # });
/// ```
#[derive(Clone)]
pub struct Agent {
    inner: Arc<AgentInner>,
}

#[derive(Clone)]
struct AgentInner {
    id: String,
    name: Option<String>,
    model: Arc<dyn Model>,
    instructions: Vec<String>,
    markdown: bool,
    system_message: Option<String>,
    db: Option<Arc<dyn Db>>,
    pre_hooks: Vec<SharedHook>,
    post_hooks: Vec<SharedHook>,
    debug_mode: bool,
    store_events: bool,
    tasks_backend: Option<Arc<dyn TaskBackend>>,
    needs_tasks: bool,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |hooks: &[SharedHook]| hooks.iter().map(|h| h.name().to_owned()).collect::<Vec<_>>();
        f.debug_struct("Agent")
            .field("id", &self.inner.id)
            .field("name", &self.inner.name)
            .field("model", &self.inner.model.id())
            .field("pre_hooks", &names(&self.inner.pre_hooks))
            .field("post_hooks", &names(&self.inner.post_hooks))
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Starts building an agent.
    pub fn builder() -> AgentBuilder {
        AgentBuilder::default()
    }

    /// The agent's id (from the builder, or derived from the name as agno does).
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The agent's name.
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// The model.
    pub fn model(&self) -> &dyn Model {
        &*self.inner.model
    }

    /// The instructions, in order.
    pub fn instructions(&self) -> &[String] {
        &self.inner.instructions
    }

    /// Whether the markdown line is added to the system message.
    pub fn markdown(&self) -> bool {
        self.inner.markdown
    }

    /// The system message built from the instructions (and the markdown line), if any.
    pub fn system_message(&self) -> Option<&str> {
        self.inner.system_message.as_deref()
    }

    /// The storage, if any.
    pub fn db(&self) -> Option<&Arc<dyn Db>> {
        self.inner.db.as_ref()
    }

    /// The pre-hooks, in the order they run.
    pub fn pre_hooks(&self) -> &[SharedHook] {
        &self.inner.pre_hooks
    }

    /// The post-hooks, in the order they run.
    pub fn post_hooks(&self) -> &[SharedHook] {
        &self.inner.post_hooks
    }

    /// The default debug flag handed to hooks.
    pub fn debug_mode(&self) -> bool {
        self.inner.debug_mode
    }

    /// Whether streamed runs store their events (all but `RunContent`).
    pub fn store_events(&self) -> bool {
        self.inner.store_events
    }

    /// The backend `tasks` hook parameters use ([`default_backend`] unless set).
    pub fn tasks_backend(&self) -> Arc<dyn TaskBackend> {
        self.inner.tasks_backend.clone().unwrap_or_else(default_backend)
    }

    /// Whether a hook of this agent takes `tasks`.
    pub(crate) fn needs_tasks(&self) -> bool {
        self.inner.needs_tasks
    }

    /// The same agent with this storage (AgentOS gives its database to agents that have none).
    pub fn with_db(&self, db: Arc<dyn Db>) -> Agent {
        let mut inner = (*self.inner).clone();
        inner.db = Some(db);
        Agent { inner: Arc::new(inner) }
    }

    /// Starts a run. Await the result for the [`RunOutput`](crate::run::RunOutput), or call
    /// `.stream()` for the events; set `.session_id(..)`, `.user_id(..)`, `.metadata(..)` first.
    pub fn run(&self, input: impl Into<RunInput>) -> RunBuilder {
        RunBuilder::new(self.clone(), input.into())
    }
}

/// Builds an [`Agent`]; [`build`](AgentBuilder::build) checks the configuration.
#[derive(Default)]
#[must_use = "call .build() to get the agent"]
pub struct AgentBuilder {
    id: Option<String>,
    name: Option<String>,
    model: Option<Arc<dyn Model>>,
    instructions: Vec<String>,
    markdown: bool,
    db: Option<Arc<dyn Db>>,
    pre_hooks: Vec<SharedHook>,
    post_hooks: Vec<SharedHook>,
    debug_mode: bool,
    store_events: bool,
    tasks_backend: Option<Arc<dyn TaskBackend>>,
}

impl AgentBuilder {
    /// Sets the id (default: derived from the name).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the model (default: [`OfflineModel`]).
    pub fn model(mut self, model: impl Model) -> Self {
        self.model = Some(Arc::new(model));
        self
    }

    /// Adds an instruction; call it again to add more. Several instructions are listed one per
    /// line in the system message.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions.push(instructions.into());
        self
    }

    /// Adds "Use markdown to format your answers." to the system message.
    pub fn markdown(mut self, markdown: bool) -> Self {
        self.markdown = markdown;
        self
    }

    /// Sets the storage; every run is stored at its end.
    pub fn db(mut self, db: impl Db) -> Self {
        self.db = Some(Arc::new(db));
        self
    }

    /// Appends a pre-hook.
    pub fn pre_hook(mut self, hook: impl IntoHook) -> Self {
        self.pre_hooks.push(hook.into_hook());
        self
    }

    /// Appends several pre-hooks (see [`hooks!`](crate::hooks!)).
    pub fn pre_hooks(mut self, hooks: impl IntoIterator<Item = SharedHook>) -> Self {
        self.pre_hooks.extend(hooks);
        self
    }

    /// Appends a post-hook.
    pub fn post_hook(mut self, hook: impl IntoHook) -> Self {
        self.post_hooks.push(hook.into_hook());
        self
    }

    /// Appends several post-hooks (see [`hooks!`](crate::hooks!)).
    pub fn post_hooks(mut self, hooks: impl IntoIterator<Item = SharedHook>) -> Self {
        self.post_hooks.extend(hooks);
        self
    }

    /// Sets the debug flag hooks receive by default.
    pub fn debug_mode(mut self, debug_mode: bool) -> Self {
        self.debug_mode = debug_mode;
        self
    }

    /// Stores the events of streamed runs (all but `RunContent`), as AgentOS does.
    pub fn store_events(mut self, store_events: bool) -> Self {
        self.store_events = store_events;
        self
    }

    /// Sets the backend behind hooks' `tasks` parameter (default: one in-process backend shared
    /// by the whole program).
    pub fn tasks_backend(mut self, backend: Arc<dyn TaskBackend>) -> Self {
        self.tasks_backend = Some(backend);
        self
    }

    /// Checks the configuration and builds the agent.
    ///
    /// Errors (all reported at once): an empty id, a pre-hook that asks for `run_output` (it
    /// does not exist yet), a post-hook that asks for `run_input` (read `run_output.input`).
    pub fn build(self) -> Result<Agent> {
        let mut problems = Vec::new();
        let id = match (self.id, self.name.as_deref()) {
            (Some(id), _) => id,
            (None, Some(name)) => id_from_name(name),
            (None, None) => crate::ids::new_id(),
        };
        if id.trim().is_empty() {
            problems.push("the agent id is empty; set .id(..) or a non-empty .name(..)".to_owned());
        }
        check_stage(&self.pre_hooks, HookStage::Pre, &mut problems);
        check_stage(&self.post_hooks, HookStage::Post, &mut problems);
        if !problems.is_empty() {
            return Err(Error::Config(format!("agent `{id}`: {}", problems.join("; "))));
        }
        let system_message = system_message(&self.instructions, self.markdown);
        let needs_tasks = self.pre_hooks.iter().chain(&self.post_hooks).any(|h| h.params().contains(HookParams::TASKS));
        Ok(Agent {
            inner: Arc::new(AgentInner {
                id,
                name: self.name,
                model: self.model.unwrap_or_else(|| Arc::new(OfflineModel::new())),
                instructions: self.instructions,
                markdown: self.markdown,
                system_message,
                db: self.db,
                pre_hooks: self.pre_hooks,
                post_hooks: self.post_hooks,
                debug_mode: self.debug_mode,
                store_events: self.store_events,
                tasks_backend: self.tasks_backend,
                needs_tasks,
            }),
        })
    }
}

fn check_stage(hooks: &[SharedHook], stage: HookStage, problems: &mut Vec<String>) {
    for (i, hook) in hooks.iter().enumerate() {
        let params = hook.params_at(stage);
        match stage {
            HookStage::Pre if params.needs_output() => problems.push(format!(
                "pre-hook #{} `{}` takes `run_output`, which does not exist before the model call; move it to post_hooks",
                i + 1,
                hook.name()
            )),
            HookStage::Post if params.needs_input() => problems.push(format!(
                "post-hook #{} `{}` takes `run_input`, which post-hooks do not receive; move it to pre_hooks or read `run_output.input`",
                i + 1,
                hook.name()
            )),
            _ => {}
        }
    }
}

/// agno's id from a name: lower-case, spaces and underscores to dashes.
pub fn id_from_name(name: &str) -> String {
    name.to_lowercase().replace([' ', '_'], "-")
}

fn system_message(instructions: &[String], markdown: bool) -> Option<String> {
    let mut message = match instructions {
        [] => String::new(),
        [one] => one.clone(),
        many => many.iter().map(|i| format!("- {i}")).collect::<Vec<_>>().join("\n"),
    };
    if markdown {
        if !message.is_empty() {
            message.push_str("\n\n");
        }
        message.push_str(MARKDOWN_INSTRUCTION);
    }
    (!message.is_empty()).then_some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_defaults_from_name_as_agno_does() {
        assert_eq!(id_from_name("BackgroundTaskAgent"), "backgroundtaskagent");
        assert_eq!(id_from_name("Hook Agent_v2"), "hook-agent-v2");
        let agent = Agent::builder().name("My Agent").build().unwrap();
        assert_eq!(agent.id(), "my-agent");
        let agent = Agent::builder().id("x").name("My Agent").build().unwrap();
        assert_eq!(agent.id(), "x");
        assert!(!Agent::builder().build().unwrap().id().is_empty());
        assert!(matches!(Agent::builder().id(" ").build(), Err(Error::Config(_))));
    }

    #[test]
    fn system_message_from_instructions_and_markdown() {
        assert_eq!(system_message(&[], false), None);
        assert_eq!(system_message(&["Be brief.".into()], false).as_deref(), Some("Be brief."));
        assert_eq!(
            system_message(&["Be brief.".into()], true).as_deref(),
            Some("Be brief.\n\nUse markdown to format your answers.")
        );
        assert_eq!(system_message(&["a".into(), "b".into()], false).as_deref(), Some("- a\n- b"));
        assert_eq!(system_message(&[], true).as_deref(), Some(MARKDOWN_INSTRUCTION));
    }
}
