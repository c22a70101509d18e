//! The session routes of a real AgentOS on loopback, over a `SqliteDb` in a temporary folder:
//! `GET /sessions` paged, sorted and filtered by the database; `GET /sessions/{id}` with
//! `run_count` and `session_name`; `GET /sessions/{id}/runs` streamed as one JSON array,
//! `RUNS_PER_READ` (100) runs per read, filtered by time and status; agno's 422 and 404 answers.
//!
//! Sessions and runs come from the real run route (`POST /agents/a/runs`), and, where a test
//! needs chosen `created_at`, `updated_at`, status or types, from rows written with
//! `Db::save_runs` on the same `SqliteDb` value the OS was given.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use agno::db::{Db, SqliteDb};
use agno::hooks::{Hook, HookCall, HookContext, HookParams};
use agno::models::{Message, Role};
use agno::os::AgentOS;
use agno::prelude::*;
use agno::session::SessionType;
use common::server::Server;
use serde_json::{Value, json};

/// Rejects the input `blocked` (so the run route stores an ERROR run).
struct Block;

impl Hook for Block {
    fn name(&self) -> &str {
        "block"
    }
    fn params(&self) -> HookParams {
        HookParams::RUN_INPUT
    }
    fn call<'a>(&'a self, cx: HookContext<'a>) -> HookCall<'a> {
        if cx.run_input.as_deref().is_some_and(|i| i.input_content_string() == "blocked") {
            return HookCall::done(Err::<(), _>(InputCheckError::new("blocked input")));
        }
        HookCall::Done(Ok(()))
    }
}

/// The OS's database, a server with agent `a` (offline model) on it, and the folder.
async fn start() -> (Arc<SqliteDb>, Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(SqliteDb::new(dir.path().join("agno.db")).unwrap());
    let agent = Agent::builder().id("a").pre_hook(Block).build().unwrap();
    let os =
        AgentOS::builder().agents([agent]).db(Arc::clone(&db)).shutdown_grace(Duration::from_secs(20)).build().unwrap();
    (db, Server::start(os).await, dir)
}

/// A session row of this type for `component`, with these times.
fn session(
    id: &str,
    kind: SessionType,
    component: &str,
    user: Option<&str>,
    created_at: i64,
    updated_at: i64,
) -> Session {
    let mut s = Session::new(id);
    s.session_type = kind;
    match kind {
        SessionType::Agent => s.agent_id = Some(component.to_owned()),
        SessionType::Team => s.team_id = Some(component.to_owned()),
        SessionType::Workflow => s.workflow_id = Some(component.to_owned()),
    }
    s.user_id = user.map(str::to_owned);
    s.created_at = created_at;
    s.updated_at = updated_at;
    s
}

async fn seed(db: &SqliteDb, sessions: &[Session]) {
    for s in sessions {
        db.save_runs(s, &[]).await.unwrap();
    }
}

/// A completed run of agent `a` in `session_id`, as the offline model answers it.
async fn template() -> RunOutput {
    Agent::builder().id("a").build().unwrap().run("template").await.unwrap()
}

/// A run row made from `template`.
fn run_row(
    template: &RunOutput,
    session_id: &str,
    run_id: &str,
    input: &str,
    created_at: i64,
    status: RunStatus,
) -> RunOutput {
    let mut run = template.clone();
    run.run_id = run_id.to_owned();
    run.session_id = session_id.to_owned();
    run.input = Some(RunInput::new(input));
    run.content = Some(format!("answer to {input}"));
    run.messages =
        Some(vec![Message::new(Role::User, input), Message::new(Role::Assistant, format!("answer to {input}"))]);
    run.created_at = created_at;
    run.status = status;
    run
}

async fn save(db: &SqliteDb, row: &Session, runs: &[RunOutput]) {
    let refs: Vec<&RunOutput> = runs.iter().collect();
    db.save_runs(row, &refs).await.unwrap();
}

