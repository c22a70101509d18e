//! `GET /openapi.json` (OpenAPI 3.1, generated from the routes) and `GET /docs` (Swagger UI, its
//! assets served by the server itself, so the page works offline).

mod common;

use std::collections::BTreeSet;

use agno::os::AgentOS;
use agno::prelude::*;
use common::server::Server;
use serde_json::Value;

async fn server() -> Server {
    let agent = Agent::builder().id("docs-agent").db(agno::db::InMemoryDb::new()).build().unwrap();
    Server::start(AgentOS::builder().agents([agent]).build().unwrap()).await
}

/// Every route of the router, with its methods.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/health"),
    ("get", "/info"),
    ("get", "/config"),
    ("get", "/registry"),
    ("get", "/agents"),
    ("get", "/agents/{agent_id}"),
    ("post", "/agents/{agent_id}/runs"),
    ("get", "/agents/{agent_id}/runs/{run_id}"),
    ("post", "/agents/{agent_id}/runs/{run_id}/cancel"),
    ("get", "/agents/{agent_id}/runs/{run_id}/hooks"),
    ("get", "/teams"),
    ("get", "/teams/{team_id}"),
    ("post", "/teams/{team_id}/runs"),
    ("get", "/teams/{team_id}/runs/{run_id}"),
    ("post", "/teams/{team_id}/runs/{run_id}/cancel"),
    ("get", "/teams/{team_id}/runs/{run_id}/hooks"),
    ("get", "/workflows"),
    ("get", "/workflows/{workflow_id}"),
    ("post", "/workflows/{workflow_id}/runs"),
    ("get", "/workflows/{workflow_id}/runs/{run_id}"),
    ("post", "/workflows/{workflow_id}/runs/{run_id}/cancel"),
    ("get", "/workflows/{workflow_id}/runs/{run_id}/hooks"),
    ("get", "/sessions"),
    ("get", "/sessions/{session_id}"),
    ("delete", "/sessions/{session_id}"),
    ("get", "/sessions/{session_id}/runs"),
    ("get", "/eval-runs"),
    ("get", "/eval-runs/{eval_run_id}"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route() {
    let server = server().await;
    let res = server.client.get(server.url("/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "AgentOS");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect();
    let routes: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(documented, routes, "the document and the router list the same routes");

    // Every path parameter is described, every operation has its answers.
    for (method, path) in ROUTES {
        let op = &doc["paths"][path][method];
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
        for name in path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
            let params = op["parameters"].as_array().unwrap_or_else(|| panic!("{method} {path}: no parameters"));
            assert!(params.iter().any(|p| p["name"] == name && p["in"] == "path"), "{method} {path}: {name}");
        }
    }
    // The run form (multipart, as Agent UI sends it) and the two answers of a run.
    let run = &doc["paths"]["/agents/{agent_id}/runs"]["post"];
    assert!(run["requestBody"]["content"]["multipart/form-data"].is_object(), "{}", run["requestBody"]);
    let schema = &doc["components"]["schemas"]["RunFormSchema"];
    for field in ["message", "stream", "session_id", "user_id", "metadata", "background"] {
        assert!(schema["properties"][field].is_object(), "{field}: {schema}");
    }
    assert_eq!(schema["required"], serde_json::json!(["message"]));
    assert!(schema["propertyNames"]["pattern"].is_string(), "extra fields reach the hooks: {schema}");
    // A run is read back by its session.
    let get = &doc["paths"]["/agents/{agent_id}/runs/{run_id}"]["get"]["parameters"];
    let session = get.as_array().unwrap().iter().find(|p| p["name"] == "session_id").unwrap();
    assert_eq!((session["in"].as_str(), session["required"].as_bool()), (Some("query"), Some(true)));
    let ok = &run["responses"]["200"]["content"];
    assert!(ok["application/json"].is_object() && ok["text/event-stream"].is_object(), "{ok}");
    // agno's paging and filters on the session list.
    let params: BTreeSet<&str> = doc["paths"]["/sessions"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in ["type", "component_id", "user_id", "db_id", "limit", "page", "sort_by", "sort_order"] {
        assert!(params.contains(name), "{name}: {params:?}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_and_its_assets_are_served_by_the_server() {
    let server = server().await;
    let res = server.client.get(server.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    assert!(!page.contains("https://"), "no asset from another host: {page}");
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-initializer.js"] {
        let res = server.client.get(server.url(&format!("/docs/{asset}"))).send().await.unwrap();
        assert_eq!(res.status(), 200, "{asset}");
        let text = res.text().await.unwrap();
        assert!(text.len() > 100, "{asset}");
        if asset == "swagger-initializer.js" {
            assert!(text.contains("/openapi.json"), "it loads this server's document: {text}");
        }
    }
    let res = server.client.get(server.url("/docs")).send().await.unwrap();
    assert_eq!(res.status(), 200, "`/docs` leads to the page");
    server.stop().await;
}
