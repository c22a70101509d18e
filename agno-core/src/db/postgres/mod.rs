//! [`PostgresDb`]: agno's tables on PostgreSQL (sqlx), for several AgentOS replicas sharing
//! their sessions. Behind the `postgres` feature.
//!
//! The layout is agno's `PostgresDb` layout: schema `ai` (configurable), tables `agno_sessions`,
//! `agno_runs` and `agno_eval_runs`, JSONB data columns, Unix-second timestamps. It is laid out
//! by versioned migrations (recorded in `agno_rs_migrations`) under an advisory lock, so
//! replicas starting together do not race. `agno_eval_runs` has one column more than agno's,
//! `saved_order`, which keeps evaluations saved in the same second in the order they came.
//!
//! Every save is one transaction that upserts the session row first. That row stays locked until
//! the commit, so two replicas writing one session take turns and each appends its runs after
//! the other's: `run_index` stays contiguous (a unique index on `(session_id, run_index)` would
//! refuse anything else).
//!
//! Connecting is lazy: [`PostgresDb::new`] only parses the URL; the pool connects and the
//! migrations run on first use ([`PostgresDb::connect`] does it at once).

mod group_commit;
mod hook_queue;
mod saves;
mod schema;
mod tasks;
#[cfg(test)]
pub(crate) mod test_server;

pub use hook_queue::QueueTiming;
pub use tasks::PostgresTaskBackend;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{PgPool, Row};
use tokio::sync::OnceCell;

use self::group_commit::GroupCommit;
use self::hook_queue::{OutcomeWrites, PgHookQueue};
use self::saves::{SaveRow, Saves};
use self::schema::{
    EVAL_COLUMNS, MIGRATIONS, MIGRATIONS_TABLE, RUN_FILTER, SESSION_COLUMNS, SESSION_FILTER, UPSERT_EVAL_RUN, runs_sql,
};
use super::{
    Db, DbError, DbFuture, EvalRun, EvalRunQuery, HookQueue, RunQuery, SavedJson, SessionPage, SessionQuery,
    SessionSort,
};
use crate::hooks::job::HookJob;
use crate::run::RunOutput;
use crate::session::{Session, SessionType};

/// The schema agno uses.
pub const DEFAULT_SCHEMA: &str = "ai";

/// How many connections a [`PostgresDb`] opens at most, unless told otherwise.
const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// agno's tables on PostgreSQL.
///
/// ```no_run
/// # async fn demo() -> Result<(), agno_core::db::DbError> {
/// use agno_core::db::PostgresDb;
/// let db = PostgresDb::new("postgresql://agno@127.0.0.1:5432/agno")?;
/// db.connect().await?; // optional: connects and migrates now instead of on first use
/// # Ok(()) }
/// ```
pub struct PostgresDb {
    connection: Arc<Connection>,
    id: String,
    sql: Statements,
    timing: QueueTiming,
    /// The durable queue of background hooks (`None` with `durable_hooks(false)`).
    queue: Option<Arc<dyn HookQueue>>,
    /// The group-commit writer of saves.
    saves: Arc<GroupCommit<Saves>>,
    /// The task backend, started on first use.
    tasks: Arc<TaskSlot>,
}

/// Where [`PostgresDb::tasks`] keeps its backend: read without a lock once started; the first
/// calls take turns, so only one backend is ever started.
#[derive(Default)]
struct TaskSlot {
    started: std::sync::OnceLock<Arc<PostgresTaskBackend>>,
    starting: std::sync::Mutex<()>,
}

/// How to reach the database, and the pool once it is made (on first use, in a tokio runtime).
#[derive(Clone)]
pub(super) struct Connection {
    options: PgPoolOptions,
    connect: PgConnectOptions,
    pool: OnceCell<PgPool>,
    /// The quoted schema of agno's tables.
    schema: String,
    /// Whether apalis's tables are set up too.
    durable: bool,
}

impl Connection {
    /// The pool, made and migrated on first use.
    pub(super) async fn pool(&self) -> Result<&PgPool, DbError> {
        self.pool
            .get_or_try_init(|| async {
                let pool = self.options.clone().connect_lazy_with(self.connect.clone());
                migrate(&pool, &self.schema).await?;
                if self.durable {
                    hook_queue::setup(&pool).await?;
                }
                Ok(pool)
            })
            .await
    }

