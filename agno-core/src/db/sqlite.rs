//! [`SqliteDb`]: sessions, runs and evaluations in a SQLite file, laid out as agno lays out its
//! `agno_sessions`, `agno_runs` and `agno_eval_runs` tables.
//!
//! One connection per value, behind a mutex; several values (or processes) may share a file: the
//! database runs in WAL mode with a busy timeout, and every write is one `IMMEDIATE` transaction.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row, TransactionBehavior, params};
use serde_json::Value;

use super::{Db, DbError, EvalRun, EvalRunQuery, SessionQuery};
use crate::run::RunOutput;
use crate::session::{Session, SessionType};

/// How long a statement waits for another writer before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The tables and their indexes, created when missing.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS agno_sessions (
    session_id    TEXT PRIMARY KEY,
    session_type  TEXT NOT NULL,
    agent_id      TEXT,
    team_id       TEXT,
    workflow_id   TEXT,
    user_id       TEXT,
    session_data  TEXT,
    agent_data    TEXT,
    team_data     TEXT,
    workflow_data TEXT,
    metadata      TEXT,
    summary       TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER
);
CREATE INDEX IF NOT EXISTS idx_agno_sessions_user_id ON agno_sessions (user_id);
CREATE INDEX IF NOT EXISTS idx_agno_sessions_updated_at ON agno_sessions (updated_at);

CREATE TABLE IF NOT EXISTS agno_runs (
    run_id        TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES agno_sessions (session_id) ON DELETE CASCADE,
    run_type      TEXT NOT NULL,
    agent_id      TEXT,
    team_id       TEXT,
    workflow_id   TEXT,
    user_id       TEXT,
    parent_run_id TEXT,
    status        TEXT NOT NULL,
    run_index     INTEGER NOT NULL,
    run_data      TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER
);
CREATE INDEX IF NOT EXISTS idx_agno_runs_session_index ON agno_runs (session_id, run_index);

CREATE TABLE IF NOT EXISTS agno_eval_runs (
    run_id                   TEXT PRIMARY KEY,
    eval_type                TEXT NOT NULL,
    eval_data                TEXT NOT NULL,
    eval_input               TEXT,
    name                     TEXT,
    agent_id                 TEXT,
    team_id                  TEXT,
    workflow_id              TEXT,
    model_id                 TEXT,
    model_provider           TEXT,
    evaluated_component_name TEXT,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER
);
CREATE INDEX IF NOT EXISTS idx_agno_eval_runs_agent_id ON agno_eval_runs (agent_id, created_at);
";

/// The evaluation columns read back, in this order, by [`decode_eval_run`].
const EVAL_COLUMNS: &str = "run_id, eval_type, eval_data, eval_input, name, agent_id, team_id, workflow_id, model_id, \
                            model_provider, evaluated_component_name, created_at, updated_at";

