//! The real Claude Code CLI for end-to-end tests, run offline against a loopback stand-in of
//! Anthropic's Messages API.
//!
//! The CLI is proprietary: it is installed from npm at test time into a cache outside the
//! repository (`$AGNO_TEST_CACHE`, else `$XDG_CACHE_HOME/agno-test-tools`, else
//! `$HOME/.cache/agno-test-tools`), never into the repository. When npm or the install is
//! unavailable, [`claude_cli`] prints `skipped: Claude Code CLI unavailable (<reason>)` and returns
//! `None`, and the test returns early.
//!
//! ```ignore
//! let Some(cli) = claude_cli() else { return };
//! let home = ClaudeHome::new().expect("temp HOME");
//! let out = ClaudeRun::new(&cli, home.path(), project.path())
//!     .base_url(&stand_in_url)
//!     .settings(&settings_json)
//!     .prompt("write a.txt")
//!     .run()
//!     .expect("claude -p");
//! // Same HOME, same project dir: `--continue` resumes the same session.
//! let again = ClaudeRun::new(&cli, home.path(), project.path())
//!     .base_url(&stand_in_url)
//!     .settings(&settings_json)
//!     .prompt("and now?")
//!     .continue_session()
//!     .run()
//!     .expect("claude -p --continue");
//! ```
//!
//! Measured behaviour of the CLI: `tests/fixtures/claude_code/PROTOCOL.md`.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::tools::{cache_root, locked_install, npm_install};

/// The Claude Code release these tests are pinned to.
pub const CLAUDE_CODE_VERSION: &str = "2.1.332";

/// The npm package that carries the CLI.
const PACKAGE: &str = "@anthropic-ai/claude-code";

/// Default limit for one `claude -p` run (a run takes about a second offline).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Environment variables that keep the CLI offline and quiet.
const OFFLINE_ENV: &[(&str, &str)] = &[
    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ("DISABLE_TELEMETRY", "1"),
    ("DISABLE_AUTOUPDATER", "1"),
    ("DISABLE_ERROR_REPORTING", "1"),
    // Anything that is not the loopback base URL goes to a closed port.
    ("HTTPS_PROXY", "http://127.0.0.1:9"),
    ("HTTP_PROXY", "http://127.0.0.1:9"),
    ("NO_PROXY", "127.0.0.1,localhost,::1"),
];

/// Variables passed through from the test process; everything else is cleared, so neither a
/// real API key nor the environment of an enclosing Claude Code session leaks into the run.
const PASSTHROUGH_ENV: &[&str] = &["PATH", "TMPDIR", "LANG", "LC_ALL", "TZ"];

/// The pinned Claude Code CLI, installed into the cache on first use.
///
/// Returns `None` (after printing `skipped: Claude Code CLI unavailable (<reason>)` to stderr)
/// when npm is missing, the install fails, or the installed binary is not the pinned version.
pub fn claude_cli() -> Option<PathBuf> {
    static CLI: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match CLI.get_or_init(try_claude_cli) {
        Ok(path) => Some(path.clone()),
        Err(reason) => {
            eprintln!("skipped: Claude Code CLI unavailable ({reason})");
            None
        }
    }
}

/// Like [`claude_cli`], with the reason as an error and no message printed.
pub fn try_claude_cli() -> Result<PathBuf, String> {
    let dir = cache_root()?.join(format!("claude-code-{CLAUDE_CODE_VERSION}"));
    let bin = dir.join("node_modules").join(".bin").join("claude");
    let spec = format!("{PACKAGE}@{CLAUDE_CODE_VERSION}");
    // The package's postinstall does not run when npm's allowScripts does not cover it; the
    // binary it ships works anyway, which the version check confirms.
    locked_install(
        &format!("claude-code-{CLAUDE_CODE_VERSION}"),
        || installed_version(&bin).map(|_| ()),
        || npm_install(&dir, &spec),
    )?;
    Ok(bin)
}

/// The version `bin --version` prints, if it is the pinned one.
fn installed_version(bin: &Path) -> Result<String, String> {
    if !bin.exists() {
        return Err(format!("{} is not installed", bin.display()));
    }
    let home = tempfile::tempdir().map_err(|e| format!("cannot create a temp HOME: {e}"))?;
    let out = offline_command(bin, home.path())
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && printed.split_whitespace().next() == Some(CLAUDE_CODE_VERSION) {
        Ok(printed)
    } else {
        Err(format!(
            "{} --version printed {printed:?} (status {}), expected {CLAUDE_CODE_VERSION}",
            bin.display(),
            out.status
        ))
    }
}