    /// The quoted schema.
    pub(super) fn schema(&self) -> &str {
        &self.schema
    }

    /// The same database for a task backend: a pool of its own of `max_connections`, made on
    /// first use on the runtime that uses it, without apalis's tables.
    fn for_tasks(&self, max_connections: u32) -> Self {
        Self {
            options: self.options.clone().max_connections(max_connections),
            connect: self.connect.clone(),
            pool: OnceCell::new(),
            schema: self.schema.clone(),
            durable: false,
        }
    }
}

impl std::fmt::Debug for PostgresDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDb")
            .field("id", &self.id)
            .field("schema", &self.connection.schema)
            .field("durable_hooks", &self.queue.is_some())
            .finish_non_exhaustive()
    }
}

/// The statements, with the schema filled in once.
struct Statements {
    runs: String,
    runs_last: String,
    count_runs: String,
    session: String,
    session_with_runs: String,
    session_with_last_runs: String,
    run: String,
    count_sessions: String,
    list_sessions: [String; 4],
    delete_runs: String,
    delete_session: String,
    upsert_eval_run: String,
    eval_run: String,
    eval_runs: String,
}

impl Statements {
    fn new(schema: &str) -> Self {
        let s = |sql: &str| sql.replace("{s}", schema);
        let with_runs = |runs: &str| {
            s(&format!(
                "SELECT {SESSION_COLUMNS},
                    (SELECT COALESCE(jsonb_agg(page.run_data ORDER BY page.run_index), '[]'::jsonb)
                     FROM ({runs}) page) AS runs
                 FROM {{s}}.agno_sessions WHERE session_id = $1"
            ))
        };
        let list = |key: &str, direction: &str| {
            s(&format!(
                "SELECT {SESSION_COLUMNS} FROM {{s}}.agno_sessions WHERE {SESSION_FILTER}
                 ORDER BY {key} {direction}, session_id COLLATE \"C\" LIMIT $7 OFFSET $8"
            ))
        };
        Self {
            runs: s(&runs_sql(false)),
            runs_last: s(&runs_sql(true)),
            count_runs: s(&format!("SELECT COUNT(*) FROM {{s}}.agno_runs WHERE {RUN_FILTER}")),
            session: s(&format!("SELECT {SESSION_COLUMNS} FROM {{s}}.agno_sessions WHERE session_id = $1")),
            session_with_runs: with_runs(&runs_sql(false)),
            session_with_last_runs: with_runs(&runs_sql(true)),
            run: s("SELECT run_id, run_data FROM {s}.agno_runs WHERE run_id = $1"),
            count_sessions: s(&format!("SELECT COUNT(*) FROM {{s}}.agno_sessions WHERE {SESSION_FILTER}")),
            list_sessions: [
                list("COALESCE(updated_at, created_at)", "DESC"),
                list("COALESCE(updated_at, created_at)", "ASC"),
                list("created_at", "DESC"),
                list("created_at", "ASC"),
            ],
            delete_runs: s("DELETE FROM {s}.agno_runs WHERE session_id = $1"),
            delete_session: s("DELETE FROM {s}.agno_sessions WHERE session_id = $1"),
            upsert_eval_run: s(UPSERT_EVAL_RUN),
            eval_run: s(&format!("SELECT {EVAL_COLUMNS} FROM {{s}}.agno_eval_runs WHERE run_id = $1")),
            eval_runs: s(&format!(
                "SELECT {EVAL_COLUMNS} FROM {{s}}.agno_eval_runs
                 WHERE ($1::VARCHAR IS NULL OR agent_id = $1) AND ($2::VARCHAR IS NULL OR eval_type = $2)
                 ORDER BY created_at DESC, saved_order DESC LIMIT $3"
            )),
        }
    }
}

impl PostgresDb {
    /// A database at `url` (`postgresql://user:password@host:port/database`), in agno's schema
    /// `ai`. Only the URL is checked here; the pool connects and the tables are laid out on first
    /// use.
    pub fn new(url: &str) -> Result<Self, DbError> {
        Self::with_schema(url, DEFAULT_SCHEMA)
    }

    /// [`PostgresDb::new`] with the tables in another schema (letters, digits and `_`, not
    /// starting with a digit, at most 63 characters).
    pub fn with_schema(url: &str, schema: &str) -> Result<Self, DbError> {
        Self::with_options(url, schema, DEFAULT_MAX_CONNECTIONS)
    }

