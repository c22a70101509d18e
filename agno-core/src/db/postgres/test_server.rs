//! A PostgreSQL for tests: `DATABASE_URL` when set, else a throwaway server that the test process
//! starts itself, once, from PostgreSQL's binaries on this machine.
//!
//! Rust's test harness has no global teardown, and a test process may exit, panic or be killed, so
//! the server is owned by a supervisor: a small `sh` script in a session of its own (a Ctrl-C to
//! the tests' process group does not reach it) whose stdin is a pipe that only the test process
//! holds, in a static that is never dropped. The script creates the cluster in a temp dir under
//! `/tmp` (as the `postgres` user when we are root, since PostgreSQL refuses to run as root),
//! starts it on a free loopback port, prints `ready PORT` (or `error: ...`), then reads its stdin
//! until EOF: whenever and however the test process ends, the kernel closes the pipe, and the
//! script stops the server and removes the temp dir.

use std::sync::OnceLock;

/// The database the throwaway server creates for the tests.
const TEST_DATABASE: &str = "agno_test";

/// The superuser of the throwaway server (trust authentication, no password).
const TEST_USER: &str = "agno";

/// The server, started at most once per test process.
static SERVER: OnceLock<Result<server::Server, String>> = OnceLock::new();

/// The URL of a PostgreSQL database for tests, or why there is none.
/// - `DATABASE_URL` set: that URL as it is.
/// - otherwise, PostgreSQL's binaries on this machine: a throwaway server started once per test
///   process (in a temp dir, on a free loopback port, trust auth, user `agno`), with a database
///   `agno_test` created on it; `postgresql://agno@127.0.0.1:PORT/agno_test`.
/// - otherwise Err(reason), the reason saying how to run these tests (set DATABASE_URL, or install PostgreSQL).
pub(crate) fn database_url() -> Result<String, String> {
    if let Ok(url) = std::env::var("DATABASE_URL")
        && !url.is_empty()
    {
        return Ok(url);
    }
    match SERVER.get_or_init(server::start) {
        Ok(server) => Ok(server.url.clone()),
        Err(reason) => Err(reason.clone()),
    }
}

/// `database_url()`, or `None` after printing `skipped: <test name>: <reason>` to stderr.
pub(crate) fn database_url_or_skip(test: &str) -> Option<String> {
    match database_url() {
        Ok(url) => Some(url),
        Err(reason) => {
            eprintln!("skipped: {test}: {reason}");
            None
        }
    }
}

/// Starting and supervising the throwaway server (Unix only).
#[cfg(unix)]
mod server {
    use std::fs::{self, DirBuilder, OpenOptions};
    use std::io::{BufRead, BufReader, ErrorKind};
    use std::net::TcpListener;
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    use std::path::{Path, PathBuf};
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use super::{TEST_DATABASE, TEST_USER};

    /// How to get a database when this machine cannot start one.
    const HOW_TO: &str = "set DATABASE_URL=postgresql://USER@HOST:PORT/DB to use a server of yours, or install \
                          PostgreSQL's server binaries (initdb, pg_ctl and postgres on PATH or in \
                          /usr/lib/postgresql/*/bin, e.g. `apt-get install postgresql`) to have the tests start one";

    /// What to do when the throwaway server does not start.
    const USE_ANOTHER: &str = "set DATABASE_URL=postgresql://USER@HOST:PORT/DB to use a server of yours instead";

    /// How long the server may take to start, both attempts together.
    const START_TIMEOUT: Duration = Duration::from_secs(60);

    /// The system user that runs the server when the tests run as root.
    const SERVER_USER: &str = "postgres";

    /// How many lines of each log an error quotes.
    const LOG_TAIL_LINES: usize = 15;

