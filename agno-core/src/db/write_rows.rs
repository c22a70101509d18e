//! A session's and its runs' rows as every database writes them: the columns owned and the JSON
//! serialised on the caller's thread, so a writer (SQLite's thread, PostgreSQL's batch) only
//! runs SQL.

use std::cell::Cell;

use serde_json::Value;

use crate::db::{DbError, SavedJson};
use crate::run::RunOutput;
use crate::session::Session;

/// A JSON column as text (`None` stays `NULL`).
pub(crate) fn json_text(value: Option<&Value>) -> Result<Option<String>, DbError> {
    value.map(serde_json::to_string).transpose().map_err(DbError::from)
}

/// The rows of a save of `runs` of `session`, with the JSON the caller serialised already
/// (`SavedJson`) written as it is.
pub(crate) fn rows(
    session: &Session,
    runs: &[&RunOutput],
    json: Option<&SavedJson<'_>>,
) -> Result<(SessionRow, Vec<RunRow>), DbError> {
    Ok((SessionRow::with_json(session, json)?, RunRow::all(runs, json.map(|j| j.last_run))?))
}

/// A session row ready to write: its JSON columns serialised.
pub(crate) struct SessionRow {
    pub(crate) session_id: String,
    pub(crate) session_type: &'static str,
    pub(crate) agent_id: Option<String>,
    pub(crate) team_id: Option<String>,
    pub(crate) workflow_id: Option<String>,
    pub(crate) user_id: Option<String>,
    pub(crate) session_data: Option<String>,
    pub(crate) agent_data: Option<String>,
    pub(crate) team_data: Option<String>,
    pub(crate) workflow_data: Option<String>,
    pub(crate) metadata: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl SessionRow {
    /// The row of `session` (its runs are not part of it).
    pub(crate) fn new(session: &Session) -> Result<Self, DbError> {
        Ok(Self {
            session_id: session.session_id.clone(),
            session_type: session.session_type.as_str(),
            agent_id: session.agent_id.clone(),
            team_id: session.team_id.clone(),
            workflow_id: session.workflow_id.clone(),
            user_id: session.user_id.clone(),
            session_data: json_text(session.session_data.as_ref())?,
            agent_data: json_text(session.agent_data.as_ref())?,
            team_data: json_text(session.team_data.as_ref())?,
            workflow_data: json_text(session.workflow_data.as_ref())?,
            metadata: json_text(session.metadata.as_ref())?,
            created_at: session.created_at,
            updated_at: session.updated_at,
        })
    }

    /// The row of `session` with the JSON columns the caller serialised already, if any.
    fn with_json(session: &Session, json: Option<&SavedJson<'_>>) -> Result<Self, DbError> {
        let mut row = Self::new(session)?;
        if let Some(json) = json {
            if let Some(text) = json.session_data {
                row.session_data = Some(text.to_owned());
            }
            if let Some(text) = json.runner_data {
                let column = session.session_type.pick(&mut row.agent_data, &mut row.team_data, &mut row.workflow_data);
                *column = Some(text.to_owned());
            }
        }
        Ok(row)
    }

    /// The answer to a save of this row that the ownership guard refused (nothing of it was
    /// written), logged.
    pub(crate) fn refused(&self) -> DbError {
        tracing::warn!(session_id = %self.session_id, "session belongs to another user: run not saved");
        DbError::Ownership { session_id: self.session_id.clone() }
    }
}

/// A run row ready to write: `run_data` serialised.
pub(crate) struct RunRow {
    pub(crate) run_id: String,
    pub(crate) run_type: &'static str,
    pub(crate) agent_id: Option<String>,
    pub(crate) team_id: Option<String>,
    pub(crate) workflow_id: Option<String>,
    pub(crate) user_id: Option<String>,
    pub(crate) parent_run_id: Option<String>,
    pub(crate) status: &'static str,
    pub(crate) data: String,
    pub(crate) created_at: i64,
}

impl RunRow {
    /// The row of `run`.
    pub(crate) fn new(run: &RunOutput) -> Result<Self, DbError> {
        Ok(Self::with_json(run, run_json(run)?))
    }