/// `GET path`: the status and the body as JSON (the body must be valid JSON).
async fn get(server: &Server, path: &str) -> (u16, Value) {
    let res = server.client.get(server.url(path)).send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"));
    (status, body)
}

/// `GET /sessions?query`, which must answer 200: the session ids of `data`, and `meta`.
async fn list(server: &Server, query: &str) -> (Vec<String>, Value) {
    let (status, body) = get(server, &format!("/sessions?{query}")).await;
    assert_eq!(status, 200, "/sessions?{query}: {body}");
    let ids = body["data"].as_array().unwrap().iter().map(|s| s["session_id"].as_str().unwrap().to_owned()).collect();
    (ids, body["meta"].clone())
}

/// The `meta` of a page, without the search time.
fn meta(page: u64, limit: u64, total_count: u64, total_pages: u64) -> Value {
    json!({"page": page, "limit": limit, "total_count": total_count, "total_pages": total_pages})
}

fn without_time(meta: &Value) -> Value {
    assert!(meta["search_time_ms"].is_number(), "{meta}");
    let mut meta = meta.clone();
    meta.as_object_mut().unwrap().remove("search_time_ms");
    meta
}

/// `GET /sessions/{id}/runs?query`, which must answer 200 with a JSON array.
async fn runs(server: &Server, session_id: &str, query: &str) -> Vec<Value> {
    let path = format!("/sessions/{session_id}/runs?{query}");
    let res = server.client.get(server.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    assert_eq!(res.headers()["content-type"], "application/json");
    let text = res.text().await.unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"));
    parsed.as_array().unwrap_or_else(|| panic!("{path}: not an array")).clone()
}

fn run_ids(runs: &[Value]) -> Vec<String> {
    runs.iter().map(|r| r["run_id"].as_str().unwrap().to_owned()).collect()
}

/// `POST /agents/a/runs` (not streamed), which must answer 200: the run.
async fn post_run(server: &Server, session_id: &str, user_id: &str, message: &str) -> Value {
    let fields = [("message", message), ("session_id", session_id), ("user_id", user_id), ("stream", "false")];
    let res = server.run("a", &fields).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Strings, for comparing lists of ids.
fn strs(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_paged_with_totals() {
    let (db, server, _dir) = start().await;
    let rows: Vec<Session> =
        (1..=7).map(|i| session(&format!("s{i}"), SessionType::Agent, "a", None, 1_000 + i, 2_000 - i)).collect();
    seed(&db, &rows).await;

    // Newest created first by default.
    let (ids, m) = list(&server, "").await;
    assert_eq!(ids, strs(&["s7", "s6", "s5", "s4", "s3", "s2", "s1"]));
    assert_eq!(without_time(&m), meta(1, 20, 7, 1), "limit 20 by default");

    let pages = [(1, vec!["s7", "s6", "s5"]), (2, vec!["s4", "s3", "s2"]), (3, vec!["s1"]), (4, vec![]), (9, vec![])];
    for (page, expected) in pages {
        let (ids, m) = list(&server, &format!("limit=3&page={page}")).await;
        assert_eq!(ids, strs(&expected), "page {page}");
        assert_eq!(without_time(&m), meta(page, 3, 7, 3), "page {page}");
    }
    let (ids, m) = list(&server, "limit=7").await;
    assert_eq!((ids.len(), without_time(&m)), (7, meta(1, 7, 7, 1)));
    let (ids, m) = list(&server, "limit=1&page=7").await;
    assert_eq!((ids, without_time(&m)), (strs(&["s1"]), meta(7, 1, 7, 7)));
    let (ids, m) = list(&server, "limit=8").await;
    assert_eq!((ids.len(), without_time(&m)), (7, meta(1, 8, 7, 1)));
    // The largest page and limit the route takes: nothing there, the totals still right.
    let (ids, m) = list(&server, "limit=4294967295&page=4294967295").await;
    assert!(ids.is_empty());
    assert_eq!(without_time(&m), meta(4_294_967_295, 4_294_967_295, 7, 1));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_sort_by_either_key_in_either_order_with_ties_by_session_id() {
    let (db, server, _dir) = start().await;
    seed(
        &db,
        &[
            session("c", SessionType::Agent, "a", None, 200, 100),
            session("a", SessionType::Agent, "a", None, 100, 400),
            session("d", SessionType::Agent, "a", None, 300, 50),
            session("b", SessionType::Agent, "a", None, 200, 100),
        ],
    )
    .await;
    let cases = [
        ("", ["d", "b", "c", "a"]),
        ("sort_order=desc", ["d", "b", "c", "a"]),
        ("sort_by=created_at", ["d", "b", "c", "a"]),
        ("sort_by=created_at&sort_order=desc", ["d", "b", "c", "a"]),
        ("sort_order=asc", ["a", "b", "c", "d"]),
        ("sort_by=created_at&sort_order=asc", ["a", "b", "c", "d"]),
        ("sort_by=updated_at", ["a", "b", "c", "d"]),
        ("sort_by=updated_at&sort_order=desc", ["a", "b", "c", "d"]),
        ("sort_by=updated_at&sort_order=asc", ["d", "b", "c", "a"]),
    ];
    for (query, expected) in cases {
        let (ids, m) = list(&server, query).await;
        assert_eq!(ids, strs(&expected), "?{query}");
        assert_eq!(m["total_count"], 4);
    }
    // Ties keep one order across pages: b (page 2) and c (page 3) are never both or neither.
    for (query, expected) in
        [("sort_by=created_at", ["d", "b", "c", "a"]), ("sort_by=updated_at&sort_order=asc", ["d", "b", "c", "a"])]
    {
        let mut paged = Vec::new();
        for page in 1..=4 {
            let (ids, m) = list(&server, &format!("{query}&limit=1&page={page}")).await;
            assert_eq!(without_time(&m), meta(page, 1, 4, 4));
            paged.extend(ids);
        }
        assert_eq!(paged, strs(&expected), "{query}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_filter_by_type_user_and_component() {
    let (db, server, _dir) = start().await;
    seed(
        &db,
        &[
            session("ag1", SessionType::Agent, "a1", Some("u1"), 10, 10),
            session("ag2", SessionType::Agent, "a2", Some("u2"), 20, 20),
            session("tm1", SessionType::Team, "t1", Some("u1"), 30, 30),
            session("wf1", SessionType::Workflow, "w1", Some("u2"), 40, 40),
            // A workflow whose id is also an agent's id: `component_id` finds both sessions.
            session("wf2", SessionType::Workflow, "a1", None, 50, 50),
        ],
    )
    .await;
    // And one through the run route (agent `a`, user `u3`).
    let run = post_run(&server, "route-s", "u3", "Hello there").await;
    assert_eq!(run["status"], "COMPLETED");

    let set = |ids: Vec<String>| ids.into_iter().collect::<BTreeSet<_>>();
    let cases: [(&str, &[&str]); 18] = [
        ("", &["ag1", "ag2", "tm1", "wf1", "wf2", "route-s"]),
        ("type=agent", &["ag1", "ag2", "route-s"]),
        ("type=team", &["tm1"]),
        ("type=workflow", &["wf1", "wf2"]),
        ("user_id=u1", &["ag1", "tm1"]),
        ("user_id=u3", &["route-s"]),
        ("user_id=nobody", &[]),
        ("agent_id=a1", &["ag1"]),
        ("agent_id=a", &["route-s"]),
        ("team_id=t1", &["tm1"]),
        ("team_id=a1", &[]),
        ("workflow_id=w1", &["wf1"]),
        ("component_id=t1", &["tm1"]),
        ("component_id=a1", &["ag1", "wf2"]),
        ("component_id=a1&type=workflow", &["wf2"]),
        ("component_id=", &["ag1", "ag2", "tm1", "wf1", "wf2", "route-s"]),
        ("user_id=u1&type=team", &["tm1"]),
        ("user_id=u2&workflow_id=w1&type=agent", &[]),
    ];
    for (query, expected) in cases {
        let (ids, m) = list(&server, query).await;
        assert_eq!(ids.len(), expected.len(), "?{query}: {ids:?}");
        assert_eq!(set(ids), set(strs(expected)), "?{query}");
        let total = expected.len() as u64;
        assert_eq!(without_time(&m), meta(1, 20, total, total.div_ceil(20)), "?{query}");
    }
    // Filters and pages together: the totals are the filtered ones.
    let (ids, m) = list(&server, "type=agent&limit=2&page=2").await;
    assert_eq!(ids.len(), 1);
    assert_eq!(without_time(&m), meta(2, 2, 3, 2));

    // A listed session has its name (the first run's input) and no run count.
    let (_, body) = get(&server, "/sessions?user_id=u3").await;
    let entry = &body["data"][0];
    assert_eq!(entry["session_name"], "Hello there");
    assert_eq!(entry["agent_id"], "a");
    assert_eq!(entry["session_type"], "agent");
    assert!(entry.get("run_count").is_none(), "{entry}");
    let (_, body) = get(&server, "/sessions?type=team").await;
    assert_eq!(body["data"][0]["team_id"], "t1");
    assert_eq!(body["data"][0]["session_name"], "", "a session without runs has no name");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_list_queries_are_422_with_the_field_and_a_reason() {
    let (db, server, _dir) = start().await;
    seed(&db, &[session("s", SessionType::Agent, "a", None, 1, 1)]).await;
    let cases = [
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=4294967296", "limit"),
        ("limit=", "limit"),
        ("page=0", "page"),
        ("page=first", "page"),
        ("sort_by=name", "sort_by"),
        ("sort_by=", "sort_by"),
        ("sort_order=up", "sort_order"),
        ("type=robot", "type"),
        ("type=", "type"),
    ];
    for (query, field) in cases {
        let (status, body) = get(&server, &format!("/sessions?{query}")).await;
        assert_eq!(status, 422, "?{query}: {body}");
        let detail = body["detail"].as_array().unwrap_or_else(|| panic!("?{query}: {body}"));
        assert_eq!(detail.len(), 1, "?{query}: {body}");
        assert_eq!(detail[0]["loc"], json!(["query", field]), "?{query}");
        assert!(!detail[0]["msg"].as_str().unwrap().is_empty(), "?{query}");
    }
    // Every mistake of a query is reported at once.
    let (status, body) = get(&server, "/sessions?limit=0&page=0&sort_by=x&sort_order=y&type=z").await;
    assert_eq!(status, 422);
    let fields: BTreeSet<String> =
        body["detail"].as_array().unwrap().iter().map(|d| d["loc"][1].as_str().unwrap().to_owned()).collect();
    assert_eq!(fields, ["limit", "page", "sort_by", "sort_order", "type"].map(String::from).into());
    // A repeated parameter is a 422 too, not a plain-text 400.
    let (status, body) = get(&server, "/sessions?limit=1&limit=2").await;
    assert_eq!((status, body["detail"][0]["loc"].clone()), (422, json!(["query"])));
    // The same values, well formed, are fine.
    let (ids, _) = list(&server, "limit=1&page=1&sort_by=updated_at&sort_order=asc&type=agent").await;
    assert_eq!(ids, strs(&["s"]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runs_route_returns_every_run_in_run_order() {
    let (db, server, _dir) = start().await;
    let template = template().await;

    // No runs: a session row alone.
    seed(&db, &[session("none", SessionType::Agent, "a", None, 1, 1)]).await;
    // One run and 101 runs through the run route.
    let one = post_run(&server, "one", "u", "only question").await;
    let mut route_ids = Vec::new();
    for i in 0..101 {
        let run = post_run(&server, "hundred-one", "u", &format!("question {i}")).await;
        assert_eq!(run["status"], "COMPLETED");
        route_ids.push(run["run_id"].as_str().unwrap().to_owned());
    }
    // 100 and 250 runs written directly: ids and times in another order than the runs, so only
    // the run order can give the expected list.
    let mut direct = Vec::new();
    for (session_id, count) in [("hundred", 100usize), ("many", 250)] {
        let row = session(session_id, SessionType::Agent, "a", None, 1, 1);
        let rows: Vec<RunOutput> = (0..count)
            .map(|i| {
                let id = format!("{session_id}-{:03}", (i * 37) % count);
                run_row(&template, session_id, &id, &format!("m{i}"), 10_000 - i as i64, RunStatus::Completed)
            })
            .collect();
        save(&db, &row, &rows).await;
        direct.push((session_id, rows));
    }

    let listed = runs(&server, "none", "").await;
    assert!(listed.is_empty());
    let listed = runs(&server, "one", "").await;
    assert_eq!(run_ids(&listed), [one["run_id"].as_str().unwrap()]);
    assert_eq!(listed[0]["run_input"], "only question");
    assert_eq!(listed[0]["content"], "You said: \"only question\"");
    assert_eq!(listed[0]["session_id"], "one");

    let listed = runs(&server, "hundred-one", "").await;
    assert_eq!(run_ids(&listed), route_ids);
    for (i, run) in listed.iter().enumerate() {
        assert_eq!(run["run_input"], format!("question {i}"));
        assert_eq!(run["status"], "COMPLETED");
        assert_eq!(run["agent_id"], "a");
    }
    for (session_id, rows) in &direct {
        let listed = runs(&server, session_id, "").await;
        assert_eq!(listed.len(), rows.len(), "{session_id}");
        let expected: Vec<String> = rows.iter().map(|r| r.run_id.clone()).collect();
        assert_eq!(run_ids(&listed), expected, "{session_id}");
        for (i, run) in listed.iter().enumerate() {
            assert_eq!(run["run_input"], format!("m{i}"), "{session_id}");
            assert_eq!(run["created_at"], 10_000 - i as i64);
            assert_eq!(run["content"], format!("answer to m{i}"));
            // The rest of the run is the stored run.
            let mut plain = run.clone();
            plain.as_object_mut().unwrap().remove("run_input");
            assert_eq!(plain, serde_json::to_value(&rows[i]).unwrap());
        }
    }
    // `run_count` agrees.
    for (session_id, count) in [("none", 0), ("one", 1), ("hundred", 100), ("hundred-one", 101), ("many", 250)] {
        let (status, body) = get(&server, &format!("/sessions/{session_id}")).await;
        assert_eq!(status, 200);
        assert_eq!(body["run_count"], count, "{session_id}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runs_route_filters_by_created_time_and_status() {
    let (db, server, _dir) = start().await;
    let template = template().await;
    // 250 runs: ten per second from 1000 to 1024; by i % 5, three COMPLETED, one ERROR, one PAUSED.
    let status_of = |i: usize| match i % 5 {
        3 => RunStatus::Error,
        4 => RunStatus::Paused,
        _ => RunStatus::Completed,
    };
    let rows: Vec<RunOutput> = (0..250)
        .map(|i| run_row(&template, "f", &format!("f{i:03}"), &format!("m{i}"), 1_000 + (i / 10) as i64, status_of(i)))
        .collect();
    save(&db, &session("f", SessionType::Agent, "a", None, 1, 1), &rows).await;

    let expect = |keep: &dyn Fn(&RunOutput) -> bool| -> Vec<String> {
        rows.iter().filter(|r| keep(r)).map(|r| r.run_id.clone()).collect()
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("", expect(&|_| true)),
        ("created_after=1020", expect(&|r| r.created_at >= 1020)),
        ("created_before=1009", expect(&|r| r.created_at <= 1009)),
        ("created_after=1005&created_before=1014", expect(&|r| (1005..=1014).contains(&r.created_at))),
        ("created_after=1003&created_before=1003", expect(&|r| r.created_at == 1003)),
        ("created_after=1010&created_before=1009", vec![]),
        ("created_after=0&created_before=99999", expect(&|_| true)),
        ("status=ERROR", expect(&|r| r.status == RunStatus::Error)),
        ("status=COMPLETED", expect(&|r| r.status == RunStatus::Completed)),
        ("status=PAUSED&created_after=1020", expect(&|r| r.status == RunStatus::Paused && r.created_at >= 1020)),
        (
            "status=COMPLETED&created_after=1002&created_before=1021",
            expect(&|r| r.status == RunStatus::Completed && (1002..=1021).contains(&r.created_at)),
        ),
        ("status=RUNNING", vec![]),
        ("status=CANCELLED", vec![]),
    ];
    for (query, expected) in &cases {
        let listed = runs(&server, "f", query).await;
        assert_eq!(run_ids(&listed), *expected, "?{query}");
    }
    // The counts the cases cover: across reads of 100, and exactly 100.
    assert_eq!(cases[8].1.len(), 150);
    assert_eq!(cases[3].1.len(), 100);
    assert_eq!(cases[2].1.len(), 100);

    // Runs the run route stored, filtered by status.
    let ok = post_run(&server, "live", "u", "fine").await;
    let bad = post_run(&server, "live", "u", "blocked").await;
    assert_eq!(bad["status"], "ERROR");
    assert_eq!(run_ids(&runs(&server, "live", "status=ERROR").await), [bad["run_id"].as_str().unwrap()]);
    assert_eq!(run_ids(&runs(&server, "live", "status=COMPLETED").await), [ok["run_id"].as_str().unwrap()]);
    let both = runs(&server, "live", "").await;
    assert_eq!(both[1]["run_input"], "blocked");
    assert_eq!(both[1]["content"], "blocked input");

    // Bad filters: 422 naming the parameter, with the reason.
    for (query, field) in [
        ("status=BOGUS", "status"),
        ("status=done", "status"),
        ("created_after=abc", "created_after"),
        ("created_after=1.5", "created_after"),
        ("created_before=yesterday", "created_before"),
        ("type=robot", "type"),
    ] {
        let (status, body) = get(&server, &format!("/sessions/f/runs?{query}")).await;
        assert_eq!(status, 422, "?{query}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["query", field]), "?{query}");
        assert!(!body["detail"][0]["msg"].as_str().unwrap().is_empty());
    }
    let (_, body) = get(&server, "/sessions/f/runs?status=BOGUS").await;
    let reason = body["detail"][0]["msg"].as_str().unwrap();
    assert!(reason.contains("'COMPLETED'") && reason.contains("'ERROR'"), "{reason}");
    assert_eq!(body["detail"][0]["input"], "BOGUS");

    // An unknown session: 404, with or without filters.
    for query in ["", "status=ERROR&created_after=1"] {
        let (status, body) = get(&server, &format!("/sessions/nope/runs?{query}")).await;
        assert_eq!(status, 404, "?{query}");
        assert_eq!(body["detail"], "Session not found");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_has_its_run_count_and_its_first_runs_input_as_name() {
    let (db, server, _dir) = start().await;
    let first = post_run(&server, "d", "u1", "What is the capital of France?").await;
    post_run(&server, "d", "u1", "And of Spain?").await;
    post_run(&server, "d", "u1", "blocked").await;

    let (status, body) = get(&server, "/sessions/d").await;
    assert_eq!(status, 200);
    assert_eq!(body["session_id"], "d");
    assert_eq!(body["agent_session_id"], "d");
    assert_eq!(body["session_type"], "agent");
    assert_eq!(body["agent_id"], "a");
    assert_eq!(body["user_id"], "u1");
    assert_eq!(body["run_count"], 3, "ERROR runs count");
    assert_eq!(body["session_name"], "What is the capital of France?");
    assert!(body.get("runs").is_none(), "the runs are not part of it");
    let (created, updated) = (body["created_at"].as_i64().unwrap(), body["updated_at"].as_i64().unwrap());
    assert!(created >= first["created_at"].as_i64().unwrap() - 1 && updated >= created, "{body}");
    let (_, listed) = get(&server, "/sessions?user_id=u1").await;
    assert_eq!(listed["data"][0]["session_name"], "What is the capital of France?");

    let template = template().await;
    // A name set in `session_data` wins over the first input.
    let mut named = session("named", SessionType::Agent, "a", None, 5, 5);
    named.session_data = Some(json!({"session_name": "My chat", "session_state": {}}));
    save(&db, &named, &[run_row(&template, "named", "n1", "first input", 5, RunStatus::Completed)]).await;
    // A first run without an input: its last user message.
    let mut no_input = run_row(&template, "fallback", "fb1", "unused", 5, RunStatus::Completed);
    no_input.input = None;
    no_input.messages = Some(vec![
        Message::new(Role::System, "Be brief."),
        Message::new(Role::User, "from the messages"),
        Message::new(Role::Assistant, "an answer"),
    ]);
    let second = run_row(&template, "fallback", "fb2", "later", 6, RunStatus::Completed);
    save(&db, &session("fallback", SessionType::Agent, "a", None, 5, 5), &[no_input, second]).await;
    // No runs at all: no name.
    seed(&db, &[session("empty", SessionType::Team, "t", None, 5, 5)]).await;

    for (id, name, count) in [("named", "My chat", 1), ("fallback", "from the messages", 2), ("empty", "", 0)] {
        let (status, body) = get(&server, &format!("/sessions/{id}")).await;
        assert_eq!(status, 200, "{id}");
        assert_eq!((body["session_name"].clone(), body["run_count"].clone()), (json!(name), json!(count)), "{id}");
    }
    let (_, empty) = get(&server, "/sessions/empty").await;
    assert!(empty.get("agent_session_id").is_none(), "only agent sessions name the id twice");
    assert_eq!(empty["team_id"], "t");
    let fallback = runs(&server, "fallback", "").await;
    assert_eq!(fallback[0]["run_input"], "from the messages");
    assert_eq!(fallback[1]["run_input"], "later");

    let (status, body) = get(&server, "/sessions/unknown").await;
    assert_eq!((status, body["detail"].clone()), (404, json!("Session not found")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_route_answers_with_the_json_the_database_stored() {
    let (_db, server, dir) = start().await;
    let fields = [("message", "hello"), ("session_id", "one"), ("user_id", "u"), ("stream", "false")];
    let res = server.run("a", &fields).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let run_id = serde_json::from_str::<Value>(&body).unwrap()["run_id"].as_str().unwrap().to_owned();
    // The stored row, read from the file: the same text, byte for byte (serialised once).
    let file = rusqlite::Connection::open(dir.path().join("agno.db")).unwrap();
    let stored: String =
        file.query_row("SELECT run_data FROM agno_runs WHERE run_id = ?1", [&run_id], |row| row.get(0)).unwrap();
    assert_eq!(stored, body);
    // And it is the run as agno reads it: every field of the answer.
    let run: RunOutput = serde_json::from_str(&stored).unwrap();
    assert_eq!(serde_json::to_string(&run).unwrap(), body);
    // An ERROR run is answered the same way.
    let fields = [("message", "blocked"), ("session_id", "one"), ("user_id", "u"), ("stream", "false")];
    let res = server.run("a", &fields).await;
    let body = res.text().await.unwrap();
    let run_id = serde_json::from_str::<Value>(&body).unwrap()["run_id"].as_str().unwrap().to_owned();
    let stored: String =
        file.query_row("SELECT run_data FROM agno_runs WHERE run_id = ?1", [&run_id], |row| row.get(0)).unwrap();
    assert_eq!(stored, body);
    server.stop().await;
}
