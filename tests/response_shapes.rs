//! A schema snapshot of every route: each answer's field names and JSON types (and each SSE
//! event's), written to `tests/snapshots/response_shapes.txt`. A drift fails this test; after a
//! change made on purpose, regenerate the file with `UPDATE_SNAPSHOTS=1 cargo test --test
//! response_shapes` and review its diff against agno 3.1.10's schemas.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use agno::db::InMemoryDb;
use agno::eval::AgentAsJudgeEval;
use agno::os::AgentOS;
use agno::prelude::*;
use common::server::{Server, frames};
use serde_json::Value;

/// `prefix.field: type` for every leaf, `[]` for array items (all of them, merged).
fn shape(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(items) => {
            out.insert(format!("{prefix}: array"));
            for item in items {
                shape(item, &format!("{prefix}[]"), out);
            }
            return;
        }
        Value::Object(map) => {
            out.insert(format!("{prefix}: object"));
            for (key, item) in map {
                shape(item, &format!("{prefix}.{key}"), out);
            }
            return;
        }
    };
    out.insert(format!("{prefix}: {kind}"));
}

struct Snapshot {
    lines: Vec<String>,
}

impl Snapshot {
    /// Records one answer: its status, and the shape of its JSON body or of each SSE event.
    async fn record(&mut self, label: &str, res: reqwest::Response) -> Value {
        let status = res.status().as_u16();
        let is_sse = res
            .headers()
            .get("content-type")
            .is_some_and(|c| c.to_str().unwrap_or("").starts_with("text/event-stream"));
        let text = res.text().await.unwrap();
        self.lines.push(format!("{label} -> {status}"));
        let mut fields = BTreeSet::new();
        let body = if is_sse {
            for (event, data) in frames(&text) {
                shape(&data, &format!("event {event}"), &mut fields);
            }
            Value::Null
        } else if text.is_empty() {
            Value::Null
        } else {
            let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{label}: {e}: {text}"));
            shape(&body, "", &mut fields);
            body
        };
        self.lines.extend(fields.into_iter().map(|f| format!("    {f}")));
        body
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_in_its_recorded_shape() {
    let db = Arc::new(InMemoryDb::new());
    let eval = AgentAsJudgeEval::builder().name("Quality").criteria("Helpful").build().unwrap();
    let agent = Agent::builder()
        .id("a")
        .name("Writer")
        .db(db.clone())
        .instructions("Be brief")
        .post_hook(eval)
        .build()
        .unwrap();
    let member = Agent::builder().id("m").name("Member").build().unwrap();
    let team =
        Team::builder().id("t").name("Desk").mode(TeamMode::Route).member(member).db(db.clone()).build().unwrap();
    let step_agent = Agent::builder().id("s").name("Stepper").build().unwrap();
    let workflow =
        Workflow::builder().id("w").name("Flow").step(Step::agent("write", step_agent)).db(db.clone()).build().unwrap();
    let os = AgentOS::builder().agents([agent]).teams([team]).workflows([workflow]).build().unwrap();
    let server = Server::start(os).await;
    let c = &server.client;
    let url = |p: &str| server.url(p);
    let mut snap = Snapshot { lines: Vec::new() };

    for path in [
        "/",
        "/health",
        "/info",
        "/config",
        "/registry",
        "/agents",
        "/agents/a",
        "/agents/nope",
        "/teams",
        "/teams/t",
        "/workflows",
        "/workflows/w",
    ] {
        snap.record(&format!("GET {path}"), c.get(url(path)).send().await.unwrap()).await;
    }
    let mut session_of = Vec::new();
    for (kind, id) in [("agents", "a"), ("teams", "t"), ("workflows", "w")] {
        let runs = format!("/{kind}/{id}/runs");
        let form = [("message", "Hello"), ("stream", "false")];
        let run = snap
            .record(&format!("POST {runs} stream=false"), c.post(url(&runs)).form(&form).send().await.unwrap())
            .await;
        let (run_id, session_id) =
            (run["run_id"].as_str().unwrap().to_owned(), run["session_id"].as_str().unwrap().to_owned());
        session_of.push(session_id.clone());
        let form = [("message", "Hello"), ("session_id", session_id.as_str())];
        snap.record(&format!("POST {runs} stream=true"), c.post(url(&runs)).form(&form).send().await.unwrap()).await;
        let one = format!("{runs}/{run_id}");
        snap.record(
            &format!("GET {runs}/{{run_id}}"),
            c.get(url(&format!("{one}?session_id={session_id}"))).send().await.unwrap(),
        )
        .await;
        snap.record(&format!("GET {runs}/{{run_id}}/hooks"), c.get(url(&format!("{one}/hooks"))).send().await.unwrap())
            .await;
        snap.record(
            &format!("POST {runs}/{{run_id}}/cancel"),
            c.post(url(&format!("{one}/cancel"))).send().await.unwrap(),
        )
        .await;
    }
    snap.record("GET /sessions", c.get(url("/sessions")).send().await.unwrap()).await;
    for (kind, session_id) in ["agent", "team", "workflow"].iter().zip(&session_of) {
        snap.record(
            &format!("GET /sessions/{{{kind} session}}"),
            c.get(url(&format!("/sessions/{session_id}"))).send().await.unwrap(),
        )
        .await;
        let runs = c.get(url(&format!("/sessions/{session_id}/runs"))).send().await.unwrap();
        snap.record(&format!("GET /sessions/{{{kind} session}}/runs"), runs).await;
    }
    snap.record("GET /sessions/{missing}", c.get(url("/sessions/missing")).send().await.unwrap()).await;
    let evals = snap.record("GET /eval-runs", c.get(url("/eval-runs")).send().await.unwrap()).await;
    let eval_id = evals["data"][0]["id"].as_str().unwrap().to_owned();
    snap.record("GET /eval-runs/{id}", c.get(url(&format!("/eval-runs/{eval_id}"))).send().await.unwrap()).await;
    snap.record("GET /eval-runs?eval_types=vibes", c.get(url("/eval-runs?eval_types=vibes")).send().await.unwrap())
        .await;
    snap.record(
        "DELETE /sessions/{agent session}",
        c.delete(url(&format!("/sessions/{}", session_of[0]))).send().await.unwrap(),
    )
    .await;
    server.stop().await;

    let actual = snap.lines.join("\n") + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/response_shapes.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; write it with UPDATE_SNAPSHOTS=1 and review it", path.display()));
    if expected != actual {
        let (old, new): (BTreeSet<&str>, BTreeSet<&str>) = (expected.lines().collect(), actual.lines().collect());
        let gone: Vec<&&str> = old.difference(&new).collect();
        let added: Vec<&&str> = new.difference(&old).collect();
        panic!("the answers' shapes drifted from {}:\n  gone: {gone:#?}\n  new: {added:#?}", path.display());
    }
}
