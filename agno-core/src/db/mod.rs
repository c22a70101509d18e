//! Storage: the [`Db`] trait, [`InMemoryDb`], [`SqliteDb`] (agno's `agno_sessions`,
//! `agno_runs` and `agno_eval_runs` tables), `PostgresDb` (the same tables on PostgreSQL, with
//! the `postgres` feature), and [`default_db`], which picks one of the last two.
//!
//! [`Db`] is asynchronous: every method returns a boxed future ([`DbFuture`]), so a backend on an
//! async driver (sqlx) implements it directly, and a blocking one does its work on threads of its
//! own: [`SqliteDb`] hands writes to one writer thread that commits whatever has queued up in one
//! transaction (group commit), and reads to a few reader threads. No call blocks the caller's
//! thread, so a tokio worker keeps serving requests while the disk works.
//!
//! Every run is saved at its end, `ERROR` runs included, in one call to [`Db::save_runs`] that
//! writes the session row and the run rows together; the call returns once they are committed.
//!
//! A run reads only what it needs: the session row and, with chat history on, its last few runs
//! ([`Db::get_session_with_runs`] with [`RunQuery::history`]), through the
//! `(session_id, run_index)` index, so a run's cost does not grow with its session.

#[cfg(test)]
pub(crate) mod contract;
mod default;
pub(crate) mod error;
mod hook_queue;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod saved_json;
mod sqlite;
pub(crate) mod write_rows;

use std::sync::Arc;

use crate::tasks::TaskBackend;

pub use default::default_db;
pub(crate) use error::ready;
pub use error::{DbError, DbFuture};
pub use hook_queue::{HookOutcome, HookQueue, JobFailure, JobHandler, RecordedOutcome};
pub use memory::InMemoryDb;
#[cfg(feature = "postgres")]
pub use postgres::{DEFAULT_SCHEMA, PostgresDb, PostgresTaskBackend, QueueTiming};
pub use saved_json::SavedJson;
pub use sqlite::SqliteDb;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::run::{RunOutput, RunStatus};
use crate::session::{Session, SessionType};

/// One stored evaluation: a row of agno's `agno_eval_runs` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRun {
    /// The evaluation's own id (a UUID).
    pub run_id: String,
    /// What kind of evaluation (`"agent_as_judge"`).
    pub eval_type: String,
    /// The evaluation's name, if it was given one.
    #[serde(default)]
    pub name: Option<String>,
    /// The agent whose run was evaluated.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The team whose run was evaluated (unused by agents).
    #[serde(default)]
    pub team_id: Option<String>,
    /// The workflow whose run was evaluated (unused by agents).
    #[serde(default)]
    pub workflow_id: Option<String>,
    /// The judge model's id.
    #[serde(default)]
    pub model_id: Option<String>,
    /// The judge model's provider.
    #[serde(default)]
    pub model_provider: Option<String>,
    /// The evaluated agent's name.
    #[serde(default)]
    pub evaluated_component_name: Option<String>,
    /// The result (for `agent_as_judge`: input, output, passed, score, reason, criteria, ...).
    pub eval_data: Value,
    /// The evaluation's settings.
    #[serde(default)]
    pub eval_input: Option<Value>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// Which evaluations to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvalRunQuery {
    /// Only this agent's evaluations.
    pub agent_id: Option<String>,
    /// Only evaluations of this type.
    pub eval_type: Option<String>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

/// Which sessions to list, in which order, and which page of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionQuery {
    /// Only this user's sessions.
    pub user_id: Option<String>,
    /// Only this agent's sessions.
    pub agent_id: Option<String>,
    /// Only this team's sessions.
    pub team_id: Option<String>,
    /// Only this workflow's sessions.
    pub workflow_id: Option<String>,
    /// Only the sessions of this agent, team or workflow (any of the three ids).
    pub component_id: Option<String>,
    /// Only sessions of this type.
    pub session_type: Option<SessionType>,
    /// The order: by `updated_at` (the default) or `created_at`, ties by `session_id`.
    pub sort_by: SessionSort,
    /// Oldest first instead of newest first.
    pub ascending: bool,
    /// Skip this many (for pages).
    pub offset: usize,
    /// At most this many.
    pub limit: Option<usize>,
}

/// The key sessions are listed by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SessionSort {
    /// Last written (`updated_at`, else `created_at`).
    #[default]
    UpdatedAt,
    /// Created.
    CreatedAt,
}

/// A page of sessions (without their runs) and how many matched in all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionPage {
    /// The sessions of the page, in the query's order.
    pub sessions: Vec<Session>,
    /// How many sessions match the query's filters, over all pages.
    pub total: usize,
}

