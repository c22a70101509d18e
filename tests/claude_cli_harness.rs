//! Smoke test of the Claude Code CLI harness (`tests/common/claude_cli.rs`): one `claude -p` and
//! one `--continue` against a tiny loopback stand-in of the Messages API written here.
//!
//! Skips (with a visible `skipped: ...` line) when the pinned CLI cannot be installed.

#[path = "common/claude_cli.rs"]
mod claude_cli;
#[path = "common/tools.rs"]
mod tools;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use claude_cli::{CLAUDE_CODE_VERSION, ClaudeHome, ClaudeRun, claude_cli};
use serde_json::{Value, json};

/// One request the stand-in received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: Value,
}

/// A loopback stand-in that answers every `POST /v1/messages` with one streamed text block.
struct StandIn {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl StandIn {
    fn start(answer: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                thread::spawn(move || {
                    if let Err(e) = serve(stream, &log, answer) {
                        eprintln!("stand-in: {e}");
                    }
                });
            }
        });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("stand-in log").clone()
    }
}

/// Serves one connection: one request, one answer, then close.
fn serve(stream: TcpStream, log: &Mutex<Vec<Seen>>, answer: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut content_length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body)?;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    log.lock().expect("stand-in log").push(Seen { method: method.clone(), path: path.clone(), body: body.clone() });

    let mut stream = stream;
    if method != "POST" || !path.starts_with("/v1/messages") || path.starts_with("/v1/messages/") {
        let msg = r#"{"type":"error","error":{"type":"not_found_error","message":"not here"}}"#;
        return write!(
            stream,
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{msg}",
            msg.len()
        );
    }
    let model = body.get("model").and_then(Value::as_str).unwrap_or("claude-test");
    let usage = json!({"input_tokens": 10, "output_tokens": 1});
    let events = [
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_harness", "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": answer}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"output_tokens": 1}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n"
    )?;
    for (name, data) in events {
        write!(stream, "event: {name}\ndata: {data}\n\n")?;
    }
    stream.flush()
}

#[test]
fn claude_p_runs_offline_against_a_loopback_stand_in() {
    let Some(cli) = claude_cli() else { return };
    let stand_in = StandIn::start("Hello from the stand-in.");
    let home = ClaudeHome::new().expect("temp HOME");
    let project = tempfile::tempdir().expect("temp project dir");
    // A hook that saves what Claude Code sends it, to show hooks run under the harness.
    let settings = json!({"hooks": {"UserPromptSubmit": [{"hooks": [{"type": "command",
        "command": "cat > \"$CLAUDE_PROJECT_DIR/prompt-hook.json\"", "timeout": 30}]}]}});

    let first = ClaudeRun::new(&cli, home.path(), project.path())
        .base_url(&stand_in.url)
        .settings(&settings)
        .prompt("say hello")
        .run()
        .expect("claude -p");
    assert!(first.success(), "claude -p {CLAUDE_CODE_VERSION} failed: {first:?}");
    assert_eq!(first.result().as_deref(), Some("Hello from the stand-in."), "{first:?}");
    let seen = stand_in.seen();
    assert!(
        seen.iter().any(|r| r.method == "POST" && r.path.starts_with("/v1/messages")),
        "the stand-in saw no /v1/messages request: {seen:?}"
    );
    let hook_input: Value = serde_json::from_str(
        &std::fs::read_to_string(project.path().join("prompt-hook.json")).expect("the UserPromptSubmit hook ran"),
    )
    .expect("hook stdin is JSON");
    assert_eq!(hook_input["hook_event_name"], "UserPromptSubmit");
    assert_eq!(hook_input["prompt"], "say hello");
    let session = first.session_id().expect("session_id in the JSON result");
    assert_eq!(hook_input["session_id"], session.as_str());

    // Same HOME and project dir: --continue resumes the same session.
    let second = ClaudeRun::new(&cli, home.path(), project.path())
        .base_url(&stand_in.url)
        .settings(&settings)
        .prompt("again")
        .continue_session()
        .run()
        .expect("claude -p --continue");
    assert!(second.success(), "claude -p --continue failed: {second:?}");
    assert_eq!(second.session_id().as_deref(), Some(session.as_str()), "{second:?}");
    let last = stand_in.seen().into_iter().last().expect("a request for the second run");
    let text = last.body["messages"].to_string();
    assert!(text.contains("say hello") && text.contains("again"), "the resumed request lacks the history: {text}");
    eprintln!("claude -p took {:?}, --continue took {:?}", first.duration, second.duration);
}

#[test]
fn a_run_off_loopback_is_refused() {
    let home = ClaudeHome::new().expect("temp HOME");
    let project = tempfile::tempdir().expect("temp project dir");
    let err = ClaudeRun::new(std::path::Path::new("/nonexistent/claude"), home.path(), project.path())
        .base_url("https://api.anthropic.com")
        .prompt("hi")
        .run()
        .expect_err("a non-loopback base URL must be refused");
    assert!(err.to_string().contains("not a loopback"), "{err}");
}

#[test]
fn a_run_past_its_timeout_is_killed_with_its_hooks() {
    let Some(cli) = claude_cli() else { return };
    let stand_in = StandIn::start("never reached");
    let home = ClaudeHome::new().expect("temp HOME");
    let project = tempfile::tempdir().expect("temp project dir");
    // The hook records its pid, then becomes a long sleep.
    let settings = json!({"hooks": {"UserPromptSubmit": [{"hooks": [{"type": "command",
        "command": "echo $$ > \"$CLAUDE_PROJECT_DIR/hook.pid\"; exec sleep 300", "timeout": 600}]}]}});
    let err = ClaudeRun::new(&cli, home.path(), project.path())
        .base_url(&stand_in.url)
        .settings(&settings)
        .prompt("hang")
        .timeout(Duration::from_secs(5))
        .run()
        .expect_err("the hook sleeps past the timeout");
    assert!(matches!(err, claude_cli::ClaudeRunError::Timeout { .. }), "{err}");
    let pid = std::fs::read_to_string(project.path().join("hook.pid")).expect("the hook started");
    let proc_dir = std::path::PathBuf::from(format!("/proc/{}", pid.trim()));
    // The kill is asynchronous: give the kernel a moment to reap the hook.
    let gone = (0..100).any(|_| {
        let alive = std::fs::read_to_string(proc_dir.join("stat")).map(|stat| !stat.contains(") Z ")).unwrap_or(false);
        if alive {
            thread::sleep(Duration::from_millis(50));
        }
        !alive
    });
    assert!(gone, "the hook process {} outlived the killed run", pid.trim());
}