    /// The row of `run`, whose JSON the caller has already.
    pub(crate) fn with_json(run: &RunOutput, data: String) -> Self {
        let (kind, _) = run.runner();
        Self {
            run_id: run.run_id.clone(),
            run_type: kind.as_str(),
            agent_id: (!run.agent_id.is_empty()).then(|| run.agent_id.clone()),
            team_id: run.team_id.clone(),
            workflow_id: run.workflow_id.clone(),
            user_id: run.user_id.clone(),
            parent_run_id: run.parent_run_id.clone(),
            status: run.status.as_str(),
            data,
            created_at: run.created_at,
        }
    }

    /// The rows of `runs`, the last one's JSON given when the caller has it.
    pub(crate) fn all(runs: &[&RunOutput], last_json: Option<&str>) -> Result<Vec<Self>, DbError> {
        let Some((last, before)) = runs.split_last() else { return Ok(Vec::new()) };
        let mut rows = before.iter().map(|run| Self::new(run)).collect::<Result<Vec<_>, _>>()?;
        rows.push(match last_json {
            Some(json) => Self::with_json(last, json.to_owned()),
            None => Self::new(last)?,
        });
        Ok(rows)
    }
}

/// The largest buffer [`run_json`] reserves from its estimate; a longer run grows its own.
const RUN_JSON_HINT_LIMIT: usize = 16 * 1024;

thread_local! {
    /// How long the last run serialised on this thread was: the next one is usually as long.
    static LAST_RUN_JSON_LEN: Cell<usize> = const { Cell::new(0) };
}

/// A run's JSON, written into a buffer sized from the last run's, so that it is allocated once
/// rather than grown five times from 128 bytes (a run with its messages is over a kilobyte).
pub(crate) fn run_json(run: &RunOutput) -> Result<String, DbError> {
    let hint = LAST_RUN_JSON_LEN.with(Cell::get).min(RUN_JSON_HINT_LIMIT);
    let mut json = Vec::with_capacity(hint + hint / 8 + 64);
    serde_json::to_writer(&mut json, run)?;
    LAST_RUN_JSON_LEN.with(|last| last.set(json.len()));
    String::from_utf8(json).map_err(|e| DbError::Corrupt(format!("a run serialised to invalid UTF-8: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_row_holds_the_run_s_json_whatever_the_size_of_the_run_before() {
        let small = crate::db::contract::run("r1", "s1", crate::run::RunStatus::Completed);
        let mut large = crate::db::contract::run("r2", "s1", crate::run::RunStatus::Completed);
        large.content = Some("x".repeat(40_000));
        // Large after small (the estimate is too short) and small after large (too long).
        for run in [&small, &large, &small, &large] {
            let row = RunRow::new(run).unwrap();
            assert_eq!(row.data, serde_json::to_string(run).unwrap());
            assert_eq!(row.run_id, run.run_id);
        }
        assert!(LAST_RUN_JSON_LEN.with(Cell::get) > RUN_JSON_HINT_LIMIT);
        // The estimate never reserves more than the limit, however large the last run was.
        let row = RunRow::new(&small).unwrap();
        assert!(row.data.capacity() <= RUN_JSON_HINT_LIMIT + RUN_JSON_HINT_LIMIT / 8 + 64);
    }

    #[test]
    fn only_the_last_run_s_json_is_taken_from_the_caller() {
        let child = crate::db::contract::run("child", "s1", crate::run::RunStatus::Completed);
        let parent = crate::db::contract::run("parent", "s1", crate::run::RunStatus::Completed);
        let rows = RunRow::all(&[&child, &parent], Some("{\"given\":true}")).unwrap();
        assert_eq!(rows.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["child", "parent"]);
        assert_eq!(rows[0].data, serde_json::to_string(&child).unwrap(), "the others are serialised");
        assert_eq!(rows[1].data, "{\"given\":true}");
        let rows = RunRow::all(&[&child, &parent], None).unwrap();
        assert_eq!(rows[1].data, serde_json::to_string(&parent).unwrap());
        assert!(RunRow::all(&[], Some("{}")).unwrap().is_empty());
    }
}
