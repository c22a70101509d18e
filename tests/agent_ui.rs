//! What agno's Agent UI sends, replayed over HTTP against a real AgentOS, and every field it reads
//! asserted (`../shared/reference/agno-frontends.md`). The UI runs in a browser on
//! `http://localhost:3000`, so every call is cross-origin.

mod common;

use agno::db::Db;
use agno::os::AgentOS;
use agno::prelude::*;
use common::server::Server;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

const UI: &str = "http://localhost:3000";
/// The `Vary` of every answer: what a CORS answer depends on (tower-http's default list).
const VARY: &str = "origin, access-control-request-method, access-control-request-headers";

fn os() -> AgentOS {
    let agent = Agent::builder().id("ui-agent").name("UI Agent").build().unwrap();
    AgentOS::builder().agents([agent]).build().unwrap()
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The preflight the browser sends before `GET /health` (the UI sets `Content-Type` on every
/// GET), exactly as Agent UI's requests make it.
async fn preflight(server: &Server, path: &str, origin: &str, method: &str) -> reqwest::Response {
    server
        .client
        .request(Method::OPTIONS, server.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preflight_is_answered_as_agno_answers_it() {
    let server = Server::start(os()).await;
    let res = preflight(&server, "/health", UI, "GET").await;
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(header(h, "access-control-allow-origin"), Some(UI));
    assert_eq!(header(h, "access-control-allow-credentials"), Some("true"));
    assert_eq!(header(h, "access-control-allow-headers"), Some("content-type"));
    assert_eq!(header(h, "access-control-max-age"), Some("600"));
    assert_eq!(header(h, "vary"), Some(VARY), "the answer depends on these request headers");
    let methods = header(h, "access-control-allow-methods").unwrap_or_default().to_owned();
    for method in ["GET", "POST", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    // agno's hosted front-ends are allowed too; other origins are not.
    let res = preflight(&server, "/agents", "https://os.agno.com", "GET").await;
    assert_eq!(header(res.headers(), "access-control-allow-origin"), Some("https://os.agno.com"));
    let res = preflight(&server, "/health", "http://evil.example", "GET").await;
    assert_eq!(header(res.headers(), "access-control-allow-origin"), None);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_responses_and_streams_carry_the_cors_headers() {
    let server = Server::start(os()).await;
    let res = server
        .client
        .get(server.url("/health"))
        .header("Origin", UI)
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "access-control-allow-origin"), Some(UI));
    assert_eq!(header(res.headers(), "access-control-allow-credentials"), Some("true"));
    assert_eq!(res.headers().get_all("vary").iter().collect::<Vec<_>>(), [VARY], "one Vary, once");

    // The chat: multipart, `stream=true`, an empty `session_id` for a new session.
    let form = reqwest::multipart::Form::new().text("message", "Hello").text("stream", "true").text("session_id", "");
    let res = server
        .client
        .post(server.url("/agents/ui-agent/runs"))
        .header("Origin", UI)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "access-control-allow-origin"), Some(UI));
    assert_eq!(header(res.headers(), "access-control-allow-credentials"), Some("true"));
    let frames = common::server::frames(&res.text().await.unwrap());
    let started = frames.iter().find(|(name, _)| name == "RunStarted").expect("RunStarted");
    assert!(started.1["session_id"].as_str().is_some_and(|s| !s.is_empty()), "a new session: {}", started.1);
    let contents: Vec<&Value> =
        frames.iter().filter(|(name, _)| name == "RunContent").map(|(_, d)| &d["content"]).collect();
    assert!(!contents.is_empty() && contents.iter().all(|c| c.is_string()), "RunContent carries string content");
    let completed = frames.iter().find(|(name, _)| name == "RunCompleted").expect("RunCompleted");
    assert_eq!(completed.1["content"], "You said: \"Hello\"");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_origins_replace_the_defaults_and_preflights_need_no_key() {
    let agent = Agent::builder().id("a").build().unwrap();
    let os = AgentOS::builder()
        .agents([agent])
        .cors_allowed_origins(["https://chat.example.com"])
        .security_key("s3cret")
        .build()
        .unwrap();
    let server = Server::start(os).await;
    let res = preflight(&server, "/agents", "https://chat.example.com", "GET").await;
    assert_eq!(res.status(), 200, "the browser sends no Authorization on a preflight");
    assert_eq!(header(res.headers(), "access-control-allow-origin"), Some("https://chat.example.com"));
    let res = preflight(&server, "/agents", UI, "GET").await;
    assert_eq!(header(res.headers(), "access-control-allow-origin"), None, "the defaults are replaced");
    // The real request still needs the key, and its 401 still carries the CORS headers, so the
    // page can read why.
    let res =
        server.client.get(server.url("/agents")).header("Origin", "https://chat.example.com").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(header(res.headers(), "access-control-allow-origin"), Some("https://chat.example.com"));
    server.stop().await;

    let agent = Agent::builder().id("a").build().unwrap();
    let server = Server::start(AgentOS::builder().agents([agent]).cors_allowed_origins(["*"]).build().unwrap()).await;
    let res = preflight(&server, "/health", "http://anything.example:8080", "GET").await;
    assert_eq!(header(res.headers(), "access-control-allow-origin"), Some("http://anything.example:8080"));
    assert_eq!(header(res.headers(), "access-control-allow-credentials"), Some("true"));
    server.stop().await;
}

/// Two agents on one database, each with a chat, as the UI makes them.
async fn two_agents_with_chats() -> (Server, String) {
    let db = std::sync::Arc::new(agno::db::InMemoryDb::new());
    let db_id = db.id().to_owned();
    let a1 = Agent::builder()
        .id("a1")
        .name("Writer")
        .db(db.clone())
        .markdown(true)
        .instructions("Be brief")
        .build()
        .unwrap();
    let a2 = Agent::builder().id("a2").name("Critic").db(db.clone()).build().unwrap();
    let server = Server::start(AgentOS::builder().agents([a1, a2]).build().unwrap()).await;
    for (agent, message) in [("a1", "Write a haiku"), ("a2", "Judge it"), ("a1", "Another one")] {
        let form =
            reqwest::multipart::Form::new().text("message", message).text("stream", "true").text("session_id", "");
        let res = server
            .client
            .post(server.url(&format!("/agents/{agent}/runs")))
            .header("Origin", UI)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap();
    }
    (server, db_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_show_the_model_badge_and_database() {
    let (server, db_id) = two_agents_with_chats().await;
    let agents: serde_json::Value =
        server.client.get(server.url("/agents")).send().await.unwrap().json().await.unwrap();
    let writer = &agents[0];
    assert_eq!(writer["id"], "a1");
    assert_eq!(writer["db_id"], db_id.as_str());
    assert_eq!(writer["model"]["model"], "offline", "the badge reads model.model");
    assert_eq!(writer["model"]["provider"], "Offline");
    assert!(writer["model"]["name"].is_string());
    let system = &writer["system_message"];
    assert!(system.is_object(), "agno's client wants an object: {system}");
    assert_eq!(system["markdown"], true);
    assert_eq!(system["instructions"], serde_json::json!(["Be brief"]));
    assert!(system["system_message"].as_str().unwrap().contains("Be brief"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sidebar_lists_each_agents_own_sessions_by_name() {
    let (server, db_id) = two_agents_with_chats().await;
    let get = |path: String| {
        let request =
            server.client.get(server.url(&path)).header("Origin", UI).header("Content-Type", "application/json");
        async move { request.send().await.unwrap() }
    };
    let res = get(format!("/sessions?type=agent&component_id=a1&db_id={db_id}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("access-control-allow-origin").unwrap(), UI);
    let page: serde_json::Value = res.json().await.unwrap();
    let mut names: Vec<&str> =
        page["data"].as_array().unwrap().iter().map(|s| s["session_name"].as_str().unwrap()).collect();
    // Created in the same second (agno's times are whole seconds), so in either order.
    names.sort_unstable();
    assert_eq!(names, ["Another one", "Write a haiku"], "a1's sessions only, named by their first message");
    for session in page["data"].as_array().unwrap() {
        assert_eq!(session["agent_id"], "a1");
        assert!(session["session_id"].is_string() && session["created_at"].is_number());
    }
    let meta = &page["meta"];
    assert_eq!((meta["page"].as_u64(), meta["limit"].as_u64()), (Some(1), Some(20)));
    assert_eq!((meta["total_count"].as_u64(), meta["total_pages"].as_u64()), (Some(2), Some(1)));
    assert_eq!(meta["search_time_ms"], 0);
    let mut paged = Vec::new();
    for page in [1, 2] {
        let url = format!("/sessions?type=agent&component_id=a1&sort_by=updated_at&sort_order=asc&limit=1&page={page}");
        let one: serde_json::Value = get(url).await.json().await.unwrap();
        assert_eq!((one["meta"]["total_pages"].as_u64(), one["data"].as_array().unwrap().len()), (Some(2), 1));
        paged.push(one["data"][0]["session_name"].as_str().unwrap().to_owned());
    }
    paged.sort_unstable();
    assert_eq!(paged, ["Another one", "Write a haiku"], "two pages of one, each session once");
    let res = get("/sessions?sort_order=sideways".to_owned()).await;
    assert_eq!(res.status(), 422);
    let res = get("/sessions?type=agent&db_id=nope".to_owned()).await;
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["detail"], "No database found with id 'nope'");

    // A reopened chat: the runs, with the user's text in `run_input` and the answer in `content`.
    let haiku = page["data"].as_array().unwrap().iter().find(|s| s["session_name"] == "Write a haiku").unwrap();
    let session_id = haiku["session_id"].as_str().unwrap().to_owned();
    let runs: serde_json::Value =
        get(format!("/sessions/{session_id}/runs?type=agent&db_id={db_id}")).await.json().await.unwrap();
    assert_eq!(runs[0]["run_input"], "Write a haiku");
    assert_eq!(runs[0]["content"], "You said: \"Write a haiku\"");
    let detail: serde_json::Value = get(format!("/sessions/{session_id}?db_id={db_id}")).await.json().await.unwrap();
    assert_eq!(detail["agent_session_id"], session_id.as_str());
    assert_eq!(detail["session_name"], "Write a haiku");
    // Deleting it, as the sidebar does.
    let res = server.client.delete(server.url(&format!("/sessions/{session_id}?db_id={db_id}"))).send().await.unwrap();
    assert_eq!(res.status(), 204);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluations_are_read_over_http() {
    use agno::eval::AgentAsJudgeEval;
    let db = std::sync::Arc::new(agno::db::InMemoryDb::new());
    let eval = AgentAsJudgeEval::builder().name("Quality").criteria("The answer is helpful").build().unwrap();
    let agent = Agent::builder().id("judged").db(db.clone()).post_hook(eval).build().unwrap();
    let server = Server::start(AgentOS::builder().agents([agent]).build().unwrap()).await;
    let res = server.run("judged", &[("message", "Hello"), ("stream", "false")]).await;
    assert_eq!(res.status(), 200);
    let run: serde_json::Value = res.json().await.unwrap();

    let page: serde_json::Value = server
        .client
        .get(server.url("/eval-runs?agent_id=judged&eval_types=agent_as_judge"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["meta"]["total_count"], 1);
    let eval = &page["data"][0];
    assert_eq!(eval["agent_id"], "judged");
    assert_eq!(eval["eval_type"], "agent_as_judge");
    assert_eq!(eval["name"], "Quality");
    assert_eq!(eval["eval_data"]["passed"], true);
    assert_eq!(eval["eval_data"]["evaluated_run_id"], run["run_id"]);
    assert!(eval["created_at"].as_str().is_some_and(|t| t.ends_with("+00:00")), "{eval}");
    assert!(eval["user_id"].is_null(), "nulls are kept on this route, as agno sends them");

    let id = eval["id"].as_str().unwrap();
    let one: serde_json::Value =
        server.client.get(server.url(&format!("/eval-runs/{id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(&one, eval);
    let res = server.client.get(server.url("/eval-runs/missing")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["detail"], "Eval run with id 'missing' not found");
    let none: serde_json::Value =
        server.client.get(server.url("/eval-runs?type=team")).send().await.unwrap().json().await.unwrap();
    assert_eq!(none["meta"]["total_count"], 0);
    let res = server.client.get(server.url("/eval-runs?eval_types=agent_as_judge,vibes")).send().await.unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("Invalid eval_type: vibes"));
    server.stop().await;
}
