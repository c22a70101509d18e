//! A real AgentOS server on loopback for tests, and helpers to read its answers.

use std::time::Duration;

use agno::os::{AgentOS, ShutdownReport};
use serde_json::Value;
use tokio::sync::oneshot;

/// A server on 127.0.0.1 with a handle to stop it.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<ShutdownReport>,
}

impl Server {
    pub async fn start(os: AgentOS) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = os.get_app();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            os.serve_with(listener, app, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap()
        });
        // reqwest shares agno's TLS build, which needs a process-wide crypto provider.
        agno::models::openai::install_tls_provider();
        Self { base, stop: Some(stop), done, client: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn run(&self, agent: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(self.url(&format!("/agents/{agent}/runs"))).form(fields).send().await.unwrap()
    }

    /// `POST {path}` with form fields (`/teams/t/runs`).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(self.url(path)).form(fields).send().await.unwrap()
    }

    /// Polls a `.../runs/{run_id}/hooks` route until every background hook has ended.
    pub async fn finished_hooks(&self, path: &str) -> Vec<Value> {
        for _ in 0..1000 {
            let res = self.client.get(self.url(path)).send().await.unwrap();
            if res.status() == 200 {
                let body: Value = res.json().await.unwrap();
                let hooks = body["hooks"].as_array().unwrap().clone();
                if hooks.iter().all(|h| h["status"] == "completed" || h["status"] == "failed") {
                    return hooks;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the background hooks at {path} never finished");
    }

    pub async fn stop(mut self) -> ShutdownReport {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.done.await.unwrap()
    }
}

/// Whether JSON text has no whitespace outside its strings.
pub fn is_compact(json: &str) -> bool {
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, false, '"') => in_string = !in_string,
            (false, _, c) if c.is_whitespace() => return false,
            _ => {}
        }
    }
    true
}

/// Parses SSE frames `event: X\ndata: {...}\n\n`.
pub fn frames(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .map(|frame| {
            let mut lines = frame.lines();
            let event = lines.next().unwrap().strip_prefix("event: ").unwrap().to_owned();
            let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
            assert!(lines.next().is_none(), "exactly two lines per frame");
            assert!(is_compact(data), "compact JSON: {data}");
            (event, serde_json::from_str(data).unwrap())
        })
        .collect()
}
