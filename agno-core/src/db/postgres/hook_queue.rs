//! The durable queue of background hooks of a [`super::PostgresDb`], on apalis-postgres: a run's
//! [`HookJob`] is pushed in the transaction that stores the run, every process runs a worker
//! that takes jobs, and each hook's outcome goes to `agno_hook_outcomes`, so any replica can
//! answer `…/runs/{run_id}/hooks`.
//!
//! apalis keeps its jobs in its own schema, `apalis` (it cannot be moved). A worker heartbeats
//! every [`QueueTiming::heartbeat`]; a job held by a worker that missed
//! [`QueueTiming::missed_heartbeats`] of them (its process died) is taken again by another
//! worker: delivery is at least once. Workers are woken by `LISTEN/NOTIFY` when a job is pushed,
//! and poll at every heartbeat as well.
//!
//! Two rules from apalis 1.0's behaviour: every worker has a name of its own (a restarted
//! process under an old name would keep its dead jobs locked), and jobs are fetched without a
//! concurrency limit (a limit with a larger fetch batch stalls the heartbeat, and jobs then run
//! twice). One job holds one run's hooks, which run one after another.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{AbortError, Attempt, BoxDynError, Data, DeferredError, WorkerBuilder, WorkerContext};
use apalis_postgres::{Config, PostgresStorage};
use sqlx::{PgPool, Row};

use super::group_commit::{BatchWriter, GroupCommit};
use super::{Connection, failed};
use crate::db::{DbError, DbFuture, HookOutcome, HookQueue, JobFailure, JobHandler, RecordedOutcome};
use crate::future::BoxFuture;
use crate::hooks::job::HookJob;

/// The apalis queue (its `job_type`) of the background hooks of agno's tables in `schema`: apalis
/// keeps every queue in one schema of its own, so deployments on one database with agno's tables
/// in different schemas must not take each other's jobs.
fn queue_name(schema: &str) -> String {
    format!("agno_background_hooks:{}", schema.trim_matches('"'))
}

/// How often workers heartbeat, and how many heartbeats a worker may miss before its jobs are
/// taken by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueTiming {
    /// Between two heartbeats (and polls) of a worker: 2 s by default.
    pub heartbeat: Duration,
    /// Heartbeats missed before a worker counts as dead: 5 by default, so the jobs of a replica
    /// that died are taken again within about 10–12 s.
    pub missed_heartbeats: usize,
    /// Deliveries of one job at most (a job whose worker keeps dying stops there): 10.
    pub max_attempts: usize,
    /// Jobs fetched at a time by one worker: 256 (they run at once, each job its hooks in order).
    pub batch: usize,
}

impl Default for QueueTiming {
    fn default() -> Self {
        Self { heartbeat: Duration::from_secs(2), missed_heartbeats: 5, max_attempts: 10, batch: 256 }
    }
}

/// The hook queue of one database: its connection and timing.
pub(super) struct PgHookQueue {
    pub(super) connection: Arc<Connection>,
    pub(super) timing: QueueTiming,
    /// Hook outcomes, group-committed.
    pub(super) outcome_writes: Arc<GroupCommit<OutcomeWrites>>,
}

/// The outcomes of one job's hooks to record: `(index, hook key, outcome as JSON)`.
pub(super) struct JobOutcomes {
    job_run_id: String,
    rows: Vec<(i32, String, String)>,
}

/// Hook outcomes of many jobs in one statement.
pub(super) struct OutcomeWrites {
    connection: Arc<Connection>,
    statement: String,
}

impl OutcomeWrites {
    pub(super) fn new(connection: Arc<Connection>) -> GroupCommit<Self> {
        let statement = format!(
            "INSERT INTO {}.agno_hook_outcomes (job_run_id, idx, hook_key, outcome, updated_at)
             SELECT job_run_id, idx, hook_key, outcome, $5
             FROM UNNEST($1::VARCHAR[], $2::INTEGER[], $3::VARCHAR[], $4::TEXT[]::JSONB[])
                 AS recorded (job_run_id, idx, hook_key, outcome)
             ON CONFLICT (job_run_id, idx) DO UPDATE SET
                 hook_key = excluded.hook_key, outcome = excluded.outcome, updated_at = excluded.updated_at",
            connection.schema()
        );
        GroupCommit::new(Self { connection, statement })
    }
}

