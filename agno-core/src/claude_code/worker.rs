//! The detached task worker: a hook process queues its tasks in the SQLite file and starts this
//! program again as a worker in a session of its own, with no stdin, stdout or stderr, so Claude
//! Code (which reads the hook's stdout until it closes) never waits for it. The worker runs what
//! is queued, takes over what dead processes left, and exits when nothing is left.
//!
//! One worker runs per file at a time: it holds an exclusive lock on `<db>.worker.lock` while it
//! works. The handoff leaves nothing stranded:
//! * a hook process, after queueing a row, starts a worker only if the lock is free (a worker
//!   that holds it takes new rows over every 100 ms);
//! * a worker that runs out of rows releases the lock, then looks once more for rows nobody
//!   runs; if there are, it takes the lock again (or leaves them to the worker that did).
//!
//! Whichever order a queueing hook and an exiting worker go in, one of them sees the other's
//! step. A worker started while another holds the lock exits at once.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::tasks::{DEFAULT_MAX_WORKERS, SqliteTaskBackend};

/// The first argument of a worker process; the database path and the task threads follow.
/// (Arguments, unlike the environment, are not inherited by what the worker's tasks start.)
pub const WORKER_ARG: &str = "--agno-claude-code-task-worker";

/// How long a worker waits for tasks still running (blocking ones cancelled elsewhere) before it
/// exits.
const GRACE: Duration = Duration::from_secs(30);

/// `<db><suffix>`.
fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut path = db.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

/// The lock a working worker holds.
fn lock_file(db: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).truncate(false).write(true).open(beside(db, ".worker.lock"))
}

/// Whether a worker holds the lock of `db` now.
fn worker_running(db: &Path) -> std::io::Result<bool> {
    let file = lock_file(db)?;
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// Whether this process was started as a task worker: `Some((db, threads))`.
pub(crate) fn invocation() -> Option<(PathBuf, usize)> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != WORKER_ARG {
        return None;
    }
    let db = PathBuf::from(args.next()?);
    let threads = args.next().and_then(|t| t.to_str()?.parse().ok()).unwrap_or(DEFAULT_MAX_WORKERS);
    Some((db, threads))
}

/// Starts `program` as a detached worker for the tasks in `db`, running `threads` at once.
fn spawn(program: &Path, db: &Path, threads: usize) -> std::io::Result<()> {
    let mut command = Command::new(program);
    command
        .arg(WORKER_ARG)
        .arg(db)
        .arg(threads.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    detach(&mut command);
    let child = command.spawn()?;
    tracing::debug!(pid = child.id(), db = %db.display(), "task worker started");
    // Not waited for: it outlives this process and is reparented when this one exits.
    drop(child);
    Ok(())
}

/// A session of its own, so the worker leaves Claude Code's process group and terminal.
#[cfg(unix)]
fn detach(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: `setsid` is async-signal-safe and touches no memory of the parent; it is the only
    // call made between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(unix))]
fn detach(_command: &mut Command) {}

/// Appends a line to `<db>.worker.log`: nobody reads a detached worker's stderr.
fn log_failure(db: &Path, what: &str) {
    tracing::error!(db = %db.display(), "{what}");
    let line = format!("{} agno task worker {}: {what}\n", crate::clock::now_unix(), std::process::id());
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .open(beside(db, ".worker.log"))
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(e) = written {
        tracing::error!(error = %e, "cannot write the task worker's log");
    }
}

/// The worker's main: runs the tasks of `db` until none is left. Exit code 0, or 1 when the file
/// cannot be used (the reason is appended to `<db>.worker.log`).
pub(crate) fn run(db: &Path, threads: usize) -> ExitCode {
    let lock = match lock_file(db) {
        Ok(lock) => lock,
        Err(e) => {
            log_failure(db, &format!("cannot open its lock: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            log_failure(db, &format!("cannot start a runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let mut backend: Option<SqliteTaskBackend> = None;
        loop {
            match lock.try_lock() {
                Ok(()) => {}
                // Another worker has the file: it takes over whatever is queued.
                Err(TryLockError::WouldBlock) => break,
                Err(TryLockError::Error(e)) => {
                    log_failure(db, &format!("cannot take its lock: {e}"));
                    return ExitCode::FAILURE;
                }
            }
            let worker = match backend.take() {
                Some(worker) => worker,
                // Opened with the lock held: opening takes over what is queued.
                None => match SqliteTaskBackend::open_with(db, threads) {
                    Ok(worker) => worker,
                    Err(e) => {
                        log_failure(db, &format!("cannot open the task store: {e}"));
                        return ExitCode::FAILURE;
                    }
                },
            };
            if let Err(e) = worker.run_until_idle().await {
                log_failure(db, &format!("stopped: {e}"));
                let _ = lock.unlock();
                worker.close(GRACE).await;
                return ExitCode::FAILURE;
            }
            if let Err(e) = lock.unlock() {
                log_failure(db, &format!("cannot release its lock: {e}"));
            }
            // Rows queued after the last look, by a hook that saw the lock held.
            let again = worker.has_orphans().unwrap_or(false);
            backend = Some(worker);
            if !again {
                break;
            }
        }
        if let Some(worker) = backend {
            worker.close(GRACE).await;
        }
        ExitCode::SUCCESS
    })
}

/// Starts detached workers for a task file when they are needed: after a handler queues a task,
/// and when the file has tasks nobody runs. The worker is this program, found when the first one
/// is started.
pub(crate) struct Starter {
    db: PathBuf,
    /// Whether to start workers at all (`HookApp::handle` in tests does not).
    enabled: bool,
    threads: usize,
    /// Whether this process started a worker (which takes over every row nobody runs).
    spawned: std::sync::atomic::AtomicBool,
    error: std::sync::Mutex<Option<String>>,
}

impl Starter {
    /// A starter for `db`'s workers, running `threads` tasks at once; `enabled: false` never
    /// starts one.
    pub(crate) fn new(db: PathBuf, enabled: bool, threads: usize) -> Arc<Self> {
        Arc::new(Self {
            db,
            enabled,
            threads,
            spawned: std::sync::atomic::AtomicBool::new(false),
            error: std::sync::Mutex::new(None),
        })
    }

    /// Starts a worker unless one holds the file's lock (it will see what was just queued).
    pub(crate) fn start(&self) {
        if !self.enabled {
            return;
        }
        let result = match worker_running(&self.db) {
            Ok(true) => return,
            Ok(false) => std::env::current_exe()
                .map_err(|e| format!("cannot find this program to start its task worker: {e}"))
                .and_then(|program| {
                    spawn(&program, &self.db, self.threads).map_err(|e| {
                        format!(
                            "cannot start the task worker {}: {e}; the queued tasks wait for the next hook",
                            program.display()
                        )
                    })
                })
                .map(|()| self.spawned.store(true, std::sync::atomic::Ordering::SeqCst)),
            Err(e) => Err(format!("cannot look at the task worker's lock: {e}")),
        };
        if let Err(e) = result {
            *self.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
        }
    }

    /// Starts a worker if `queue`'s file has tasks nobody runs (left by a process or a worker
    /// that died) and this process has not started one; any error of starting one, now or when
    /// a task was queued.
    pub(crate) fn finish(&self, queue: &SqliteTaskBackend) -> Result<(), String> {
        if self.enabled && !self.spawned.load(std::sync::atomic::Ordering::SeqCst) {
            match queue.has_orphans() {
                Ok(true) => self.start(),
                Ok(false) => {}
                Err(e) => return Err(format!("cannot look for unfinished tasks: {e}")),
            }
        }
        match self.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
