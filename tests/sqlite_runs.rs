//! Runs stored in a real SQLite file: round trip through the pipeline, and 200 concurrent runs
//! through two connections that lose nothing.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use agno::db::{Db, SessionQuery, SqliteDb};
use agno::prelude::*;

#[tokio::test]
async fn a_run_round_trips_through_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tmp").join("agent.db");
    let agent = Agent::builder()
        .name("Store Agent")
        .instructions("Be brief.")
        .db(SqliteDb::new(&path).unwrap())
        .store_events(true)
        .build()
        .unwrap();
    let first = agent.run("hello").session_id("s1").user_id("u1").await.unwrap();
    let mut stream = agent.run("again").session_id("s1").user_id("u1").stream();
    while let Some(event) = stream.next().await {
        event.unwrap();
    }
    let second = stream.into_output().unwrap();

    // A separate connection sees exactly what the runs returned.
    let reader = SqliteDb::new(&path).unwrap();
    let session =
        reader.get_session_with_runs("s1", &agno::db::RunQuery::all()).await.unwrap().expect("session stored");
    assert_eq!(session.user_id.as_deref(), Some("u1"));
    assert_eq!(session.agent_id.as_deref(), Some("store-agent"));
    assert_eq!(session.agent_data.as_ref().unwrap()["model"]["id"], "offline");
    assert_eq!(session.runs, vec![first.clone(), second.clone()]);
    assert!(second.events.as_ref().is_some_and(|e| e.iter().all(|e| e.name() != "RunContent")));
    assert_eq!(reader.get_run(&first.run_id).await.unwrap().unwrap(), first);
    let listed =
        reader.list_sessions(&SessionQuery { user_id: Some("u1".into()), ..Default::default() }).await.unwrap();
    assert_eq!((listed.sessions.len(), listed.total), (1, 1));
    assert!(reader.delete_session("s1").await.unwrap());
    assert!(reader.get_run(&first.run_id).await.unwrap().is_none());
}

async fn run_many(agent: Agent, from: usize, to: usize) -> Vec<RunOutput> {
    let tasks: Vec<_> = (from..to)
        .map(|i| {
            let agent = agent.clone();
            tokio::spawn(
                async move { agent.run(format!("message {i}")).session_id(format!("session-{}", i % 10)).await },
            )
        })
        .collect();
    let mut outputs = Vec::new();
    for task in tasks {
        outputs.push(task.await.expect("task").expect("run stored"));
    }
    outputs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_runs_on_one_file_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.db");
    // Two agents, each with its own connection to the same file.
    let a = Agent::builder().id("agent").db(SqliteDb::new(&path).unwrap()).build().unwrap();
    let b = Agent::builder().id("agent").db(Arc::new(SqliteDb::new(&path).unwrap())).build().unwrap();
    let (left, right) = tokio::join!(run_many(a, 0, 100), run_many(b, 100, 200));
    let outputs: Vec<RunOutput> = left.into_iter().chain(right).collect();
    assert_eq!(outputs.len(), 200);
    assert!(outputs.iter().all(|o| o.status == RunStatus::Completed));

    let reader = SqliteDb::new(&path).unwrap();
    let mut stored_ids = HashSet::new();
    let mut per_session = BTreeMap::new();
    for s in 0..10 {
        let session = reader
            .get_session_with_runs(&format!("session-{s}"), &agno::db::RunQuery::all())
            .await
            .unwrap()
            .expect("session");
        per_session.insert(s, session.runs.len());
        for run in session.runs {
            assert_eq!(run.session_id, format!("session-{s}"));
            stored_ids.insert(run.run_id);
        }
    }
    assert_eq!(per_session.values().sum::<usize>(), 200, "{per_session:?}");
    assert!(per_session.values().all(|n| *n == 20), "{per_session:?}");
    let returned: HashSet<String> = outputs.iter().map(|o| o.run_id.clone()).collect();
    assert_eq!(stored_ids, returned);
    for out in &outputs {
        let stored = reader.get_run(&out.run_id).await.unwrap().expect("every run is stored");
        assert_eq!(&stored, out);
    }
}

#[tokio::test]
async fn a_run_s_json_is_serialised_once_for_the_database_and_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.db");
    let agent = Agent::builder().name("Once").db(SqliteDb::new(&path).unwrap()).build().unwrap();
    let slot = agno::run::RunJson::new();
    let output = agent.run("hello").session_id("s1").json_into(slot.clone()).await.unwrap();
    let json = slot.take().expect("the stored run leaves its JSON");
    assert_eq!(json, serde_json::to_string(&output).unwrap());
    assert_eq!(slot.take(), None, "taken once");
    let file = rusqlite::Connection::open(&path).unwrap();
    let stored: String =
        file.query_row("SELECT run_data FROM agno_runs WHERE run_id = ?1", [&output.run_id], |row| row.get(0)).unwrap();
    assert_eq!(stored, json);
    // Without a database nothing is stored, and the slot stays empty.
    let no_db = Agent::builder().name("Nowhere").build().unwrap();
    let slot = agno::run::RunJson::new();
    no_db.run("hello").json_into(slot.clone()).await.unwrap();
    assert_eq!(slot.take(), None);
}
