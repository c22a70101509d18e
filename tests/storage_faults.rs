//! Storage faults with real processes and real SQLite files: no answered run is ever lost.
//!
//! * Two server processes on one file take 1,000 concurrent runs over 100 shared sessions, while
//!   a few sessions get runs one after another, alternating between the processes: every run is
//!   answered and stored exactly once, each session's `run_index` is `0..n`, and the sequential
//!   sessions are stored in the order they were sent.
//! * SIGKILL in the middle of a burst: every run answered before the kill is in the file, which
//!   opens cleanly (WAL recovery) and takes new runs.
//! * A stalled database (a save that waits, a file whose write lock the test holds) stalls only
//!   the runs that write to it: on a runtime with one worker, other requests are answered first,
//!   and the stalled runs complete and are stored once released.
//! * A lock held past the busy timeout (5 s) fails the waiting run with the reason, and the
//!   server keeps serving.
//!
//! The server processes are this test binary started again with [`SERVER_ENV`] set, running only
//! [`storage_server_process`]: `cargo test --test storage_faults` does not build the examples, so
//! an example binary could be missing or older than the code under test. A child is killed when
//! its guard is dropped (a failing test included), and exits by itself when its stdin closes, so
//! none outlives the test that started it.
//!
//! Nothing here measures time: waits are bounded only so that a hang fails instead of blocking.

#![cfg(unix)]

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use agno::db::{Db, DbError, DbFuture, SqliteDb};
use agno::os::AgentOS;
use agno::prelude::*;
use common::process::{ServerProcess, serve_in_child, stdin_closed};
use common::server::Server;
use common::{Log, Probe, forward_db_reads};
use serde_json::Value;
use tokio::sync::{Notify, mpsc as tokio_mpsc, watch};

/// The agent the server processes serve.
const AGENT: &str = "storage-agent";
/// Set (to the database path) in a server process.
const SERVER_ENV: &str = "AGNO_STORAGE_FAULTS_SERVER_DB";
/// The user every run is sent for (so the ownership guard is on every write).
const USER: &str = "fault-tester";
/// How long anything may take before the test calls it a hang (a failure detector, not a
/// measurement).
const HANG: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// The server process.

/// Not a test of its own: the server process the other tests start (this binary again, with
/// [`SERVER_ENV`] naming the database). Without the variable it returns at once.
///
/// It serves AgentOS on `127.0.0.1:0` with one agent, [`AGENT`], on the offline model, whose runs
/// are stored in a [`SqliteDb`] at that path; prints `listening on http://127.0.0.1:<port>` once
/// it accepts connections; and stops when its stdin closes, finishing the requests in flight.
#[test]
fn storage_server_process() {
    let Some(db) = std::env::var_os(SERVER_ENV) else { return };
    // Warnings and errors (a failed transaction names its cause) go to stderr.
    serve_in_child(serve_until_stdin_closes(PathBuf::from(db)));
}

async fn serve_until_stdin_closes(db: PathBuf) {
    let sqlite = SqliteDb::new(&db).unwrap_or_else(|e| panic!("cannot open {}: {e}", db.display()));
    let agent = Agent::builder().id(AGENT).db(sqlite).build().expect("the agent");
    let os = AgentOS::builder().agents([agent]).build().expect("AgentOS");
    // A backlog of 2048, as `AgentOS::serve` has: a burst of new connections is not dropped.
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.bind(([127, 0, 0, 1], 0).into()).expect("bind 127.0.0.1:0");
    let listener = socket.listen(2048).expect("listen");
    println!("listening on http://{}", listener.local_addr().expect("the address"));
    let app = os.get_app();
    os.serve_with(listener, app, stdin_closed()).await.expect("serving");
}

/// A server process on a database file, not yet listening ([`ServerProcess::wait_ready`]).
fn spawn_server(db: &Path) -> ServerProcess {
    ServerProcess::spawn("storage_server_process", &[(SERVER_ENV, db.as_os_str().to_owned())])
}