/// A command for the CLI with a cleared environment, `HOME` set and the offline variables.
fn offline_command(bin: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env_clear();
    for name in PASSTHROUGH_ENV {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd.env("HOME", home);
    for (name, value) in OFFLINE_ENV {
        cmd.env(name, value);
    }
    cmd
}

/// A temporary `HOME` for Claude Code. Keep it for a `--continue` run: the sessions live in
/// `<home>/.claude/projects/`.
pub struct ClaudeHome {
    dir: tempfile::TempDir,
}

impl ClaudeHome {
    pub fn new() -> io::Result<Self> {
        Ok(Self { dir: tempfile::Builder::new().prefix("claude-home-").tempdir()? })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// What one `claude -p` run produced.
#[derive(Debug)]
pub struct ClaudeOutput {
    pub stdout: String,
    pub stderr: String,
    pub status: ExitStatus,
    /// Wall time from spawn to exit and closed output pipes.
    pub duration: Duration,
}

impl ClaudeOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Stdout parsed as the JSON object of `--output-format json`, if it is one.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(self.stdout.trim()).ok()
    }

    /// `session_id` of the `--output-format json` result.
    pub fn session_id(&self) -> Option<String> {
        self.json()?.get("session_id")?.as_str().map(str::to_owned)
    }

    /// `result` (the last assistant text) of the `--output-format json` result.
    pub fn result(&self) -> Option<String> {
        self.json()?.get("result")?.as_str().map(str::to_owned)
    }
}

/// Why a run did not produce a [`ClaudeOutput`].
#[derive(Debug)]
pub enum ClaudeRunError {
    /// The builder was incomplete or pointed off loopback.
    Config(String),
    /// Writing the settings file or spawning the process failed.
    Io(String),
    /// The run exceeded its timeout; its process group was killed.
    Timeout { after: Duration, stdout: String, stderr: String },
}

impl std::fmt::Display for ClaudeRunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config(msg) => write!(f, "claude run misconfigured: {msg}"),
            Self::Io(msg) => write!(f, "claude run failed: {msg}"),
            Self::Timeout { after, stdout, stderr } => {
                write!(f, "claude run timed out after {after:?} and was killed\nstdout: {stdout}\nstderr: {stderr}")
            }
        }
    }
}

impl std::error::Error for ClaudeRunError {}

/// One `claude -p PROMPT --settings FILE --output-format json ...` run in a project dir, with
/// `HOME` set to the given dir and the network limited to loopback.
///
/// Defaults: `--permission-mode acceptEdits --allowedTools Write`, `ANTHROPIC_API_KEY` set to a
/// dummy key, settings `{}`, timeout [`DEFAULT_TIMEOUT`]. `CLAUDE_PROJECT_DIR` is left for
/// Claude Code to set (it passes the project dir to hooks).
pub struct ClaudeRun {
    cli: PathBuf,
    home: PathBuf,
    project_dir: PathBuf,
    base_url: Option<String>,
    settings: String,
    prompt: String,
    continue_session: bool,
    permission_mode: Option<String>,
    allowed_tools: Option<String>,
    extra_args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
}