    /// The supervisor: `$1` bin dir, `$2` temp dir, `$3` port, `$4` user to run as (empty: us), `$5` psql.
    /// Its stdout tells the test process `ready PORT` or `error: ...`; everything else goes to
    /// stderr, which is `setup.log` in the temp dir.
    const SUPERVISOR: &str = r#"
trap '' PIPE
PATH=$PATH:/usr/sbin:/sbin
bin=$1 dir=$2 port=$3 runas=$4 psql=$5
data=$dir/data
run_as() { if [ -n "$runas" ]; then runuser -u "$runas" -- "$@"; else "$@"; fi; }
initdb_with() { run_as "$bin/initdb" -D "$data" -U "$TEST_USER" --auth=trust -E UTF8 --locale="$1" --no-sync >&2; }
start() {
  if [ -n "$runas" ]; then
    id -u "$runas" >/dev/null 2>&1 || useradd --system --shell /usr/sbin/nologin "$runas" >&2 ||
      id -u "$runas" >/dev/null 2>&1 || { echo "error: cannot create the system user $runas"; return 1; }
    chown "$runas": "$dir" >&2 || { echo "error: chown $runas $dir failed"; return 1; }
  fi
  initdb_with C.UTF-8 || { rm -rf "$data"; initdb_with C; } || { echo "error: initdb failed"; return 1; }
  opts="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$dir' -c max_connections=200"
  opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  run_as "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 30 -o "$opts" start >&2 ||
    { echo "error: pg_ctl start failed"; return 1; }
  "$psql" -X -q -v ON_ERROR_STOP=1 -d "postgresql://$TEST_USER@127.0.0.1:$port/postgres?connect_timeout=10" \
    -c "CREATE DATABASE $TEST_DATABASE" >&2 || { echo "error: CREATE DATABASE failed"; return 1; }
  echo "ready $port"
}
start
exec >/dev/null
cat >/dev/null
echo "stdin closed: stopping the server" >&2
if [ -f "$data/postmaster.pid" ]; then
  run_as "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop >&2 ||
    run_as "$bin/pg_ctl" -D "$data" -m immediate -w -t 30 stop >&2
  i=0
  while [ -f "$data/postmaster.pid" ] && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
fi
rm -rf "$dir"
"#;

    /// A running server: its URL, and the supervisor's stdin, whose closing stops it.
    pub(super) struct Server {
        /// `postgresql://agno@127.0.0.1:PORT/agno_test`.
        pub(super) url: String,
        /// Never written, never closed before the process ends: its EOF is the supervisor's signal.
        _stdin: ChildStdin,
    }

    /// Finds PostgreSQL and starts the server, retrying once on a fresh port if `pg_ctl start` fails.
    pub(super) fn start() -> Result<Server, String> {
        let Some(bin) = find_bindir() else {
            return Err(format!("no PostgreSQL on this machine: {HOW_TO}"));
        };
        let psql = find_psql(&bin).ok_or_else(|| {
            format!("PostgreSQL's server binaries are in {}, but psql is not: {HOW_TO}", bin.display())
        })?;
        let deadline = Instant::now() + START_TIMEOUT;
        let started = match start_once(&bin, &psql, deadline) {
            Err(Failure { retry: true, reason }) => start_once(&bin, &psql, deadline)
                .map_err(|again| format!("{reason}\nthen, on another port, {}", again.reason)),
            other => other.map_err(|failure| failure.reason),
        };
        started.map_err(|reason| format!("{reason}\n({USE_ANOTHER})"))
    }

    /// Why an attempt failed, and whether another port might do better.
    struct Failure {
        /// Whether `pg_ctl start` failed (a port taken meanwhile, most likely).
        retry: bool,
        /// What failed, with the tail of the logs.
        reason: String,
    }

    impl Failure {
        /// A failure not worth retrying.
        fn fatal(reason: String) -> Self {
            Self { retry: false, reason }
        }
    }

    /// One attempt: a temp dir, a free port, a supervisor, and its first line.
    fn start_once(bin: &Path, psql: &Path, deadline: Instant) -> Result<Server, Failure> {
        let dir = make_temp_dir().map_err(Failure::fatal)?;
        let port = free_port();
        match port.and_then(|port| spawn_supervisor(bin, psql, &dir, port).map(|child| (port, child))) {
            Ok((port, child)) => await_ready(child, &dir, port, deadline),
            Err(reason) => {
                // No supervisor to remove it (once one runs, only it may: the server lives there).
                let _ = fs::remove_dir_all(&dir);
                Err(Failure::fatal(reason))
            }
        }
    }

