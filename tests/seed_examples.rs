//! The AgentOS examples that mirror agno's background-hook seeds, run as servers: the seed's
//! `curl` gets a completed run at once, the hooks run after it in the order the seed describes,
//! and SIGTERM right after a response still lets its background hooks finish before the exit.
//! The output-evaluation example (seed 002's third card) stores the judge's verdict in SQLite.
//!
//! Waits are bounded; nothing here measures time.
//!
//! The examples must be built: `cargo test` builds them, `cargo test --test seed_examples` alone
//! does not (run `cargo build --examples` first).

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The seed's command, verbatim (the port is substituted).
const SEED_CURL: &str = "curl -X POST http://localhost:7777/agents/background-task-agent/runs \\
  -F \"message=Hello, how are you?\" \\
  -F \"stream=false\"";

const EXPECTED_CONTENT: &str = "You said: \"Hello, how are you?\"";
const NOTIFICATION_SENT: &str = "[Background Post-Hook] Notification sent!";
/// How long the hooks of one request may take to show up (they sleep 3 s, or 2 + 3 s).
const HOOK_WAIT: Duration = Duration::from_secs(10);
/// How long the server may take to exit after SIGTERM (its grace period is 30 s).
const EXIT_WAIT: Duration = Duration::from_secs(40);

/// An example binary as cargo builds it (`target/<profile>/examples/<name>`), checked to exist and
/// to be newer than its source.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let binary = profile_dir.join("examples").join(name);
    let built = std::fs::metadata(&binary).and_then(|m| m.modified()).unwrap_or_else(|e| {
        panic!("{}: {e}; build the examples first (`cargo build --examples`, or plain `cargo test`)", binary.display())
    });
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples").join(format!("{name}.rs"));
    if let Ok(written) = std::fs::metadata(&source).and_then(|m| m.modified()) {
        assert!(
            built >= written,
            "{} is older than {}: rebuild the examples (`cargo build --examples`)",
            binary.display(),
            source.display()
        );
    }
    binary
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Lines a child printed, filled by a reader thread; `closed` once the pipe reached its end.
#[derive(Default)]
struct Output {
    lines: Mutex<(Vec<String>, bool)>,
    changed: Condvar,
}

impl Output {
    fn read_from(self: &Arc<Self>, pipe: impl Read + Send + 'static) -> JoinHandle<()> {
        let output = Arc::clone(self);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                output.lines.lock().unwrap().0.push(line);
                output.changed.notify_all();
            }
            output.lines.lock().unwrap().1 = true;
            output.changed.notify_all();
        })
    }

    fn snapshot(&self) -> Vec<String> {
        self.lines.lock().unwrap().0.clone()
    }

    /// Waits until `done` holds for the lines read so far, or the pipe closed, or `limit` passed.
    fn wait_until(&self, limit: Duration, done: impl Fn(&[String]) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        let mut guard = self.lines.lock().unwrap();
        loop {
            if done(&guard.0) {
                return true;
            }
            let now = Instant::now();
            if guard.1 || now >= deadline {
                return false;
            }
            guard = self.changed.wait_timeout(guard, deadline - now).unwrap().0;
        }
    }

    fn text(&self) -> String {
        self.snapshot().join("\n")
    }
}

fn count(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|l| l.contains(needle)).count()
}

fn position(lines: &[String], needle: &str) -> Option<usize> {
    lines.iter().position(|l| l.contains(needle))
}

