//! Background hooks: handed, with their own copies of the run's data, to a scheduler that runs
//! them after the response.

use std::sync::Arc;

use super::{HookContext, HookError, HookParams, HookStage, SharedHook, call_hook};
use crate::run::{RunContext, RunInput, RunOutput, Runner};
use crate::session::Session;
use crate::tasks::Tasks;

/// Runs the background hooks of a run later (AgentOS: after the response is sent).
///
/// Without a scheduler, background hooks run inline, in list order, as agno documents.
pub trait BackgroundScheduler: Send + Sync + 'static {
    /// Takes one run's background hooks, in queue order (pre-hooks, then post-hooks, each in list
    /// order). They should run one after another in that order.
    fn schedule(&self, hooks: Vec<BackgroundHook>);

    /// Whether a run stored in a database with a durable queue ([`Db::hook_queue`]) should queue
    /// its background hooks there, in the transaction that stores it, instead of handing them to
    /// [`BackgroundScheduler::schedule`] (default: no).
    ///
    /// [`Db::hook_queue`]: crate::db::Db::hook_queue
    fn durable(&self) -> bool {
        false
    }
}

/// A hook waiting to run in the background, with its own copies of what it receives.
///
/// It owns a copy of `run_input`, `run_output` and `run_context` (only those the hook asks for
/// are copied, and they are taken when the run has finished, so they show the final data) and
/// shares the agent (team, workflow) and the session read-only. Nothing it does can change the run.
pub struct BackgroundHook {
    hook: SharedHook,
    stage: HookStage,
    position: usize,
    run_input: Option<RunInput>,
    /// Boxed: a run's output is ~650 bytes, and a list of hooks carrying it inline is an
    /// allocation too large for the system allocator's per-thread cache.
    run_output: Option<Box<RunOutput>>,
    run_context: Arc<RunContext>,
    runner: Runner,
    session: Arc<Session>,
    debug_mode: bool,
    tasks: Option<Tasks>,
}

impl std::fmt::Debug for BackgroundHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundHook")
            .field("hook", &self.hook.name())
            .field("stage", &self.stage)
            .field("position", &self.position)
            .field("run_id", &self.run_context.run_id)
            .finish_non_exhaustive()
    }
}

/// The data a background hook copies from its run.
pub(crate) struct RunSnapshot<'a> {
    /// The finished output; its `input` is the run's final input.
    pub run_output: &'a RunOutput,
    pub run_context: &'a Arc<RunContext>,
    pub runner: &'a Runner,
    pub session: &'a Arc<Session>,
    pub debug_mode: bool,
    pub tasks: Option<&'a Tasks>,
}

impl BackgroundHook {
    /// Copies what `hook` asks for out of a finished run.
    pub(crate) fn new(hook: SharedHook, stage: HookStage, position: usize, run: &RunSnapshot<'_>) -> Self {
        let params = hook.params_at(stage);
        let run_input =
            if stage == HookStage::Pre && params.needs_input() { run.run_output.input.clone() } else { None };
        let run_output = (stage == HookStage::Post && params.needs_output()).then(|| Box::new(run.run_output.clone()));
        Self {
            hook,
            stage,
            position,
            run_input,
            run_output,
            run_context: Arc::clone(run.run_context),
            runner: run.runner.clone(),
            session: Arc::clone(run.session),
            debug_mode: run.debug_mode,
            tasks: params.contains(HookParams::TASKS).then(|| run.tasks.cloned()).flatten(),
        }
    }

    /// A hook taken back out of a [`HookJob`](super::HookJob): its copies as they were stored.
    pub(crate) fn from_copies(
        hook: SharedHook,
        stage: HookStage,
        position: usize,
        copies: (Option<RunInput>, Option<RunOutput>, RunContext, Session, bool),
        runner: Runner,
        tasks: Option<Tasks>,
    ) -> Self {
        let (run_input, run_output, run_context, session, debug_mode) = copies;
        Self {
            hook,
            stage,
            position,
            run_input,
            run_output: run_output.map(Box::new),
            run_context: Arc::new(run_context),
            runner,
            session: Arc::new(session),
            debug_mode,
            tasks,
        }
    }

    /// The copies the hook runs on, to be written into a [`HookJob`](super::HookJob).
    pub(crate) fn copies(&self) -> (Option<&RunInput>, Option<&RunOutput>, &RunContext, &Session, bool) {
        (self.run_input.as_ref(), self.run_output.as_deref(), &self.run_context, &self.session, self.debug_mode)
    }

    /// The hook's name.
    pub fn hook_name(&self) -> &str {
        self.hook.name()
    }

    /// The hook itself.
    pub fn hook(&self) -> &SharedHook {
        &self.hook
    }

    /// The agent, team or workflow whose hook this is.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// The context of the run this hook belongs to (a member's or step's own run for theirs).
    pub fn run_context(&self) -> &Arc<RunContext> {
        &self.run_context
    }

    /// The run this hook belongs to.
    pub fn run_id(&self) -> &str {
        &self.run_context.run_id
    }

    /// Pre or post.
    pub fn stage(&self) -> HookStage {
        self.stage
    }

    /// 1-based position in the agent's pre- or post-hook list.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Runs the hook on its copies. Errors and panics are logged with the run id and the hook's
    /// name and returned; check errors are only logged (the response has gone already).
    pub async fn run(mut self) -> Result<(), HookError> {
        let cx = HookContext::new(
            self.stage,
            self.run_input.as_mut(),
            self.run_output.as_deref_mut(),
            &self.run_context,
            &self.runner,
            &self.session,
            self.debug_mode,
            self.tasks.as_ref(),
        );
        let result = call_hook(&*self.hook, cx).await;
        match &result {
            Ok(()) => tracing::debug!(
                run_id = %self.run_context.run_id,
                hook = self.hook.name(),
                "background hook completed"
            ),
            Err(error) => tracing::error!(
                run_id = %self.run_context.run_id,
                hook = self.hook.name(),
                position = self.position,
                %error,
                "Background {} #{} execution failed",
                self.stage.label().to_lowercase(),
                self.position
            ),
        }
        result
    }
}