impl ClaudeRun {
    pub fn new(cli: &Path, home: &Path, project_dir: &Path) -> Self {
        Self {
            cli: cli.to_owned(),
            home: home.to_owned(),
            project_dir: project_dir.to_owned(),
            base_url: None,
            settings: "{}".into(),
            prompt: String::new(),
            continue_session: false,
            permission_mode: Some("acceptEdits".into()),
            allowed_tools: Some("Write".into()),
            extra_args: Vec::new(),
            env: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The stand-in's base URL, e.g. `http://127.0.0.1:PORT`. Required; must be loopback.
    pub fn base_url(mut self, url: &str) -> Self {
        self.base_url = Some(url.trim_end_matches('/').to_owned());
        self
    }

    /// The settings JSON (hooks and so on), written to a file under `HOME` and passed with
    /// `--settings`.
    pub fn settings(mut self, settings: &Value) -> Self {
        self.settings = settings.to_string();
        self
    }

    /// The settings as JSON text.
    pub fn settings_str(mut self, settings: &str) -> Self {
        self.settings = settings.to_owned();
        self
    }

    pub fn prompt(mut self, prompt: &str) -> Self {
        self.prompt = prompt.to_owned();
        self
    }

    /// Adds `--continue`: resumes the most recent session of this project dir under this HOME
    /// (Claude Code keeps its `session_id`).
    pub fn continue_session(mut self) -> Self {
        self.continue_session = true;
        self
    }

    /// `--permission-mode MODE`; `None` leaves it out (Claude Code's default mode).
    pub fn permission_mode(mut self, mode: Option<&str>) -> Self {
        self.permission_mode = mode.map(str::to_owned);
        self
    }

    /// `--allowedTools TOOLS` (space or comma separated); `None` leaves it out.
    pub fn allowed_tools(mut self, tools: Option<&str>) -> Self {
        self.allowed_tools = tools.map(str::to_owned);
        self
    }

    /// Any further argument, e.g. `--debug-file PATH`.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.extra_args.push(arg.as_ref().to_owned());
        self
    }

    /// An extra environment variable for Claude Code (and so for its hooks).
    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env.push((name.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The command this run would spawn (settings file not written yet).
    fn command(&self, base_url: &str, settings_file: &Path) -> Command {
        let mut cmd = offline_command(&self.cli, &self.home);
        cmd.env("ANTHROPIC_BASE_URL", base_url).env("ANTHROPIC_API_KEY", "sk-ant-test-offline");
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        cmd.arg("-p").arg(&self.prompt).arg("--settings").arg(settings_file);
        if let Some(mode) = &self.permission_mode {
            cmd.args(["--permission-mode", mode]);
        }
        if let Some(tools) = &self.allowed_tools {
            cmd.args(["--allowedTools", tools]);
        }
        cmd.args(["--output-format", "json"]);
        if self.continue_session {
            cmd.arg("--continue");
        }
        cmd.args(&self.extra_args);
        cmd.current_dir(&self.project_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout can kill hooks and their children too.
            .process_group(0);
        cmd
    }

    /// Runs `claude -p` to completion (or to the timeout).
    pub fn run(self) -> Result<ClaudeOutput, ClaudeRunError> {
        let base_url = self
            .base_url
            .clone()
            .ok_or_else(|| ClaudeRunError::Config("no base_url: point it at a loopback stand-in".into()))?;
        if !is_loopback_url(&base_url) {
            return Err(ClaudeRunError::Config(format!("base_url {base_url} is not a loopback http URL")));
        }
        if !self.project_dir.is_dir() {
            return Err(ClaudeRunError::Config(format!("project dir {} does not exist", self.project_dir.display())));
        }
        let settings_file = self.write_settings()?;
        let mut cmd = self.command(&base_url, &settings_file);

        let started = Instant::now();
        let deadline = started + self.timeout;
        let mut child =
            cmd.spawn().map_err(|e| ClaudeRunError::Io(format!("cannot spawn {}: {e}", self.cli.display())))?;
        let stdout = read_in_background(child.stdout.take());
        let stderr = read_in_background(child.stderr.take());

        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    kill_group(&mut child);
                    return Err(ClaudeRunError::Timeout {
                        after: self.timeout,
                        stdout: collect(stdout, Duration::from_secs(2)).unwrap_or_default(),
                        stderr: collect(stderr, Duration::from_secs(2)).unwrap_or_default(),
                    });
                }
                Ok(None) => thread::sleep(Duration::from_millis(10)),
                Err(e) => {
                    kill_group(&mut child);
                    return Err(ClaudeRunError::Io(format!("cannot wait for claude: {e}")));
                }
            }
        };
        // The pipes close when the last process holding them exits; a leftover child that
        // inherited them must not hang the test either.
        let remaining = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
        let out = collect(stdout, remaining);
        let err = collect(stderr, remaining);
        let duration = started.elapsed();
        match (out, err) {
            (Some(stdout), Some(stderr)) => Ok(ClaudeOutput { stdout, stderr, status, duration }),
            (out, err) => {
                kill_group(&mut child);
                Err(ClaudeRunError::Timeout {
                    after: self.timeout,
                    stdout: out.unwrap_or_else(|| "<still held open by a leftover process>".into()),
                    stderr: err.unwrap_or_else(|| "<still held open by a leftover process>".into()),
                })
            }
        }
    }

    fn write_settings(&self) -> Result<PathBuf, ClaudeRunError> {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        serde_json::from_str::<Value>(&self.settings)
            .map_err(|e| ClaudeRunError::Config(format!("settings are not JSON: {e}")))?;
        let dir = self.home.join(".agno-test");
        fs::create_dir_all(&dir).map_err(|e| ClaudeRunError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let n = RUNS.fetch_add(1, Ordering::Relaxed);
        let file = dir.join(format!("settings-{}-{n}.json", std::process::id()));
        fs::write(&file, &self.settings)
            .map_err(|e| ClaudeRunError::Io(format!("cannot write {}: {e}", file.display())))?;
        Ok(file)
    }
}

/// `http://127.0.0.1...`, `http://localhost...` or `http://[::1]...`.
fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| &h[1..]).unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Reads a pipe to EOF on a thread; the text arrives on the channel.
fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

fn collect(rx: mpsc::Receiver<String>, wait: Duration) -> Option<String> {
    rx.recv_timeout(wait).ok()
}

/// Kills the run: Claude Code's own process group and every process descended from it.
///
/// Claude Code starts each hook command in a session (and process group) of its own, so the
/// hooks and their children are found through `/proc` parent links and killed with their groups.
fn kill_group(child: &mut Child) {
    let root = child.id();
    let mut targets: Vec<String> = vec![format!("-{root}")];
    for (pid, pgid) in descendants(root) {
        targets.push(pid.to_string());
        if pgid == pid {
            targets.push(format!("-{pid}"));
        }
    }
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg("--")
        .args(&targets)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// `(pid, ppid, pgid)` of every process, from `/proc/<pid>/stat`.
fn processes() -> Vec<(u32, u32, u32)> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
            let mut rest = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
            let _state = rest.next()?;
            let ppid = rest.next()?.parse().ok()?;
            let pgid = rest.next()?.parse().ok()?;
            Some((pid, ppid, pgid))
        })
        .collect()
}

/// `(pid, pgid)` of every live descendant of `root`.
fn descendants(root: u32) -> Vec<(u32, u32)> {
    let procs = processes();
    let mut found = vec![(root, 0)];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i].0;
        found.extend(procs.iter().filter(|(_, ppid, _)| *ppid == parent).map(|(pid, _, pgid)| (*pid, *pgid)));
        i += 1;
    }
    found.remove(0);
    found
}
