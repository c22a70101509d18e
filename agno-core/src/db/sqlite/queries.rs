//! What [`super::SqliteDb`] does on a connection: each function is one read or one write,
//! called on the reader or writer threads. Writes come with their JSON already serialised, so
//! the writer thread only runs SQL.

use rusqlite::{Connection, ToSql, params, params_from_iter};

use super::rows::{decode_eval_run, decode_run, decode_session};
use super::schema::{EVAL_COLUMNS, SESSION_COLUMNS, UPSERT_EVAL_RUN};
use super::statements::{Held, WriterConn};
use crate::db::write_rows::{RunRow, SessionRow};
use crate::db::{DbError, EvalRun, EvalRunQuery, RunQuery, SessionPage, SessionQuery, SessionSort};
use crate::run::RunOutput;
use crate::session::Session;

/// Writes the session row, then each run at the end of the session (or in place), refusing a
/// session owned by another user. Runs in the writer's transaction.
pub(super) fn save_runs(conn: &WriterConn<'_>, session: &SessionRow, runs: &[RunRow], now: i64) -> Result<(), DbError> {
    let written = conn.with(Held::UpsertSession, |upsert| {
        upsert.execute(params![
            session.session_id,
            session.session_type,
            session.agent_id,
            session.user_id,
            session.session_data,
            session.agent_data,
            session.metadata,
            session.created_at,
            session.updated_at,
            session.team_id,
            session.workflow_id,
            session.team_data,
            session.workflow_data,
        ])
    })?;
    if written == 0 {
        // The row exists and the guard refused the update; the writer rolls this write back.
        return Err(session.refused());
    }
    conn.with(Held::UpsertRun, |upsert| {
        for run in runs {
            upsert.execute(params![
                run.run_id,
                session.session_id,
                run.agent_id,
                run.user_id,
                run.parent_run_id,
                run.status,
                run.data,
                run.created_at,
                now,
                run.run_type,
                run.team_id,
                run.workflow_id,
            ])?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Deletes a session and its runs; `false` if there was no such session.
pub(super) fn delete_session(conn: &Connection, session_id: &str) -> Result<bool, DbError> {
    // Runs are deleted explicitly as well, in case another connection turned foreign keys off.
    conn.prepare_cached("DELETE FROM agno_runs WHERE session_id = ?1")?.execute([session_id])?;
    let deleted = conn.prepare_cached("DELETE FROM agno_sessions WHERE session_id = ?1")?.execute([session_id])?;
    Ok(deleted > 0)
}

/// Inserts or replaces an evaluation.
pub(super) fn save_eval_run(
    conn: &Connection,
    eval_run: &EvalRun,
    eval_data: &str,
    eval_input: Option<&str>,
) -> Result<(), DbError> {
    conn.prepare_cached(UPSERT_EVAL_RUN)?.execute(params![
        eval_run.run_id,
        eval_run.eval_type,
        eval_data,
        eval_input,
        eval_run.name,
        eval_run.agent_id,
        eval_run.team_id,
        eval_run.workflow_id,
        eval_run.model_id,
        eval_run.model_provider,
        eval_run.evaluated_component_name,
        eval_run.created_at,
        eval_run.updated_at,
    ])?;
    Ok(())
}

/// A session's row, without its runs.
pub(super) fn session(conn: &Connection, session_id: &str) -> Result<Option<Session>, DbError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM agno_sessions WHERE session_id = ?1"))?;
    let mut rows = stmt.query([session_id])?;
    match rows.next()? {
        Some(row) => decode_session(row).map(Some),
        None => Ok(None),
    }
}

/// A session's row and the runs `query` selects, from one snapshot.
pub(super) fn session_with_runs(
    conn: &Connection,
    session_id: &str,
    query: &RunQuery,
) -> Result<Option<Session>, DbError> {
    let tx = conn.unchecked_transaction()?;
    let found = match session(&tx, session_id)? {
        Some(mut found) => {
            found.runs = runs(&tx, session_id, query)?;
            Some(found)
        }
        None => None,
    };
    tx.commit()?;
    Ok(found)
}

/// The filters of [`RunQuery`] on one session's runs; `?1` is the session.
const RUN_FILTER: &str = "session_id = ?1
    AND (?2 IS NULL OR created_at >= ?2)
    AND (?3 IS NULL OR created_at <= ?3)
    AND (?4 IS NULL OR status = ?4)
    AND (?5 = 0 OR parent_run_id IS NULL)
    AND (?6 IS NULL OR COALESCE(team_id, workflow_id, agent_id, '') = ?6)
    AND (?7 = 0 OR status NOT IN ('ERROR', 'CANCELLED', 'PAUSED'))";

/// The values of `?1`..`?7` of [`RUN_FILTER`] (`status` is the query's, as text).
fn run_filter<'q>(session_id: &'q &str, query: &'q RunQuery, status: &'q Option<&'static str>) -> [&'q dyn ToSql; 7] {
    [
        session_id as &dyn ToSql,
        &query.created_after,
        &query.created_before,
        status,
        &query.top_level,
        &query.runner_id,
        &query.answered_only,
    ]
}

/// A count as SQLite's `LIMIT` takes it: a negative one means no limit.
fn sql_limit(limit: Option<usize>) -> i64 {
    limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX))
}

