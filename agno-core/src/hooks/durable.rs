//! Durable background hooks: a run's background hooks written down as data, a [`HookJob`], so
//! that any process running the same program can run them later, after this one is gone.
//!
//! A job holds one run's background hooks in queue order. Each [`HookEntry`] names its hook (the
//! runner's kind and id, pre or post, its position and its name) and carries the copies the hook
//! receives (input or output, context, session). A worker finds the hook again in the runner it
//! serves ([`HookJob::resolve`]): all replicas run the same binary, so the same runner has the
//! same hooks. A hook that is no longer there is a [`ResolveError`], a terminal failure with the
//! reason, never a guess.
//!
//! Delivery is at least once: a hook whose worker died mid-hook runs again elsewhere. It sees
//! which attempt it is and a key that stays the same across attempts in
//! [`RunContext::delivery`](crate::run::RunContext::delivery).

use super::background::BackgroundHook;
pub use super::job::{HookEntry, HookJob, RunnerRef};
use super::{HookStage, SharedHook};
use crate::run::{Delivery, Runner, RunnerKind};
use crate::tasks::Tasks;
use crate::workflow::StepExecutor;

impl RunnerRef {
    /// The reference of `runner`.
    pub fn of(runner: &Runner) -> Self {
        Self { kind: runner.kind().as_str().to_owned(), id: runner.id().to_owned() }
    }

    /// The kind, if it is one.
    pub fn runner_kind(&self) -> Option<RunnerKind> {
        match self.kind.as_str() {
            "agent" => Some(RunnerKind::Agent),
            "team" => Some(RunnerKind::Team),
            "workflow" => Some(RunnerKind::Workflow),
            _ => None,
        }
    }
}

/// Why a worker cannot run a hook of a job: the program it runs no longer has that hook.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No agent, team or workflow with that kind and id is served (or nested in the owner).
    #[error("no {kind} `{id}` is served here, so its hook `{hook}` cannot run (is every replica the same build?)")]
    UnknownRunner {
        /// The runner's kind.
        kind: String,
        /// The runner's id.
        id: String,
        /// The hook.
        hook: String,
    },
    /// The runner has no hook of that name at that place.
    #[error("{kind} `{id}` has no {stage}-hook `{hook}` at position {position} (is every replica the same build?)")]
    UnknownHook {
        /// The runner's kind.
        kind: String,
        /// The runner's id.
        id: String,
        /// `pre` or `post`.
        stage: String,
        /// The position the job names.
        position: usize,
        /// The hook.
        hook: String,
    },
}

/// `pre` or `post`.
fn stage_name(stage: HookStage) -> &'static str {
    match stage {
        HookStage::Pre => "pre",
        HookStage::Post => "post",
    }
}

impl HookJob {
    /// The job of a run's background hooks, as the run handed them over (queue order).
    pub fn new(run_id: &str, owner: &Runner, hooks: &[BackgroundHook]) -> Self {
        let hooks = hooks
            .iter()
            .map(|h| {
                let stage = stage_name(h.stage());
                let (run_input, run_output, run_context, session, debug_mode) = h.copies();
                HookEntry {
                    key: format!("{}:{stage}:{}:{}", h.run_id(), h.position(), h.hook_name()),
                    hook: h.hook_name().to_owned(),
                    runner: RunnerRef::of(h.runner()),
                    stage: stage.to_owned(),
                    position: h.position(),
                    run_input: run_input.cloned(),
                    run_output: run_output.cloned(),
                    run_context: run_context.clone(),
                    session: session.clone(),
                    debug_mode,
                }
            })
            .collect();
        Self { run_id: run_id.to_owned(), owner: RunnerRef::of(owner), hooks }
    }

    /// The hook of `entry`, found in `owner` (the served runner the job's `owner` names) or among
    /// its members and steps, ready to run as attempt `attempt`.
    pub fn resolve(owner: &Runner, entry: HookEntry, attempt: u32) -> Result<BackgroundHook, ResolveError> {
        let kind = entry.runner.runner_kind();
        let runner = kind.and_then(|kind| find_runner(owner, kind, &entry.runner.id)).ok_or_else(|| {
            ResolveError::UnknownRunner {
                kind: entry.runner.kind.clone(),
                id: entry.runner.id.clone(),
                hook: entry.hook.clone(),
            }
        })?;
        let (stage, list) = match entry.stage.as_str() {
            "pre" => (HookStage::Pre, runner.pre_hooks()),
            "post" => (HookStage::Post, runner.post_hooks()),
            _ => (HookStage::Post, &[][..]),
        };
        let hook: Option<&SharedHook> =
            entry.position.checked_sub(1).and_then(|i| list.get(i)).filter(|h| h.name() == entry.hook);
        let Some(hook) = hook.cloned() else {
            return Err(ResolveError::UnknownHook {
                kind: entry.runner.kind,
                id: entry.runner.id,
                stage: entry.stage,
                position: entry.position,
                hook: entry.hook,
            });
        };
        let HookEntry { key, position, run_input, run_output, mut run_context, session, debug_mode, .. } = entry;
        run_context.delivery = Some(Delivery { attempt, idempotency_key: key });
        let tasks = hook
            .params_at(stage)
            .contains(super::HookParams::TASKS)
            // The job's runs are stored in the owner's database, and so are its tasks.
            .then(|| {
                Tasks::new(runner.base().tasks_backend_in(owner.base().db.as_ref()), run_context.session_id.as_str())
            });
        Ok(BackgroundHook::from_copies(
            hook,
            stage,
            position,
            (run_input, run_output, run_context, session, debug_mode),
            runner,
            tasks,
        ))
    }
}

/// `kind` `id` if it is `runner` or one of its members or steps (at any depth).
fn find_runner(runner: &Runner, kind: RunnerKind, id: &str) -> Option<Runner> {
    if runner.kind() == kind && runner.id() == id {
        return Some(runner.clone());
    }
    match runner {
        Runner::Agent(_) => None,
        Runner::Team(team) => team.members().iter().find_map(|m| find_runner(&m.runner(), kind, id)),
        Runner::Workflow(workflow) => workflow.steps().iter().find_map(|step| match step.executor() {
            StepExecutor::Agent(agent) => find_runner(&Runner::Agent(agent.clone()), kind, id),
            StepExecutor::Team(team) => find_runner(&Runner::Team(team.clone()), kind, id),
            StepExecutor::Function(_) => None,
        }),
    }
}
