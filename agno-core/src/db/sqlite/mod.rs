//! [`SqliteDb`]: sessions, runs and evaluations in a SQLite file, laid out as agno lays out its
//! `agno_sessions`, `agno_runs` and `agno_eval_runs` tables, so agno can read the file.
//!
//! The connections live on threads of their own ([`threads`]): one writer, which commits every
//! write queued while the previous commit was in flight in one transaction (group commit), a
//! checkpointer, and [`READERS`] readers. A save answers
//! once its transaction is committed. The file runs in WAL mode, so readers read alongside the
//! writer, and several values or processes may share it: a writer waits up to [`BUSY_TIMEOUT`]
//! for another one, then its writes fail with the reason.

mod queries;
mod rows;
mod schema;
mod statements;
mod threads;
mod wal_writes;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use self::schema::{BUSY_TIMEOUT, SCHEMA};
use self::threads::Threads;
use super::{Db, DbError, DbFuture, EvalRun, EvalRunQuery, RunQuery, SavedJson, SessionPage, SessionQuery};
use crate::db::write_rows::{self, json_text};
use crate::run::RunOutput;
use crate::session::Session;
use crate::sqlite_setup::retry_busy;

/// How many reader threads (and read connections) a [`SqliteDb`] has.
pub const READERS: usize = 2;

/// Storage in a SQLite file, with agno's `agno_sessions`, `agno_runs` and `agno_eval_runs` tables.
pub struct SqliteDb {
    path: PathBuf,
    id: String,
    threads: Threads,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDb").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteDb {
    /// Opens (or creates) the database file, its missing folders and its tables, and starts its
    /// writer and reader threads.
    pub fn new(path: impl AsRef<Path>) -> Result<Self, DbError> {
        Self::with_busy_timeout(path, BUSY_TIMEOUT)
    }