    /// [`PostgresDb::with_schema`] with a pool of at most `max_connections` connections (16 by
    /// default).
    pub fn with_options(url: &str, schema: &str, max_connections: u32) -> Result<Self, DbError> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && !schema.starts_with(|c: char| c.is_ascii_digit())
            && schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(DbError::Config(format!(
                "`{schema}` is not a schema name agno uses: letters, digits and `_`, not starting with a digit"
            )));
        }
        if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            let scheme = url.split_once("://").map_or("none", |(scheme, _)| scheme);
            return Err(DbError::Config(format!(
                "the database URL must start with postgresql:// or postgres:// (its scheme is `{scheme}`)"
            )));
        }
        let connect = PgConnectOptions::from_str(url).map_err(|e| {
            DbError::Config(format!("DATABASE_URL is not a PostgreSQL URL ({})", redact_error(&e.to_string(), url)))
        })?;
        let id = format!(
            "postgres:{}@{}:{}/{}",
            connect.get_username(),
            connect.get_host(),
            connect.get_port(),
            connect.get_database().unwrap_or(connect.get_username())
        );
        let options =
            PgPoolOptions::new().max_connections(max_connections.max(1)).acquire_timeout(Duration::from_secs(10));
        let quoted = format!("\"{schema}\"");
        let connection = Connection { options, connect, pool: OnceCell::new(), schema: quoted, durable: true };
        let connection = Arc::new(connection);
        let db = Self {
            sql: Statements::new(&connection.schema),
            saves: Arc::new(Saves::new(Arc::clone(&connection))),
            connection,
            id,
            timing: QueueTiming::default(),
            queue: None,
            tasks: Arc::default(),
        };
        Ok(db.with_queue())
    }

    /// Rebuilds the connection with `change` made (before first use) and the queue on it.
    fn reconfigured(mut self, change: impl FnOnce(&mut Connection)) -> Self {
        self.queue = None;
        let mut connection = (*self.connection).clone();
        change(&mut connection);
        self.connection = Arc::new(connection);
        self.saves = Arc::new(Saves::new(Arc::clone(&self.connection)));
        self.with_queue()
    }

    /// The durable hook queue on the current connection, if durable hooks are on.
    fn with_queue(mut self) -> Self {
        self.queue = self.connection.durable.then(|| {
            Arc::new(PgHookQueue {
                connection: Arc::clone(&self.connection),
                timing: self.timing,
                outcome_writes: Arc::new(OutcomeWrites::new(Arc::clone(&self.connection))),
            }) as Arc<dyn HookQueue>
        });
        self
    }

    /// How long a call waits for a connection before it fails (10 s unless set): a database that
    /// is down fails the runs waiting for it after this long, with the reason.
    #[must_use]
    pub fn acquire_timeout(self, timeout: Duration) -> Self {
        self.reconfigured(|c| c.options = c.options.clone().acquire_timeout(timeout))
    }

    /// Whether AgentOS queues background hooks in this database (on by default): then a run and
    /// its background hooks are committed together, a worker in every replica runs them, and a
    /// replica that dies loses none. Off, they run in the process that answered, as with SQLite.
    #[must_use]
    pub fn durable_hooks(self, on: bool) -> Self {
        self.reconfigured(|c| c.durable = on)
    }

    /// The timing of the durable hook queue (heartbeat, heartbeats missed before a worker's jobs
    /// are taken by another, deliveries at most, fetch batch).
    #[must_use]
    pub fn queue_timing(mut self, timing: QueueTiming) -> Self {
        self.timing = timing;
        self.with_queue()
    }

    /// Connects and lays out the tables now (the first call of any other method does it too).
    pub async fn connect(&self) -> Result<(), DbError> {
        self.pool().await.map(|_| ())
    }

    /// The pool, made and migrated on first use.
    async fn pool(&self) -> Result<&PgPool, DbError> {
        self.connection.pool().await
    }

    /// The backend of background tasks in this database, shared by every replica
    /// ([`PostgresTaskBackend`]), started on the first call; later calls give the same one.
    pub fn tasks(&self) -> Result<Arc<PostgresTaskBackend>, DbError> {
        if let Some(tasks) = self.tasks.started.get() {
            return Ok(Arc::clone(tasks));
        }
        let _turn = self.tasks.starting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(tasks) = self.tasks.started.get() {
            return Ok(Arc::clone(tasks));
        }
        let started =
            Arc::new(PostgresTaskBackend::start(&self.connection, self.timing, crate::tasks::DEFAULT_MAX_WORKERS)?);
        Ok(Arc::clone(self.tasks.started.get_or_init(|| started)))
    }

    /// Where this database is, without the password: `postgres:user@host:port/database`.
    pub fn describe(&self) -> &str {
        &self.id
    }
}

