//! The durable queue of background hooks a database may hold ([`Db::hook_queue`]): jobs written
//! in the same transaction as their run ([`Db::save_runs_with_hooks`]), workers in every process
//! that take them, and the outcome of each hook, which every process can read.
//!
//! [`Db::hook_queue`]: super::Db::hook_queue
//! [`Db::save_runs_with_hooks`]: super::Db::save_runs_with_hooks

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::{DbError, DbFuture};
use crate::hooks::{HookEntry, HookJob};

/// What happened to one background hook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookOutcome {
    /// The hook's name.
    pub hook: String,
    /// The run the hook belongs to: the request's run, or one of its member or step runs.
    pub run_id: String,
    /// `"agent"`, `"team"` or `"workflow"`: whose hook it is.
    pub runner: String,
    /// That agent's, team's or workflow's id.
    pub runner_id: String,
    /// `"pre"` or `"post"`.
    pub stage: String,
    /// 1-based position in its list.
    pub position: usize,
    /// `queued`, `running`, `completed` or `failed`.
    pub status: String,
    /// The error, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it ran, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// Which delivery ran it last (durable hooks only: 1, 2, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
}

impl HookOutcome {
    /// The outcome of a job's hook with `status`, before it has run (no error, no duration).
    pub fn of(entry: &HookEntry, status: &str, attempt: Option<u32>) -> Self {
        Self {
            hook: entry.hook.clone(),
            run_id: entry.run_id().to_owned(),
            runner: entry.runner.kind.clone(),
            runner_id: entry.runner.id.clone(),
            stage: entry.stage.clone(),
            position: entry.position,
            status: status.to_owned(),
            error: None,
            duration_ms: None,
            attempt,
        }
    }
}

/// One hook's outcome as a worker records it: its index in the job, its idempotency key, and
/// the outcome.
pub type RecordedOutcome = (usize, String, HookOutcome);

/// How a job ended, as its handler tells the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// It can never succeed (its hook is not in this program): not retried, kept with the reason.
    Terminal(String),
    /// It may succeed later (the database was unreachable): retried.
    Retry(String),
}

/// What a worker does with each job: runs its hooks. `attempt` is 1 for the first delivery.
pub trait JobHandler: Send + Sync + 'static {
    /// Runs the job's hooks.
    fn handle(&self, job: HookJob, attempt: u32) -> Pin<Box<dyn Future<Output = Result<(), JobFailure>> + Send>>;
}

/// A durable queue of [`HookJob`]s shared by every process on the same database.
pub trait HookQueue: Send + Sync + 'static {
    /// Takes jobs and runs `handler` on each, several at a time, until `stop` resolves; then
    /// takes no more, waits up to `grace` for the running ones, and hands those still running
    /// back to the queue (not failed) for another worker.
    fn work(
        &self,
        handler: Arc<dyn JobHandler>,
        stop: Pin<Box<dyn Future<Output = ()> + Send>>,
        grace: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<(), DbError>> + Send>>;

    /// Records outcomes of hooks of the job of request run `job_run_id`, each as (its index in
    /// the job, 0-based; its idempotency key; the outcome), replacing their previous ones, in one
    /// write.
    fn save_outcomes<'a>(&'a self, job_run_id: &'a str, outcomes: &'a [RecordedOutcome]) -> DbFuture<'a, ()>;

    /// The recorded outcomes of a run's hooks (the request's run), in queue order; empty if
    /// none was recorded.
    fn outcomes<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Vec<HookOutcome>>;
}