    /// [`SqliteDb::new`] with another busy timeout: how long a write waits for another
    /// connection's lock before it fails (`new` waits 5 s).
    pub fn with_busy_timeout(path: impl AsRef<Path>, busy_timeout: Duration) -> Result<Self, DbError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| DbError::Io { context: format!("creating folder for {}", path.display()), source })?;
        }
        // The writer appends the log through a VFS that hands each commit's frames over in one
        // write; every other connection uses SQLite's default VFS.
        let writer = match wal_writes::register() {
            Ok(vfs) => Connection::open_with_flags_and_vfs(&path, OpenFlags::default(), vfs)?,
            Err(reason) => {
                tracing::warn!(%reason, "SQLite's log frames will be written one call each");
                Connection::open(&path)?
            }
        };
        tune(&writer, busy_timeout)?;
        // Several processes may open a new file at once (see `sqlite_setup`).
        let mode: String =
            retry_busy(busy_timeout, || writer.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode = %mode, "SQLite did not switch to WAL mode");
        }
        writer.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        retry_busy(busy_timeout, || writer.execute_batch(SCHEMA))?;
        let readers = (0..READERS)
            .map(|_| {
                let conn = Connection::open_with_flags(
                    &path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
                )?;
                tune(&conn, busy_timeout)?;
                Ok(conn)
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        let checkpointer = Connection::open(&path)?;
        tune(&checkpointer, busy_timeout)?;
        let threads = Threads::start(&path.display().to_string(), writer, checkpointer, readers)?;
        tracing::debug!(path = %path.display(), readers = READERS, "opened SQLite storage");
        let id = format!("sqlite:{}", path.display());
        Ok(Self { path, id, threads })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What every connection of a [`SqliteDb`] is set up with: the busy timeout, and the query
/// planner's stability guarantee, so a prepared statement keeps its plan whatever values are
/// bound (without it SQLite compiles a statement again whenever a bound `LIMIT` or `IS NULL`
/// operand changes, which cost more than the write itself).
fn tune(conn: &Connection, busy_timeout: Duration) -> Result<(), DbError> {
    conn.busy_timeout(busy_timeout)?;
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

impl SqliteDb {
    /// Queues the save at once (before the future is polled): the rows are serialised here, on
    /// the caller's thread, so the writer only runs SQL. `json` is what the caller serialised
    /// already.
    fn queue_save(
        &self,
        session: &Session,
        runs: &[&RunOutput],
        json: Option<&SavedJson<'_>>,
    ) -> DbFuture<'static, ()> {
        let (session, runs) = match write_rows::rows(session, runs, json) {
            Ok(rows) => rows,
            Err(e) => return super::ready(Err(e)),
        };
        let now = crate::clock::now_unix();
        self.threads
            .write((session, runs, now), |conn, (session, runs, now)| queries::save_runs(conn, session, runs, *now))
    }
}

impl Db for SqliteDb {
    fn id(&self) -> &str {
        &self.id
    }

    fn get_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, Option<Session>> {
        let session_id = session_id.to_owned();
        self.threads.read(move |conn| queries::session(conn, &session_id))
    }

    fn get_session_with_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, Option<Session>> {
        let (session_id, query) = (session_id.to_owned(), query.clone());
        self.threads.read(move |conn| queries::session_with_runs(conn, &session_id, &query))
    }

    fn list_sessions<'a>(&'a self, query: &'a SessionQuery) -> DbFuture<'a, SessionPage> {
        let query = query.clone();
        self.threads.read(move |conn| queries::list_sessions(conn, &query))
    }

    fn delete_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, bool> {
        self.threads.write(session_id.to_owned(), |conn, session_id| queries::delete_session(conn, session_id))
    }

    fn get_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<RunOutput>> {
        let run_id = run_id.to_owned();
        self.threads.read(move |conn| queries::run(conn, &run_id))
    }

    fn get_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, Vec<RunOutput>> {
        let (session_id, query) = (session_id.to_owned(), query.clone());
        self.threads.read(move |conn| queries::runs(conn, &session_id, &query))
    }

    fn count_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, usize> {
        let (session_id, query) = (session_id.to_owned(), query.clone());
        self.threads.read(move |conn| queries::count_runs(conn, &session_id, &query))
    }

    fn save_runs<'a>(&'a self, session: &'a Session, runs: &'a [&'a RunOutput]) -> DbFuture<'a, ()> {
        self.queue_save(session, runs, None)
    }

    fn save_run<'a>(&'a self, session: &'a Session, run: &'a RunOutput) -> DbFuture<'a, ()> {
        self.queue_save(session, &[run], None)
    }

    fn save_runs_with_json<'a>(
        &'a self,
        session: &'a Session,
        runs: &'a [&'a RunOutput],
        json: &'a SavedJson<'a>,
    ) -> DbFuture<'a, ()> {
        self.queue_save(session, runs, Some(json))
    }

    fn save_eval_run<'a>(&'a self, eval_run: &'a EvalRun) -> DbFuture<'a, ()> {
        let data = serde_json::to_string(&eval_run.eval_data)
            .map_err(DbError::from)
            .and_then(|data| Ok((data, json_text(eval_run.eval_input.as_ref())?)));
        let (eval_data, eval_input) = match data {
            Ok(data) => data,
            Err(e) => return super::ready(Err(e)),
        };
        self.threads.write((eval_run.clone(), eval_data, eval_input), |conn, (eval_run, eval_data, eval_input)| {
            queries::save_eval_run(conn, eval_run, eval_data, eval_input.as_deref())
        })
    }

    fn get_eval_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<EvalRun>> {
        let run_id = run_id.to_owned();
        self.threads.read(move |conn| queries::eval_run(conn, &run_id))
    }

    fn get_eval_runs<'a>(&'a self, query: &'a EvalRunQuery) -> DbFuture<'a, Vec<EvalRun>> {
        let query = query.clone();
        self.threads.read(move |conn| queries::eval_runs(conn, &query))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::db::contract::{self, run, session};
    use crate::db::{DbFuture, InMemoryDb, SessionSort};
    use crate::run::RunStatus;
    use crate::session::SessionType;

    /// How long a test waits for an answer before it calls the storage hung (a guard against a
    /// deadlock, far above any expected time; no test measures speed).
    const HANG_GUARD: Duration = Duration::from_secs(60);

    fn open(dir: &tempfile::TempDir) -> SqliteDb {
        SqliteDb::new(dir.path().join("agno.db")).unwrap()
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

    /// Asserts that every session's `run_index` runs 0, 1, 2, ... without gaps, and returns how
    /// many runs each session has.
    fn assert_contiguous_run_indexes(conn: &Connection) -> BTreeMap<String, usize> {
        let mut per_session: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut stmt =
            conn.prepare("SELECT session_id, run_index FROM agno_runs ORDER BY session_id, run_index").unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).unwrap();
        for row in rows {
            let (s, i) = row.unwrap();
            per_session.entry(s).or_default().push(i);
        }
        per_session
            .into_iter()
            .map(|(s, indexes)| {
                let expected: Vec<i64> = (0..indexes.len() as i64).collect();
                assert_eq!(indexes, expected, "run_index of {s}");
                (s, indexes.len())
            })
            .collect()
    }

    async fn run_ids(db: &dyn Db, session_id: &str) -> Vec<String> {
        db.get_runs(session_id, &RunQuery::all()).await.unwrap().into_iter().map(|r| r.run_id).collect()
    }

    /// Holds the database's write lock from a connection of its own, with an uncommitted write,
    /// until [`Lock::release`].
    struct Lock(Connection);

    impl Lock {
        fn take(path: &Path) -> Self {
            let conn = Connection::open(path).unwrap();
            conn.execute_batch(
                "BEGIN IMMEDIATE;
                 INSERT INTO agno_sessions (session_id, session_type, created_at) VALUES ('locker', 'agent', 0);",
            )
            .unwrap();
            Self(conn)
        }

        fn release(self) {
            self.0.execute_batch("COMMIT").unwrap();
        }
    }

    #[tokio::test]
    async fn sqlite_db_keeps_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        contract::db_contract(&open(&dir)).await;
    }

    #[tokio::test]
    async fn the_contract_holds_across_reopening() {
        // The suite's data written by one value and read by the next on the same file.
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        contract::eval_runs_contract(&db).await;
        let runs = contract::query_runs();
        let refs: Vec<&RunOutput> = runs.iter().collect();
        db.save_runs(&session("q", None, 1), &refs).await.unwrap();
        drop(db);
        let db = open(&dir);
        assert_eq!(db.get_runs("q", &RunQuery::all()).await.unwrap(), runs);
        assert_eq!(db.get_eval_runs(&EvalRunQuery::default()).await.unwrap().len(), 4);
    }

    #[tokio::test]
    async fn save_runs_writes_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        let (r1, r2) = (run("r1", "s", RunStatus::Completed), run("r2", "s", RunStatus::Completed));
        db.save_runs(&session("s", Some("alice"), 1), &[&r1, &r2]).await.unwrap();
        let (r3, r4) = (run("r3", "s", RunStatus::Completed), run("r4", "s", RunStatus::Completed));
        let err = db.save_runs(&session("s", Some("bob"), 2), &[&r3, &r4]).await.unwrap_err();
        assert!(matches!(err, DbError::Ownership { .. }), "{err}");
        assert_eq!(run_ids(&db, "s").await, ["r1", "r2"], "in order, and none of the refused ones");
        assert_eq!(run_indexes(&raw(&db), "s"), [("r1".to_owned(), 0), ("r2".to_owned(), 1)]);
    }

    #[tokio::test]
    async fn new_creates_folders_wal_and_tables() {
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
             ('idx_agno_sessions_user_id', 'idx_agno_sessions_updated_at', 'idx_agno_runs_session_index', \
              'idx_agno_eval_runs_agent_id')",
        );
        assert_eq!(indexes, 4);

        // Opening again is harmless and keeps the data.
        db.save_run(&session("kept", None, 1), &run("k", "kept", RunStatus::Completed)).await.unwrap();
        drop(conn);
        drop(db);
        let db = SqliteDb::new(&path).unwrap();
        let page = db.list_sessions(&SessionQuery::default()).await.unwrap();
        assert_eq!(page.total, 1);
        assert_eq!(page.sessions[0].session_id, "kept");
        assert_eq!(run_ids(&db, "kept").await, ["k"]);
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

    #[tokio::test]
    async fn round_trip_of_a_session_and_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        let s = session("s1", Some("u1"), 2_000);
        let r1 = run("r1", "s1", RunStatus::Completed);
        let mut r2 = run("r2", "s1", RunStatus::Completed);
        r2.session_state = Some(json!({"n": 2}).as_object().unwrap().clone());
        db.save_run(&s, &r1).await.unwrap();
        db.save_run(&Session { updated_at: 3_000, ..s.clone() }, &r2).await.unwrap();

        let row = db.get_session("s1").await.unwrap().unwrap();
        assert!(row.runs.is_empty());
        let back = db.get_session_with_runs("s1", &RunQuery::all()).await.unwrap().unwrap();
        assert_eq!(back.runs, vec![r1.clone(), r2.clone()]);
        assert_eq!(back.user_id.as_deref(), Some("u1"));
        assert_eq!(back.session_data, s.session_data);
        assert_eq!(back.agent_data, s.agent_data);
        assert_eq!(back.metadata, None);
        assert_eq!(back.created_at, 1_000);
        assert_eq!(back.updated_at, 3_000);
        assert_eq!(Session { runs: vec![], ..back.clone() }, row);
        assert_eq!(Session { runs: vec![], updated_at: 2_000, ..back }, s);

        assert_eq!(db.get_run("r2").await.unwrap(), Some(r2.clone()));
        assert_eq!(db.get_run("missing").await.unwrap(), None);
        assert_eq!(db.get_runs("s1", &RunQuery::all()).await.unwrap(), vec![r1.clone(), r2.clone()]);
        assert!(db.get_runs("other", &RunQuery::all()).await.unwrap().is_empty());
        assert!(db.get_session("other").await.unwrap().is_none());

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
        db.save_run(&s, &r1b).await.unwrap();
        assert_eq!(run_indexes(&conn, "s1"), [("r1".to_owned(), 0), ("r2".to_owned(), 1)]);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM agno_runs"), 2);
        let status: String =
            conn.query_row("SELECT status FROM agno_runs WHERE run_id = 'r1'", [], |r| r.get(0)).unwrap();
        assert_eq!(status, "CANCELLED");
        assert_eq!(db.get_runs("s1", &RunQuery::all()).await.unwrap(), vec![r1b, r2]);
        // The session keeps its created_at even when a later save carries another one.
        db.save_run(&Session { created_at: 9_999, ..s.clone() }, &r1).await.unwrap();
        assert_eq!(db.get_session("s1").await.unwrap().unwrap().created_at, 1_000);

        // Team and workflow runs: their kind and ids in their own columns.
        let team_run = RunOutput {
            agent_id: String::new(),
            team_id: Some("team-1".into()),
            parent_run_id: Some("r1".into()),
            ..run("t1", "s1", RunStatus::Completed)
        };
        let workflow_run = RunOutput {
            agent_id: String::new(),
            workflow_id: Some("wf-1".into()),
            ..run("w1", "s1", RunStatus::Paused)
        };
        db.save_runs(&s, &[&team_run, &workflow_run]).await.unwrap();
        let columns_of =
            |run_id: &str| -> (String, Option<String>, Option<String>, Option<String>, Option<String>, i64) {
                conn.query_row(
                "SELECT run_type, agent_id, team_id, workflow_id, parent_run_id, run_index FROM agno_runs WHERE run_id = ?1",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .unwrap()
            };
        assert_eq!(columns_of("t1"), ("team".into(), None, Some("team-1".into()), None, Some("r1".into()), 2));
        assert_eq!(columns_of("w1"), ("workflow".into(), None, None, Some("wf-1".into()), None, 3));
    }

    #[tokio::test]
    async fn error_runs_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        let ok = run("ok", "s", RunStatus::Completed);
        let failed = RunOutput { content: Some("rejected".into()), ..run("bad", "s", RunStatus::Error) };
        db.save_run(&session("s", None, 1), &ok).await.unwrap();
        db.save_run(&session("s", None, 2), &failed).await.unwrap();
        assert_eq!(db.get_run("bad").await.unwrap(), Some(failed.clone()));
        assert_eq!(db.get_runs("s", &RunQuery::all()).await.unwrap(), vec![ok, failed]);
        let status: String = raw(&db)
            .query_row("SELECT status FROM agno_runs WHERE run_id = 'bad' AND run_index = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(status, "ERROR");
    }

    #[tokio::test]
    async fn sessions_of_another_user_are_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        let owned = session("s", Some("u1"), 10);
        db.save_run(&owned, &run("r1", "s", RunStatus::Completed)).await.unwrap();
        let before = db.get_session("s").await.unwrap().unwrap();

        let intruder = Session {
            user_id: Some("u2".into()),
            session_data: Some(json!({"session_state": {"stolen": true}})),
            updated_at: 20,
            ..owned.clone()
        };
        match db.save_run(&intruder, &run("r2", "s", RunStatus::Completed)).await {
            Err(DbError::Ownership { session_id }) => assert_eq!(session_id, "s"),
            other => panic!("expected an ownership error, got {other:?}"),
        }
        assert_eq!(db.get_session("s").await.unwrap().unwrap(), before);
        assert_eq!(db.get_run("r2").await.unwrap(), None);
        let conn = raw(&db);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM agno_runs"), 1);
        let stored: String =
            conn.query_row("SELECT session_data FROM agno_sessions WHERE session_id = 's'", [], |r| r.get(0)).unwrap();
        assert!(!stored.contains("stolen"), "{stored}");

        // An anonymous writer may write, and the owner stays.
        let anonymous = Session { user_id: None, updated_at: 30, ..owned.clone() };
        db.save_run(&anonymous, &run("r3", "s", RunStatus::Completed)).await.unwrap();
        let after = db.get_session_with_runs("s", &RunQuery::all()).await.unwrap().unwrap();
        assert_eq!(after.user_id.as_deref(), Some("u1"));
        assert_eq!(after.updated_at, 30);
        assert_eq!(after.runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["r1", "r3"]);
        let owner: Option<String> =
            conn.query_row("SELECT user_id FROM agno_sessions WHERE session_id = 's'", [], |r| r.get(0)).unwrap();
        assert_eq!(owner.as_deref(), Some("u1"));

        // The owner still may, and an unowned session gets its first owner.
        db.save_run(&owned, &run("r4", "s", RunStatus::Completed)).await.unwrap();
        db.save_run(&session("free", None, 1), &run("f1", "free", RunStatus::Completed)).await.unwrap();
        db.save_run(&session("free", Some("u2"), 2), &run("f2", "free", RunStatus::Completed)).await.unwrap();
        assert_eq!(db.get_session("free").await.unwrap().unwrap().user_id.as_deref(), Some("u2"));
        assert!(matches!(
            db.save_run(&session("free", Some("u1"), 3), &run("f3", "free", RunStatus::Completed)).await,
            Err(DbError::Ownership { .. })
        ));
        assert_eq!(run_indexes(&conn, "free"), [("f1".to_owned(), 0), ("f2".to_owned(), 1)]);
    }

    #[tokio::test]
    async fn list_sessions_filters_orders_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        let mut team = session("t", Some("u1"), 50);
        team.session_type = SessionType::Team;
        team.agent_id = None;
        team.team_id = Some("team-1".into());
        let other_agent = Session { agent_id: Some("agent-2".into()), ..session("c", Some("u2"), 30) };
        for (s, r) in [
            (session("a", Some("u1"), 10), "ra"),
            (session("b", Some("u1"), 30), "rb"),
            (other_agent, "rc"),
            (team, "rt"),
            (session("d", None, 20), "rd"),
        ] {
            db.save_run(&s, &run(r, &s.session_id, RunStatus::Completed)).await.unwrap();
        }
        let ids = async |q: SessionQuery| -> (Vec<String>, usize) {
            let page = db.list_sessions(&q).await.unwrap();
            assert!(page.sessions.iter().all(|s| s.runs.is_empty()));
            (page.sessions.into_iter().map(|s| s.session_id).collect(), page.total)
        };
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(SessionQuery::default()).await, (names(&["t", "b", "c", "d", "a"]), 5));
        assert_eq!(
            ids(SessionQuery { user_id: Some("u1".into()), ..Default::default() }).await,
            (names(&["t", "b", "a"]), 3)
        );
        assert_eq!(
            ids(SessionQuery { agent_id: Some("agent-1".into()), ..Default::default() }).await,
            (names(&["b", "d", "a"]), 3)
        );
        assert_eq!(
            ids(SessionQuery { session_type: Some(SessionType::Team), ..Default::default() }).await,
            (names(&["t"]), 1)
        );
        assert_eq!(
            ids(SessionQuery { component_id: Some("team-1".into()), ..Default::default() }).await,
            (names(&["t"]), 1)
        );
        assert_eq!(
            ids(SessionQuery {
                user_id: Some("u1".into()),
                session_type: Some(SessionType::Agent),
                limit: Some(1),
                ..Default::default()
            })
            .await,
            (names(&["b"]), 2)
        );
        assert_eq!(ids(SessionQuery { limit: Some(2), ..Default::default() }).await, (names(&["t", "b"]), 5));
        assert_eq!(ids(SessionQuery { limit: Some(0), ..Default::default() }).await, (names(&[]), 5));
        assert_eq!(ids(SessionQuery { user_id: Some("nobody".into()), ..Default::default() }).await, (names(&[]), 0));
        assert_eq!(
            ids(SessionQuery { ascending: true, offset: 1, limit: Some(2), ..Default::default() }).await,
            (names(&["d", "b"]), 5)
        );

        // Same as the in-memory store.
        let memory = InMemoryDb::new();
        for s in db.list_sessions(&SessionQuery::default()).await.unwrap().sessions {
            memory
                .save_run(&s, &run(&format!("m-{}", s.session_id), &s.session_id, RunStatus::Completed))
                .await
                .unwrap();
        }
        for q in [
            SessionQuery::default(),
            SessionQuery { user_id: Some("u1".into()), ..Default::default() },
            SessionQuery { sort_by: SessionSort::CreatedAt, ascending: true, ..Default::default() },
        ] {
            assert_eq!(memory.list_sessions(&q).await.unwrap(), db.list_sessions(&q).await.unwrap(), "{q:?}");
        }
    }

    #[tokio::test]
    async fn delete_session_removes_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        db.save_run(&session("s", None, 1), &run("r1", "s", RunStatus::Completed)).await.unwrap();
        db.save_run(&session("s", None, 2), &run("r2", "s", RunStatus::Error)).await.unwrap();
        db.save_run(&session("keep", None, 3), &run("k1", "keep", RunStatus::Completed)).await.unwrap();

        assert!(db.delete_session("s").await.unwrap());
        assert!(db.get_session("s").await.unwrap().is_none());
        assert!(db.get_runs("s", &RunQuery::all()).await.unwrap().is_empty());
        assert_eq!(db.get_run("r1").await.unwrap(), None);
        assert_eq!(count(&raw(&db), "SELECT COUNT(*) FROM agno_runs WHERE session_id = 's'"), 0);
        assert!(!db.delete_session("s").await.unwrap());
        assert_eq!(db.get_runs("keep", &RunQuery::all()).await.unwrap().len(), 1);

        // A deleted session starts again from run_index 0.
        db.save_run(&session("s", None, 4), &run("r9", "s", RunStatus::Completed)).await.unwrap();
        assert_eq!(run_indexes(&raw(&db), "s"), [("r9".to_owned(), 0)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn instances_on_one_file_share_writes_under_concurrency() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agno.db");
        let shared = Arc::new(SqliteDb::new(&path).unwrap());
        let second = Arc::new(SqliteDb::new(&path).unwrap());

        shared.save_run(&session("x", None, 1), &run("x1", "x", RunStatus::Completed)).await.unwrap();
        assert_eq!(second.get_runs("x", &RunQuery::all()).await.unwrap().len(), 1);
        second.save_run(&session("x", None, 2), &run("x2", "x", RunStatus::Completed)).await.unwrap();
        let both = shared.get_session_with_runs("x", &RunQuery::all()).await.unwrap().unwrap();
        assert_eq!(both.runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["x1", "x2"]);
        assert!(shared.delete_session("x").await.unwrap());
        assert!(second.get_session("x").await.unwrap().is_none());

        const TASKS: usize = 8;
        const SAVES: usize = 25;
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                // Odd tasks go through the second instance; sessions are shared across tasks.
                let db = if t % 2 == 0 { Arc::clone(&shared) } else { Arc::clone(&second) };
                tokio::spawn(async move {
                    for i in 0..SAVES {
                        let session_id = format!("s{}", (t + i) % 4);
                        let s = session(&session_id, None, (t * SAVES + i) as i64);
                        let r = run(&format!("t{t}-{i}"), &session_id, RunStatus::Completed);
                        db.save_run(&s, &r).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            tokio::time::timeout(HANG_GUARD, task).await.expect("saves hung").unwrap();
        }

        let conn = raw(&shared);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM agno_runs") as usize, TASKS * SAVES);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM agno_sessions"), 4);
        let per_session = assert_contiguous_run_indexes(&conn);
        assert_eq!(per_session.len(), 4);
        assert_eq!(per_session.values().sum::<usize>(), TASKS * SAVES);
        let mut all = BTreeSet::new();
        for s in 0..4 {
            all.extend(run_ids(second.as_ref(), &format!("s{s}")).await);
        }
        assert_eq!(all.len(), TASKS * SAVES);
        let expected: BTreeSet<String> =
            (0..TASKS).flat_map(|t| (0..SAVES).map(move |i| format!("t{t}-{i}"))).collect();
        assert_eq!(all, expected);
    }

    #[tokio::test]
    async fn corrupt_rows_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        db.save_run(&session("s", None, 1), &run("good", "s", RunStatus::Completed)).await.unwrap();
        let conn = raw(&db);
        conn.execute(
            "INSERT INTO agno_runs (run_id, session_id, run_type, status, run_index, run_data, created_at)
             VALUES ('bad', 's', 'agent', 'COMPLETED', 1, 'not json {', 0)",
            [],
        )
        .unwrap();
        match db.get_run("bad").await {
            Err(DbError::Corrupt(msg)) => assert!(msg.contains("agno_runs") && msg.contains("bad"), "{msg}"),
            other => panic!("expected a corrupt-row error, got {other:?}"),
        }
        assert!(db.get_runs("s", &RunQuery::all()).await.is_err());
        assert!(db.get_session_with_runs("s", &RunQuery::all()).await.is_err());
        // Reads that leave the bad row out still work.
        assert_eq!(db.get_session("s").await.unwrap().unwrap().session_id, "s");
        assert_eq!(db.get_runs("s", &RunQuery { limit: Some(1), ..RunQuery::all() }).await.unwrap().len(), 1);
        assert_eq!(db.count_runs("s", &RunQuery::all()).await.unwrap(), 2);
        assert!(db.get_run("good").await.unwrap().is_some());

        conn.execute("UPDATE agno_runs SET run_data = x'01' WHERE run_id = 'bad'", []).unwrap();
        assert!(matches!(db.get_run("bad").await, Err(DbError::Corrupt(_))));

        conn.execute("INSERT INTO agno_sessions (session_id, session_type, created_at) VALUES ('odd', 'robot', 0)", [])
            .unwrap();
        match db.get_session("odd").await {
            Err(DbError::Corrupt(msg)) => assert!(msg.contains("odd") && msg.contains("robot"), "{msg}"),
            other => panic!("expected a corrupt-row error, got {other:?}"),
        }
        assert!(db.list_sessions(&SessionQuery::default()).await.is_err());

        conn.execute(
            "UPDATE agno_sessions SET session_type = 'agent', metadata = '{oops' WHERE session_id = 'odd'",
            [],
        )
        .unwrap();
        match db.get_session("odd").await {
            Err(DbError::Corrupt(msg)) => assert!(msg.contains("agno_sessions `odd`: metadata"), "{msg}"),
            other => panic!("expected a corrupt-row error, got {other:?}"),
        }
        conn.execute("UPDATE agno_sessions SET metadata = NULL, created_at = 'soon' WHERE session_id = 'odd'", [])
            .unwrap();
        assert!(matches!(db.get_session("odd").await, Err(DbError::Corrupt(_))));

        // The storage is still usable after the errors.
        db.save_run(&session("s2", None, 1), &run("fine", "s2", RunStatus::Completed)).await.unwrap();
        assert_eq!(run_ids(&db, "s2").await, ["fine"]);
    }

    #[tokio::test]
    async fn eval_runs_round_trip_filter_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
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
        contract::eval_runs_contract(&db).await;
        raw(&db).execute("UPDATE agno_eval_runs SET eval_data = '{oops' WHERE run_id = 'e1'", []).unwrap();
        assert!(matches!(db.get_eval_run("e1").await, Err(DbError::Corrupt(_))));
        assert!(db.get_eval_runs(&EvalRunQuery::default()).await.is_err());
        assert!(db.get_eval_run("e2").await.unwrap().is_some());
    }

    /// Writers that never pause, each run carrying about a page of text, until `WRITERS` ×
    /// `SAVES` runs are stored; answers the largest size the write-ahead log was seen at.
    async fn largest_log_under_a_steady_stream_of_writes(db: &Arc<SqliteDb>, wal: &std::path::Path) -> u64 {
        const WRITERS: usize = 32;
        const SAVES: usize = 400;
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let (wal, done) = (wal.to_path_buf(), Arc::clone(&done));
            tokio::spawn(async move {
                let mut largest = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                largest
            })
        };
        let page = "x".repeat(4000);
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (db, page) = (Arc::clone(db), page.clone());
                tokio::spawn(async move {
                    let session_id = format!("s{w}");
                    for i in 0..SAVES {
                        let r = RunOutput {
                            content: Some(page.clone()),
                            ..run(&format!("w{w}-{i}"), &session_id, RunStatus::Completed)
                        };
                        db.save_runs(&session(&session_id, None, 1), &[&r]).await.unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            tokio::time::timeout(HANG_GUARD, writer).await.expect("a save hung").unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let largest = sampler.await.unwrap();
        assert_eq!(count(&raw(db), "SELECT COUNT(*) FROM agno_runs") as usize, WRITERS * SAVES);
        assert!(largest > 0, "the log was never seen");
        largest
    }

    /// The most the log may hold: the writer's limit, plus one batch committed just under it.
    /// This load, with no checkpoint at all, grows the log to some 40,000 pages.
    const LOG_BOUND: u64 = (threads::LOG_LIMIT_PAGES as u64 + 1_000) * (4096 + 24);

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_write_ahead_log_stays_bounded_under_a_steady_stream_of_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(open(&dir));
        let largest = largest_log_under_a_steady_stream_of_writes(&db, &dir.path().join("agno.db-wal")).await;
        assert!(largest <= LOG_BOUND, "the log reached {largest} bytes (bound {LOG_BOUND})");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_checkpointer_starved_of_cpu_cannot_let_the_log_grow_without_end() {
        // A checkpointer that never gets the CPU, played by holding its lock: until the log has
        // stopped growing for a while (the writer waits at the limit) or every write is done.
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(open(&dir));
        let wal = dir.path().join("agno.db-wal");
        let (lock, writes_done) = (db.threads.checkpointing(), Arc::new(std::sync::atomic::AtomicBool::new(false)));
        let (starved, starved_wal, done) =
            (Arc::new(std::sync::Barrier::new(2)), wal.clone(), Arc::clone(&writes_done));
        let held = Arc::clone(&starved);
        let starver = std::thread::spawn(move || {
            let _turn = lock.lock().unwrap();
            held.wait();
            let (mut last, mut still) = (0, 0);
            while !done.load(std::sync::atomic::Ordering::Relaxed) && still < 20 {
                std::thread::sleep(Duration::from_millis(10));
                let len = std::fs::metadata(&starved_wal).map_or(0, |m| m.len());
                still = if len > 0 && len == last { still + 1 } else { 0 };
                last = len;
            }
        });
        starved.wait();
        let largest = largest_log_under_a_steady_stream_of_writes(&db, &wal).await;
        writes_done.store(true, std::sync::atomic::Ordering::Relaxed);
        starver.join().unwrap();
        assert!(largest <= LOG_BOUND, "the log reached {largest} bytes (bound {LOG_BOUND})");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn group_commit_stores_every_concurrent_save() {
        const SAVES: usize = 500;
        const SESSIONS: usize = 20;
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(open(&dir));

        // From many tasks at once.
        let tasks: Vec<_> = (0..SAVES)
            .map(|i| {
                let db = Arc::clone(&db);
                tokio::spawn(async move {
                    let session_id = format!("s{}", i % SESSIONS);
                    let r = run(&format!("r{i}"), &session_id, RunStatus::Completed);
                    db.save_runs(&session(&session_id, None, i as i64), &[&r]).await
                })
            })
            .collect();
        for task in tasks {
            tokio::time::timeout(HANG_GUARD, task).await.expect("a save hung").unwrap().unwrap();
        }
        let conn = raw(&db);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM agno_runs") as usize, SAVES);
        let per_session = assert_contiguous_run_indexes(&conn);
        assert_eq!(per_session.len(), SESSIONS);
        assert!(per_session.values().all(|&n| n == SAVES / SESSIONS), "{per_session:?}");
        let mut stored = BTreeSet::new();
        for s in 0..SESSIONS {
            stored.extend(run_ids(db.as_ref(), &format!("s{s}")).await);
        }
        assert_eq!(stored, (0..SAVES).map(|i| format!("r{i}")).collect::<BTreeSet<_>>());

        // Queued from one task before any is awaited: they share transactions, and each
        // session's runs keep the order they were queued in.
        let sessions: Vec<Session> =
            (0..SAVES).map(|i| session(&format!("q{}", i % SESSIONS), None, i as i64)).collect();
        let runs: Vec<RunOutput> =
            (0..SAVES).map(|i| run(&format!("q-r{i}"), &format!("q{}", i % SESSIONS), RunStatus::Completed)).collect();
        let refs: Vec<[&RunOutput; 1]> = runs.iter().map(|r| [r]).collect();
        let pending: Vec<DbFuture<'_, ()>> = (0..SAVES).map(|i| db.save_runs(&sessions[i], &refs[i])).collect();
        for save in pending {
            tokio::time::timeout(HANG_GUARD, save).await.expect("a save hung").unwrap();
        }
        for s in 0..SESSIONS {
            let expected: Vec<String> = (s..SAVES).step_by(SESSIONS).map(|i| format!("q-r{i}")).collect();
            assert_eq!(run_ids(db.as_ref(), &format!("q{s}")).await, expected);
        }
        let per_session = assert_contiguous_run_indexes(&conn);
        assert_eq!(per_session.values().sum::<usize>(), 2 * SAVES);
    }

    /// Keeps the writer busy on the write `plug` until the returned lock is released, so the
    /// writes queued meanwhile are taken together in the next transaction.
    async fn plug_the_writer<'a>(
        db: &'a SqliteDb,
        plug: &'a (Session, [&'a RunOutput; 1]),
    ) -> (Lock, DbFuture<'a, ()>) {
        let lock = Lock::take(db.path());
        // The writer takes the plug and waits for the lock, within its busy timeout.
        let future = db.save_runs(&plug.0, &plug.1);
        // Only makes a shared batch likely; the assertions hold whichever way the writes batch.
        tokio::time::sleep(Duration::from_millis(50)).await;
        (lock, future)
    }

    /// Records the thread it is dropped on.
    struct DroppedOn(Arc<std::sync::Mutex<Option<std::thread::ThreadId>>>);

    impl Drop for DroppedOn {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = Some(std::thread::current().id());
        }
    }

    #[tokio::test]
    async fn a_write_s_job_and_data_come_back_to_be_freed_on_the_caller_s_side() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        let dropped_on = Arc::new(std::sync::Mutex::new(None));
        let data = DroppedOn(Arc::clone(&dropped_on));
        let freed_here = || threads::JOBS_FREED_HERE.with(std::cell::Cell::get);
        let before = freed_here();
        let writer = db.threads.write(data, |_, _| Ok(std::thread::current().id())).await.unwrap();
        let here = std::thread::current().id();
        assert_ne!(writer, here, "the write ran on the writer thread");
        assert_eq!(*dropped_on.lock().unwrap(), Some(here), "its data was freed here, not there");
        assert_eq!(freed_here(), before + 1, "and so was the job's box");
    }

    #[tokio::test]
    async fn a_refused_write_fails_alone_in_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        let alice = session("owned", Some("alice"), 1);
        db.save_run(&alice, &run("seed", "owned", RunStatus::Completed)).await.unwrap();

        let plug_run = run("plug", "plug", RunStatus::Completed);
        let plug = (session("plug", None, 1), [&plug_run]);
        let (lock, plug) = plug_the_writer(&db, &plug).await;
        let bob = session("owned", Some("bob"), 2);
        let other = session("other", None, 3);
        let (good1, refused, good2, good3) = (
            run("good1", "owned", RunStatus::Completed),
            run("refused", "owned", RunStatus::Completed),
            run("good2", "owned", RunStatus::Completed),
            run("good3", "other", RunStatus::Completed),
        );
        let (b1, b2, b3, b4) = ([&good1], [&refused], [&good2], [&good3]);
        // Queued at call time, none awaited yet.
        let f1 = db.save_runs(&alice, &b1);
        let f2 = db.save_runs(&bob, &b2);
        let f3 = db.save_runs(&alice, &b3);
        let f4 = db.save_runs(&other, &b4);
        lock.release();
        plug.await.unwrap();
        f1.await.unwrap();
        match f2.await {
            Err(DbError::Ownership { session_id }) => assert_eq!(session_id, "owned"),
            other => panic!("expected an ownership error, got {other:?}"),
        }
        f3.await.unwrap();
        f4.await.unwrap();

        assert_eq!(run_ids(&db, "owned").await, ["seed", "good1", "good2"]);
        assert_eq!(run_ids(&db, "other").await, ["good3"]);
        assert_eq!(db.get_run("refused").await.unwrap(), None);
        assert_eq!(db.get_session("owned").await.unwrap().unwrap().user_id.as_deref(), Some("alice"));
        let conn = raw(&db);
        assert_contiguous_run_indexes(&conn);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM agno_sessions WHERE session_id = 'locker'"), 1);
    }

    #[tokio::test]
    async fn a_failing_write_fails_alone_in_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        // A write that fails after it changed something: its session row is written, then its
        // run is refused by a trigger.
        raw(&db)
            .execute_batch(
                "CREATE TRIGGER refuse_boom BEFORE INSERT ON agno_runs WHEN NEW.run_id = 'boom'
                 BEGIN SELECT RAISE(ABORT, 'boom refused'); END;",
            )
            .unwrap();
        db.save_run(&session("s", None, 1), &run("seed", "s", RunStatus::Completed)).await.unwrap();

        let plug_run = run("plug", "plug", RunStatus::Completed);
        let plug = (session("plug", None, 1), [&plug_run]);
        let (lock, plug) = plug_the_writer(&db, &plug).await;
        let (s, boom_s) = (session("s", None, 2), session("boom-s", None, 2));
        let (good1, ok_before, boom, good2) = (
            run("good1", "s", RunStatus::Completed),
            run("ok-before", "boom-s", RunStatus::Completed),
            run("boom", "boom-s", RunStatus::Completed),
            run("good2", "s", RunStatus::Completed),
        );
        let (b1, b2, b3) = ([&good1], [&ok_before, &boom], [&good2]);
        let f1 = db.save_runs(&s, &b1);
        let f2 = db.save_runs(&boom_s, &b2);
        let f3 = db.save_runs(&s, &b3);
        lock.release();
        plug.await.unwrap();
        f1.await.unwrap();
        let err = f2.await.unwrap_err();
        assert!(matches!(err, DbError::Sqlite(_)) && err.to_string().contains("boom refused"), "{err}");
        f3.await.unwrap();

        assert_eq!(run_ids(&db, "s").await, ["seed", "good1", "good2"]);
        // None of the failed write stands: not its session row, not its first run.
        assert_eq!(db.get_session("boom-s").await.unwrap(), None);
        assert_eq!(db.get_run("ok-before").await.unwrap(), None);
        assert_contiguous_run_indexes(&raw(&db));
    }

    /// The plan SQLite picks for `sql` on a reader connection: `(id, parent, detail)` rows.
    async fn query_plan(db: &SqliteDb, sql: String, params: Vec<rusqlite::types::Value>) -> Vec<(i64, i64, String)> {
        db.threads
            .read(move |conn| {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let rows =
                    stmt.query_map(rusqlite::params_from_iter(params), |r| Ok((r.get(0)?, r.get(1)?, r.get(3)?)))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn history_query_reads_through_the_session_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        // Some rows, so the planner has something to weigh.
        let runs: Vec<RunOutput> =
            (0..50).map(|i| run(&format!("r{i}"), &format!("s{}", i % 5), RunStatus::Completed)).collect();
        for r in &runs {
            db.save_run(&session(&r.session_id, None, 1), r).await.unwrap();
        }
        let history = RunQuery::history("agent-1", 3);
        assert!(history.last.is_some(), "the history query reads a window from the end");

        // Bound as `queries::runs` binds the history query: the session, no time or status
        // filter, top level, the runner, answered only, no limit, no offset, the last 3.
        use rusqlite::types::Value as Sql;
        let mut params = vec![
            Sql::Text("s0".into()),
            Sql::Null,
            Sql::Null,
            Sql::Null,
            Sql::Integer(1),
            Sql::Text("agent-1".into()),
            Sql::Integer(1),
            Sql::Integer(-1),
            Sql::Integer(0),
            Sql::Integer(3),
        ];
        let plan = query_plan(&db, queries::runs_sql(true), params.clone()).await;
        let text = format!("{plan:#?}");
        // The inner query is the subtree under the subquery's node.
        let root = plan
            .iter()
            .find(|(_, _, detail)| detail.starts_with("CO-ROUTINE") || detail.starts_with("MATERIALIZE"))
            .map(|(id, _, _)| *id);
        let inner: Vec<&String> = match root {
            Some(root) => {
                let mut ids = BTreeSet::from([root]);
                for (id, parent, _) in &plan {
                    if ids.contains(parent) {
                        ids.insert(*id);
                    }
                }
                plan.iter().filter(|(id, _, _)| *id != root && ids.contains(id)).map(|(_, _, d)| d).collect()
            }
            // Flattened into the outer query: the whole plan is the inner query's.
            None => plan.iter().map(|(_, _, d)| d).collect(),
        };
        assert!(!inner.is_empty(), "{text}");
        assert!(inner.iter().any(|d| d.contains("USING INDEX idx_agno_runs_session_index")), "{text}");
        assert!(!inner.iter().any(|d| d.contains("TEMP B-TREE")), "the inner ORDER BY needs no sort: {text}");
        assert!(!plan.iter().any(|(_, _, d)| d.contains("SCAN agno_runs")), "no full scan: {text}");

        // Without `last`: the index, and no sort at all.
        params.pop();
        let plan = query_plan(&db, queries::runs_sql(false), params).await;
        let text = format!("{plan:#?}");
        assert!(plan.iter().any(|(_, _, d)| d.contains("USING INDEX idx_agno_runs_session_index")), "{text}");
        assert!(!plan.iter().any(|(_, _, d)| d.contains("TEMP B-TREE")), "{text}");

        // And the statement answers as the history query does.
        assert_eq!(
            db.get_runs("s0", &history).await.unwrap(),
            runs.iter().filter(|r| r.session_id == "s0").skip(7).cloned().collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn a_locked_database_fails_writes_then_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agno.db");
        let db = SqliteDb::with_busy_timeout(&path, Duration::from_millis(100)).unwrap();
        db.save_run(&session("s", None, 1), &run("before", "s", RunStatus::Completed)).await.unwrap();

        let lock = Lock::take(&path);
        let r = run("while-locked", "s", RunStatus::Completed);
        let saved =
            tokio::time::timeout(HANG_GUARD, db.save_run(&session("s", None, 2), &r)).await.expect("the save hung");
        match saved {
            Err(DbError::Batch { source, writes }) => {
                assert!(writes >= 1);
                let msg = source.to_string().to_lowercase();
                assert!(msg.contains("busy") || msg.contains("locked"), "{msg}");
                assert_eq!(source.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy), "{source:?}");
            }
            other => panic!("expected a failed batch, got {other:?}"),
        }
        // Readers go on reading the last committed state meanwhile.
        assert_eq!(run_ids(&db, "s").await, ["before"]);
        assert_eq!(db.get_session("locker").await.unwrap(), None, "the lock's write is not committed");
        let deleted = tokio::time::timeout(HANG_GUARD, db.delete_session("s")).await.expect("the delete hung");
        assert!(matches!(deleted, Err(DbError::Batch { .. })), "{deleted:?}");

        lock.release();
        db.save_run(&session("s", None, 3), &run("after", "s", RunStatus::Completed)).await.unwrap();
        assert_eq!(run_ids(&db, "s").await, ["before", "after"], "the refused writes were not stored");
        assert!(db.get_session("locker").await.unwrap().is_some());
        assert_contiguous_run_indexes(&raw(&db));
    }

    #[tokio::test]
    async fn dropping_the_db_commits_the_queued_writes() {
        const WRITES: usize = 40;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agno.db");
        let db = SqliteDb::new(&path).unwrap();
        db.save_run(&session("gone", None, 1), &run("g", "gone", RunStatus::Completed)).await.unwrap();

        let sessions: Vec<Session> = (0..WRITES).map(|i| session(&format!("d{}", i % 4), None, i as i64)).collect();
        let runs: Vec<RunOutput> =
            (0..WRITES).map(|i| run(&format!("d-r{i}"), &format!("d{}", i % 4), RunStatus::Completed)).collect();
        let refs: Vec<[&RunOutput; 1]> = runs.iter().map(|r| [r]).collect();
        let eval = contract::eval_run("e", "agent-1", 1);
        // Queued, then dropped without being awaited: the writes stand.
        let mut pending: Vec<DbFuture<'_, ()>> = (0..WRITES).map(|i| db.save_runs(&sessions[i], &refs[i])).collect();
        pending.push(db.save_eval_run(&eval));
        let delete = db.delete_session("gone");
        drop(delete);
        drop(pending);
        drop(db);

        // Committed before `drop` returned: another connection sees them at once.
        let conn = Connection::open(&path).unwrap();
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM agno_runs WHERE session_id LIKE 'd%'") as usize, WRITES);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM agno_eval_runs"), 1);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM agno_sessions WHERE session_id = 'gone'"), 0);
        assert_contiguous_run_indexes(&conn);
        drop(conn);

        let db = SqliteDb::new(&path).unwrap();
        for s in 0..4 {
            let expected: Vec<String> = (s..WRITES).step_by(4).map(|i| format!("d-r{i}")).collect();
            assert_eq!(run_ids(&db, &format!("d{s}")).await, expected);
        }
        assert_eq!(db.get_eval_run("e").await.unwrap(), Some(eval));
        assert_eq!(db.get_session("gone").await.unwrap(), None);

        // Awaited writes, then a drop at once: the same.
        db.save_run(&session("last", None, 1), &run("last", "last", RunStatus::Completed)).await.unwrap();
        drop(db);
        let db = SqliteDb::new(&path).unwrap();
        assert_eq!(run_ids(&db, "last").await, ["last"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_see_committed_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        let other = open(&dir);
        for i in 0..100_i64 {
            let r = RunOutput { created_at: i, ..run(&format!("r{i}"), "s", RunStatus::Completed) };
            let s = session("s", None, i);
            db.save_run(&s, &r).await.unwrap();
            // Through this value's readers and through another value's.
            for reader in [&db, &other] {
                assert_eq!(reader.get_run(&r.run_id).await.unwrap().as_ref(), Some(&r), "run {i}");
                assert_eq!(reader.get_session("s").await.unwrap().unwrap().updated_at, i, "session {i}");
                assert_eq!(reader.count_runs("s", &RunQuery::all()).await.unwrap() as i64, i + 1);
                let latest = reader.get_session_with_runs("s", &RunQuery { last: Some(1), ..RunQuery::all() }).await;
                assert_eq!(latest.unwrap().unwrap().runs, vec![r.clone()], "latest run {i}");
            }
        }
        assert!(db.delete_session("s").await.unwrap());
        assert_eq!(db.get_session("s").await.unwrap(), None);
        assert_eq!(other.get_run("r0").await.unwrap(), None);
        assert_eq!(db.list_sessions(&SessionQuery::default()).await.unwrap().total, 0);
        db.save_eval_run(&contract::eval_run("e", "agent-1", 1)).await.unwrap();
        assert!(other.get_eval_run("e").await.unwrap().is_some());
    }
}
