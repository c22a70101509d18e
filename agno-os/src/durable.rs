//! Durable background hooks (a database with a hook queue: `PostgresDb`): the worker every
//! replica runs while it serves. It takes a job (one run's background hooks, written in the
//! run's own transaction), finds each hook by name in the agent, team or workflow it serves, runs
//! them one after another in queue order, and records each outcome in the database, where every
//! replica reads it for `…/runs/{run_id}/hooks`.
//!
//! Delivery is at least once. A job taken again after its worker died skips the hooks already
//! recorded as completed, so only the hooks that were running or not yet recorded when the worker
//! died run twice; they can tell from `run_context.delivery` (attempt and idempotency key). A
//! hook is recorded as `running` once it has run for 5 ms; fast hooks are recorded together
//! (one write per job when all are fast).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agno_core::db::{HookOutcome, HookQueue, JobFailure, JobHandler, RecordedOutcome};
use agno_core::hooks::HookJob;
use tracing::Instrument;

use crate::AppState;

/// Runs the hooks of the jobs a queue hands over, against the runners of one AgentOS.
pub(crate) struct DurableHooks {
    pub(crate) state: Arc<AppState>,
    pub(crate) queue: Arc<dyn HookQueue>,
}

/// A hook that runs longer than this is recorded as `running` while it runs; a faster one is
/// recorded once, when it ends, together with the other fast hooks before the next slow one.
const RUNNING_AFTER: Duration = Duration::from_millis(5);

impl DurableHooks {
    /// Records outcomes; a failure to record is logged, not fatal (the hooks' work stands).
    async fn record(&self, job_run_id: &str, outcomes: &mut Vec<RecordedOutcome>) {
        if let Err(error) = self.queue.save_outcomes(job_run_id, outcomes).await {
            tracing::warn!(run_id = %job_run_id, %error, "recording background hook outcomes failed");
        }
        outcomes.clear();
    }

    /// Runs the job's hooks in order; see the module docs.
    async fn run(self, job: HookJob, attempt: u32) -> Result<(), JobFailure> {
        let kind = job.owner.runner_kind();
        let owner = kind.and_then(|kind| self.state.runner(kind, &job.owner.id)).ok_or_else(|| {
            JobFailure::Terminal(format!(
                "no {} `{}` is served here, so the background hooks of run {} cannot run (is every replica the same build?)",
                job.owner.kind, job.owner.id, job.run_id
            ))
        })?;
        // A job taken again: the hooks recorded as completed are not run again.
        let completed: HashSet<usize> = if attempt > 1 {
            let recorded = self.queue.outcomes(&job.run_id).await.map_err(|e| JobFailure::Retry(e.to_string()))?;
            recorded.iter().enumerate().filter(|(_, o)| o.status == "completed").map(|(i, _)| i).collect()
        } else {
            HashSet::new()
        };
        let job_run_id = job.run_id;
        let mut unknown = Vec::new();
        // Outcomes not written yet: written before a slow hook's `running`, and at the end.
        let mut unwritten: Vec<RecordedOutcome> = Vec::new();
        for (index, entry) in job.hooks.into_iter().enumerate() {
            if completed.contains(&index) {
                continue;
            }
            let key = entry.key.clone();
            let mut record = HookOutcome::of(&entry, "running", Some(attempt));
            let hook = match HookJob::resolve(&owner, entry, attempt) {
                Ok(hook) => hook,
                Err(error) => {
                    tracing::error!(run_id = %job_run_id, %error, "a background hook cannot run");
                    record.status = "failed".to_owned();
                    record.error = Some(error.to_string());
                    unwritten.push((index, key, record));
                    unknown.push(error.to_string());
                    continue;
                }
            };
            let span = tracing::info_span!("background_hook", run_id = %job_run_id, hook = %record.hook, attempt);
            let started = Instant::now();
            let running = hook.run().instrument(span.clone());
            tokio::pin!(running);
            let result = tokio::select! {
                result = &mut running => result,
                () = tokio::time::sleep(RUNNING_AFTER) => {
                    unwritten.push((index, key.clone(), record.clone()));
                    self.record(&job_run_id, &mut unwritten).await;
                    running.await
                }
            };
            let elapsed = started.elapsed();
            record.duration_ms = Some(elapsed.as_secs_f64() * 1000.0);
            match result {
                Ok(()) => {
                    tracing::info!(parent: &span, duration_ms = elapsed.as_secs_f64() * 1000.0, "background hook completed");
                    record.status = "completed".to_owned();
                }
                Err(error) => {
                    record.status = "failed".to_owned();
                    record.error = Some(error.to_string());
                }
            }
            unwritten.push((index, key, record));
        }
        self.record(&job_run_id, &mut unwritten).await;
        if unknown.is_empty() { Ok(()) } else { Err(JobFailure::Terminal(unknown.join("; "))) }
    }
}

impl JobHandler for DurableHooks {
    fn handle(&self, job: HookJob, attempt: u32) -> Pin<Box<dyn Future<Output = Result<(), JobFailure>> + Send>> {
        let this = DurableHooks { state: Arc::clone(&self.state), queue: Arc::clone(&self.queue) };
        Box::pin(this.run(job, attempt))
    }
}

/// The distinct hook queues of the served runners' databases (one per database).
pub(crate) fn queues(state: &AppState) -> Vec<Arc<dyn HookQueue>> {
    let dbs = state
        .agents
        .iter()
        .map(|a| a.db())
        .chain(state.teams.iter().map(|t| t.db()))
        .chain(state.workflows.iter().map(|w| w.db()))
        .chain(std::iter::once(state.db.as_ref()))
        .flatten();
    let mut seen = HashSet::new();
    dbs.filter(|db| seen.insert(db.id().to_owned())).filter_map(|db| db.hook_queue()).collect()
}

/// Starts a worker on each queue; they stop taking jobs when `stop` flips to `true`, and hand
/// back what they still run after `grace`.
pub(crate) fn start_workers(
    state: &Arc<AppState>,
    stop: &tokio::sync::watch::Receiver<bool>,
    grace: Duration,
) -> Vec<tokio::task::JoinHandle<()>> {
    queues(state)
        .into_iter()
        .map(|queue| {
            let handler: Arc<dyn JobHandler> =
                Arc::new(DurableHooks { state: Arc::clone(state), queue: Arc::clone(&queue) });
            let mut stop = stop.clone();
            let stopped = Box::pin(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            });
            tokio::spawn(async move {
                if let Err(error) = queue.work(handler, stopped, grace).await {
                    tracing::error!(%error, "the durable background hook worker stopped with an error");
                }
            })
        })
        .collect()
}
