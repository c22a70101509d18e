//! Reading agno's rows back: every column checked, and a clear [`DbError::Corrupt`] for a row
//! that is not what agno writes.

use rusqlite::Row;
use rusqlite::types::ValueRef;
use serde_json::Value;

use crate::db::{DbError, EvalRun};
use crate::run::RunOutput;
use crate::session::{Session, SessionType};

/// A nullable text column: `None` for `NULL`, an error for anything but text.
fn opt_text(row: &Row<'_>, idx: usize, what: &dyn Fn() -> String) -> Result<Option<String>, DbError> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .map(|s| Some(s.to_owned()))
            .map_err(|e| DbError::Corrupt(format!("{}: invalid UTF-8: {e}", what()))),
        other => Err(DbError::Corrupt(format!("{}: expected text, found {:?}", what(), other.data_type()))),
    }
}

/// A text column that must not be `NULL`.
fn text(row: &Row<'_>, idx: usize, what: &dyn Fn() -> String) -> Result<String, DbError> {
    opt_text(row, idx, what)?.ok_or_else(|| DbError::Corrupt(format!("{}: unexpected NULL", what())))
}

/// An integer column; `None` for `NULL`.
fn opt_int(row: &Row<'_>, idx: usize, what: &dyn Fn() -> String) -> Result<Option<i64>, DbError> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(i)),
        other => Err(DbError::Corrupt(format!("{}: expected an integer, found {:?}", what(), other.data_type()))),
    }
}

/// A JSON column; `None` for `NULL`.
fn opt_json(row: &Row<'_>, idx: usize, what: &dyn Fn() -> String) -> Result<Option<Value>, DbError> {
    match opt_text(row, idx, what)? {
        None => Ok(None),
        Some(s) => serde_json::from_str(&s).map(Some).map_err(|e| {
            tracing::warn!(column = %what(), error = %e, "stored JSON cannot be decoded");
            DbError::Corrupt(format!("{}: invalid JSON: {e}", what()))
        }),
    }
}

/// A session from a row selected with `schema::SESSION_COLUMNS`; its runs are left empty.
pub(super) fn decode_session(row: &Row<'_>) -> Result<Session, DbError> {
    let session_id = text(row, 0, &|| "agno_sessions: session_id".to_owned())?;
    let what = |column: &str| {
        let session_id = session_id.clone();
        let column = column.to_owned();
        move || format!("agno_sessions `{session_id}`: {column}")
    };
    let type_text = text(row, 1, &what("session_type"))?;
    let session_type = SessionType::parse(&type_text)
        .ok_or_else(|| DbError::Corrupt(format!("agno_sessions `{session_id}`: unknown session_type `{type_text}`")))?;
    let created_at = opt_int(row, 7, &what("created_at"))?
        .ok_or_else(|| DbError::Corrupt(format!("agno_sessions `{session_id}`: created_at is NULL")))?;
    let updated_at = opt_int(row, 8, &what("updated_at"))?.unwrap_or(created_at);
    Ok(Session {
        session_type,
        agent_id: opt_text(row, 2, &what("agent_id"))?,
        team_id: opt_text(row, 9, &what("team_id"))?,
        workflow_id: opt_text(row, 10, &what("workflow_id"))?,
        team_data: opt_json(row, 11, &what("team_data"))?,
        workflow_data: opt_json(row, 12, &what("workflow_data"))?,
        user_id: opt_text(row, 3, &what("user_id"))?,
        session_data: opt_json(row, 4, &what("session_data"))?,
        agent_data: opt_json(row, 5, &what("agent_data"))?,
        metadata: opt_json(row, 6, &what("metadata"))?,
        runs: Vec::new(),
        created_at,
        updated_at,
        session_id,
    })
}

/// A run from a row selected as `run_id, run_data`.
pub(super) fn decode_run(row: &Row<'_>) -> Result<RunOutput, DbError> {
    let run_id = text(row, 0, &|| "agno_runs: run_id".to_owned())?;
    let data = text(row, 1, &|| format!("agno_runs `{run_id}`: run_data"))?;
    serde_json::from_str(&data).map_err(|e| {
        tracing::warn!(run_id = %run_id, error = %e, "stored run cannot be decoded");
        DbError::Corrupt(format!("agno_runs `{run_id}`: run_data: {e}"))
    })
}

/// An evaluation from a row selected with `schema::EVAL_COLUMNS`.
pub(super) fn decode_eval_run(row: &Row<'_>) -> Result<EvalRun, DbError> {
    let run_id = text(row, 0, &|| "agno_eval_runs: run_id".to_owned())?;
    let what = |column: &str| {
        let run_id = run_id.clone();
        let column = column.to_owned();
        move || format!("agno_eval_runs `{run_id}`: {column}")
    };
    let created_at = opt_int(row, 11, &what("created_at"))?
        .ok_or_else(|| DbError::Corrupt(format!("agno_eval_runs `{run_id}`: created_at is NULL")))?;
    Ok(EvalRun {
        eval_type: text(row, 1, &what("eval_type"))?,
        eval_data: opt_json(row, 2, &what("eval_data"))?
            .ok_or_else(|| DbError::Corrupt(format!("agno_eval_runs `{run_id}`: eval_data is NULL")))?,
        eval_input: opt_json(row, 3, &what("eval_input"))?,
        name: opt_text(row, 4, &what("name"))?,
        agent_id: opt_text(row, 5, &what("agent_id"))?,
        team_id: opt_text(row, 6, &what("team_id"))?,
        workflow_id: opt_text(row, 7, &what("workflow_id"))?,
        model_id: opt_text(row, 8, &what("model_id"))?,
        model_provider: opt_text(row, 9, &what("model_provider"))?,
        evaluated_component_name: opt_text(row, 10, &what("evaluated_component_name"))?,
        updated_at: opt_int(row, 12, &what("updated_at"))?.unwrap_or(created_at),
        created_at,
        run_id,
    })
}