/// Which runs of a session to read. They come oldest first (by `run_index`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunQuery {
    /// Only runs created at or after this Unix second.
    pub created_after: Option<i64>,
    /// Only runs created at or before this Unix second.
    pub created_before: Option<i64>,
    /// Only runs with this status.
    pub status: Option<RunStatus>,
    /// Only runs without a parent (no team members or workflow steps).
    pub top_level: bool,
    /// Only runs of this agent, team or workflow.
    pub runner_id: Option<String>,
    /// Leave out runs that did not answer: `ERROR`, `CANCELLED` and `PAUSED`.
    pub answered_only: bool,
    /// Only the latest this many of the matching runs (still returned oldest first).
    pub last: Option<usize>,
    /// Skip this many of the matching runs, oldest first (for pages; counted after `last`).
    pub offset: usize,
    /// At most this many.
    pub limit: Option<usize>,
}

impl RunQuery {
    /// Every run of the session.
    pub fn all() -> Self {
        Self::default()
    }

    /// The chat history a run of `runner_id` sees: the last `n` top-level runs of that runner
    /// that answered.
    pub fn history(runner_id: &str, n: usize) -> Self {
        Self {
            top_level: true,
            runner_id: Some(runner_id.to_owned()),
            answered_only: true,
            last: Some(n),
            ..Self::default()
        }
    }

    /// Whether `run` is one this query selects (ignoring `last`, `offset` and `limit`).
    pub fn matches(&self, run: &RunOutput) -> bool {
        let (_, runner_id) = run.runner();
        self.created_after.is_none_or(|t| run.created_at >= t)
            && self.created_before.is_none_or(|t| run.created_at <= t)
            && self.status.is_none_or(|s| run.status == s)
            && (!self.top_level || run.parent_run_id.is_none())
            && self.runner_id.as_deref().is_none_or(|id| id == runner_id)
            && (!self.answered_only
                || !matches!(run.status, RunStatus::Error | RunStatus::Cancelled | RunStatus::Paused))
    }
}

/// Where sessions and runs are kept. Implementations are shared between runs and threads, and no
/// method blocks the calling thread: the work happens when the returned future is polled, or on
/// the backend's own threads.
pub trait Db: Send + Sync + 'static {
    /// A stable id for this database (shown by AgentOS).
    fn id(&self) -> &str;

    /// A session's row, without its runs (`runs` is empty), or `None`.
    fn get_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, Option<Session>>;

    /// A session's row with the runs `query` selects in `runs`, read together (one snapshot
    /// where the backend has them).
    fn get_session_with_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, Option<Session>> {
        Box::pin(async move {
            let Some(mut session) = self.get_session(session_id).await? else { return Ok(None) };
            session.runs = self.get_runs(session_id, query).await?;
            Ok(Some(session))
        })
    }

    /// A page of the sessions matching the query, without their runs, and their total.
    fn list_sessions<'a>(&'a self, query: &'a SessionQuery) -> DbFuture<'a, SessionPage>;

    /// Deletes a session and its runs; `false` if it did not exist.
    fn delete_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, bool>;

    /// One run by id.
    fn get_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<RunOutput>>;

    /// The runs of a session that `query` selects, oldest first.
    fn get_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, Vec<RunOutput>>;

    /// How many runs of a session `query` selects (ignoring its `last`, `offset` and `limit`).
    fn count_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, usize>;

    /// Saves runs of one session in order (a team's member runs, then the team run), with the
    /// session row, all or none: the session row is inserted or updated (its `runs` are
    /// ignored), each run row inserted at the end of the session or replaced in place. A session
    /// owned by another user is not touched: [`DbError::Ownership`]. Returns once committed.
    fn save_runs<'a>(&'a self, session: &'a Session, runs: &'a [&'a RunOutput]) -> DbFuture<'a, ()>;

    /// Saves one run and its session: [`Db::save_runs`] with one run.
    fn save_run<'a>(&'a self, session: &'a Session, run: &'a RunOutput) -> DbFuture<'a, ()> {
        Box::pin(async move { self.save_runs(session, &[run]).await })
    }

    /// [`Db::save_runs`] when the caller has serialised JSON already: the last run (which a
    /// server answering with the run needs anyway) and, if given, the session's `session_data`
    /// and runner columns, which `session` then leaves out. A backend that stores JSON writes
    /// the text instead of serialising again. By default the columns are parsed back into the
    /// session ([`SavedJson::session`]) and [`Db::save_runs`] saves it; an override must store
    /// them too, or save `json.session(session)?` likewise: `session` alone lacks them.
    fn save_runs_with_json<'a>(
        &'a self,
        session: &'a Session,
        runs: &'a [&'a RunOutput],
        json: &'a SavedJson<'a>,
    ) -> DbFuture<'a, ()> {
        Box::pin(async move {
            let session = json.session(session)?;
            self.save_runs(&session, runs).await
        })
    }

    /// Saves an evaluation (inserted, or replaced if its `run_id` is stored already).
    fn save_eval_run<'a>(&'a self, eval_run: &'a EvalRun) -> DbFuture<'a, ()>;

    /// Where the `tasks` of runners storing in this database are kept, unless they are given a
    /// backend: `None` (the default: [`default_backend`](crate::tasks::default_backend), in this
    /// process); PostgreSQL keeps them in the database, shared by every replica.
    fn task_backend(&self) -> Option<Arc<dyn TaskBackend>> {
        None
    }

    /// The durable queue of background hooks this database holds, if it has one
    /// (`PostgresDb`); `None` (the default) keeps background hooks in the process.
    fn hook_queue(&self) -> Option<Arc<dyn HookQueue>> {
        None
    }

    /// [`Db::save_runs`] and a job of the run's background hooks, in one transaction: the hooks
    /// are queued if and only if the runs are stored. Only a database with a
    /// [`Db::hook_queue`] can; the default refuses.
    fn save_runs_with_hooks<'a>(
        &'a self,
        session: &'a Session,
        runs: &'a [&'a RunOutput],
        job: &'a crate::hooks::job::HookJob,
    ) -> DbFuture<'a, ()> {
        let _ = (session, runs, job);
        Box::pin(
            async move { Err(DbError::Config(format!("{} has no durable queue for background hooks", self.id()))) },
        )
    }

    /// One evaluation by its id.
    fn get_eval_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<EvalRun>>;

    /// Evaluations matching the query, newest first.
    fn get_eval_runs<'a>(&'a self, query: &'a EvalRunQuery) -> DbFuture<'a, Vec<EvalRun>>;
}