/// Inserts an evaluation or replaces the stored one (its `created_at` is kept).
const UPSERT_EVAL_RUN: &str = "
INSERT INTO agno_eval_runs
    (run_id, eval_type, eval_data, eval_input, name, agent_id, team_id, workflow_id, model_id, model_provider,
     evaluated_component_name, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
ON CONFLICT (run_id) DO UPDATE SET
    eval_type                = excluded.eval_type,
    eval_data                = excluded.eval_data,
    eval_input               = excluded.eval_input,
    name                     = excluded.name,
    agent_id                 = excluded.agent_id,
    team_id                  = excluded.team_id,
    workflow_id              = excluded.workflow_id,
    model_id                 = excluded.model_id,
    model_provider           = excluded.model_provider,
    evaluated_component_name = excluded.evaluated_component_name,
    updated_at               = excluded.updated_at";

/// The session columns read back, in this order, by [`decode_session`].
const SESSION_COLUMNS: &str = "session_id, session_type, agent_id, user_id, session_data, agent_data, metadata, \
                               created_at, updated_at, team_id, workflow_id, team_data, workflow_data";

/// Inserts a session, or updates it unless it belongs to another user (agno's ownership guard).
/// The original `created_at` is kept and a stored owner is never replaced by `NULL`.
const UPSERT_SESSION: &str = "
INSERT INTO agno_sessions
    (session_id, session_type, agent_id, user_id, session_data, agent_data, metadata, created_at, updated_at,
     team_id, workflow_id, team_data, workflow_data)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
ON CONFLICT (session_id) DO UPDATE SET
    session_type = excluded.session_type,
    agent_id     = excluded.agent_id,
    team_id      = excluded.team_id,
    workflow_id  = excluded.workflow_id,
    team_data    = excluded.team_data,
    workflow_data = excluded.workflow_data,
    user_id      = COALESCE(agno_sessions.user_id, excluded.user_id),
    session_data = excluded.session_data,
    agent_data   = excluded.agent_data,
    metadata     = excluded.metadata,
    updated_at   = excluded.updated_at
WHERE agno_sessions.user_id IS NULL
   OR excluded.user_id IS NULL
   OR agno_sessions.user_id = excluded.user_id";

/// Inserts a run at the end of its session, or replaces a stored run's data in place (its
/// `run_index`, `session_id` and `created_at` are kept).
const UPSERT_RUN: &str = "
INSERT INTO agno_runs
    (run_id, session_id, run_type, agent_id, user_id, parent_run_id, status, run_index, run_data,
     created_at, updated_at, team_id, workflow_id)
VALUES (?1, ?2, ?10, ?3, ?4, ?5, ?6,
        (SELECT COALESCE(MAX(run_index) + 1, 0) FROM agno_runs WHERE session_id = ?2),
        ?7, ?8, ?9, ?11, ?12)
ON CONFLICT (run_id) DO UPDATE SET
    run_type      = excluded.run_type,
    agent_id      = excluded.agent_id,
    team_id       = excluded.team_id,
    workflow_id   = excluded.workflow_id,
    user_id       = excluded.user_id,
    parent_run_id = excluded.parent_run_id,
    status        = excluded.status,
    run_data      = excluded.run_data,
    updated_at    = excluded.updated_at";

/// Storage in a SQLite file, with agno's `agno_sessions` and `agno_runs` tables.
pub struct SqliteDb {
    path: PathBuf,
    id: String,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDb").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteDb {
    /// Opens (or creates) the database file, its missing folders and its tables.
    pub fn new(path: impl AsRef<Path>) -> Result<Self, DbError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| DbError::Io { context: format!("creating folder for {}", path.display()), source })?;
        }
        let conn = Connection::open(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode = %mode, "SQLite did not switch to WAL mode");
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        conn.execute_batch(SCHEMA)?;
        tracing::debug!(path = %path.display(), "opened SQLite storage");
        let id = format!("sqlite:{}", path.display());
        Ok(Self { path, id, conn: Mutex::new(conn) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock drops any open transaction, which rolls it back: the
        // connection is still usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

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

/// A value as JSON text for a nullable column.
fn json_text(value: Option<&Value>) -> Result<Option<String>, DbError> {
    value.map(serde_json::to_string).transpose().map_err(DbError::from)
}

/// A session from a row selected with [`SESSION_COLUMNS`]; its runs are left empty.
fn decode_session(row: &Row<'_>) -> Result<Session, DbError> {
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
fn decode_run(row: &Row<'_>) -> Result<RunOutput, DbError> {
    let run_id = text(row, 0, &|| "agno_runs: run_id".to_owned())?;
    let data = text(row, 1, &|| format!("agno_runs `{run_id}`: run_data"))?;
    serde_json::from_str(&data).map_err(|e| {
        tracing::warn!(run_id = %run_id, error = %e, "stored run cannot be decoded");
        DbError::Corrupt(format!("agno_runs `{run_id}`: run_data: {e}"))
    })
}

/// An evaluation from a row selected with [`EVAL_COLUMNS`].
fn decode_eval_run(row: &Row<'_>) -> Result<EvalRun, DbError> {
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

/// The runs of a session, by `run_index`.
fn runs_of(conn: &Connection, session_id: &str) -> Result<Vec<RunOutput>, DbError> {
    let mut stmt =
        conn.prepare_cached("SELECT run_id, run_data FROM agno_runs WHERE session_id = ?1 ORDER BY run_index, run_id")?;
    let mut rows = stmt.query([session_id])?;
    let mut runs = Vec::new();
    while let Some(row) = rows.next()? {
        runs.push(decode_run(row)?);
    }
    Ok(runs)
}

impl Db for SqliteDb {
    fn id(&self) -> &str {
        &self.id
    }

    fn get_session(&self, session_id: &str) -> Result<Option<Session>, DbError> {
        let mut conn = self.conn();
        // One read transaction, so the session and its runs come from the same snapshot.
        let tx = conn.transaction()?;
        let session = {
            let mut stmt =
                tx.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM agno_sessions WHERE session_id = ?1"))?;
            let mut rows = stmt.query([session_id])?;
            match rows.next()? {
                Some(row) => Some(decode_session(row)?),
                None => None,
            }
        };
        let session = match session {
            Some(mut session) => {
                session.runs = runs_of(&tx, session_id)?;
                Some(session)
            }
            None => None,
        };
        tx.commit()?;
        Ok(session)
    }

    fn list_sessions(&self, query: &SessionQuery) -> Result<Vec<Session>, DbError> {
        let conn = self.conn();
        // A negative LIMIT means no limit in SQLite.
        let limit = query.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let mut stmt = conn.prepare(&format!(
            "SELECT {SESSION_COLUMNS} FROM agno_sessions
             WHERE (?1 IS NULL OR user_id = ?1)
               AND (?2 IS NULL OR agent_id = ?2)
               AND (?3 IS NULL OR session_type = ?3)
               AND (?5 IS NULL OR team_id = ?5)
               AND (?6 IS NULL OR workflow_id = ?6)
             ORDER BY updated_at DESC, session_id
             LIMIT ?4"
        ))?;
        let mut rows = stmt.query(params![
            query.user_id,
            query.agent_id,
            query.session_type.map(SessionType::as_str),
            limit,
            query.team_id,
            query.workflow_id
        ])?;
        let mut sessions = Vec::new();
        while let Some(row) = rows.next()? {
            sessions.push(decode_session(row)?);
        }
        Ok(sessions)
    }

    fn delete_session(&self, session_id: &str) -> Result<bool, DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Runs are deleted explicitly as well, in case another connection turned foreign keys off.
        tx.execute("DELETE FROM agno_runs WHERE session_id = ?1", [session_id])?;
        let deleted = tx.execute("DELETE FROM agno_sessions WHERE session_id = ?1", [session_id])?;
        tx.commit()?;
        Ok(deleted > 0)
    }

    fn get_run(&self, run_id: &str) -> Result<Option<RunOutput>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT run_id, run_data FROM agno_runs WHERE run_id = ?1")?;
        let mut rows = stmt.query([run_id])?;
        match rows.next()? {
            Some(row) => decode_run(row).map(Some),
            None => Ok(None),
        }
    }

    fn get_runs(&self, session_id: &str) -> Result<Vec<RunOutput>, DbError> {
        runs_of(&self.conn(), session_id)
    }

    fn save_run(&self, session: &Session, run: &RunOutput) -> Result<(), DbError> {
        self.save_runs(session, &[run])
    }

    fn save_runs(&self, session: &Session, runs: &[&RunOutput]) -> Result<(), DbError> {
        // Serialise before taking the lock or starting the transaction.
        let session_data = json_text(session.session_data.as_ref())?;
        let agent_data = json_text(session.agent_data.as_ref())?;
        let team_data = json_text(session.team_data.as_ref())?;
        let workflow_data = json_text(session.workflow_data.as_ref())?;
        let metadata = json_text(session.metadata.as_ref())?;
        let run_data = runs.iter().map(serde_json::to_string).collect::<Result<Vec<_>, _>>()?;
        let now = crate::run::now_unix();

        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let written = tx.prepare_cached(UPSERT_SESSION)?.execute(params![
            session.session_id,
            session.session_type.as_str(),
            session.agent_id,
            session.user_id,
            session_data,
            agent_data,
            metadata,
            session.created_at,
            session.updated_at,
            session.team_id,
            session.workflow_id,
            team_data,
            workflow_data,
        ])?;
        if written == 0 {
            // The row exists and the guard refused the update; dropping `tx` rolls back.
            tracing::warn!(session_id = %session.session_id, "session belongs to another user: run not saved");
            return Err(DbError::Ownership { session_id: session.session_id.clone() });
        }
        {
            let mut upsert = tx.prepare_cached(UPSERT_RUN)?;
            for (run, data) in runs.iter().zip(&run_data) {
                let (run_type, _) = run.runner();
                upsert.execute(params![
                    run.run_id,
                    session.session_id,
                    (!run.agent_id.is_empty()).then_some(run.agent_id.as_str()),
                    run.user_id,
                    run.parent_run_id,
                    run.status.as_str(),
                    data,
                    run.created_at,
                    now,
                    run_type.as_str(),
                    run.team_id,
                    run.workflow_id,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn save_eval_run(&self, eval_run: &EvalRun) -> Result<(), DbError> {
        let eval_data = serde_json::to_string(&eval_run.eval_data)?;
        let eval_input = json_text(eval_run.eval_input.as_ref())?;
        let conn = self.conn();
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

    fn get_eval_run(&self, run_id: &str) -> Result<Option<EvalRun>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!("SELECT {EVAL_COLUMNS} FROM agno_eval_runs WHERE run_id = ?1"))?;
        let mut rows = stmt.query([run_id])?;
        match rows.next()? {
            Some(row) => decode_eval_run(row).map(Some),
            None => Ok(None),
        }
    }

    fn get_eval_runs(&self, query: &EvalRunQuery) -> Result<Vec<EvalRun>, DbError> {
        let conn = self.conn();
        let limit = query.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {EVAL_COLUMNS} FROM agno_eval_runs
             WHERE (?1 IS NULL OR agent_id = ?1) AND (?2 IS NULL OR eval_type = ?2)
             ORDER BY created_at DESC, rowid DESC
             LIMIT ?3"
        ))?;
        let mut rows = stmt.query(params![query.agent_id, query.eval_type, limit])?;
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            found.push(decode_eval_run(row)?);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::run::{RunInput, RunMetrics, RunStatus};

    fn run(run_id: &str, session_id: &str, status: RunStatus) -> RunOutput {
        RunOutput {
            run_id: run_id.into(),
            agent_id: "agent-1".into(),
            agent_name: Some("Helper".into()),
            session_id: session_id.into(),
            parent_run_id: None,
            user_id: None,
            content: Some(format!("answer of {run_id}")),
            content_type: "str".into(),
            model: Some("gpt-test".into()),
            model_provider: Some("OpenAI".into()),
            metadata: Some(json!({"k": "v"})),
            session_state: None,
            created_at: 1_700_000_000,
            status,
            metrics: RunMetrics { input_tokens: Some(3), duration: Some(0.25), ..Default::default() },
            messages: None,
            tools: vec![],
            input: Some(RunInput::new("hello")),
            events: None,
            team_id: None,
            team_name: None,
            workflow_id: None,
            workflow_name: None,
            member_responses: Vec::new(),
            step_results: Vec::new(),
        }
    }

    fn session(session_id: &str, user_id: Option<&str>, updated_at: i64) -> Session {
        Session {
            session_id: session_id.into(),
            session_type: SessionType::Agent,
            agent_id: Some("agent-1".into()),
            user_id: user_id.map(str::to_owned),
            session_data: Some(json!({"session_state": {"n": 1}})),
            agent_data: Some(json!({"name": "Helper", "agent_id": "agent-1"})),
            metadata: None,
            runs: Vec::new(),
            created_at: 1_000,
            updated_at,
            ..Session::new(session_id)
        }
    }

    #[test]
    fn save_runs_writes_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::new(dir.path().join("all.db")).unwrap();
        let (r1, r2) = (run("r1", "s", RunStatus::Completed), run("r2", "s", RunStatus::Completed));
        db.save_runs(&session("s", Some("alice"), 1), &[&r1, &r2]).unwrap();
        let (r3, r4) = (run("r3", "s", RunStatus::Completed), run("r4", "s", RunStatus::Completed));
        let err = db.save_runs(&session("s", Some("bob"), 2), &[&r3, &r4]).unwrap_err();
        assert!(matches!(err, DbError::Ownership { .. }), "{err}");
        let ids: Vec<String> = db.get_runs("s").unwrap().into_iter().map(|r| r.run_id).collect();
        assert_eq!(ids, ["r1", "r2"], "in order, and none of the refused ones");
    }

    fn raw(db: &SqliteDb) -> Connection {
        Connection::open(db.path()).unwrap()
    }

    fn columns(conn: &Connection, table: &str) -> Vec<String> {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid").unwrap();
        stmt.query_map([table], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    fn run_indexes(conn: &Connection, session_id: &str) -> Vec<(String, i64)> {
        let mut stmt =
            conn.prepare("SELECT run_id, run_index FROM agno_runs WHERE session_id = ?1 ORDER BY run_index").unwrap();
        stmt.query_map([session_id], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn new_creates_folders_wal_and_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("b").join("agno.db");
        let db = SqliteDb::new(&path).unwrap();
        assert!(path.exists());
        assert_eq!(db.path(), path.as_path());
        assert_eq!(db.id(), format!("sqlite:{}", path.display()));

        let conn = raw(&db);
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(
            columns(&conn, "agno_sessions"),
            [
                "session_id",
                "session_type",
                "agent_id",
                "team_id",
                "workflow_id",
                "user_id",
                "session_data",
                "agent_data",
                "team_data",
                "workflow_data",
                "metadata",
                "summary",
                "created_at",
                "updated_at"
            ]
        );
        assert_eq!(
            columns(&conn, "agno_runs"),
            [
                "run_id",
                "session_id",
                "run_type",
                "agent_id",
                "team_id",
                "workflow_id",
                "user_id",
                "parent_run_id",
                "status",
                "run_index",
                "run_data",
                "created_at",
                "updated_at"
            ]
        );
        let indexes = count(
            &conn,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN \
             ('idx_agno_sessions_user_id', 'idx_agno_sessions_updated_at', 'idx_agno_runs_session_index')",
        );
        assert_eq!(indexes, 3);

        // Opening again is harmless and keeps the data.
        drop(db);
        let db = SqliteDb::new(&path).unwrap();
        assert!(db.list_sessions(&SessionQuery::default()).unwrap().is_empty());
    }

    #[test]
    fn new_reports_an_unusable_folder() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let err = SqliteDb::new(file.join("sub").join("agno.db")).unwrap_err();
        match err {
            DbError::Io { context, .. } => assert!(context.starts_with("creating folder for "), "{context}"),
            other => panic!("expected an Io error, got {other:?}"),
        }
    }

    #[test]
    fn round_trip_of_a_session_and_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::new(dir.path().join("agno.db")).unwrap();
        let s = session("s1", Some("u1"), 2_000);
        let r1 = run("r1", "s1", RunStatus::Completed);
        let mut r2 = run("r2", "s1", RunStatus::Completed);
        r2.session_state = Some(json!({"n": 2}).as_object().unwrap().clone());
        db.save_run(&s, &r1).unwrap();
        db.save_run(&Session { updated_at: 3_000, ..s.clone() }, &r2).unwrap();

        let back = db.get_session("s1").unwrap().unwrap();
        assert_eq!(back.runs, vec![r1.clone(), r2.clone()]);
        assert_eq!(back.user_id.as_deref(), Some("u1"));
        assert_eq!(back.session_data, s.session_data);
        assert_eq!(back.agent_data, s.agent_data);
        assert_eq!(back.metadata, None);
        assert_eq!(back.created_at, 1_000);
        assert_eq!(back.updated_at, 3_000);
        assert_eq!(Session { runs: vec![], updated_at: 2_000, ..back }, s);

        assert_eq!(db.get_run("r2").unwrap(), Some(r2.clone()));
        assert_eq!(db.get_run("missing").unwrap(), None);
        assert_eq!(db.get_runs("s1").unwrap(), vec![r1.clone(), r2.clone()]);
        assert!(db.get_runs("other").unwrap().is_empty());
        assert!(db.get_session("other").unwrap().is_none());

        let conn = raw(&db);
        assert_eq!(run_indexes(&conn, "s1"), [("r1".to_owned(), 0), ("r2".to_owned(), 1)]);
        let (data, status, run_type, agent_id): (String, String, String, String) = conn
            .query_row("SELECT run_data, status, run_type, agent_id FROM agno_runs WHERE run_id = 'r1'", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        assert_eq!(serde_json::from_str::<Value>(&data).unwrap(), serde_json::to_value(&r1).unwrap());
        assert_eq!(data, serde_json::to_string(&r1).unwrap());
        assert_eq!((status.as_str(), run_type.as_str(), agent_id.as_str()), ("COMPLETED", "agent", "agent-1"));
        let session_data: String =
            conn.query_row("SELECT session_data FROM agno_sessions WHERE session_id = 's1'", [], |r| r.get(0)).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&session_data).unwrap(), json!({"session_state": {"n": 1}}));
        let metadata: Option<String> =
            conn.query_row("SELECT metadata FROM agno_sessions WHERE session_id = 's1'", [], |r| r.get(0)).unwrap();
        assert_eq!(metadata, None);

        // Saving r1 again updates it in place.
        let r1b = RunOutput { status: RunStatus::Cancelled, content: Some("changed".into()), ..r1.clone() };
        db.save_run(&s, &r1b).unwrap();
        assert_eq!(run_indexes(&conn, "s1"), [("r1".to_owned(), 0), ("r2".to_owned(), 1)]);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM agno_runs"), 2);
        let status: String =
            conn.query_row("SELECT status FROM agno_runs WHERE run_id = 'r1'", [], |r| r.get(0)).unwrap();
        assert_eq!(status, "CANCELLED");
        assert_eq!(db.get_runs("s1").unwrap(), vec![r1b, r2]);
        // The session keeps its created_at even when a later save carries another one.
        db.save_run(&Session { created_at: 9_999, ..s.clone() }, &r1).unwrap();
        assert_eq!(db.get_session("s1").unwrap().unwrap().created_at, 1_000);
    }

    #[test]
    fn error_runs_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::new(dir.path().join("agno.db")).unwrap();
        let ok = run("ok", "s", RunStatus::Completed);
        let failed = RunOutput { content: Some("rejected".into()), ..run("bad", "s", RunStatus::Error) };
        db.save_run(&session("s", None, 1), &ok).unwrap();
        db.save_run(&session("s", None, 2), &failed).unwrap();
        assert_eq!(db.get_run("bad").unwrap(), Some(failed.clone()));
        assert_eq!(db.get_runs("s").unwrap(), vec![ok, failed]);
        let status: String = raw(&db)
            .query_row("SELECT status FROM agno_runs WHERE run_id = 'bad' AND run_index = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(status, "ERROR");
    }

    #[test]
    fn sessions_of_another_user_are_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::new(dir.path().join("agno.db")).unwrap();
        let owned = session("s", Some("u1"), 10);
        db.save_run(&owned, &run("r1", "s", RunStatus::Completed)).unwrap();
        let before = db.get_session("s").unwrap().unwrap();

        let intruder = Session {
            user_id: Some("u2".into()),
            session_data: Some(json!({"session_state": {"stolen": true}})),
            updated_at: 20,
            ..owned.clone()
        };
        match db.save_run(&intruder, &run("r2", "s", RunStatus::Completed)) {
            Err(DbError::Ownership { session_id }) => assert_eq!(session_id, "s"),
            other => panic!("expected an ownership error, got {other:?}"),
        }
        assert_eq!(db.get_session("s").unwrap().unwrap(), before);
        assert_eq!(db.get_run("r2").unwrap(), None);
        assert_eq!(count(&raw(&db), "SELECT COUNT(*) FROM agno_runs"), 1);

        // An anonymous writer may write, and the owner stays.
        let anonymous = Session { user_id: None, updated_at: 30, ..owned.clone() };
        db.save_run(&anonymous, &run("r3", "s", RunStatus::Completed)).unwrap();
        let after = db.get_session("s").unwrap().unwrap();
        assert_eq!(after.user_id.as_deref(), Some("u1"));
        assert_eq!(after.updated_at, 30);
        assert_eq!(after.runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["r1", "r3"]);

        // The owner still may, and an unowned session gets its first owner.
        db.save_run(&owned, &run("r4", "s", RunStatus::Completed)).unwrap();
        db.save_run(&session("free", None, 1), &run("f1", "free", RunStatus::Completed)).unwrap();
        db.save_run(&session("free", Some("u2"), 2), &run("f2", "free", RunStatus::Completed)).unwrap();
        assert_eq!(db.get_session("free").unwrap().unwrap().user_id.as_deref(), Some("u2"));
        assert!(matches!(
            db.save_run(&session("free", Some("u1"), 3), &run("f3", "free", RunStatus::Completed)),
            Err(DbError::Ownership { .. })
        ));
    }

    #[test]
    fn list_sessions_filters_orders_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::new(dir.path().join("agno.db")).unwrap();
        let mut team = session("t", Some("u1"), 50);
        team.session_type = SessionType::Team;
        team.agent_id = None;
        let other_agent = Session { agent_id: Some("agent-2".into()), ..session("c", Some("u2"), 30) };
        for (s, r) in [
            (session("a", Some("u1"), 10), "ra"),
            (session("b", Some("u1"), 30), "rb"),
            (other_agent, "rc"),
            (team, "rt"),
            (session("d", None, 20), "rd"),
        ] {
            db.save_run(&s, &run(r, &s.session_id, RunStatus::Completed)).unwrap();
        }
        let ids = |q: SessionQuery| -> Vec<String> {
            let found = db.list_sessions(&q).unwrap();
            assert!(found.iter().all(|s| s.runs.is_empty()));
            found.into_iter().map(|s| s.session_id).collect()
        };
        assert_eq!(ids(SessionQuery::default()), ["t", "b", "c", "d", "a"]);
        assert_eq!(ids(SessionQuery { user_id: Some("u1".into()), ..Default::default() }), ["t", "b", "a"]);
        assert_eq!(ids(SessionQuery { agent_id: Some("agent-1".into()), ..Default::default() }), ["b", "d", "a"]);
        assert_eq!(ids(SessionQuery { session_type: Some(SessionType::Team), ..Default::default() }), ["t"]);
        assert_eq!(
            ids(SessionQuery {
                user_id: Some("u1".into()),
                session_type: Some(SessionType::Agent),
                limit: Some(1),
                ..Default::default()
            }),
            ["b"]
        );
        assert_eq!(ids(SessionQuery { limit: Some(2), ..Default::default() }), ["t", "b"]);
        assert!(ids(SessionQuery { limit: Some(0), ..Default::default() }).is_empty());
        assert!(ids(SessionQuery { user_id: Some("nobody".into()), ..Default::default() }).is_empty());

        // Same as the in-memory store.
        let memory = crate::db::InMemoryDb::new();
        for s in db.list_sessions(&SessionQuery::default()).unwrap() {
            memory.save_run(&s, &run(&format!("m-{}", s.session_id), &s.session_id, RunStatus::Completed)).unwrap();
        }
        let q = SessionQuery { user_id: Some("u1".into()), ..Default::default() };
        assert_eq!(memory.list_sessions(&q).unwrap(), db.list_sessions(&q).unwrap());
    }

    #[test]
    fn delete_session_removes_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::new(dir.path().join("agno.db")).unwrap();
        db.save_run(&session("s", None, 1), &run("r1", "s", RunStatus::Completed)).unwrap();
        db.save_run(&session("s", None, 2), &run("r2", "s", RunStatus::Error)).unwrap();
        db.save_run(&session("keep", None, 3), &run("k1", "keep", RunStatus::Completed)).unwrap();

        assert!(db.delete_session("s").unwrap());
        assert!(db.get_session("s").unwrap().is_none());
        assert!(db.get_runs("s").unwrap().is_empty());
        assert_eq!(db.get_run("r1").unwrap(), None);
        assert_eq!(count(&raw(&db), "SELECT COUNT(*) FROM agno_runs WHERE session_id = 's'"), 0);
        assert!(!db.delete_session("s").unwrap());
        assert_eq!(db.get_runs("keep").unwrap().len(), 1);

        // A deleted session starts again from run_index 0.
        db.save_run(&session("s", None, 4), &run("r9", "s", RunStatus::Completed)).unwrap();
        assert_eq!(run_indexes(&raw(&db), "s"), [("r9".to_owned(), 0)]);
    }

    #[test]
    fn instances_on_one_file_share_writes_under_concurrency() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agno.db");
        let shared = Arc::new(SqliteDb::new(&path).unwrap());
        let second = Arc::new(SqliteDb::new(&path).unwrap());

        shared.save_run(&session("x", None, 1), &run("x1", "x", RunStatus::Completed)).unwrap();
        assert_eq!(second.get_runs("x").unwrap().len(), 1);
        second.save_run(&session("x", None, 2), &run("x2", "x", RunStatus::Completed)).unwrap();
        assert_eq!(shared.get_session("x").unwrap().unwrap().runs.len(), 2);
        assert!(shared.delete_session("x").unwrap());
        assert!(second.get_session("x").unwrap().is_none());

        const THREADS: usize = 8;
        const SAVES: usize = 25;
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                // Odd threads go through the second instance; sessions are shared across threads.
                let db = if t % 2 == 0 { Arc::clone(&shared) } else { Arc::clone(&second) };
                std::thread::spawn(move || {
                    for i in 0..SAVES {
                        let session_id = format!("s{}", (t + i) % 4);
                        let s = session(&session_id, None, (t * SAVES + i) as i64);
                        db.save_run(&s, &run(&format!("t{t}-{i}"), &session_id, RunStatus::Completed)).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }

        let conn = raw(&shared);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM agno_runs") as usize, THREADS * SAVES);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM agno_sessions"), 4);
        let mut per_session: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut stmt =
            conn.prepare("SELECT session_id, run_index FROM agno_runs ORDER BY session_id, run_index").unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).unwrap();
        for row in rows {
            let (s, i) = row.unwrap();
            per_session.entry(s).or_default().push(i);
        }
        let mut total = 0;
        for (s, indexes) in &per_session {
            let expected: Vec<i64> = (0..indexes.len() as i64).collect();
            assert_eq!(indexes, &expected, "run_index of {s}");
            total += indexes.len();
        }
        assert_eq!(total, THREADS * SAVES);
        let all: BTreeSet<String> =
            (0..4).flat_map(|s| second.get_runs(&format!("s{s}")).unwrap()).map(|r| r.run_id).collect();
        assert_eq!(all.len(), THREADS * SAVES);
    }

    #[test]
    fn corrupt_rows_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::new(dir.path().join("agno.db")).unwrap();
        db.save_run(&session("s", None, 1), &run("good", "s", RunStatus::Completed)).unwrap();
        let conn = raw(&db);
        conn.execute(
            "INSERT INTO agno_runs (run_id, session_id, run_type, status, run_index, run_data, created_at)
             VALUES ('bad', 's', 'agent', 'COMPLETED', 1, 'not json {', 0)",
            [],
        )
        .unwrap();
        match db.get_run("bad") {
            Err(DbError::Corrupt(msg)) => assert!(msg.contains("agno_runs") && msg.contains("bad"), "{msg}"),
            other => panic!("expected a corrupt-row error, got {other:?}"),
        }
        assert!(db.get_runs("s").is_err());
        assert!(db.get_session("s").is_err());
        assert!(db.get_run("good").unwrap().is_some());

        conn.execute("UPDATE agno_runs SET run_data = x'01' WHERE run_id = 'bad'", []).unwrap();
        assert!(matches!(db.get_run("bad"), Err(DbError::Corrupt(_))));

        conn.execute("INSERT INTO agno_sessions (session_id, session_type, created_at) VALUES ('odd', 'robot', 0)", [])
            .unwrap();
        match db.get_session("odd") {
            Err(DbError::Corrupt(msg)) => assert!(msg.contains("odd") && msg.contains("robot"), "{msg}"),
            other => panic!("expected a corrupt-row error, got {other:?}"),
        }
        assert!(db.list_sessions(&SessionQuery::default()).is_err());

        conn.execute(
            "UPDATE agno_sessions SET session_type = 'agent', metadata = '{oops' WHERE session_id = 'odd'",
            [],
        )
        .unwrap();
        match db.get_session("odd") {
            Err(DbError::Corrupt(msg)) => assert!(msg.contains("agno_sessions `odd`: metadata"), "{msg}"),
            other => panic!("expected a corrupt-row error, got {other:?}"),
        }
    }

    #[test]
    fn eval_runs_round_trip_filter_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::new(dir.path().join("agno.db")).unwrap();
        assert_eq!(
            columns(&raw(&db), "agno_eval_runs"),
            [
                "run_id",
                "eval_type",
                "eval_data",
                "eval_input",
                "name",
                "agent_id",
                "team_id",
                "workflow_id",
                "model_id",
                "model_provider",
                "evaluated_component_name",
                "created_at",
                "updated_at"
            ]
        );
        crate::db::tests::eval_runs_contract(&db);
        raw(&db).execute("UPDATE agno_eval_runs SET eval_data = '{oops' WHERE run_id = 'e1'", []).unwrap();
        assert!(matches!(db.get_eval_run("e1"), Err(DbError::Corrupt(_))));
    }
}
