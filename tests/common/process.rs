//! A server in a process of its own: the test binary started again to run one "test" that
//! serves (with environment variables saying what), printing `listening on http://…` once it
//! accepts connections and stopping when its stdin closes. Killed when dropped, so none outlives
//! the test that started it.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child server process.
pub struct ServerProcess {
    pub child: Child,
    stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:<port>`, once it listens.
    pub base: String,
    ready: Option<mpsc::Receiver<String>>,
    /// What it printed, stdout and stderr interleaved.
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts this test binary running only the test `serve` (exactly), with `env` set and
    /// AgentOS's own variables cleared, without waiting for it ([`Self::wait_ready`]).
    pub fn spawn(serve: &str, env: &[(&str, OsString)]) -> Self {
        let mut command = Command::new(std::env::current_exe().expect("the test binary"));
        command.args([serve, "--exact", "--nocapture", "--test-threads=1"]);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .env_remove("OS_SECURITY_KEY")
            .env_remove("AGENT_OS_HOST")
            .env_remove("AGENT_OS_PORT")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a server process");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, ready) = mpsc::channel();
        read_lines(child.stdout.take().expect("stdout piped"), Arc::clone(&log), Some(tx));
        read_lines(child.stderr.take().expect("stderr piped"), Arc::clone(&log), None);
        let stdin = child.stdin.take();
        Self { child, stdin, base: String::new(), ready: Some(ready), log }
    }

    /// [`Self::spawn`], then [`Self::wait_ready`].
    pub fn start(serve: &str, env: &[(&str, OsString)], limit: Duration) -> Self {
        let mut server = Self::spawn(serve, env);
        server.wait_ready(limit);
        server
    }

    /// Waits, at most `limit`, until the process says where it listens.
    pub fn wait_ready(&mut self, limit: Duration) {
        let ready = self.ready.take().expect("wait_ready once");
        match ready.recv_timeout(limit) {
            Ok(base) => self.base = base,
            Err(_) => {
                let status = self.child.try_wait().ok().flatten();
                panic!("the server process never listened (exit: {status:?})\n{}", self.output());
            }
        }
    }

    /// Everything it printed so far.
    pub fn output(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGKILL (`Child::kill` on unix), then reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL the server process");
        self.child.wait().expect("reap the server process")
    }

    /// Closes its stdin (a graceful stop) and waits, at most `limit`, for it to exit.
    pub fn stop(&mut self, limit: Duration) -> ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the server process did not stop\n{}", self.output());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Copies a child's pipe into `log`, line by line; sends the address of a `listening on` line.
fn read_lines(pipe: impl Read + Send + 'static, log: Arc<Mutex<Vec<String>>>, ready: Option<mpsc::Sender<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            // libtest's `test <name> ... ` may lead the line.
            if let (Some(ready), Some((_, base))) = (&ready, line.split_once("listening on ")) {
                let _ = ready.send(base.trim().to_owned());
            }
            log.lock().unwrap().push(line);
        }
    });
}

/// In the child: logs warnings and errors to stderr (which the parent shows when a test fails)
/// and runs `serve` on a multi-threaded runtime.
pub fn serve_in_child(serve: impl std::future::Future<Output = ()>) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    runtime.block_on(serve);
}

/// Stdin closing, as a future: the server's signal to stop.
pub async fn stdin_closed() {
    let (closed, on_close) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = closed.send(());
    });
    let _ = on_close.await;
}
