//! Several AgentOS replicas on one PostgreSQL: real server processes on loopback ports sharing
//! one database, as they would behind a load balancer.
//!
//! * One session written by two replicas in turn, 200 runs at 16 at a time: every answered run is
//!   stored once, in that session, with `run_index` exactly `0..200`.
//!
//! The replicas are this test binary started again with [`REPLICA_ENV`] set, running only
//! [`replica_process`] (so no example binary can be missing or stale). A replica is killed when
//! its guard is dropped and exits by itself when its stdin closes.
//!
//! PostgreSQL: `DATABASE_URL` when set, else a throwaway server started from the machine's
//! PostgreSQL binaries; with neither, the tests print `skipped: ...` and pass.
//!
//! Nothing here measures time: waits are bounded only so that a hang fails instead of blocking.

#![cfg(unix)]

#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_replicas_need_the_postgres_feature() {
    eprintln!("skipped: the PostgreSQL replica tests need `cargo test --features postgres` (or --all-features)");
}

#[cfg(feature = "postgres")]
#[allow(dead_code)]
#[path = "../agno-core/src/db/postgres/test_server.rs"]
mod pg_server;

#[cfg(feature = "postgres")]
mod replicas {
    use std::collections::HashSet;
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use agno::db::PostgresDb;
    use agno::os::AgentOS;
    use agno::prelude::*;
    use serde_json::Value;

    use super::pg_server;

    /// The agent every replica serves.
    const AGENT: &str = "replica-agent";
    /// Set in a replica process: `<database url>|<schema>`.
    const REPLICA_ENV: &str = "AGNO_POSTGRES_REPLICA";
    /// How long anything may take before the test calls it a hang.
    const HANG: Duration = Duration::from_secs(120);