/// A server process on a database file, listening.
fn start_server(db: &Path) -> ServerProcess {
    ServerProcess::start("storage_server_process", &[(SERVER_ENV, db.as_os_str().to_owned())], HANG)
}

// ---------------------------------------------------------------------------------------------
// HTTP.

/// What `POST /agents/{agent}/runs` answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    text: String,
}

impl Answer {
    fn run_id(&self) -> String {
        self.body["run_id"].as_str().unwrap_or_else(|| panic!("no run_id in {}", self.text)).to_owned()
    }

    /// Why this is not a completed run of `session` answering `message`, if it is not.
    fn problem(&self, session: &str, message: &str) -> Option<String> {
        let expected = format!("You said: \"{message}\"");
        let fine = self.status == 200
            && self.body["status"] == "COMPLETED"
            && self.body["session_id"] == session
            && self.body["content"] == expected.as_str()
            && self.body["run_id"].as_str().is_some_and(|id| !id.is_empty());
        (!fine).then(|| format!("{session} / {message}: {} {}", self.status, self.text))
    }
}

fn client() -> reqwest::Client {
    // reqwest shares agno's TLS build, which needs a process-wide crypto provider.
    agno::models::openai::install_tls_provider();
    reqwest::Client::builder().timeout(HANG).build().expect("an HTTP client")
}

/// A run (urlencoded form, `stream=false`).
async fn post_run(
    client: &reqwest::Client,
    base: &str,
    agent: &str,
    message: &str,
    session_id: &str,
) -> reqwest::Result<Answer> {
    let form = [("message", message), ("session_id", session_id), ("user_id", USER), ("stream", "false")];
    let response = client.post(format!("{base}/agents/{agent}/runs")).form(&form).send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Answer { status, body, text })
}

// ---------------------------------------------------------------------------------------------
// The file.

/// A stored run: its id, session, `run_index` and status.
struct StoredRun {
    run_id: String,
    session_id: String,
    run_index: i64,
    status: String,
}

/// Every row of `agno_runs`, by session and `run_index`, read through a fresh connection.
fn stored_runs(db: &Path) -> Vec<StoredRun> {
    let conn = rusqlite::Connection::open(db).expect("open the database file");
    let mut stmt = conn
        .prepare("SELECT run_id, session_id, run_index, status FROM agno_runs ORDER BY session_id, run_index")
        .expect("query agno_runs");
    stmt.query_map([], |r| {
        Ok(StoredRun { run_id: r.get(0)?, session_id: r.get(1)?, run_index: r.get(2)?, status: r.get(3)? })
    })
    .expect("read agno_runs")
    .collect::<Result<_, _>>()
    .expect("rows of agno_runs")
}

/// The stored run ids of each session, in `run_index` order; fails unless every session's
/// indexes are exactly `0..n`.
fn sessions_in_order(runs: &[StoredRun]) -> BTreeMap<String, Vec<String>> {
    let mut sessions: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for run in runs {
        sessions.entry(run.session_id.clone()).or_default().push((run.run_index, run.run_id.clone()));
    }
    sessions
        .into_iter()
        .map(|(session, runs)| {
            let indexes: Vec<i64> = runs.iter().map(|(i, _)| *i).collect();
            let contiguous: Vec<i64> = (0..runs.len() as i64).collect();
            assert_eq!(indexes, contiguous, "session {session}: run_index is not 0..n without gaps or duplicates");
            (session, runs.into_iter().map(|(_, id)| id).collect())
        })
        .collect()
}

/// The result of SQLite's `PRAGMA integrity_check` on a fresh connection (`"ok"` when sound).
fn integrity(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).expect("open the database file");
    let rows: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
        .expect("integrity_check");
    rows.join("; ")
}

// ---------------------------------------------------------------------------------------------
// 1. Two processes, one file.

