//! The agent: a model, instructions, hooks and storage, shared cheaply (`Clone` is an `Arc` bump).

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::hooks::SharedHook;
use crate::models::{Model, OfflineModel};
use crate::run::runner::{Base, RunnerKind, Settings, base_accessors, history_methods, settings_methods};
use crate::run::{RunBuilder, RunInput, Runner};

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
    base: Base,
    model: Arc<dyn Model>,
    instructions: Vec<String>,
    markdown: bool,
    system_message: Option<String>,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |hooks: &[SharedHook]| hooks.iter().map(|h| h.name().to_owned()).collect::<Vec<_>>();
        f.debug_struct("Agent")
            .field("id", &self.inner.base.id)
            .field("name", &self.inner.base.name)
            .field("model", &self.inner.model.id())
            .field("pre_hooks", &names(&self.inner.base.pre_hooks))
            .field("post_hooks", &names(&self.inner.base.post_hooks))
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Starts building an agent.
    pub fn builder() -> AgentBuilder {
        AgentBuilder::default()
    }

    base_accessors!("agent");

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

    /// Starts a run. Await the result for the [`RunOutput`](crate::run::RunOutput), or call
    /// `.stream()` for the events; set `.session_id(..)`, `.user_id(..)`, `.metadata(..)` first.
    pub fn run(&self, input: impl Into<RunInput>) -> RunBuilder {
        RunBuilder::new(Runner::Agent(self.clone()), input.into())
    }
}

/// Builds an [`Agent`]; [`build`](AgentBuilder::build) checks the configuration.
#[derive(Default)]
#[must_use = "call .build() to get the agent"]
pub struct AgentBuilder {
    settings: Settings,
    model: Option<Arc<dyn Model>>,
    instructions: Vec<String>,
    markdown: bool,
}

impl AgentBuilder {
    settings_methods!("agent");
    history_methods!();

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

    /// Checks the configuration and builds the agent.
    ///
    /// Errors (all reported at once): an empty id, a pre-hook that asks for `run_output` (it
    /// does not exist yet), a post-hook that asks for `run_input` (read `run_output.input`).
    pub fn build(self) -> Result<Agent> {
        let mut problems = Vec::new();
        let base = self.settings.check(RunnerKind::Agent, &mut problems);
        if !problems.is_empty() {
            return Err(Error::Config(format!("agent `{}`: {}", base.id, problems.join("; "))));
        }
        let system_message = system_message(&self.instructions, self.markdown);
        Ok(Agent {
            inner: Arc::new(AgentInner {
                base,
                model: self.model.unwrap_or_else(|| Arc::new(OfflineModel::new())),
                instructions: self.instructions,
                markdown: self.markdown,
                system_message,
            }),
        })
    }
}

/// agno's id from a name: lower-case, spaces and underscores to dashes.
pub fn id_from_name(name: &str) -> String {
    name.to_lowercase().replace([' ', '_'], "-")
}

pub(crate) fn system_message(instructions: &[String], markdown: bool) -> Option<String> {
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