    /// Not a test of its own: a replica the other tests start (this binary again, with
    /// [`REPLICA_ENV`] set). Without the variable it returns at once.
    #[test]
    fn replica_process() {
        let Some(target) = std::env::var_os(REPLICA_ENV) else { return };
        let target = target.to_string_lossy().into_owned();
        let (url, schema) = target.rsplit_once('|').expect("url|schema");
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
        runtime.block_on(async {
            let db = PostgresDb::with_schema(url, schema).expect("the database");
            db.connect().await.expect("connecting and migrating");
            let agent = Agent::builder().id(AGENT).db(db).build().expect("the agent");
            let os = AgentOS::builder().agents([agent]).build().expect("AgentOS");
            let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
            socket.bind(([127, 0, 0, 1], 0).into()).expect("bind 127.0.0.1:0");
            let listener = socket.listen(1024).expect("listen");
            println!("listening on http://{}", listener.local_addr().expect("the address"));
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
                let _ = stop.send(());
            });
            let app = os.get_app();
            os.serve_with(listener, app, async move {
                let _ = stopped.await;
            })
            .await
            .expect("serving");
        });
    }

    /// A replica process; killed when dropped.
    struct Replica {
        child: Child,
        stdin: Option<ChildStdin>,
        base: String,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl Replica {
        fn start(url: &str, schema: &str) -> Self {
            let mut child = Command::new(std::env::current_exe().expect("the test binary"))
                .args(["replicas::replica_process", "--exact", "--nocapture", "--test-threads=1"])
                .env(REPLICA_ENV, format!("{url}|{schema}"))
                .env_remove("OS_SECURITY_KEY")
                .env_remove("AGENT_OS_HOST")
                .env_remove("AGENT_OS_PORT")
                .env_remove("RUST_LOG")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a replica");
            let log = Arc::new(Mutex::new(Vec::new()));
            let (tx, ready) = mpsc::channel();
            read_lines(child.stdout.take().expect("stdout"), Arc::clone(&log), Some(tx));
            read_lines(child.stderr.take().expect("stderr"), Arc::clone(&log), None);
            let stdin = child.stdin.take();
            let base = match ready.recv_timeout(HANG) {
                Ok(base) => base,
                Err(_) => panic!("a replica never listened\n{}", log.lock().unwrap().join("\n")),
            };
            Self { child, stdin, base, log }
        }

        fn output(&self) -> String {
            self.log.lock().unwrap().join("\n")
        }

        /// Closes its stdin and waits, bounded, for a clean exit.
        fn stop(&mut self) {
            drop(self.stdin.take());
            let deadline = std::time::Instant::now() + HANG;
            loop {
                if let Some(status) = self.child.try_wait().expect("try_wait") {
                    assert!(status.success(), "a replica exited with {status}\n{}", self.output());
                    return;
                }
                assert!(std::time::Instant::now() < deadline, "a replica did not stop\n{}", self.output());
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    impl Drop for Replica {
        fn drop(&mut self) {
            if matches!(self.child.try_wait(), Ok(None)) {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }

    /// Copies a child's pipe into `log`; sends the address of its `listening on` line.
    fn read_lines(pipe: impl Read + Send + 'static, log: Arc<Mutex<Vec<String>>>, ready: Option<mpsc::Sender<String>>) {
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let (Some(ready), Some((_, base))) = (&ready, line.split_once("listening on ")) {
                    let _ = ready.send(base.trim().to_owned());
                }
                log.lock().unwrap().push(line);
            }
        });
    }

    /// A schema of its own for one test.
    fn schema(test: &str) -> String {
        format!("t_{test}_{}", std::process::id())
    }

    /// `psql -tAc sql` against `url`: the rows, `|`-separated.
    fn psql(url: &str, sql: &str) -> Vec<String> {
        let out = Command::new("psql").args([url, "-v", "ON_ERROR_STOP=1", "-tAc", sql]).output().expect("run psql");
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
    }

    /// Runs posted to one session, alternately to each replica.
    const RUNS: usize = 200;
    /// Runs in flight at once.
    const IN_FLIGHT: usize = 16;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_session_written_by_two_replicas_keeps_every_run_in_order() {
        let Some(url) = pg_server::database_url_or_skip("one_session_written_by_two_replicas") else { return };
        let schema = schema("one_session");
        let mut replicas = [Replica::start(&url, &schema), Replica::start(&url, &schema)];
        let bases = Arc::new([replicas[0].base.clone(), replicas[1].base.clone()]);
        agno::models::openai::install_tls_provider();
        let client = reqwest::Client::builder().timeout(HANG).build().expect("an HTTP client");
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let workers: Vec<_> = (0..IN_FLIGHT)
            .map(|_| {
                let (client, bases, next) = (client.clone(), Arc::clone(&bases), Arc::clone(&next));
                tokio::spawn(async move {
                    let mut answered = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        if i >= RUNS {
                            return Ok::<_, String>(answered);
                        }
                        let message = format!("run {i}");
                        let form = [("message", message.as_str()), ("session_id", "shared"), ("stream", "false")];
                        let response = client
                            .post(format!("{}/agents/{AGENT}/runs", bases[i % 2]))
                            .form(&form)
                            .send()
                            .await
                            .map_err(|e| format!("{message}: {e}"))?;
                        let status = response.status().as_u16();
                        let body: Value = response.json().await.map_err(|e| format!("{message}: {e}"))?;
                        if status != 200 || body["status"] != "COMPLETED" || body["session_id"] != "shared" {
                            return Err(format!("{message} to replica {}: {status} {body}", i % 2));
                        }
                        answered.push(body["run_id"].as_str().unwrap_or_default().to_owned());
                    }
                })
            })
            .collect();
        let mut answered = Vec::new();
        for worker in workers {
            match worker.await.expect("a client task") {
                Ok(ids) => answered.extend(ids),
                Err(e) => {
                    panic!("{e}\n--- replica 0:\n{}\n--- replica 1:\n{}", replicas[0].output(), replicas[1].output())
                }
            }
        }
        for replica in &mut replicas {
            replica.stop();
        }
        assert_eq!(answered.len(), RUNS);
        let answered: HashSet<String> = answered.into_iter().collect();
        assert_eq!(answered.len(), RUNS, "a run id was answered twice");

        let rows = psql(
            &url,
            &format!(
                "SELECT run_id, run_index, status FROM \"{schema}\".agno_runs WHERE session_id = 'shared' ORDER BY run_index"
            ),
        );
        assert_eq!(rows.len(), RUNS, "stored runs");
        let mut stored = HashSet::new();
        for (expected_index, row) in rows.iter().enumerate() {
            let fields: Vec<&str> = row.split('|').collect();
            assert_eq!(fields.len(), 3, "{row}");
            assert_eq!(fields[1], expected_index.to_string(), "run_index is not 0..n: {row}");
            assert_eq!(fields[2], "COMPLETED", "{row}");
            stored.insert(fields[0].to_owned());
        }
        assert_eq!(stored, answered, "the stored runs are exactly the answered ones");
        let all = psql(&url, &format!("SELECT COUNT(*) FROM \"{schema}\".agno_runs"));
        assert_eq!(all, [RUNS.to_string()]);
        eprintln!("two replicas: {RUNS} runs of one session answered and stored with run_index 0..{RUNS}");
    }
}
