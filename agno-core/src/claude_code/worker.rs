//! The detached task worker: a hook process queues its tasks in the SQLite file and starts this
//! program again as a worker in a session of its own, with no stdin, stdout or stderr, so Claude
//! Code (which reads the hook's stdout until it closes) never waits for it. The worker runs what
//! is queued, takes over what dead processes left, and exits when nothing is left.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::tasks::{DEFAULT_MAX_WORKERS, SqliteTaskBackend};

/// Set (to the database path) in the environment of a worker process.
pub const WORKER_ENV: &str = "AGNO_CLAUDE_CODE_TASK_WORKER";

/// How many tasks a worker runs at once (default [`DEFAULT_MAX_WORKERS`]).
pub const WORKER_THREADS_ENV: &str = "AGNO_CLAUDE_CODE_TASK_WORKERS";

/// How long a worker waits for its running tasks once told to stop. It is only told by a signal;
/// when it runs out of work it exits at once.
const GRACE: Duration = Duration::from_secs(30);

/// Starts `program` as a detached worker for the tasks in `db`, running `threads` at once.
pub(crate) fn spawn(program: &Path, db: &Path, threads: usize) -> std::io::Result<()> {
    let mut command = Command::new(program);
    command
        .env(WORKER_ENV, db)
        .env(WORKER_THREADS_ENV, threads.to_string())
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

/// The worker's main: runs the tasks of `db` until none is left. Exit code 0, or 1 when the file
/// cannot be used (nobody reads the worker's stderr, so the reason is logged with `tracing`).
///
/// Workers of one file take turns (an exclusive lock on `<db>.worker.lock`): a worker started
/// while another runs waits for it to end, then takes over whatever is left. So nothing queued
/// is ever stranded, and priorities hold across the hook processes that queued the tasks.
pub(crate) fn run(db: OsString) -> ExitCode {
    let db = PathBuf::from(db);
    let threads = std::env::var(WORKER_THREADS_ENV).ok().and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_MAX_WORKERS);
    let mut lock_path = db.clone().into_os_string();
    lock_path.push(".worker.lock");
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path);
    let _turn = match lock.and_then(|file| file.lock().map(|()| file)) {
        Ok(file) => file,
        Err(e) => {
            tracing::error!(error = %e, lock = ?lock_path, "the task worker cannot take its turn");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "the task worker cannot start a runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let backend = match SqliteTaskBackend::open_with(&db, threads) {
            Ok(backend) => backend,
            Err(e) => {
                tracing::error!(error = %e, db = %db.display(), "the task worker cannot open the task store");
                return ExitCode::FAILURE;
            }
        };
        let result = backend.run_until_idle().await;
        backend.close(GRACE).await;
        match result {
            Ok(taken) => {
                tracing::debug!(taken, db = %db.display(), "task worker done");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!(error = %e, db = %db.display(), "the task worker stopped");
                ExitCode::FAILURE
            }
        }
    })
}

/// Starts one detached worker for a task file, the first time it is asked to (when a handler
/// queues a task, or when the file has tasks nobody runs).
pub(crate) struct Starter {
    db: PathBuf,
    program: Option<PathBuf>,
    threads: usize,
    started: OnceLock<Result<(), String>>,
}

impl Starter {
    /// A starter of `program` (`None`: never start one) running `threads` tasks at once.
    pub(crate) fn new(db: PathBuf, program: Option<PathBuf>, threads: usize) -> Arc<Self> {
        Arc::new(Self { db, program, threads, started: OnceLock::new() })
    }

    /// Starts the worker (once); the error says why it could not be started.
    pub(crate) fn start(&self) -> Result<(), String> {
        let Some(program) = &self.program else { return Ok(()) };
        self.started
            .get_or_init(|| {
                spawn(program, &self.db, self.threads).map_err(|e| {
                    format!(
                        "cannot start the task worker {}: {e}; the queued tasks wait for the next hook",
                        program.display()
                    )
                })
            })
            .clone()
    }

    /// Starts the worker if none was started and `queue`'s file has tasks nobody runs (left by a
    /// process or a worker that died). Any error of starting it, now or when a task was queued.
    pub(crate) fn finish(&self, queue: &SqliteTaskBackend) -> Result<(), String> {
        if self.started.get().is_none() && self.program.is_some() {
            match queue.has_orphans() {
                Ok(true) => self.start()?,
                Ok(false) => {}
                Err(e) => return Err(format!("cannot look for unfinished tasks: {e}")),
            }
        }
        self.started.get().cloned().unwrap_or(Ok(()))
    }
}