impl BatchWriter for OutcomeWrites {
    type Item = JobOutcomes;

    fn write<'a>(&'a self, items: &'a [&'a JobOutcomes]) -> BoxFuture<'a, Result<Vec<Result<(), DbError>>, DbError>> {
        Box::pin(async move {
            // One row per (job, index), the latest written (a statement cannot update a row twice).
            let mut latest: HashMap<(&str, i32), (&str, &str)> = HashMap::new();
            for item in items {
                for (index, key, outcome) in &item.rows {
                    latest.insert((item.job_run_id.as_str(), *index), (key.as_str(), outcome.as_str()));
                }
            }
            let (mut jobs, mut indexes, mut keys, mut outcomes) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for ((job, index), (key, outcome)) in latest {
                jobs.push(job);
                indexes.push(index);
                keys.push(key);
                outcomes.push(outcome);
            }
            let pool = self.connection.pool().await?;
            sqlx::query(sqlx::AssertSqlSafe(self.statement.as_str()))
                .bind(jobs)
                .bind(indexes)
                .bind(keys)
                .bind(outcomes)
                .bind(crate::clock::now_unix())
                .execute(pool)
                .await
                .map_err(failed("recording hook outcomes"))?;
            Ok(items.iter().map(|_| Ok(())).collect())
        })
    }
}

/// apalis's own tables and functions (schema `apalis`), created or upgraded once per process.
pub(super) async fn setup(pool: &PgPool) -> Result<(), DbError> {
    PostgresStorage::setup(pool).await.map_err(|e| {
        DbError::Config(format!(
            "setting up the durable hook queue (apalis) failed: {e}; it needs the right to create the schema \
             `apalis` and the extensions pgcrypto and hstore (or turn durable hooks off with \
             PostgresDb::durable_hooks(false))"
        ))
    })
}

/// A job as the save writes it into apalis's table (`agno_save_runs`), in the run's own
/// statement: it exists if and only if the run is stored. Its idempotency key is the run's id,
/// so a run is queued once, and [`HookQueue::outcomes`] finds the job of a run to show its hooks
/// as `queued` until a worker records them.
pub(super) struct EncodedJob {
    /// A ULID, as apalis reads its ids back.
    pub(super) id: String,
    /// The apalis queue (`job_type`).
    pub(super) queue: String,
    /// The job as JSON, as apalis's JSON codec writes it.
    pub(super) payload: Vec<u8>,
    /// Deliveries at most.
    pub(super) max_attempts: i32,
    /// The run's id.
    pub(super) key: String,
}

/// The row of `job` in apalis's table.
pub(super) fn encode(schema: &str, timing: &QueueTiming, job: &HookJob) -> Result<EncodedJob, DbError> {
    Ok(EncodedJob {
        id: ulid::Ulid::generate().to_string(),
        queue: queue_name(schema),
        payload: serde_json::to_vec(job)?,
        max_attempts: i32::try_from(timing.max_attempts).unwrap_or(i32::MAX),
        key: job.run_id.clone(),
    })
}

/// What every delivery of a worker shares: the handler, and the signal to hand running jobs back.
#[derive(Clone)]
struct Shared {
    handler: Arc<dyn JobHandler>,
    release: tokio::sync::watch::Receiver<bool>,
}

/// One delivery: the job's hooks, or the job handed back when the worker stops past its grace.
async fn deliver(job: HookJob, attempt: Attempt, shared: Data<Shared>) -> Result<(), BoxDynError> {
    let attempt = u32::try_from(attempt.current()).unwrap_or(u32::MAX);
    let run_id = job.run_id.clone();
    let mut release = shared.release.clone();
    tokio::select! {
        result = shared.handler.handle(job, attempt) => match result {
            Ok(()) => Ok(()),
            Err(JobFailure::Terminal(reason)) => {
                tracing::error!(run_id = %run_id, attempt, %reason, "background hooks failed for good");
                Err(AbortError::new(reason).into())
            }
            Err(JobFailure::Retry(reason)) => {
                tracing::warn!(run_id = %run_id, attempt, %reason, "background hooks will be retried");
                Err(reason.into())
            }
        },
        _ = release.wait_for(|released| *released) => {
            tracing::warn!(run_id = %run_id, "shutting down: background hooks handed back to the queue for another replica");
            Err(DeferredError::new("the worker shut down before these hooks finished").into())
        }
    }
}