impl<D: Db + ?Sized> Db for Arc<D> {
    fn id(&self) -> &str {
        (**self).id()
    }
    fn get_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, Option<Session>> {
        (**self).get_session(session_id)
    }
    fn get_session_with_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, Option<Session>> {
        (**self).get_session_with_runs(session_id, query)
    }
    fn list_sessions<'a>(&'a self, query: &'a SessionQuery) -> DbFuture<'a, SessionPage> {
        (**self).list_sessions(query)
    }
    fn delete_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, bool> {
        (**self).delete_session(session_id)
    }
    fn get_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<RunOutput>> {
        (**self).get_run(run_id)
    }
    fn get_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, Vec<RunOutput>> {
        (**self).get_runs(session_id, query)
    }
    fn count_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, usize> {
        (**self).count_runs(session_id, query)
    }
    fn save_runs<'a>(&'a self, session: &'a Session, runs: &'a [&'a RunOutput]) -> DbFuture<'a, ()> {
        (**self).save_runs(session, runs)
    }
    fn save_run<'a>(&'a self, session: &'a Session, run: &'a RunOutput) -> DbFuture<'a, ()> {
        (**self).save_run(session, run)
    }
    fn save_runs_with_json<'a>(
        &'a self,
        session: &'a Session,
        runs: &'a [&'a RunOutput],
        json: &'a SavedJson<'a>,
    ) -> DbFuture<'a, ()> {
        (**self).save_runs_with_json(session, runs, json)
    }
    fn save_eval_run<'a>(&'a self, eval_run: &'a EvalRun) -> DbFuture<'a, ()> {
        (**self).save_eval_run(eval_run)
    }
    fn get_eval_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<EvalRun>> {
        (**self).get_eval_run(run_id)
    }
    fn get_eval_runs<'a>(&'a self, query: &'a EvalRunQuery) -> DbFuture<'a, Vec<EvalRun>> {
        (**self).get_eval_runs(query)
    }
    fn task_backend(&self) -> Option<Arc<dyn TaskBackend>> {
        (**self).task_backend()
    }
    fn hook_queue(&self) -> Option<Arc<dyn HookQueue>> {
        (**self).hook_queue()
    }
    fn save_runs_with_hooks<'a>(
        &'a self,
        session: &'a Session,
        runs: &'a [&'a RunOutput],
        job: &'a crate::hooks::job::HookJob,
    ) -> DbFuture<'a, ()> {
        (**self).save_runs_with_hooks(session, runs, job)
    }
}