impl PostgresDb {
    /// One transaction: the session row (locked until the commit), the runs, and the job of
    /// background hooks if there is one; group-committed with the saves that come meanwhile.
    async fn save(
        &self,
        session: &Session,
        runs: &[&RunOutput],
        json: Option<&SavedJson<'_>>,
        job: Option<&HookJob>,
    ) -> Result<(), DbError> {
        let job = job.map(|job| hook_queue::encode(self.connection.schema(), &self.timing, job)).transpose()?;
        self.saves.write(SaveRow::new(session, runs, json, job)?).await
    }
}

/// An error message of sqlx's about `url`, with the URL's password taken out.
fn redact_error(message: &str, url: &str) -> String {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(credentials, _)| credentials.split_once(':'))
        .map(|(_, password)| password)
        .filter(|p| !p.is_empty());
    match password {
        Some(password) => message.replace(password, "***"),
        None => message.to_owned(),
    }
}

/// Applies the migrations the schema lacks, in one transaction holding an advisory lock keyed by
/// the schema, so replicas starting together apply each once.
async fn migrate(pool: &PgPool, schema: &str) -> Result<(), DbError> {
    let mut tx = pool.begin().await.map_err(failed("connecting to PostgreSQL"))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(lock_key(schema))
        .execute(&mut *tx)
        .await
        .map_err(failed("locking the schema for its migrations"))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(MIGRATIONS_TABLE.replace("{s}", schema)))
        .execute(&mut *tx)
        .await
        .map_err(failed("creating the migrations table"))?;
    let applied: Option<i32> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT MAX(version) FROM {schema}.agno_rs_migrations")))
            .fetch_one(&mut *tx)
            .await
            .map_err(failed("reading the applied migrations"))?;
    let applied = applied.unwrap_or(0);
    for migration in MIGRATIONS.iter().filter(|m| m.version > applied) {
        let what = format!("applying migration {} ({})", migration.version, migration.description);
        sqlx::raw_sql(sqlx::AssertSqlSafe(migration.sql.replace("{s}", schema)))
            .execute(&mut *tx)
            .await
            .map_err(failed(&what))?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {schema}.agno_rs_migrations (version, description, applied_at) VALUES ($1, $2, $3)"
        )))
        .bind(migration.version)
        .bind(migration.description)
        .bind(crate::clock::now_unix())
        .execute(&mut *tx)
        .await
        .map_err(failed(&what))?;
        tracing::info!(schema, version = migration.version, "applied PostgreSQL migration: {}", migration.description);
    }
    tx.commit().await.map_err(failed("committing the migrations"))
}

/// The advisory lock of a schema's migrations: FNV-1a of its name.
fn lock_key(schema: &str) -> i64 {
    let hash = schema.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// A sqlx error with what was being done.
pub(super) fn failed(context: &str) -> impl FnOnce(sqlx::Error) -> DbError {
    let context = context.to_owned();
    move |source| DbError::Postgres { context, source }
}

/// A count or offset as PostgreSQL takes it.
fn sql_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A count PostgreSQL answered, as a `usize`.
fn count(n: i64, what: &str) -> Result<usize, DbError> {
    usize::try_from(n).map_err(|_| DbError::Corrupt(format!("{what}: negative count {n}")))
}

/// A JSON column's value, or a clear error naming the row and column.
fn json_column<T: serde::de::DeserializeOwned>(
    row: &PgRow,
    column: &str,
    what: &dyn Fn() -> String,
) -> Result<T, DbError> {
    let Json(value) =
        row.try_get::<Json<T>, _>(column).map_err(|e| DbError::Corrupt(format!("{}: {column}: {e}", what())))?;
    Ok(value)
}

/// A plain column's value, or a clear error naming the row and column.
fn column<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r PgRow,
    column: &str,
    what: &dyn Fn() -> String,
) -> Result<T, DbError> {
    row.try_get::<T, _>(column).map_err(|e| DbError::Corrupt(format!("{}: {column}: {e}", what())))
}

