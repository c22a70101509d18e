//! Saves of runs for [`super::PostgresDb`], group-committed ([`GroupCommit`]): each save's
//! columns owned and its JSON serialised at once, then many saves in one `agno_save_batch`
//! statement, ordered by session id.

use std::cmp::Ordering;
use std::sync::Arc;

use sqlx::PgPool;

use super::group_commit::{BatchWriter, GroupCommit};
use super::hook_queue::EncodedJob;
use super::{Connection, failed};
use crate::db::write_rows::{self, RunRow, SessionRow};
use crate::db::{DbError, SavedJson};
use crate::future::BoxFuture;
use crate::run::RunOutput;
use crate::session::Session;

/// One save: its session row, its runs' rows and its job, ready to wait for a batch.
pub(super) struct SaveRow {
    session: SessionRow,
    runs: Vec<RunRow>,
    job: Option<EncodedJob>,
}

impl SaveRow {
    /// The save of `runs` of `session`, with the job of their background hooks if any, and the
    /// JSON the caller serialised already.
    pub(super) fn new(
        session: &Session,
        runs: &[&RunOutput],
        json: Option<&SavedJson<'_>>,
        job: Option<EncodedJob>,
    ) -> Result<Self, DbError> {
        let (session, runs) = write_rows::rows(session, runs, json)?;
        Ok(Self { session, runs, job })
    }
}

/// Saves of runs: one `agno_save_batch` per batch.
pub(super) struct Saves {
    connection: Arc<Connection>,
    statement: String,
}

impl Saves {
    pub(super) fn new(connection: Arc<Connection>) -> GroupCommit<Self> {
        let statement = format!(
            "SELECT {}.agno_save_batch($1, $2, $3, $4, $5::TEXT[]::JSONB[], $6::TEXT[]::JSONB[], $7::TEXT[]::JSONB[],
             $8, $9, $10, $11, $12::TEXT[]::JSONB[], $13::TEXT[]::JSONB[], $14, $15, $16, $17, $18, $19, $20, $21,
             $22::TEXT[]::JSONB[], $23, $24, $25, $26, $27, $28, $29, $30)",
            connection.schema()
        );
        GroupCommit::new(Self { connection, statement })
    }

    /// One statement for `rows`: for each, whether the ownership guard let it write.
    async fn execute(&self, rows: &[&SaveRow]) -> Result<Vec<bool>, DbError> {
        let pool: &PgPool = self.connection.pool().await?;
        let sessions = |f: fn(&SessionRow) -> Option<&str>| rows.iter().map(|r| f(&r.session)).collect::<Vec<_>>();
        let texts =
            |f: fn(&SessionRow) -> &Option<String>| rows.iter().map(|r| f(&r.session).as_deref()).collect::<Vec<_>>();
        let all_runs = || rows.iter().flat_map(|r| r.runs.iter());
        let runs = |f: fn(&RunRow) -> Option<&str>| all_runs().map(f).collect::<Vec<_>>();
        let jobs = || rows.iter().map(|r| r.job.as_ref());
        let saved: Vec<bool> = sqlx::query_scalar(sqlx::AssertSqlSafe(self.statement.as_str()))
            .bind(sessions(|r| Some(r.session_id.as_str())))
            .bind(sessions(|r| Some(r.session_type)))
            .bind(sessions(|r| r.agent_id.as_deref()))
            .bind(sessions(|r| r.user_id.as_deref()))
            .bind(texts(|r| &r.session_data))
            .bind(texts(|r| &r.agent_data))
            .bind(texts(|r| &r.metadata))
            .bind(rows.iter().map(|r| r.session.created_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.session.updated_at).collect::<Vec<_>>())
            .bind(sessions(|r| r.team_id.as_deref()))
            .bind(sessions(|r| r.workflow_id.as_deref()))
            .bind(texts(|r| &r.team_data))
            .bind(texts(|r| &r.workflow_data))
            .bind(crate::clock::now_unix())
            .bind(rows.iter().map(|r| i32::try_from(r.runs.len()).unwrap_or(i32::MAX)).collect::<Vec<_>>())
            .bind(runs(|r| Some(r.run_id.as_str())))
            .bind(runs(|r| Some(r.run_type)))
            .bind(runs(|r| r.agent_id.as_deref()))
            .bind(runs(|r| r.user_id.as_deref()))
            .bind(runs(|r| r.parent_run_id.as_deref()))
            .bind(runs(|r| Some(r.status)))
            .bind(runs(|r| Some(r.data.as_str())))
            .bind(all_runs().map(|r| r.created_at).collect::<Vec<_>>())
            .bind(runs(|r| r.team_id.as_deref()))
            .bind(runs(|r| r.workflow_id.as_deref()))
            .bind(jobs().map(|j| j.map(|j| j.id.as_str())).collect::<Vec<_>>())
            .bind(jobs().map(|j| j.map(|j| j.queue.as_str())).collect::<Vec<_>>())
            .bind(jobs().map(|j| j.map(|j| j.payload.as_slice())).collect::<Vec<_>>())
            .bind(jobs().map(|j| j.map(|j| j.max_attempts)).collect::<Vec<_>>())
            .bind(jobs().map(|j| j.map(|j| j.key.as_str())).collect::<Vec<_>>())
            .fetch_one(pool)
            .await
            .map_err(failed(&format!("saving runs ({} saves in one transaction)", rows.len())))?;
        Ok(saved)
    }
}

impl BatchWriter for Saves {
    type Item = SaveRow;

    /// By session id: batches running at once lock their sessions in one order.
    fn order(&self, a: &SaveRow, b: &SaveRow) -> Ordering {
        a.session.session_id.cmp(&b.session.session_id)
    }

    fn write<'a>(&'a self, items: &'a [&'a SaveRow]) -> BoxFuture<'a, Result<Vec<Result<(), DbError>>, DbError>> {
        Box::pin(async move {
            let saved = self.execute(items).await?;
            Ok(items
                .iter()
                .zip(saved.into_iter().chain(std::iter::repeat(false)))
                .map(|(row, saved)| if saved { Ok(()) } else { Err(row.session.refused()) })
                .collect())
        })
    }
}