/// Runs in the burst, half to each process.
const BURST: usize = 1_000;
/// Sessions the burst shares between the processes (each gets half its runs from each).
const SHARED_SESSIONS: usize = 100;
/// Sessions whose runs are sent one after another, alternating between the processes.
const ORDERED_SESSIONS: usize = 4;
/// Runs of each ordered session.
const ORDERED_RUNS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_file_store_every_run_once_and_sequential_sessions_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    // Both start at once: they open the new file, switch it to WAL and create its tables together.
    let mut servers = [spawn_server(&db), spawn_server(&db)];
    for server in &mut servers {
        server.wait_ready(HANG);
    }
    let bases: Arc<[String; 2]> = Arc::new([servers[0].base.clone(), servers[1].base.clone()]);
    let client = client();
    let burst_done = Arc::new(AtomicUsize::new(0));

    // The ordered sessions start first, so that their runs go alongside the burst.
    let chains: Vec<_> = (0..ORDERED_SESSIONS)
        .map(|s| {
            let (client, bases, burst_done) = (client.clone(), Arc::clone(&bases), Arc::clone(&burst_done));
            tokio::spawn(async move {
                let session = format!("ordered-{s}");
                let (mut sent, mut during_burst) = (Vec::new(), 0);
                for k in 0..ORDERED_RUNS {
                    let message = format!("ordered {s}.{k}");
                    let base = &bases[(s + k) % 2];
                    let answer = post_run(&client, base, AGENT, &message, &session)
                        .await
                        .map_err(|e| format!("{session} / {message} to {base}: {e}"))?;
                    if let Some(problem) = answer.problem(&session, &message) {
                        return Err(problem);
                    }
                    if burst_done.load(Ordering::SeqCst) < BURST {
                        during_burst += 1;
                    }
                    sent.push(answer.run_id());
                }
                Ok::<_, String>((session, sent, during_burst))
            })
        })
        .collect();

    // The burst: all at once, alternating processes, each shared session from both.
    let burst: Vec<_> = (0..BURST)
        .map(|i| {
            let (client, bases, burst_done) = (client.clone(), Arc::clone(&bases), Arc::clone(&burst_done));
            tokio::spawn(async move {
                let process = i % 2;
                let session = format!("shared-{:03}", (i / 2) % SHARED_SESSIONS);
                let message = format!("burst {i}");
                let answer = post_run(&client, &bases[process], AGENT, &message, &session).await;
                burst_done.fetch_add(1, Ordering::SeqCst);
                let answer = answer.map_err(|e| format!("{session} / {message} to process {process}: {e}"))?;
                match answer.problem(&session, &message) {
                    Some(problem) => Err(problem),
                    None => Ok((answer.run_id(), session, process)),
                }
            })
        })
        .collect();

    let mut failures = Vec::new();
    // run id -> the session it was answered in.
    let mut answered: HashMap<String, String> = HashMap::new();
    let mut per_process = [0usize; 2];
    for task in burst {
        match task.await.expect("a burst task") {
            Ok((run_id, session, process)) => {
                per_process[process] += 1;
                assert!(answered.insert(run_id.clone(), session).is_none(), "run id {run_id} answered twice");
            }
            Err(failure) => failures.push(failure),
        }
    }
    let mut ordered = Vec::new();
    let mut ordered_during_burst = 0;
    for chain in chains {
        match chain.await.expect("an ordered chain") {
            Ok((session, sent, during_burst)) => {
                ordered_during_burst += during_burst;
                for run_id in &sent {
                    assert!(
                        answered.insert(run_id.clone(), session.clone()).is_none(),
                        "run id {run_id} answered twice"
                    );
                }
                ordered.push((session, sent));
            }
            Err(failure) => failures.push(failure),
        }
    }
    let logs = || format!("--- process 0:\n{}\n--- process 1:\n{}", servers[0].output(), servers[1].output());
    assert!(
        failures.is_empty(),
        "{} of {} runs were not answered 200 COMPLETED; first: {:#?}\n{}",
        failures.len(),
        BURST + ORDERED_SESSIONS * ORDERED_RUNS,
        &failures[..failures.len().min(5)],
        logs()
    );
    assert_eq!(per_process, [BURST / 2, BURST / 2]);
    assert_eq!(answered.len(), BURST + ORDERED_SESSIONS * ORDERED_RUNS);
    // The ordered runs did go alongside the burst (it had not ended when some were answered).
    assert!(ordered_during_burst > 0, "every ordered run was answered after the burst had ended");
    eprintln!(
        "two processes: {} runs answered ({} burst, {} ordered, {ordered_during_burst} of them while the burst ran)",
        answered.len(),
        BURST,
        ORDERED_SESSIONS * ORDERED_RUNS
    );

    for server in &mut servers {
        let status = server.stop(HANG);
        assert!(status.success(), "the server process exited with {status}\n{}", server.output());
    }

    // Exactly the answered runs are stored, each once, in the session it was answered in.
    assert_eq!(integrity(&db), "ok");
    let stored = stored_runs(&db);
    let stored_ids: HashSet<&str> = stored.iter().map(|r| r.run_id.as_str()).collect();
    let answered_ids: HashSet<&str> = answered.keys().map(String::as_str).collect();
    assert_eq!(stored.len(), answered.len(), "stored rows vs answered runs");
    let missing: Vec<_> = answered_ids.difference(&stored_ids).take(5).collect();
    let unknown: Vec<_> = stored_ids.difference(&answered_ids).take(5).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "answered, not stored: {missing:?}; stored, never answered: {unknown:?}"
    );
    for run in &stored {
        assert_eq!(run.session_id, answered[&run.run_id], "run {} stored in another session", run.run_id);
        assert_eq!(run.status, "COMPLETED", "run {}", run.run_id);
    }
    let sessions = sessions_in_order(&stored);
    assert_eq!(sessions.len(), SHARED_SESSIONS + ORDERED_SESSIONS);
    for s in 0..SHARED_SESSIONS {
        assert_eq!(sessions[&format!("shared-{s:03}")].len(), BURST / SHARED_SESSIONS, "session shared-{s:03}");
    }
    // A session whose runs were sent one after another is stored in that order, whichever
    // process took each run.
    for (session, sent) in &ordered {
        assert_eq!(&sessions[session], sent, "session {session}: stored order (by run_index) vs send order");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. SIGKILL in the middle of a burst.

/// Runs kept in flight until the kill: each of these clients sends its next run as soon as
/// the previous one is answered, so the server is mid-burst whenever the kill comes, however far
/// behind the clients read their answers.
const KILLED_CLIENTS: usize = 400;
/// Sessions of that burst (each shared by 20 clients).
const KILLED_SESSIONS: usize = 20;
/// The kill comes as soon as this many answers have arrived.
const KILL_AFTER: usize = 50;

/// What one client of the killed burst saw.
struct ClientRuns {
    session: String,
    /// The runs answered, in the order they were sent.
    answered: Vec<String>,
    sent: usize,
    /// Whether its last request was cut off by the kill (rather than not sent after it).
    cut: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_no_answered_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("killed.db");
    let mut server = start_server(&db);
    let client = client();
    let base = Arc::new(server.base.clone());
    let answered_count = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let killed = Arc::new(AtomicBool::new(false));

    let clients: Vec<_> = (0..KILLED_CLIENTS)
        .map(|c| {
            let (client, base, killed) = (client.clone(), Arc::clone(&base), Arc::clone(&killed));
            let (answered_count, enough) = (Arc::clone(&answered_count), Arc::clone(&enough));
            tokio::spawn(async move {
                let session = format!("killed-{:02}", c % KILLED_SESSIONS);
                let mut runs = ClientRuns { session: session.clone(), answered: Vec::new(), sent: 0, cut: false };
                while !killed.load(Ordering::SeqCst) {
                    let message = format!("burst {c}.{}", runs.sent);
                    runs.sent += 1;
                    // A transport error is what the kill does to a request; an HTTP answer must
                    // be a completed run.
                    let Ok(answer) = post_run(&client, &base, AGENT, &message, &session).await else {
                        runs.cut = true;
                        break;
                    };
                    if let Some(problem) = answer.problem(&session, &message) {
                        return Err(problem);
                    }
                    runs.answered.push(answer.run_id());
                    if answered_count.fetch_add(1, Ordering::SeqCst) + 1 >= KILL_AFTER {
                        enough.notify_one();
                    }
                }
                Ok(runs)
            })
        })
        .collect();

    let waited = tokio::time::timeout(HANG, async {
        while answered_count.load(Ordering::SeqCst) < KILL_AFTER {
            enough.notified().await;
        }
    })
    .await;
    assert!(waited.is_ok(), "{KILL_AFTER} answers never arrived\n{}", server.output());
    killed.store(true, Ordering::SeqCst);
    let at_kill = answered_count.load(Ordering::SeqCst);
    let status = server.kill();
    assert_eq!(status.signal(), Some(9), "the server process was not killed by SIGKILL: {status}");

    let (mut answered, mut failures) = (HashMap::new(), Vec::new());
    let (mut by_client, mut sent, mut cut) = (Vec::new(), 0, 0);
    for task in clients {
        match task.await.expect("a client task") {
            Ok(runs) => {
                sent += runs.sent;
                cut += usize::from(runs.cut);
                for run_id in &runs.answered {
                    assert!(answered.insert(run_id.clone(), runs.session.clone()).is_none(), "{run_id} answered twice");
                }
                by_client.push(runs);
            }
            Err(problem) => failures.push(problem),
        }
    }
    assert!(failures.is_empty(), "answered, but not as a completed run: {failures:#?}\n{}", server.output());
    assert!(answered.len() >= KILL_AFTER);
    assert!(cut > 0, "no request was cut off: the kill did not come mid-burst");

    // The file opens cleanly after the crash (WAL recovery) and holds every answered run.
    assert_eq!(integrity(&db), "ok");
    let stored = stored_runs(&db);
    let sessions = sessions_in_order(&stored);
    let stored_in: HashMap<&str, &str> = stored.iter().map(|r| (r.run_id.as_str(), r.session_id.as_str())).collect();
    let missing: Vec<&String> = answered.keys().filter(|id| !stored_in.contains_key(id.as_str())).collect();
    eprintln!(
        "SIGKILL after {at_kill} answers: {sent} runs sent, {} answered, {} stored, {} answered but not stored, \
         {cut} requests cut off by the kill",
        answered.len(),
        stored.len(),
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "{} answered runs are not in agno_runs: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    for (run_id, session) in &answered {
        assert_eq!(stored_in[run_id.as_str()], session, "run {run_id} stored in another session");
    }
    assert!(stored.len() <= sent, "{} runs stored, only {sent} sent", stored.len());
    assert!(stored.iter().all(|r| r.status == "COMPLETED"));
    // A client's runs, each sent after the previous one was answered, are stored in that order.
    let index: HashMap<&str, i64> = stored.iter().map(|r| (r.run_id.as_str(), r.run_index)).collect();
    for runs in &by_client {
        let indexes: Vec<i64> = runs.answered.iter().map(|id| index[id.as_str()]).collect();
        assert!(indexes.is_sorted(), "session {}: a client's runs stored out of order: {indexes:?}", runs.session);
    }

    // A new process on the recovered file goes on where the killed one stopped.
    let mut restarted = start_server(&db);
    let session = "killed-00";
    let before = sessions.get(session).map_or(0, Vec::len);
    let answer =
        post_run(&client, &restarted.base, AGENT, "after the kill", session).await.expect("a run after restart");
    assert_eq!(answer.problem(session, "after the kill"), None, "{}", restarted.output());
    let status = restarted.stop(HANG);
    assert!(status.success(), "the restarted server exited with {status}\n{}", restarted.output());
    let after = sessions_in_order(&stored_runs(&db));
    assert_eq!(after[session].len(), before + 1);
    assert_eq!(after[session].last(), Some(&answer.run_id()), "the new run is the session's last");
}

// ---------------------------------------------------------------------------------------------
// 3. A stalled database stalls only the runs that write to it.

/// A [`Db`] that hands every call to a real [`SqliteDb`], and says (on `saves`) when a save
/// begins. With a gate, the save waits until the gate is open before it is handed on; with
/// `panics`, it waits for its next poll and then panics instead.
struct Watched {
    name: &'static str,
    inner: Arc<SqliteDb>,
    saves: tokio_mpsc::UnboundedSender<&'static str>,
    gate: Option<watch::Receiver<bool>>,
    panics: bool,
}

impl Db for Watched {
    forward_db_reads!(inner);
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn save_runs<'a>(&'a self, session: &'a Session, runs: &'a [&'a RunOutput]) -> DbFuture<'a, ()> {
        Box::pin(async move {
            let _ = self.saves.send(self.name);
            if let Some(gate) = &self.gate {
                let mut gate = gate.clone();
                gate.wait_for(|open| *open).await.map_err(|_| DbError::Closed("the test dropped the gate".into()))?;
            }
            if self.panics {
                tokio::task::yield_now().await;
                panic!("the store fell over");
            }
            // Without a gate this is called in the same poll as the send above: the write is on
            // the writer's queue before the test hears of it.
            self.inner.save_runs(session, runs).await
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_panics_while_a_run_waits_for_it_is_a_500_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (saves, mut saved) = tokio_mpsc::unbounded_channel();
    let inner = Arc::new(SqliteDb::new(dir.path().join("panics.db")).unwrap());
    let fragile = Watched { name: "fragile", inner, saves, gate: None, panics: true };
    let agent = Agent::builder().id("agent").db(fragile).build().unwrap();
    let server = Server::start(AgentOS::builder().agents([agent]).build().unwrap()).await;
    let answer = tokio::time::timeout(HANG, post_run(&server.client, &server.base, "agent", "hi", "fragile-session"))
        .await
        .expect("the run hung")
        .unwrap();
    assert_eq!(saved.recv().await, Some("fragile"), "the run reached its save");
    assert_eq!(answer.status, 500, "{}", answer.text);
    let detail = answer.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("the run panicked: the store fell over"), "{}", answer.text);
    // The server goes on, and nothing is left running.
    assert_eq!(server.client.get(server.url("/health")).send().await.unwrap().status(), 200);
    assert!(server.stop().await.unfinished.is_empty());
}

/// Takes the file's write lock from a connection of the test's own: a transaction with an
/// insert, not committed.
fn hold_write_lock(db: &Path) -> rusqlite::Connection {
    let holder = rusqlite::Connection::open(db).expect("open the database file");
    holder
        .execute_batch(
            "BEGIN IMMEDIATE;
             INSERT INTO agno_sessions (session_id, session_type, created_at) VALUES ('held-by-the-test', 'agent', 0);",
        )
        .expect("take the write lock");
    holder
}

async fn session_ids(server: &Server) -> Vec<String> {
    let res = server.client.get(server.url("/sessions?limit=100")).send().await.expect("GET /sessions");
    assert_eq!(res.status(), 200, "GET /sessions");
    let body: Value = res.json().await.expect("JSON sessions");
    body["data"].as_array().expect("data").iter().map(|s| s["session_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn a_stalled_database_does_not_stall_other_requests() {
    assert_eq!(tokio::runtime::Handle::current().metrics().num_workers(), 1, "one runtime thread");
    let dir = tempfile::tempdir().unwrap();
    let slow_db = Arc::new(SqliteDb::new(dir.path().join("slow.db")).unwrap());
    let locked_path = dir.path().join("locked.db");
    let locked_db = Arc::new(SqliteDb::new(&locked_path).unwrap());
    let (saves_tx, mut saves) = tokio_mpsc::unbounded_channel();
    let (gate, gate_rx) = watch::channel(true);
    // (a) saves that wait for the test; (b) the real SqliteDb, whose file the test will lock.
    let slow = Watched {
        name: "slow",
        inner: Arc::clone(&slow_db),
        saves: saves_tx.clone(),
        gate: Some(gate_rx),
        panics: false,
    };
    let locked = Watched { name: "locked", inner: Arc::clone(&locked_db), saves: saves_tx, gate: None, panics: false };
    let agents = [
        Agent::builder().id("slow").db(slow).build().unwrap(),
        Agent::builder().id("locked").db(locked).build().unwrap(),
        Agent::builder().id("free").build().unwrap(),
    ];
    // No OS-wide db: `free` keeps none, and the session routes read the first agent's (slow's).
    let os = AgentOS::builder().agents(agents).shutdown_grace(Duration::from_secs(30)).build().unwrap();
    let server = Server::start(os).await;
    let base = server.base.clone();

    // A session stored while the gate is open, for the session list to show.
    let earlier = post_run(&server.client, &base, "slow", "earlier", "earlier-session").await.unwrap();
    assert_eq!(earlier.problem("earlier-session", "earlier"), None);
    assert_eq!(saves.recv().await, Some("slow"));
    let before_lock = post_run(&server.client, &base, "locked", "before the lock", "locked-earlier").await.unwrap();
    assert_eq!(before_lock.problem("locked-earlier", "before the lock"), None);
    assert_eq!(saves.recv().await, Some("locked"));
    // From now on the slow agent's saves wait.
    gate.send_replace(false);
    let holder = hold_write_lock(&locked_path);

    let client = server.client.clone();
    let slow_run = tokio::spawn({
        let (client, base) = (client.clone(), base.clone());
        async move { post_run(&client, &base, "slow", "slow save", "slow-session").await }
    });
    let locked_run = tokio::spawn({
        let (client, base) = (client.clone(), base.clone());
        async move { post_run(&client, &base, "locked", "locked save", "locked-session").await }
    });
    // Both runs have reached their save: one waits for the gate, the other for the file's lock.
    let mut waiting = tokio::time::timeout(HANG, async {
        let mut waiting = vec![saves.recv().await.unwrap(), saves.recv().await.unwrap()];
        waiting.sort_unstable();
        waiting
    })
    .await
    .expect("both runs reach their save");
    waiting.dedup();
    assert_eq!(waiting, ["locked", "slow"]);

    // Meanwhile the one runtime thread answers everything else.
    let health =
        tokio::time::timeout(HANG, client.get(server.url("/health")).send()).await.expect("health hung").unwrap();
    assert_eq!(health.status(), 200);
    let free = tokio::time::timeout(HANG, post_run(&client, &base, "free", "no db here", "free-session"))
        .await
        .expect("the run without a db hung")
        .unwrap();
    assert_eq!(free.problem("free-session", "no db here"), None);
    let listed = tokio::time::timeout(HANG, session_ids(&server)).await.expect("GET /sessions hung");
    assert_eq!(listed, ["earlier-session"], "the stalled session is not stored yet");
    // The locked file's readers are not stuck behind its writer.
    let read = tokio::time::timeout(HANG, locked_db.get_session("locked-earlier")).await.expect("a read hung");
    assert!(read.unwrap().is_some(), "the session stored before the lock");
    let read = tokio::time::timeout(HANG, locked_db.get_session("locked-session")).await.expect("a read hung");
    assert!(read.unwrap().is_none(), "the locked run is not stored yet");

    // Only now are the stalled saves let go: they cannot have answered yet.
    assert!(!slow_run.is_finished(), "the gated run answered before its save was let go: {:?}", slow_run.await);
    assert!(!locked_run.is_finished(), "the locked run answered before the lock was released: {:?}", locked_run.await);
    gate.send_replace(true);
    holder.execute_batch("ROLLBACK").expect("release the write lock");
    drop(holder);

    let slow_answer = tokio::time::timeout(HANG, slow_run).await.expect("the slow run hung").unwrap().unwrap();
    assert_eq!(slow_answer.problem("slow-session", "slow save"), None);
    let locked_answer = tokio::time::timeout(HANG, locked_run).await.expect("the locked run hung").unwrap().unwrap();
    assert_eq!(locked_answer.problem("locked-session", "locked save"), None);

    // Both are stored, each in its own file; the test's rolled-back row is not.
    let slow_stored = slow_db.get_run(&slow_answer.run_id()).await.unwrap().expect("the slow run is stored");
    assert_eq!(slow_stored.session_id, "slow-session");
    let locked_stored = locked_db.get_run(&locked_answer.run_id()).await.unwrap().expect("the locked run is stored");
    assert_eq!(locked_stored.session_id, "locked-session");
    assert!(locked_db.get_session("held-by-the-test").await.unwrap().is_none());
    let mut listed = session_ids(&server).await;
    listed.sort();
    assert_eq!(listed, ["earlier-session", "slow-session"]);
    assert!(server.stop().await.unfinished.is_empty());
}

// ---------------------------------------------------------------------------------------------
// 4. A lock held past the busy timeout.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_past_the_busy_timeout_fails_the_run_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    let sqlite = Arc::new(SqliteDb::new(&path).unwrap());
    let log = Log::default();
    let agent = Agent::builder()
        .id("agent")
        .db(Arc::clone(&sqlite))
        .post_hook(Probe::new("notify", &log).background())
        .build()
        .unwrap();
    let server = Server::start(AgentOS::builder().agents([agent]).build().unwrap()).await;
    let base = server.base.clone();

    // The lock is held until after the answer: SqliteDb's busy timeout (5 s) runs out first.
    let holder = hold_write_lock(&path);
    let answer = tokio::time::timeout(HANG, post_run(&server.client, &base, "agent", "locked out", "busy-session"))
        .await
        .expect("the run waiting for the lock hung")
        .unwrap();
    let reason = match answer.status {
        500..=599 => answer.body["detail"].as_str().unwrap_or_default().to_owned(),
        200 if answer.body["status"] == "ERROR" => answer.body["content"].as_str().unwrap_or_default().to_owned(),
        _ => panic!("neither a 5xx nor an ERROR run: {} {}", answer.status, answer.text),
    };
    let lower = reason.to_lowercase();
    assert!(lower.contains("locked") || lower.contains("busy"), "the answer does not say why: {}", answer.text);
    eprintln!("busy timeout: {} {}", answer.status, answer.text);

    // Still locked, the server answers.
    let health = server.client.get(server.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    holder.execute_batch("ROLLBACK").expect("release the write lock");
    drop(holder);

    // Released, runs are stored again; the failed one was not.
    let next = post_run(&server.client, &base, "agent", "unlocked", "busy-session").await.unwrap();
    assert_eq!(next.problem("busy-session", "unlocked"), None);
    let stored = stored_runs(&path);
    let ids: Vec<&str> = stored.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, [next.run_id().as_str()], "only the run after the release is stored");
    assert_eq!(stored[0].run_index, 0);
    assert!(server.stop().await.unfinished.is_empty());
    // The failed run had ended: its background hook ran all the same, as the next run's did.
    assert_eq!(log.entries(), ["notify", "notify"]);
}