    /// Starts the supervisor on `dir` and `port`, in a session of its own.
    fn spawn_supervisor(bin: &Path, psql: &Path, dir: &Path, port: u16) -> Result<Child, String> {
        let setup_log = dir.join("setup.log");
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&setup_log)
            .map_err(|e| format!("cannot create {}: {e}", setup_log.display()))?;
        let runas = if is_root() { SERVER_USER } else { "" };
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("agno-test-postgres")
            .arg(bin)
            .arg(dir)
            .arg(port.to_string())
            .arg(runas)
            .arg(psql)
            .env("TEST_USER", TEST_USER)
            .env("TEST_DATABASE", TEST_DATABASE)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr);
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
        command.spawn().map_err(|e| format!("cannot run /bin/sh: {e}"))
    }

    /// Waits until `deadline` for the supervisor's `ready` or `error` line; keeps its stdin if ready.
    fn await_ready(mut child: Child, dir: &Path, port: u16, deadline: Instant) -> Result<Server, Failure> {
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Failure::fatal("the supervisor has no stdin or stdout pipe".into()));
        };
        // A thread reads the first line, so that a hung start times out instead of hanging the tests.
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = sender.send(read);
        });
        let line = receiver.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        let (retry, what) = match line {
            Ok(Ok(line)) if line.trim_end() == format!("ready {port}") => {
                let url = format!("postgresql://{TEST_USER}@127.0.0.1:{port}/{TEST_DATABASE}");
                return Ok(Server { url, _stdin: stdin });
            }
            Ok(Ok(line)) if line.starts_with("error: pg_ctl start") => (true, line.trim_end().to_owned()),
            Ok(Ok(line)) if line.is_empty() => (false, "the supervisor exited without a word".to_owned()),
            Ok(Ok(line)) => (false, line.trim_end().to_owned()),
            Ok(Err(e)) => (false, format!("cannot read the supervisor's answer: {e}")),
            Err(_) => (false, format!("no answer within {} s", START_TIMEOUT.as_secs())),
        };
        // Read the logs before closing stdin: the supervisor then removes them with the temp dir.
        let reason = format!(
            "the PostgreSQL test server (port {port}, {}) did not start: {what}{}{}",
            dir.display(),
            log_tail(&dir.join("setup.log")),
            log_tail(&dir.join("server.log")),
        );
        drop(stdin);
        // Reaped in the background: the supervisor is cleaning up, and nobody needs to wait for it.
        std::thread::spawn(move || child.wait());
        Err(Failure { retry, reason })
    }

    /// The last lines of a log, as `\n--- path ---\n...`, or nothing if it is missing or empty.
    fn log_tail(path: &Path) -> String {
        let Ok(text) = fs::read_to_string(path) else {
            return String::new();
        };
        let lines: Vec<&str> = text.lines().collect();
        if lines.is_empty() {
            return String::new();
        }
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        format!("\n--- {} ---\n{tail}", path.display())
    }

    /// A new empty directory `/tmp/agno-pg-PID-...`, mode 700.
    fn make_temp_dir() -> Result<PathBuf, String> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or_default();
        for attempt in 0..100u32 {
            let dir = PathBuf::from(format!("/tmp/agno-pg-{}-{nanos:08x}-{attempt}", std::process::id()));
            match DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(dir),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
            }
        }
        Err("cannot create a temp dir /tmp/agno-pg-*: all names taken".into())
    }

    /// A loopback port that was free a moment ago (bound to port 0, then released).
    fn free_port() -> Result<u16, String> {
        TcpListener::bind(("127.0.0.1", 0))
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))
    }

    /// Whether this process runs as root (PostgreSQL then runs as `postgres`).
    fn is_root() -> bool {
        // SAFETY: `geteuid` has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }

    /// The directory of `initdb`, `pg_ctl` and `postgres`: `pg_ctl`'s on PATH (symlinks resolved),
    /// else the newest `/usr/lib/postgresql/*/bin`.
    pub(super) fn find_bindir() -> Option<PathBuf> {
        if let Some(pg_ctl) = find_on_path("pg_ctl") {
            let real = fs::canonicalize(&pg_ctl).unwrap_or(pg_ctl);
            if let Some(dir) = real.parent()
                && has_server_binaries(dir)
            {
                return Some(dir.to_path_buf());
            }
        }
        let versions = fs::read_dir("/usr/lib/postgresql").ok()?;
        versions
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let key = version_key(entry.file_name().to_str()?)?;
                let bin = entry.path().join("bin");
                has_server_binaries(&bin).then_some((key, bin))
            })
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, bin)| bin)
    }

    /// `psql` beside the server binaries, else on PATH.
    pub(super) fn find_psql(bin: &Path) -> Option<PathBuf> {
        let beside = bin.join("psql");
        if is_executable(&beside) { Some(beside) } else { find_on_path("psql") }
    }

    /// A version directory's name as numbers (`"9.6"` is `[9, 6]`), or `None` if it is not one.
    pub(super) fn version_key(name: &str) -> Option<Vec<u64>> {
        name.split('.').map(|part| part.parse().ok()).collect()
    }

    /// Whether `dir` holds the three binaries a server needs.
    fn has_server_binaries(dir: &Path) -> bool {
        ["initdb", "pg_ctl", "postgres"].iter().all(|name| is_executable(&dir.join(name)))
    }

    /// The first executable `name` in a directory of PATH.
    pub(super) fn find_on_path(name: &str) -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
    }

    /// Whether `path` is a file with an execute bit (following symlinks).
    fn is_executable(path: &Path) -> bool {
        fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    }
}