/// A session from a row selected with [`SESSION_COLUMNS`]; its runs are left empty.
fn decode_session(row: &PgRow) -> Result<Session, DbError> {
    let session_id: String = column(row, "session_id", &|| "agno_sessions".to_owned())?;
    let what = || format!("agno_sessions `{session_id}`");
    let type_text: String = column(row, "session_type", &what)?;
    let session_type = SessionType::parse(&type_text)
        .ok_or_else(|| DbError::Corrupt(format!("{}: unknown session_type `{type_text}`", what())))?;
    let created_at: i64 = column(row, "created_at", &what)?;
    let updated_at: Option<i64> = column(row, "updated_at", &what)?;
    let json = |name: &str| -> Result<Option<Value>, DbError> { column::<Option<Value>>(row, name, &what) };
    Ok(Session {
        session_type,
        agent_id: column(row, "agent_id", &what)?,
        team_id: column(row, "team_id", &what)?,
        workflow_id: column(row, "workflow_id", &what)?,
        user_id: column(row, "user_id", &what)?,
        session_data: json("session_data")?,
        agent_data: json("agent_data")?,
        team_data: json("team_data")?,
        workflow_data: json("workflow_data")?,
        metadata: json("metadata")?,
        runs: Vec::new(),
        created_at,
        updated_at: updated_at.unwrap_or(created_at),
        session_id,
    })
}

/// A run from a row selected as `run_id, run_data`.
fn decode_run(row: &PgRow) -> Result<RunOutput, DbError> {
    let run_id: String = column(row, "run_id", &|| "agno_runs".to_owned())?;
    json_column(row, "run_data", &|| format!("agno_runs `{run_id}`"))
}

/// An evaluation from a row selected with [`EVAL_COLUMNS`].
fn decode_eval_run(row: &PgRow) -> Result<EvalRun, DbError> {
    let run_id: String = column(row, "run_id", &|| "agno_eval_runs".to_owned())?;
    let what = || format!("agno_eval_runs `{run_id}`");
    let created_at: i64 = column(row, "created_at", &what)?;
    let updated_at: Option<i64> = column(row, "updated_at", &what)?;
    Ok(EvalRun {
        eval_type: column(row, "eval_type", &what)?,
        eval_data: column(row, "eval_data", &what)?,
        eval_input: column(row, "eval_input", &what)?,
        name: column(row, "name", &what)?,
        agent_id: column(row, "agent_id", &what)?,
        team_id: column(row, "team_id", &what)?,
        workflow_id: column(row, "workflow_id", &what)?,
        model_id: column(row, "model_id", &what)?,
        model_provider: column(row, "model_provider", &what)?,
        evaluated_component_name: column(row, "evaluated_component_name", &what)?,
        updated_at: updated_at.unwrap_or(created_at),
        created_at,
        run_id,
    })
}

/// Binds `$1`..`$7` of [`RUN_FILTER`].
fn bind_run_filter<'q>(
    sql: &'q str,
    session_id: &'q str,
    query: &'q RunQuery,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(session_id)
        .bind(query.created_after)
        .bind(query.created_before)
        .bind(query.status.map(|s| s.as_str()))
        .bind(query.top_level)
        .bind(query.runner_id.as_deref())
        .bind(query.answered_only)
}

/// Binds the whole of a runs read: the filters, `$8` limit, `$9` offset and `$10` `last`.
fn bind_runs<'q>(
    sql: &'q Statements,
    with_session: bool,
    session_id: &'q str,
    query: &'q RunQuery,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let text = match (with_session, query.last.is_some()) {
        (false, false) => &sql.runs,
        (false, true) => &sql.runs_last,
        (true, false) => &sql.session_with_runs,
        (true, true) => &sql.session_with_last_runs,
    };
    let bound = bind_run_filter(text, session_id, query).bind(query.limit.map(sql_count)).bind(sql_count(query.offset));
    match query.last {
        Some(last) => bound.bind(sql_count(last)),
        None => bound,
    }
}

impl Db for PostgresDb {
    fn id(&self) -> &str {
        &self.id
    }

