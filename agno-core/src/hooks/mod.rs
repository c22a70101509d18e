//! Hooks: functions that run before (pre-hooks) and after (post-hooks) the model call.
//!
//! A hook is anything that implements [`Hook`]; `#[hook]` writes that impl for a plain `fn` or
//! `async fn`, and guardrails implement it by hand. A hook declares what it receives
//! ([`HookParams`]); the run hands it a [`HookContext`] holding exactly those things.
//!
//! Rules (agno's, see the crate docs for where we differ):
//! * hooks run one after another, in list order;
//! * an [`InputCheckError`](crate::InputCheckError) or [`OutputCheckError`](crate::OutputCheckError) from any hook stops the run (status `ERROR`);
//! * any other error, or a panic, is logged with the hook's name and position, and the next hook
//!   runs;
//! * a background hook runs inline outside AgentOS; given a [`BackgroundScheduler`], it is handed
//!   over with its own copies of the run's data and can never change the run.

pub(crate) mod background;
mod call;
pub mod durable;
pub(crate) mod job;
pub mod params;

use std::ops::BitOr;
use std::sync::Arc;

pub use background::{BackgroundHook, BackgroundScheduler};
pub(crate) use call::call_hook;
pub use call::{HookCall, HookError, IntoHookResult};
pub use durable::{HookEntry, HookJob, ResolveError, RunnerRef};

use crate::agent::Agent;
use crate::run::{RunContext, RunInput, RunOutput, Runner};
use crate::session::Session;
use crate::tasks::Tasks;
use crate::team::Team;
use crate::workflow::Workflow;

/// Whether a hook runs before or after the model call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookStage {
    /// Before the model call; receives `run_input`.
    Pre,
    /// After the model call; receives `run_output`.
    Post,
}

impl HookStage {
    /// `"Pre-hook"` or `"Post-hook"`, as agno words its log lines.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pre => "Pre-hook",
            Self::Post => "Post-hook",
        }
    }
}

/// The set of things a hook receives (a small bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HookParams(u16);

impl HookParams {
    /// Nothing.
    pub const NONE: Self = Self(0);
    /// `run_input: &RunInput` (pre-hooks only).
    pub const RUN_INPUT: Self = Self(1);
    /// `run_input: &mut RunInput` (pre-hooks only; modifies data).
    pub const RUN_INPUT_MUT: Self = Self(1 << 1);
    /// `run_output: &RunOutput` (post-hooks only).
    pub const RUN_OUTPUT: Self = Self(1 << 2);
    /// `run_output: &mut RunOutput` (post-hooks only; modifies data).
    pub const RUN_OUTPUT_MUT: Self = Self(1 << 3);
    /// `run_context: &RunContext`.
    pub const RUN_CONTEXT: Self = Self(1 << 4);
    /// `agent: &Agent`.
    pub const AGENT: Self = Self(1 << 5);
    /// `session: &Session`.
    pub const SESSION: Self = Self(1 << 6);
    /// `user_id: Option<&str>`.
    pub const USER_ID: Self = Self(1 << 7);
    /// `metadata: Option<&Value>`.
    pub const METADATA: Self = Self(1 << 8);
    /// `debug_mode: bool`.
    pub const DEBUG_MODE: Self = Self(1 << 9);
    /// `tasks: &Tasks` (the run's session).
    pub const TASKS: Self = Self(1 << 10);
    /// `team: &Team` (team runs only).
    pub const TEAM: Self = Self(1 << 11);
    /// `workflow: &Workflow` (workflow runs only).
    pub const WORKFLOW: Self = Self(1 << 12);

    /// Both sets (usable in `const` items, which `|` is not).
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every member of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any member of `other` is in `self`.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the hook can change the run (`&mut run_input` or `&mut run_output`).
    pub const fn modifies(self) -> bool {
        self.intersects(Self::RUN_INPUT_MUT.union(Self::RUN_OUTPUT_MUT))
    }

    /// Whether the hook receives `run_input` in any form.
    pub const fn needs_input(self) -> bool {
        self.intersects(Self::RUN_INPUT.union(Self::RUN_INPUT_MUT))
    }

    /// Whether the hook receives `run_output` in any form.
    pub const fn needs_output(self) -> bool {
        self.intersects(Self::RUN_OUTPUT.union(Self::RUN_OUTPUT_MUT))
    }
}

impl BitOr for HookParams {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

/// What a hook receives. `run_input` is `Some` for pre-hooks, `run_output` for post-hooks.
#[non_exhaustive]
pub struct HookContext<'a> {
    /// Which stage this call is in.
    pub stage: HookStage,
    /// The run's input (pre-hooks). Changing it changes what the model sees.
    pub run_input: Option<&'a mut RunInput>,
    /// The run's output (post-hooks). Its status is still `RUNNING`.
    pub run_output: Option<&'a mut RunOutput>,
    /// Run id, session id, user, metadata, session state.
    pub run_context: &'a RunContext,
    /// The agent that runs (agent runs; `None` for team and workflow hooks).
    pub agent: Option<&'a Agent>,
    /// The team that runs (team runs).
    pub team: Option<&'a Team>,
    /// The workflow that runs (workflow runs).
    pub workflow: Option<&'a Workflow>,
    /// The session: its row, and in `runs` the chat-history window (empty with history off; see [`Session`]).
    pub session: &'a Session,
    /// The run's debug flag (or the agent's).
    pub debug_mode: bool,
    /// The task handle of the run's session (present when a hook of the agent asks for it).
    pub tasks: Option<&'a Tasks>,
    /// The agent, team or workflow that runs (the one of the three fields above that is set).
    runner: &'a Runner,
}