/// Whether a session owned by `owner` may be written for `user`: an unowned session or an
/// anonymous writer always may, otherwise the users must match.
pub(crate) fn may_write(owner: Option<&str>, user: Option<&str>) -> bool {
    match (owner, user) {
        (Some(owner), Some(user)) => owner == user,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::contract::{self, run};
    use super::*;

    #[test]
    fn may_write_follows_the_ownership_rule() {
        assert!(may_write(None, None));
        assert!(may_write(None, Some("u1")), "an unowned session is anyone's");
        assert!(may_write(Some("u1"), None), "an anonymous writer may write");
        assert!(may_write(Some("u1"), Some("u1")));
        assert!(!may_write(Some("u1"), Some("u2")));
    }

    #[test]
    fn run_query_matches_each_filter() {
        let base = run("r", "s", RunStatus::Completed);
        assert!(RunQuery::all().matches(&base));
        let at = |t| RunOutput { created_at: t, ..base.clone() };
        let after = RunQuery { created_after: Some(10), ..RunQuery::all() };
        assert!(after.matches(&at(10)) && after.matches(&at(11)) && !after.matches(&at(9)));
        let before = RunQuery { created_before: Some(10), ..RunQuery::all() };
        assert!(before.matches(&at(10)) && before.matches(&at(9)) && !before.matches(&at(11)));
        let completed = RunQuery { status: Some(RunStatus::Completed), ..RunQuery::all() };
        assert!(completed.matches(&base) && !completed.matches(&run("r", "s", RunStatus::Running)));
        let top = RunQuery { top_level: true, ..RunQuery::all() };
        assert!(top.matches(&base) && !top.matches(&RunOutput { parent_run_id: Some("p".into()), ..base.clone() }));
        let team_run = RunOutput { team_id: Some("t".into()), ..base.clone() };
        let workflow_run = RunOutput { workflow_id: Some("w".into()), ..base.clone() };
        let runner = |id: &str| RunQuery { runner_id: Some(id.into()), ..RunQuery::all() };
        assert!(runner("agent-1").matches(&base));
        assert!(runner("t").matches(&team_run) && !runner("agent-1").matches(&team_run));
        assert!(runner("w").matches(&workflow_run) && !runner("agent-1").matches(&workflow_run));
        let both = RunOutput { workflow_id: Some("w".into()), ..team_run.clone() };
        assert!(runner("t").matches(&both) && !runner("w").matches(&both), "the team id wins");
        let answered = RunQuery { answered_only: true, ..RunQuery::all() };
        for (status, kept) in [
            (RunStatus::Pending, true),
            (RunStatus::Running, true),
            (RunStatus::Completed, true),
            (RunStatus::Paused, false),
            (RunStatus::Cancelled, false),
            (RunStatus::Error, false),
        ] {
            assert_eq!(answered.matches(&run("r", "s", status)), kept, "{status}");
        }
        // The window does not take part in matching.
        assert!(RunQuery { last: Some(0), offset: 5, limit: Some(0), ..RunQuery::all() }.matches(&base));
    }

    #[test]
    fn history_is_the_last_answered_top_level_runs_of_a_runner() {
        assert_eq!(
            RunQuery::history("a", 4),
            RunQuery {
                top_level: true,
                runner_id: Some("a".into()),
                answered_only: true,
                last: Some(4),
                ..RunQuery::default()
            }
        );
    }

    /// A backend that implements only the required methods, so the suite checks the trait's
    /// default `get_session_with_runs` and `save_run`.
    struct RequiredOnly(InMemoryDb);

    impl Db for RequiredOnly {
        fn id(&self) -> &str {
            "required-only"
        }
        fn get_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, Option<Session>> {
            self.0.get_session(session_id)
        }
        fn list_sessions<'a>(&'a self, query: &'a SessionQuery) -> DbFuture<'a, SessionPage> {
            self.0.list_sessions(query)
        }
        fn delete_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, bool> {
            self.0.delete_session(session_id)
        }
        fn get_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<RunOutput>> {
            self.0.get_run(run_id)
        }
        fn get_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, Vec<RunOutput>> {
            self.0.get_runs(session_id, query)
        }
        fn count_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, usize> {
            self.0.count_runs(session_id, query)
        }
        fn save_runs<'a>(&'a self, session: &'a Session, runs: &'a [&'a RunOutput]) -> DbFuture<'a, ()> {
            self.0.save_runs(session, runs)
        }
        fn save_eval_run<'a>(&'a self, eval_run: &'a EvalRun) -> DbFuture<'a, ()> {
            self.0.save_eval_run(eval_run)
        }
        fn get_eval_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<EvalRun>> {
            self.0.get_eval_run(run_id)
        }
        fn get_eval_runs<'a>(&'a self, query: &'a EvalRunQuery) -> DbFuture<'a, Vec<EvalRun>> {
            self.0.get_eval_runs(query)
        }
    }

    #[tokio::test]
    async fn the_default_methods_keep_the_contract() {
        contract::db_contract(&RequiredOnly(InMemoryDb::new())).await;
    }

    #[tokio::test]
    async fn a_shared_db_keeps_the_contract() {
        // Through `Arc<dyn Db>`, as agents hold their storage.
        let db: Arc<dyn Db> = Arc::new(InMemoryDb::new());
        contract::db_contract(&db).await;
        let dir = tempfile::tempdir().unwrap();
        let db: Arc<dyn Db> = Arc::new(SqliteDb::new(dir.path().join("arc.db")).unwrap());
        contract::db_contract(&db).await;
    }
}