    fn get_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, Option<Session>> {
        Box::pin(async move {
            let pool = self.pool().await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(self.sql.session.as_str()))
                .bind(session_id)
                .fetch_optional(pool)
                .await
                .map_err(failed("reading a session"))?;
            row.as_ref().map(decode_session).transpose()
        })
    }

    fn get_session_with_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, Option<Session>> {
        // One statement, so the session and its runs come from one snapshot.
        Box::pin(async move {
            let pool = self.pool().await?;
            let row = bind_runs(&self.sql, true, session_id, query)
                .fetch_optional(pool)
                .await
                .map_err(failed("reading a session and its runs"))?;
            let Some(row) = row else { return Ok(None) };
            let mut session = decode_session(&row)?;
            session.runs = json_column(&row, "runs", &|| format!("agno_runs of session `{session_id}`"))?;
            Ok(Some(session))
        })
    }

    fn list_sessions<'a>(&'a self, query: &'a SessionQuery) -> DbFuture<'a, SessionPage> {
        Box::pin(async move {
            let pool = self.pool().await?;
            let session_type = query.session_type.map(|t| t.as_str());
            let filters = |sql: &'a str| {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(query.user_id.as_deref())
                    .bind(query.agent_id.as_deref())
                    .bind(query.team_id.as_deref())
                    .bind(query.workflow_id.as_deref())
                    .bind(query.component_id.as_deref())
                    .bind(session_type)
            };
            let which = match (query.sort_by, query.ascending) {
                (SessionSort::UpdatedAt, false) => 0,
                (SessionSort::UpdatedAt, true) => 1,
                (SessionSort::CreatedAt, false) => 2,
                (SessionSort::CreatedAt, true) => 3,
            };
            // The page and the total from one snapshot.
            let mut tx = pool.begin().await.map_err(failed("listing sessions"))?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await
                .map_err(failed("listing sessions"))?;
            let total: i64 = filters(&self.sql.count_sessions)
                .fetch_one(&mut *tx)
                .await
                .and_then(|row| row.try_get(0))
                .map_err(failed("counting sessions"))?;
            let rows = filters(&self.sql.list_sessions[which])
                .bind(query.limit.map(sql_count))
                .bind(sql_count(query.offset))
                .fetch_all(&mut *tx)
                .await
                .map_err(failed("listing sessions"))?;
            tx.commit().await.map_err(failed("listing sessions"))?;
            let sessions = rows.iter().map(decode_session).collect::<Result<Vec<_>, _>>()?;
            Ok(SessionPage { sessions, total: count(total, "agno_sessions")? })
        })
    }

    fn delete_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, bool> {
        Box::pin(async move {
            let pool = self.pool().await?;
            let mut tx = pool.begin().await.map_err(failed("deleting a session"))?;
            // Runs are deleted explicitly too, in case agno made the table without the cascade.
            sqlx::query(sqlx::AssertSqlSafe(self.sql.delete_runs.as_str()))
                .bind(session_id)
                .execute(&mut *tx)
                .await
                .map_err(failed("deleting a session's runs"))?;
            let deleted = sqlx::query(sqlx::AssertSqlSafe(self.sql.delete_session.as_str()))
                .bind(session_id)
                .execute(&mut *tx)
                .await
                .map_err(failed("deleting a session"))?;
            tx.commit().await.map_err(failed("deleting a session"))?;
            Ok(deleted.rows_affected() > 0)
        })
    }

    fn get_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<RunOutput>> {
        Box::pin(async move {
            let pool = self.pool().await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(self.sql.run.as_str()))
                .bind(run_id)
                .fetch_optional(pool)
                .await
                .map_err(failed("reading a run"))?;
            row.as_ref().map(decode_run).transpose()
        })
    }

    fn get_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, Vec<RunOutput>> {
        Box::pin(async move {
            let pool = self.pool().await?;
            let rows = bind_runs(&self.sql, false, session_id, query)
                .fetch_all(pool)
                .await
                .map_err(failed("reading a session's runs"))?;
            rows.iter().map(decode_run).collect()
        })
    }

    fn count_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, usize> {
        Box::pin(async move {
            let pool = self.pool().await?;
            let n: i64 = bind_run_filter(&self.sql.count_runs, session_id, query)
                .fetch_one(pool)
                .await
                .and_then(|row| row.try_get(0))
                .map_err(failed("counting a session's runs"))?;
            count(n, "agno_runs")
        })
    }

    fn save_runs<'a>(&'a self, session: &'a Session, runs: &'a [&'a RunOutput]) -> DbFuture<'a, ()> {
        Box::pin(async move { self.save(session, runs, None, None).await })
    }

    fn save_runs_with_json<'a>(
        &'a self,
        session: &'a Session,
        runs: &'a [&'a RunOutput],
        json: &'a SavedJson<'a>,
    ) -> DbFuture<'a, ()> {
        Box::pin(async move { self.save(session, runs, Some(json), None).await })
    }

    fn task_backend(&self) -> Option<Arc<dyn crate::tasks::TaskBackend>> {
        match self.tasks() {
            Ok(tasks) => Some(tasks),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the PostgreSQL task backend; tasks stay in this process");
                None
            }
        }
    }

    fn hook_queue(&self) -> Option<Arc<dyn HookQueue>> {
        self.queue.clone()
    }

    fn save_runs_with_hooks<'a>(
        &'a self,
        session: &'a Session,
        runs: &'a [&'a RunOutput],
        job: &'a HookJob,
    ) -> DbFuture<'a, ()> {
        Box::pin(async move {
            if self.queue.is_none() {
                return Err(DbError::Config(format!("{}: durable hooks are off", self.id)));
            }
            self.save(session, runs, None, Some(job)).await
        })
    }

    fn save_eval_run<'a>(&'a self, eval_run: &'a EvalRun) -> DbFuture<'a, ()> {
        Box::pin(async move {
            let pool = self.pool().await?;
            sqlx::query(sqlx::AssertSqlSafe(self.sql.upsert_eval_run.as_str()))
                .bind(&eval_run.run_id)
                .bind(&eval_run.eval_type)
                .bind(&eval_run.eval_data)
                .bind(eval_run.eval_input.as_ref())
                .bind(eval_run.name.as_deref())
                .bind(eval_run.agent_id.as_deref())
                .bind(eval_run.team_id.as_deref())
                .bind(eval_run.workflow_id.as_deref())
                .bind(eval_run.model_id.as_deref())
                .bind(eval_run.model_provider.as_deref())
                .bind(eval_run.evaluated_component_name.as_deref())
                .bind(eval_run.created_at)
                .bind(eval_run.updated_at)
                .execute(pool)
                .await
                .map_err(failed("saving an evaluation"))?;
            Ok(())
        })
    }

    fn get_eval_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<EvalRun>> {
        Box::pin(async move {
            let pool = self.pool().await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(self.sql.eval_run.as_str()))
                .bind(run_id)
                .fetch_optional(pool)
                .await
                .map_err(failed("reading an evaluation"))?;
            row.as_ref().map(decode_eval_run).transpose()
        })
    }

    fn get_eval_runs<'a>(&'a self, query: &'a EvalRunQuery) -> DbFuture<'a, Vec<EvalRun>> {
        Box::pin(async move {
            let pool = self.pool().await?;
            let rows = sqlx::query(sqlx::AssertSqlSafe(self.sql.eval_runs.as_str()))
                .bind(query.agent_id.as_deref())
                .bind(query.eval_type.as_deref())
                .bind(query.limit.map(sql_count))
                .fetch_all(pool)
                .await
                .map_err(failed("listing evaluations"))?;
            rows.iter().map(decode_eval_run).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::contract::{self, run, session};
    use crate::db::{InMemoryDb, RunQuery};
    use crate::run::RunStatus;

    /// A database in a schema of its own (so tests do not see each other's rows), or `None`
    /// when there is no PostgreSQL (the reason is printed).
    async fn open(test: &str) -> Option<PostgresDb> {
        let url = test_server::database_url_or_skip(test)?;
        let schema = format!("t_{}_{}", test, uuid::Uuid::new_v4().simple());
        let schema: String = schema.chars().take(63).collect();
        let db = PostgresDb::with_schema(&url, &schema).unwrap();
        db.connect().await.unwrap();
        Some(db)
    }

    #[tokio::test]
    async fn postgres_db_keeps_the_contract() {
        let Some(db) = open("contract").await else { return };
        contract::db_contract(&db).await;
    }

    #[tokio::test]
    async fn postgres_db_answers_as_the_in_memory_db() {
        let Some(db) = open("same_answers").await else { return };
        contract::same_answers(&InMemoryDb::new(), &db).await;
    }

    #[tokio::test]
    async fn migrations_are_applied_once_by_replicas_starting_together() {
        let Some(first) = open("migrations").await else { return };
        let url = test_server::database_url_or_skip("migrations").unwrap();
        let schema = first.connection.schema().trim_matches('"').to_owned();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let db = PostgresDb::with_schema(&url, &schema).unwrap();
                tokio::spawn(async move { db.connect().await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let versions: Vec<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT version FROM {}.agno_rs_migrations ORDER BY version",
            first.connection.schema()
        )))
        .fetch_all(first.pool().await.unwrap())
        .await
        .unwrap();
        assert_eq!(versions, MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writers_of_one_session_keep_run_indexes_contiguous() {
        let Some(db) = open("concurrent").await else { return };
        let db = std::sync::Arc::new(db);
        let mut tasks = Vec::new();
        for i in 0..64 {
            let db = std::sync::Arc::clone(&db);
            tasks.push(tokio::spawn(async move {
                let run = run(&format!("r{i:02}"), "s", RunStatus::Completed);
                db.save_run(&session("s", None, i), &run).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let indexes: Vec<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT run_index FROM {}.agno_runs ORDER BY run_index",
            db.connection.schema()
        )))
        .fetch_all(db.pool().await.unwrap())
        .await
        .unwrap();
        assert_eq!(indexes, (0..64).collect::<Vec<i32>>());
        assert_eq!(db.count_runs("s", &RunQuery::all()).await.unwrap(), 64);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn saves_committed_together_answer_each_for_itself() {
        let Some(db) = open("batched").await else { return };
        db.save_run(&session("owned", Some("alice"), 1), &run("first", "owned", RunStatus::Completed)).await.unwrap();
        let db = std::sync::Arc::new(db);
        // 64 saves at once (they go in batches): one PostgreSQL refuses (a NUL in its text), one
        // the ownership guard refuses; each fails alone, with its own reason.
        let saves: Vec<_> = (0..64)
            .map(|i| {
                let db = std::sync::Arc::clone(&db);
                tokio::spawn(async move {
                    let (session_id, user) = match i {
                        20 => ("bad\0session".to_owned(), None),
                        40 => ("owned".to_owned(), Some("mallory")),
                        _ => (format!("s{i}"), None),
                    };
                    let result = db
                        .save_run(
                            &session(&session_id, user, i),
                            &run(&format!("r{i}"), &session_id, RunStatus::Completed),
                        )
                        .await;
                    (i, result)
                })
            })
            .collect();
        for save in saves {
            let (i, result) = save.await.unwrap();
            match i {
                20 => assert!(matches!(result, Err(DbError::Postgres { .. })), "{result:?}"),
                40 => assert!(matches!(result, Err(DbError::Ownership { .. })), "{result:?}"),
                _ => assert!(result.is_ok(), "save {i}: {result:?}"),
            }
        }
        for i in (0..64).filter(|i| ![20, 40].contains(i)) {
            assert!(db.get_run(&format!("r{i}")).await.unwrap().is_some(), "r{i} stored");
        }
        assert!(db.get_run("r20").await.unwrap().is_none() && db.get_run("r40").await.unwrap().is_none());
        assert_eq!(db.count_runs("owned", &RunQuery::all()).await.unwrap(), 1, "mallory wrote nothing");
    }

    #[tokio::test]
    async fn a_bad_url_or_schema_is_a_clear_error_without_the_password() {
        let e = PostgresDb::new("mysql://user:s3cret@host/db").unwrap_err().to_string();
        assert!(e.contains("must start with postgresql://") && !e.contains("s3cret"), "{e}");
        let e = PostgresDb::new("postgresql://user:s3cret@host:notaport/db").unwrap_err().to_string();
        assert!(e.contains("not a PostgreSQL URL") && !e.contains("s3cret"), "{e}");
        let e = PostgresDb::with_schema("postgresql://u@h/d", "ai; DROP TABLE x").unwrap_err().to_string();
        assert!(e.contains("not a schema name"), "{e}");
        let db = PostgresDb::new("postgresql://agno:s3cret@127.0.0.1:1/agno")
            .unwrap()
            .acquire_timeout(Duration::from_millis(300));
        assert_eq!(db.describe(), "postgres:agno@127.0.0.1:1/agno");
        let e = db.get_session("s").await.unwrap_err().to_string();
        assert!(e.contains("connecting to PostgreSQL") && !e.contains("s3cret"), "{e}");
    }
}