/// An example serving on a free port in a temporary working directory.
struct Server {
    child: Child,
    port: u16,
    stdout: Arc<Output>,
    stderr: Arc<Output>,
    readers: Vec<JoinHandle<()>>,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut child = Command::new(example(name))
            .current_dir(dir.path())
            .env("AGENT_OS_PORT", port.to_string())
            .env("AGENT_OS_HOST", "127.0.0.1")
            .env_remove("OS_SECURITY_KEY")
            .env_remove("RUST_LOG")
            // Offline models, whatever the environment holds.
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"));
        let (stdout, stderr) = (Arc::new(Output::default()), Arc::new(Output::default()));
        let readers = vec![
            stdout.read_from(child.stdout.take().expect("stdout piped")),
            stderr.read_from(child.stderr.take().expect("stderr piped")),
        ];
        let mut server = Self { child, port, stdout, stderr, readers, dir };
        server.wait_healthy();
        server
    }

    fn report(&self) -> String {
        format!("--- stdout:\n{}\n--- stderr:\n{}", self.stdout.text(), self.stderr.text())
    }

    /// Polls `GET /health` until it answers 200 (at most 200 tries, 50 ms apart).
    fn wait_healthy(&mut self) {
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("the example exited early ({status})\n{}", self.report());
            }
            if health_ok(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no 200 from /health on port {}\n{}", self.port, self.report());
    }

    /// Sends the seed's request; checks the 200 and the completed run in its JSON.
    fn post_seed_request(&self) {
        let (status, body) = if curl_available() { seed_curl(self.port) } else { seed_reqwest(self.port) };
        assert_eq!(status, 200, "body: {body}\n{}", self.report());
        let json: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}\n{}", self.report()));
        assert_eq!(json["status"], "COMPLETED", "{body}");
        assert_eq!(json["content"], EXPECTED_CONTENT, "{body}");
        assert_eq!(json["agent_id"], "background-task-agent", "{body}");
    }

    /// `kill -TERM <pid>`.
    fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits (bounded) for the process to exit and for its output to be read to the end.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + EXIT_WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the example did not exit within {EXIT_WAIT:?} of SIGTERM\n{}", self.report());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for reader in self.readers.drain(..) {
            reader.join().expect("reader thread");
        }
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only reached with the child still running when a test failed.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn health_ok(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

fn curl_available() -> bool {
    if std::env::var_os("SEED_EXAMPLES_NO_CURL").is_some() {
        return false;
    }
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The seed's curl command through `sh`, as a user would paste it; the appended options only
/// quiet curl and print the status code after the body.
fn seed_curl(port: u16) -> (u16, String) {
    let command = format!(
        "{} --silent --show-error --write-out '\\n%{{http_code}}'",
        SEED_CURL.replace(":7777", &format!(":{port}"))
    );
    let out = Command::new("sh").args(["-c", &command]).output().expect("run sh -c curl ...");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "curl failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// The same multipart form as the seed's curl, sent with reqwest (when curl is not installed).
fn seed_reqwest(port: u16) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let form = reqwest::multipart::Form::new().text("message", "Hello, how are you?").text("stream", "false");
        // reqwest shares agno's TLS build, which needs a process-wide crypto provider.
        agno::models::openai::install_tls_provider();
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
        let response = client
            .post(format!("http://localhost:{port}/agents/background-task-agent/runs"))
            .multipart(form)
            .send()
            .await
            .expect("send the run request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("response body"))
    })
}

/// What both examples share: a request whose hooks all show up after it, then a request
/// followed at once by SIGTERM, whose background hooks still finish before the exit.
fn run_seed(name: &str, check_first_request: impl Fn(&[String], usize)) {
    let mut server = Server::start(name);
    assert!(
        server.stdout.snapshot().iter().any(|l| l.contains("Model: offline")),
        "the example says which model it uses\n{}",
        server.report()
    );

    // 1. The seed's request: the response does not wait for the background hooks.
    server.post_seed_request();
    let at_response = server.stdout.snapshot().len();
    assert_eq!(
        count(&server.stdout.snapshot(), NOTIFICATION_SENT),
        0,
        "the notification was sent before the response\n{}",
        server.report()
    );
    let finished = server.stdout.wait_until(HOOK_WAIT, |lines| count(lines, NOTIFICATION_SENT) == 1);
    assert!(finished, "no `{NOTIFICATION_SENT}` within {HOOK_WAIT:?}\n{}", server.report());
    check_first_request(&server.stdout.snapshot(), at_response);

    // 2. A request, then SIGTERM as soon as its response is in: nothing is lost.
    server.post_seed_request();
    let before_term = count(&server.stdout.snapshot(), NOTIFICATION_SENT);
    server.terminate();
    let status = server.wait_exit();
    let lines = server.stdout.snapshot();
    assert!(status.success(), "exit status {status}\n{}", server.report());
    assert_eq!(before_term, 1, "the second notification was sent before its response\n{}", server.report());
    assert_eq!(
        count(&lines, NOTIFICATION_SENT),
        2,
        "the second request's notification was lost on shutdown\n{}",
        server.report()
    );
    assert_eq!(count(&lines, "[Background Pre-Hook] Input: Hello, how are you?"), 2, "{}", server.report());
}

/// Where each expected line first appears; fails naming the first one missing.
fn positions(lines: &[String], expected: &[&str]) -> Vec<usize> {
    expected
        .iter()
        .map(|line| position(lines, line).unwrap_or_else(|| panic!("missing `{line}` in:\n{}", lines.join("\n"))))
        .collect()
}

#[test]
fn global_example_answers_then_runs_every_hook_in_the_background() {
    run_seed("background_hooks_global", |lines, at_response| {
        let expected = [
            "[Background Pre-Hook] Request received for agent: BackgroundTaskAgent",
            "[Background Pre-Hook] Input: Hello, how are you?",
            "[Background Post-Hook] Logging analytics for run: ",
            "[Background Post-Hook] Agent: BackgroundTaskAgent",
            "[Background Post-Hook] Session: ",
            "[Background Post-Hook] Analytics logged successfully!",
            "[Background Post-Hook] Sending notification for agent: BackgroundTaskAgent",
            NOTIFICATION_SENT,
        ];
        let positions = positions(lines, &expected);
        assert!(positions.is_sorted(), "hooks out of order ({positions:?}):\n{}", lines.join("\n"));
        // Every hook ran in the background: the response had gone before the last of them ended.
        assert!(positions[5] >= at_response, "analytics logged before the response:\n{}", lines.join("\n"));
        assert_eq!(count(lines, "[Sync Post-Hook]"), 0);
    });
}

#[test]
fn decorator_example_runs_log_analytics_inline_and_the_others_in_the_background() {
    run_seed("background_hooks_decorator", |lines, at_response| {
        let expected = [
            "[Sync Post-Hook] Logging analytics for run: ",
            "[Sync Post-Hook] Agent: BackgroundTaskAgent",
            "[Sync Post-Hook] Session: ",
            "[Sync Post-Hook] Analytics logged successfully!",
            "[Background Pre-Hook] Request received for agent: BackgroundTaskAgent",
            "[Background Pre-Hook] Input: Hello, how are you?",
            "[Background Post-Hook] Sending notification for agent: BackgroundTaskAgent",
            NOTIFICATION_SENT,
        ];
        let positions = positions(lines, &expected);
        // log_analytics ran inline, before the background pre-hook that was queued ahead of it.
        assert!(positions.is_sorted(), "hooks out of order ({positions:?}):\n{}", lines.join("\n"));
        assert!(positions[7] >= at_response, "notification sent before the response:\n{}", lines.join("\n"));
    });
}

/// An `agno_eval_runs` row: eval_type, name, agent_id, model_id, model_provider, eval_data.
type EvalRow = (String, Option<String>, Option<String>, Option<String>, Option<String>, String);

#[test]
fn output_evaluation_example_stores_the_judges_verdict() {
    let mut server = Server::start("background_output_evaluation");
    let lines = server.stdout.snapshot();
    assert!(lines.iter().any(|l| l.starts_with("Model: offline")), "{}", server.report());
    assert!(lines.iter().any(|l| l.starts_with("Judge: offline")), "{}", server.report());

    // A run over HTTP, answered before the evaluation runs.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (status, body) = runtime.block_on(async {
        // reqwest shares agno's TLS build, which needs a process-wide crypto provider.
        agno::models::openai::install_tls_provider();
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
        let response = client
            .post(format!("http://127.0.0.1:{}/agents/evaluated-agent/runs", server.port))
            .form(&[("message", "What is the capital of France?"), ("stream", "false")])
            .send()
            .await
            .expect("send the run request");
        (response.status().as_u16(), response.text().await.expect("response body"))
    });
    assert_eq!(status, 200, "{body}\n{}", server.report());
    let run: serde_json::Value = serde_json::from_str(&body).expect("JSON run");
    assert_eq!(run["status"], "COMPLETED", "{body}");
    let run_id = run["run_id"].as_str().expect("run_id").to_owned();

    // SIGTERM at once: shutdown waits for the background evaluation.
    server.terminate();
    let status = server.wait_exit();
    assert!(status.success(), "exit status {status}\n{}", server.report());

    let db = rusqlite::Connection::open(server.dir.path().join("tmp/agent.db")).expect("open tmp/agent.db");
    let rows: Vec<EvalRow> = db
        .prepare("SELECT eval_type, name, agent_id, model_id, model_provider, eval_data FROM agno_eval_runs")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
                .collect::<Result<_, _>>()
        })
        .expect("read agno_eval_runs");
    assert_eq!(rows.len(), 1, "one evaluation for one run\n{}", server.report());
    let (eval_type, name, agent_id, model_id, model_provider, eval_data) = &rows[0];
    assert_eq!(eval_type, "agent_as_judge");
    assert_eq!(name.as_deref(), Some("Response Quality Check"));
    assert_eq!(agent_id.as_deref(), Some("evaluated-agent"));
    assert_eq!((model_id.as_deref(), model_provider.as_deref()), (Some("offline"), Some("Offline")));
    let data: serde_json::Value = serde_json::from_str(eval_data).expect("eval_data is JSON");
    assert_eq!(data["passed"], true, "{data}");
    assert_eq!(data["score"], 10, "{data}");
    assert_eq!(data["threshold"], 7, "{data}");
    assert_eq!(data["scoring_strategy"], "numeric", "{data}");
    assert!(data["reason"].as_str().is_some_and(|r| r.starts_with("Offline judge:")), "{data}");
    assert_eq!(data["input"], "What is the capital of France?", "{data}");
    assert_eq!(data["output"], "You said: \"What is the capital of France?\"", "{data}");
    assert_eq!(data["evaluated_run_id"], run_id.as_str(), "{data}");
    assert!(server.report().contains("evaluation passed"), "the verdict is logged\n{}", server.report());
}