impl<'a> HookContext<'a> {
    /// The agent, team or workflow that runs, whichever it is.
    pub fn runner(&self) -> &'a Runner {
        self.runner
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        stage: HookStage,
        run_input: Option<&'a mut RunInput>,
        run_output: Option<&'a mut RunOutput>,
        run_context: &'a RunContext,
        runner: &'a Runner,
        session: &'a Session,
        debug_mode: bool,
        tasks: Option<&'a Tasks>,
    ) -> Self {
        let (agent, team, workflow) = match runner {
            Runner::Agent(agent) => (Some(agent), None, None),
            Runner::Team(team) => (None, Some(team), None),
            Runner::Workflow(workflow) => (None, None, Some(workflow)),
        };
        Self { stage, run_input, run_output, run_context, agent, team, workflow, session, debug_mode, tasks, runner }
    }
}

/// A pre- or post-hook. Write it with `#[hook]`, or implement it for guardrails and other
/// stateful hooks.
///
/// ```
/// use agno_core::hooks::{Hook, HookCall, HookContext, HookParams};
///
/// /// Rejects empty input.
/// struct NotEmpty;
///
/// impl Hook for NotEmpty {
///     fn name(&self) -> &str { "not_empty" }
///     fn params(&self) -> HookParams { HookParams::RUN_INPUT }
///     fn call<'a>(&'a self, cx: HookContext<'a>) -> HookCall<'a> {
///         let empty = cx.run_input.map_or(true, |i| i.input_content_string().trim().is_empty());
///         if empty {
///             HookCall::Done(Err(agno_core::InputCheckError::new("empty input").into()))
///         } else {
///             HookCall::Done(Ok(()))
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a hook",
    label = "not a hook",
    note = "put `#[hook]` on a `fn` or `async fn`, or implement `agno::hooks::Hook` for this type"
)]
pub trait Hook: Send + Sync + 'static {
    /// The name used in events and logs.
    fn name(&self) -> &str;
    /// What the hook receives. A pre-hook must not ask for `run_output`, a post-hook not for
    /// `run_input`: `Agent::builder().build()` rejects that.
    fn params(&self) -> HookParams;
    /// What the hook receives at `stage` (default: [`params`](Self::params) at both). A hook meant
    /// for one stage can ask for nothing at the other and fail there at run time, as
    /// [`AgentAsJudgeEval`](crate::eval::AgentAsJudgeEval) does as a pre-hook.
    fn params_at(&self, stage: HookStage) -> HookParams {
        let _ = stage;
        self.params()
    }
    /// Whether to run after the response when served by AgentOS (inline otherwise).
    fn run_in_background(&self) -> bool {
        false
    }
    /// Whether this hook is a guardrail; guardrails always run inline.
    fn is_guardrail(&self) -> bool {
        false
    }
    /// Calls the hook. A sync hook returns [`HookCall::Done`]; an async one [`HookCall::Pending`].
    fn call<'a>(&'a self, cx: HookContext<'a>) -> HookCall<'a>;
}

/// A hook as the agent stores it.
pub type SharedHook = Arc<dyn Hook>;

/// Things that can be added as hooks: any [`Hook`], or an already shared one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an agent hook",
    label = "not an agent hook",
    note = "a `#[hook]` that takes Claude Code parameters (`event`, `session_id`, `cwd`, `transcript`) or returns a `Response` is a Claude Code handler: register it on a `HookApp`",
    note = "otherwise put `#[hook]` on a `fn` or `async fn`, or implement `agno::hooks::Hook` for this type"
)]
pub trait IntoHook {
    /// Converts into a shared hook.
    fn into_hook(self) -> SharedHook;
}

impl<H: Hook> IntoHook for H {
    fn into_hook(self) -> SharedHook {
        Arc::new(self)
    }
}

impl IntoHook for SharedHook {
    fn into_hook(self) -> SharedHook {
        self
    }
}

/// Builds a `Vec` of hooks of different types, for `pre_hooks` / `post_hooks`.
///
/// ```
/// use agno_core::guardrails::{PIIDetectionGuardrail, PromptInjectionGuardrail};
/// use agno_core::{Agent, hooks};
///
/// let agent = Agent::builder()
///     .pre_hooks(hooks![PromptInjectionGuardrail::new(), PIIDetectionGuardrail::new().mask_pii(true)])
///     .build()?;
/// assert_eq!(agent.pre_hooks().len(), 2);
/// # Ok::<(), agno_core::Error>(())
/// ```
#[macro_export]
macro_rules! hooks {
    ($($hook:expr),* $(,)?) => {
        ::std::vec![$($crate::hooks::IntoHook::into_hook($hook)),*]
    };
}