/// Without Unix there is no throwaway server: only `DATABASE_URL`.
#[cfg(not(unix))]
mod server {
    /// Never built: the type [`super::SERVER`] holds.
    pub(super) struct Server {
        /// The server's URL.
        pub(super) url: String,
    }

    /// Always an error saying to set `DATABASE_URL`.
    pub(super) fn start() -> Result<Server, String> {
        Err("no throwaway PostgreSQL on this platform: set DATABASE_URL=postgresql://USER@HOST:PORT/DB".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many threads asking at once get one server, and it answers `select 1`.
    #[test]
    fn one_server_per_process_that_answers() {
        let answers: Vec<Result<String, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8).map(|_| scope.spawn(|| [database_url(), database_url()])).collect();
            handles
                .into_iter()
                .flat_map(|handle| handle.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        assert_eq!(answers.len(), 16);
        assert!(answers.iter().all(|answer| *answer == answers[0]), "different answers: {answers:?}");
        let Some(url) = database_url_or_skip("one_server_per_process_that_answers") else {
            return;
        };
        assert_eq!(answers[0].as_deref(), Ok(url.as_str()));
        #[cfg(unix)]
        {
            let psql =
                server::find_bindir().and_then(|bin| server::find_psql(&bin)).or_else(|| server::find_on_path("psql"));
            let Some(psql) = psql else {
                eprintln!("skipped: one_server_per_process_that_answers: psql not found");
                return;
            };
            let output = std::process::Command::new(&psql)
                .args(["-X", &url, "-tAc", "select 1"])
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", psql.display()));
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "psql {url} failed: {stderr}");
            assert_eq!(stdout.trim(), "1", "psql printed {stdout:?}, {stderr:?}");
        }
    }

    /// The database URL names the test database.
    #[test]
    fn url_names_the_test_database() {
        if std::env::var("DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
            return;
        }
        let Some(url) = database_url_or_skip("url_names_the_test_database") else {
            return;
        };
        assert!(url.starts_with(&format!("postgresql://{TEST_USER}@127.0.0.1:")), "{url}");
        assert!(url.ends_with(&format!("/{TEST_DATABASE}")), "{url}");
    }

    /// Version directories sort as numbers: 10 after 9.6.
    #[cfg(unix)]
    #[test]
    fn versions_sort_as_numbers() {
        assert_eq!(server::version_key("15"), Some(vec![15]));
        assert_eq!(server::version_key("9.6"), Some(vec![9, 6]));
        assert_eq!(server::version_key("main"), None);
        assert!(server::version_key("10") > server::version_key("9.6"));
    }
}