impl HookQueue for PgHookQueue {
    fn work(
        &self,
        handler: Arc<dyn JobHandler>,
        stop: Pin<Box<dyn Future<Output = ()> + Send>>,
        grace: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<(), DbError>> + Send>> {
        let connection = Arc::clone(&self.connection);
        let timing = self.timing;
        Box::pin(async move {
            let pool = connection.pool().await?.clone();
            let config = Config::default()
                .queue(queue_name(connection.schema()))
                .batch_size(timing.batch.max(1))
                .heartbeat_interval(timing.heartbeat)
                .missed_heartbeats(timing.missed_heartbeats.max(1));
            let storage = PostgresStorage::<HookJob>::new(&pool).with_config(config).with_pubsub();
            // A name of its own for every worker, ever (see the module docs).
            let name = format!("agno-{}-{}", std::process::id(), ulid::Ulid::generate());
            let context = WorkerContext::new(&name);
            let (release_tx, release) = tokio::sync::watch::channel(false);
            let worker = WorkerBuilder::new(&context).backend(storage).data(Shared { handler, release }).build(deliver);
            let running = tokio::spawn(async move { worker.run().await });
            tracing::info!(worker = %name, "durable background hook worker started");
            stop.await;
            // No new jobs; the running ones get `grace`, then are handed back, not failed.
            if let Err(e) = context.stop() {
                tracing::warn!(worker = %name, error = %e, "stopping the hook worker");
            }
            let released = tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                let _ = release_tx.send(true);
            });
            let result = running.await;
            released.abort();
            match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(DbError::Config(format!("the durable hook worker failed: {e}"))),
                Err(e) => Err(DbError::Closed(format!("the durable hook worker stopped: {e}"))),
            }
        })
    }

    fn save_outcomes<'a>(&'a self, job_run_id: &'a str, outcomes: &'a [RecordedOutcome]) -> DbFuture<'a, ()> {
        Box::pin(async move {
            if outcomes.is_empty() {
                return Ok(());
            }
            let rows = outcomes
                .iter()
                .map(|(i, key, outcome)| {
                    Ok((i32::try_from(*i).unwrap_or(i32::MAX), key.clone(), serde_json::to_string(outcome)?))
                })
                .collect::<Result<Vec<_>, DbError>>()?;
            self.outcome_writes.write(JobOutcomes { job_run_id: job_run_id.to_owned(), rows }).await
        })
    }

    fn outcomes<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Vec<HookOutcome>> {
        Box::pin(async move {
            let pool = self.connection.pool().await?;
            let schema = self.connection.schema();
            // The job lists the run's hooks (`queued` until a worker records one).
            let job: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT job FROM apalis.jobs WHERE job_type = $1 AND idempotency_key = $2")
                    .bind(queue_name(schema))
                    .bind(run_id)
                    .fetch_optional(pool)
                    .await
                    .map_err(failed("reading a run's hook job"))?;
            let mut outcomes: Vec<HookOutcome> = match job {
                Some(bytes) => serde_json::from_slice::<HookJob>(&bytes)
                    .map_err(|e| DbError::Corrupt(format!("the hook job of run `{run_id}`: {e}")))?
                    .hooks
                    .iter()
                    .map(|entry| HookOutcome::of(entry, "queued", None))
                    .collect(),
                None => Vec::new(),
            };
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT idx, outcome FROM {schema}.agno_hook_outcomes WHERE job_run_id = $1 ORDER BY idx"
            )))
            .bind(run_id)
            .fetch_all(pool)
            .await
            .map_err(failed("reading hook outcomes"))?;
            for row in &rows {
                let corrupt = |e: sqlx::Error| DbError::Corrupt(format!("agno_hook_outcomes of run `{run_id}`: {e}"));
                let index = usize::try_from(row.try_get::<i32, _>("idx").map_err(corrupt)?).unwrap_or(usize::MAX);
                let outcome = row.try_get::<sqlx::types::Json<HookOutcome>, _>("outcome").map_err(corrupt)?.0;
                match outcomes.get_mut(index) {
                    Some(slot) => *slot = outcome,
                    None => outcomes.push(outcome),
                }
            }
            Ok(outcomes)
        })
    }
}