/// A count or offset as SQLite takes it.
fn sql_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The statement [`runs`] reads with: `?1`..`?7` the filters, `?8` the limit, `?9` the offset,
/// and, with `last`, `?10` how many of the latest matching runs (read backwards through the
/// index).
pub(super) fn runs_sql(last: bool) -> String {
    if last {
        format!(
            "SELECT run_id, run_data FROM (
                 SELECT run_id, run_data, run_index FROM agno_runs WHERE {RUN_FILTER}
                 ORDER BY run_index DESC LIMIT ?10)
             ORDER BY run_index LIMIT ?8 OFFSET ?9"
        )
    } else {
        format!("SELECT run_id, run_data FROM agno_runs WHERE {RUN_FILTER} ORDER BY run_index LIMIT ?8 OFFSET ?9")
    }
}

/// The runs of a session that `query` selects, by `run_index`, read through the
/// `(session_id, run_index)` index: with `last`, from the end of the session backwards, so the
/// cost depends on the window, not on the session's length.
pub(super) fn runs(conn: &Connection, session_id: &str, query: &RunQuery) -> Result<Vec<RunOutput>, DbError> {
    let status = query.status.map(|s| s.as_str());
    let (limit, offset, last) = (sql_limit(query.limit), sql_count(query.offset), query.last.map(sql_count));
    let mut values = run_filter(&session_id, query, &status).to_vec();
    values.extend([&limit as &dyn ToSql, &offset]);
    values.extend(last.as_ref().map(|last| last as &dyn ToSql));
    let mut stmt = conn.prepare_cached(&runs_sql(last.is_some()))?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(decode_run(row)?);
    }
    Ok(found)
}

/// How many runs of a session `query`'s filters select.
pub(super) fn count_runs(conn: &Connection, session_id: &str, query: &RunQuery) -> Result<usize, DbError> {
    let status = query.status.map(|s| s.as_str());
    let n: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM agno_runs WHERE {RUN_FILTER}"))?
        .query_row(params_from_iter(run_filter(&session_id, query, &status)), |row| row.get(0))?;
    usize::try_from(n).map_err(|_| DbError::Corrupt(format!("agno_runs: negative count {n}")))
}

/// One run by id.
pub(super) fn run(conn: &Connection, run_id: &str) -> Result<Option<RunOutput>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT run_id, run_data FROM agno_runs WHERE run_id = ?1")?;
    let mut rows = stmt.query([run_id])?;
    match rows.next()? {
        Some(row) => decode_run(row).map(Some),
        None => Ok(None),
    }
}

/// The filters of [`SessionQuery`].
const SESSION_FILTER: &str = "(?1 IS NULL OR user_id = ?1)
    AND (?2 IS NULL OR agent_id = ?2)
    AND (?3 IS NULL OR team_id = ?3)
    AND (?4 IS NULL OR workflow_id = ?4)
    AND (?5 IS NULL OR agent_id = ?5 OR team_id = ?5 OR workflow_id = ?5)
    AND (?6 IS NULL OR session_type = ?6)";

/// A page of sessions and the total of the query, from one snapshot.
pub(super) fn list_sessions(conn: &Connection, query: &SessionQuery) -> Result<SessionPage, DbError> {
    let key = match query.sort_by {
        SessionSort::UpdatedAt => "COALESCE(updated_at, created_at)",
        SessionSort::CreatedAt => "created_at",
    };
    let direction = if query.ascending { "ASC" } else { "DESC" };
    let session_type = query.session_type.map(|t| t.as_str());
    let filters =
        params![query.user_id, query.agent_id, query.team_id, query.workflow_id, query.component_id, session_type];
    let tx = conn.unchecked_transaction()?;
    let total: i64 = tx
        .prepare_cached(&format!("SELECT COUNT(*) FROM agno_sessions WHERE {SESSION_FILTER}"))?
        .query_row(filters, |row| row.get(0))?;
    let mut sessions = Vec::new();
    {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM agno_sessions WHERE {SESSION_FILTER}
             ORDER BY {key} {direction}, session_id LIMIT ?7 OFFSET ?8"
        ))?;
        let mut rows = stmt.query(params![
            query.user_id,
            query.agent_id,
            query.team_id,
            query.workflow_id,
            query.component_id,
            session_type,
            sql_limit(query.limit),
            sql_count(query.offset),
        ])?;
        while let Some(row) = rows.next()? {
            sessions.push(decode_session(row)?);
        }
    }
    tx.commit()?;
    let total =
        usize::try_from(total).map_err(|_| DbError::Corrupt(format!("agno_sessions: negative count {total}")))?;
    Ok(SessionPage { sessions, total })
}

/// One evaluation by id.
pub(super) fn eval_run(conn: &Connection, run_id: &str) -> Result<Option<EvalRun>, DbError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {EVAL_COLUMNS} FROM agno_eval_runs WHERE run_id = ?1"))?;
    let mut rows = stmt.query([run_id])?;
    match rows.next()? {
        Some(row) => decode_eval_run(row).map(Some),
        None => Ok(None),
    }
}

/// Evaluations matching the query, newest first.
pub(super) fn eval_runs(conn: &Connection, query: &EvalRunQuery) -> Result<Vec<EvalRun>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EVAL_COLUMNS} FROM agno_eval_runs
         WHERE (?1 IS NULL OR agent_id = ?1) AND (?2 IS NULL OR eval_type = ?2)
         ORDER BY created_at DESC, rowid DESC
         LIMIT ?3"
    ))?;
    let mut rows = stmt.query(params![query.agent_id, query.eval_type, sql_limit(query.limit)])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(decode_eval_run(row)?);
    }
    Ok(found)
}
