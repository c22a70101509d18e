//! The session row a run stores holds the same JSON columns whether the run's caller takes its
//! JSON (then the columns go to the database as text, `SavedJson`) or not, for every runner and
//! backend, and a backend written against the documented contract of
//! `Db::save_runs_with_json` keeps them too.

mod common;

use std::sync::Arc;

use agno::Runner;
use agno::db::{Db, DbFuture, InMemoryDb, SavedJson, SqliteDb};
use agno::models::OfflineModel;
use agno::prelude::*;
use agno::run::RunJson;
use common::forward_db_reads;
use serde_json::{Map, json};

/// An agent, a team and a workflow storing in `db`.
fn runners(db: &Arc<dyn Db>) -> [(&'static str, Runner); 3] {
    let agent = Agent::builder().id("a1").name("A").model(OfflineModel::new()).db(Arc::clone(db)).build().unwrap();
    let member = Agent::builder().id("m1").model(OfflineModel::new()).build().unwrap();
    let team = Team::builder().id("t1").name("T").member(member.clone()).db(Arc::clone(db)).build().unwrap();
    let workflow =
        Workflow::builder().id("w1").name("W").step(Step::agent("s", member)).db(Arc::clone(db)).build().unwrap();
    [("agent", Runner::Agent(agent)), ("team", Runner::Team(team)), ("workflow", Runner::Workflow(workflow))]
}

/// Runs each runner in a session of its own with and without a JSON slot, and checks the stored
/// row: `session_data`, exactly one runner column (its own), the same with and without the slot,
/// and the state carried to the next run.
async fn same_columns_with_and_without_the_runs_json(db: Arc<dyn Db>, tag: &str) {
    let mut state = Map::new();
    state.insert("n".into(), json!(1));
    for (kind, runner) in runners(&db) {
        let mut columns = Vec::new();
        for with_json in [false, true] {
            let session_id = format!("{tag}-{kind}-{with_json}");
            let slot = RunJson::new();
            let mut run = runner.run("hi").session_id(&session_id).session_state(state.clone());
            if with_json {
                run = run.json_into(slot.clone());
            }
            run.await.unwrap();
            assert_eq!(slot.take().is_some(), with_json, "{session_id}: the slot is filled only when asked for");
            let stored = db.get_session(&session_id).await.unwrap().unwrap();
            assert_eq!(stored.session_data, Some(json!({"session_state": {"n": 1}})), "{session_id}");
            let (own, others) = match kind {
                "agent" => (stored.agent_data, [stored.team_data, stored.workflow_data]),
                "team" => (stored.team_data, [stored.agent_data, stored.workflow_data]),
                _ => (stored.workflow_data, [stored.agent_data, stored.team_data]),
            };
            assert!(own.is_some(), "{session_id}: its runner's column");
            assert_eq!(others, [None, None], "{session_id}: no other runner's column");
            columns.push(own);
            let next = runner.run("again").session_id(&session_id).await.unwrap();
            assert_eq!(next.session_state, Some(state.clone()), "{session_id}: the state carried over");
        }
        assert_eq!(columns[0], columns[1], "{tag}-{kind}: the same column with and without the JSON path");
    }
}

#[tokio::test]
async fn every_backend_stores_the_same_columns_with_and_without_the_runs_json() {
    let dir = tempfile::tempdir().unwrap();
    same_columns_with_and_without_the_runs_json(Arc::new(InMemoryDb::new()), "memory").await;
    same_columns_with_and_without_the_runs_json(Arc::new(SqliteDb::new(dir.path().join("agno.db")).unwrap()), "sqlite")
        .await;
    same_columns_with_and_without_the_runs_json(Arc::new(Wrapper(InMemoryDb::new())), "wrapper").await;
}

/// A user's backend that overrides `save_runs_with_json` as its documentation says: it saves
/// `json.session(session)?`, the session with the columns given as text.
struct Wrapper(InMemoryDb);

impl Db for Wrapper {
    forward_db_reads!(0);
    fn id(&self) -> &str {
        "wrapper"
    }
    fn save_runs<'a>(&'a self, session: &'a Session, runs: &'a [&'a RunOutput]) -> DbFuture<'a, ()> {
        self.0.save_runs(session, runs)
    }
    fn save_runs_with_json<'a>(
        &'a self,
        session: &'a Session,
        runs: &'a [&'a RunOutput],
        json: &'a SavedJson<'a>,
    ) -> DbFuture<'a, ()> {
        Box::pin(async move {
            let session = json.session(session)?;
            self.0.save_runs(&session, runs).await
        })
    }
}
