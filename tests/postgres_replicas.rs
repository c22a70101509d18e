//! Several AgentOS replicas on one PostgreSQL: real server processes on loopback ports sharing
//! one database, as they would behind a load balancer.
//!
//! * One session written by two replicas in turn, 200 runs at 16 at a time: every answered run is
//!   stored once, in that session, with `run_index` exactly `0..200`.
//! * A replica killed (SIGKILL) right after it answered 20 runs, each with a durable background
//!   hook that sleeps 3 s: every hook completes on the replica started after the kill, the
//!   hooks the dead one had taken are delivered again (attempt 2), and the survivor's
//!   `…/runs/{run_id}/hooks` shows each as completed.
//! * A replica stopped gracefully while a durable hook runs past its grace period hands the job
//!   back to the queue (not failed): the next replica runs it, as a second delivery.
//! * A `#[task]` added by a run on one replica is popped by a later run of the session on the
//!   other, exactly once: of 8 runs asking for it at once on the other replica (and then of 8
//!   split between both), one gets it.
//! * A replica stopped gracefully while a task runs past its grace period hands the task back
//!   (pending, no owner) at once; the next replica runs it as soon as it serves, before any run
//!   of its own uses tasks.
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
mod common;

#[cfg(feature = "postgres")]
#[allow(dead_code)]
#[path = "../agno-core/src/db/postgres/test_server.rs"]
mod pg_server;

#[cfg(feature = "postgres")]
mod replicas {
    use std::collections::HashSet;
    use std::ffi::OsString;
    use std::process::Command;
    use std::sync::Arc;
    use std::time::Duration;

    use agno::db::PostgresDb;
    use agno::os::AgentOS;
    use agno::prelude::*;
    use serde_json::Value;

    use super::common::process::{ServerProcess, serve_in_child, stdin_closed};
    use super::pg_server;

    /// The agent every replica serves.
    const AGENT: &str = "replica-agent";
    /// Set in a replica process: `<database url>|<schema>`.
    const REPLICA_ENV: &str = "AGNO_POSTGRES_REPLICA";
    /// How long anything may take before the test calls it a hang.
    const HANG: Duration = Duration::from_secs(120);
    /// Set in a replica that stops with a shorter grace period: milliseconds.
    const GRACE_ENV: &str = "AGNO_POSTGRES_REPLICA_GRACE_MS";
    /// Set in a replica whose agent has [`slow_notification`]: the file it appends to.
    const HOOK_LOG_ENV: &str = "AGNO_POSTGRES_REPLICA_HOOK_LOG";

    /// A background post-hook that takes 3 s, then appends `<run_id> <attempt> <pid>` to the file
    /// [`HOOK_LOG_ENV`] names (one `write` per line, so lines of several processes do not mix).
    #[hook(run_in_background = true)]
    async fn slow_notification(run_output: &RunOutput, run_context: &RunContext) {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let attempt = run_context.delivery.as_ref().map_or(0, |d| d.attempt);
        let line = format!("{} {attempt} {}\n", run_output.run_id, std::process::id());
        if let Some(path) = std::env::var_os(HOOK_LOG_ENV) {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("the hook log");
            file.write_all(line.as_bytes()).expect("append to the hook log");
        }
    }

    /// Counts the words of a text, slowly: the background task the replicas share.
    #[task]
    async fn count_words(text: String) -> String {
        tokio::time::sleep(Duration::from_millis(300)).await;
        format!("{} words", text.split_whitespace().count())
    }

    /// A run whose message is `count: <text>` adds [`count_words`] for the session.
    #[hook]
    fn queue_count(run_input: &RunInput, tasks: &Tasks) {
        if let Some(text) = run_input.input_content_string().strip_prefix("count: ") {
            tasks.add(count_words, text.to_owned());
        }
    }

    /// A run whose message is `collect` waits for the session's [`count_words`] and pops it:
    /// its answer is `count: <result>`, or `count: none` when another run popped it first.
    #[hook]
    async fn collect_count(run_output: &mut RunOutput, tasks: &Tasks) {
        if run_output.input.as_ref().map(RunInput::input_content_string).as_deref() != Some("collect") {
            return;
        }
        tasks.wait(count_words, Duration::from_secs(60)).await;
        let popped = tasks.pop(count_words);
        run_output.content = Some(format!("count: {}", popped.as_deref().unwrap_or("none")));
    }

    /// Not a test of its own: a replica the other tests start (this binary again, with
    /// [`REPLICA_ENV`] set). Without the variable it returns at once.
    #[test]
    fn replica_process() {
        let Some(target) = std::env::var_os(REPLICA_ENV) else { return };
        let target = target.to_string_lossy().into_owned();
        let (url, schema) = target.rsplit_once('|').expect("url|schema");
        serve_in_child(async {
            let db = PostgresDb::with_schema(url, schema).expect("the database");
            db.connect().await.expect("connecting and migrating");
            let mut agent = Agent::builder().id(AGENT).db(db).pre_hook(queue_count).post_hook(collect_count);
            if std::env::var_os(HOOK_LOG_ENV).is_some() {
                agent = agent.post_hook(slow_notification);
            }
            let agent = agent.build().expect("the agent");
            let mut os = AgentOS::builder().agents([agent]);
            if let Some(ms) = std::env::var(GRACE_ENV).ok().and_then(|ms| ms.parse().ok()) {
                os = os.shutdown_grace(Duration::from_millis(ms));
            }
            let os = os.build().expect("AgentOS");
            let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
            socket.bind(([127, 0, 0, 1], 0).into()).expect("bind 127.0.0.1:0");
            let listener = socket.listen(1024).expect("listen");
            println!("listening on http://{}", listener.local_addr().expect("the address"));
            let app = os.get_app();
            os.serve_with(listener, app, stdin_closed()).await.expect("serving");
        });
    }

    /// A replica: this binary serving [`replica_process`] on `url` / `schema`, with the slow
    /// hook logging to `hook_log` and a shutdown grace period of `grace_ms` when given.
    fn replica(url: &str, schema: &str, hook_log: Option<&std::path::Path>, grace_ms: Option<u64>) -> ServerProcess {
        let mut env = vec![(REPLICA_ENV, OsString::from(format!("{url}|{schema}")))];
        if let Some(log) = hook_log {
            env.push((HOOK_LOG_ENV, log.as_os_str().to_owned()));
        }
        if let Some(ms) = grace_ms {
            env.push((GRACE_ENV, OsString::from(ms.to_string())));
        }
        ServerProcess::start("replicas::replica_process", &env, HANG)
    }

    /// Stops a replica gracefully; it must exit cleanly.
    fn stop(replica: &mut ServerProcess) {
        let status = replica.stop(HANG);
        assert!(status.success(), "a replica exited with {status}\n{}", replica.output());
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

    /// Posts a run of `message` to `session` on a replica: its status and JSON answer.
    async fn post(client: &reqwest::Client, base: &str, session: &str, message: &str) -> Result<(u16, Value), String> {
        let form = [("message", message), ("session_id", session), ("stream", "false")];
        let response = client
            .post(format!("{base}/agents/{AGENT}/runs"))
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("{message}: {e}"))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.map_err(|e| format!("{message}: {e}"))?;
        Ok((status, body))
    }

    /// Runs posted to one session, alternately to each replica.
    const RUNS: usize = 200;
    /// Runs in flight at once.
    const IN_FLIGHT: usize = 16;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_session_written_by_two_replicas_keeps_every_run_in_order() {
        let Some(url) = pg_server::database_url_or_skip("one_session_written_by_two_replicas") else { return };
        let schema = schema("one_session");
        let mut replicas = [replica(&url, &schema, None, None), replica(&url, &schema, None, None)];
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
                        let (status, body) = post(&client, &bases[i % 2], "shared", &message).await?;
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
            stop(replica);
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

    /// Runs answered by the replica that is then killed.
    const KILLED_RUNS: usize = 20;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_replica_loses_no_background_hook() {
        let Some(url) = pg_server::database_url_or_skip("a_killed_replica_loses_no_background_hook") else { return };
        let schema = schema("killed");
        let dir = tempfile::tempdir().expect("a temp dir");
        let hook_log = dir.path().join("hooks.log");
        let mut doomed = replica(&url, &schema, Some(&hook_log), None);
        agno::models::openai::install_tls_provider();
        let client = reqwest::Client::builder().timeout(HANG).build().expect("an HTTP client");
        let mut run_ids = Vec::new();
        for i in 0..KILLED_RUNS {
            let form = [("message", format!("run {i}")), ("stream", "false".to_owned())];
            let response =
                client.post(format!("{}/agents/{AGENT}/runs", doomed.base)).form(&form).send().await.expect("a run");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("a JSON answer");
            assert_eq!((status, body["status"].as_str()), (200, Some("COMPLETED")), "{body}\n{}", doomed.output());
            run_ids.push(body["run_id"].as_str().expect("a run id").to_owned());
        }
        // Right after the answers: the hooks are queued or running (each takes 3 s).
        doomed.kill();
        let killed_at = std::time::Instant::now();
        let done_before_kill = std::fs::read_to_string(&hook_log).unwrap_or_default().lines().count();
        assert!(done_before_kill < KILLED_RUNS, "every hook had finished before the kill: nothing to recover");

        let survivor = replica(&url, &schema, Some(&hook_log), None);
        let deadline = std::time::Instant::now() + HANG;
        let completed_by_survivor = loop {
            let log = std::fs::read_to_string(&hook_log).unwrap_or_default();
            let survivor_lines: Vec<(String, u32)> = log
                .lines()
                .filter_map(|line| {
                    let mut fields = line.split(' ');
                    let (run, attempt, pid) = (fields.next()?, fields.next()?, fields.next()?);
                    (pid == survivor.child.id().to_string()).then(|| (run.to_owned(), attempt.parse().unwrap_or(0)))
                })
                .collect();
            let finished: HashSet<String> =
                log.lines().filter_map(|l| l.split(' ').next().map(str::to_owned)).collect();
            if run_ids.iter().all(|id| finished.contains(id)) {
                break survivor_lines;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "hooks still missing after {HANG:?}\n{log}\n{}",
                survivor.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let recovered = killed_at.elapsed();
        // Every hook the dead replica had not finished ran on the survivor; the ones it had taken
        // came back as a second delivery.
        assert_eq!(completed_by_survivor.len() + done_before_kill, KILLED_RUNS, "each hook completed once");
        let redelivered = completed_by_survivor.iter().filter(|(_, attempt)| *attempt >= 2).count();
        assert!(completed_by_survivor.iter().all(|(_, attempt)| *attempt >= 1), "{completed_by_survivor:?}");
        eprintln!(
            "killed replica: {done_before_kill} hooks had finished before the kill, {} completed on the survivor \
             ({redelivered} of them taken from the dead replica, attempt 2) within {:.1} s of the kill",
            completed_by_survivor.len(),
            recovered.as_secs_f64()
        );
        // The survivor answers for every run's hooks from the shared store.
        for run_id in &run_ids {
            let hooks: Value = client
                .get(format!("{}/agents/{AGENT}/runs/{run_id}/hooks", survivor.base))
                .send()
                .await
                .expect("the hooks route")
                .json()
                .await
                .expect("JSON");
            assert_eq!(hooks["hooks"][0]["status"], "completed", "{hooks}");
            assert_eq!(hooks["hooks"][0]["hook"], "slow_notification", "{hooks}");
        }
        let mut survivor = survivor;
        stop(&mut survivor);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replica_stopped_mid_hook_hands_its_job_back() {
        let Some(url) = pg_server::database_url_or_skip("a_replica_stopped_mid_hook_hands_its_job_back") else {
            return;
        };
        let schema = schema("handed_back");
        let dir = tempfile::tempdir().expect("a temp dir");
        let hook_log = dir.path().join("hooks.log");
        // A grace period shorter than the hook's 3 s.
        let mut stopping = replica(&url, &schema, Some(&hook_log), Some(500));
        agno::models::openai::install_tls_provider();
        let client = reqwest::Client::builder().timeout(HANG).build().expect("an HTTP client");
        let form = [("message", "hello"), ("stream", "false")];
        let response =
            client.post(format!("{}/agents/{AGENT}/runs", stopping.base)).form(&form).send().await.expect("a run");
        let body: Value = response.json().await.expect("JSON");
        let run_id = body["run_id"].as_str().expect("a run id").to_owned();
        // Wait until its worker runs the hook, then stop the replica gracefully.
        let deadline = std::time::Instant::now() + HANG;
        loop {
            let status = psql(
                &url,
                &format!(
                    "SELECT outcome->>'status' FROM \"{schema}\".agno_hook_outcomes WHERE job_run_id = '{run_id}'"
                ),
            );
            if status == ["running"] {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the hook never started: {status:?}\n{}", stopping.output());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop(&mut stopping);
        assert!(!std::fs::read_to_string(&hook_log).unwrap_or_default().contains(&run_id), "the hook finished anyway");
        let jobs = psql(
            &url,
            &format!("SELECT status, attempts FROM apalis.jobs WHERE job_type = 'agno_background_hooks:{schema}'"),
        );
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        assert!(jobs[0].starts_with("Pending|"), "the job went back to the queue, not failed: {jobs:?}");
        // The next replica takes it.
        let next = replica(&url, &schema, Some(&hook_log), None);
        loop {
            let log = std::fs::read_to_string(&hook_log).unwrap_or_default();
            if let Some(line) = log.lines().find(|l| l.starts_with(&run_id)) {
                let fields: Vec<&str> = line.split(' ').collect();
                assert_eq!(fields[1], "2", "a second delivery: {line}");
                assert_eq!(fields[2], next.child.id().to_string(), "run by the next replica: {line}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the handed-back hook never ran\n{}", next.output());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut next = next;
        stop(&mut next);
    }

    /// Posts `message` to session `tasks` on a replica; the run's answer.
    async fn run(client: &reqwest::Client, base: &str, message: &str) -> Result<String, String> {
        match post(client, base, "tasks", message).await? {
            (200, body) if body["content"].is_string() => Ok(body["content"].as_str().unwrap_or_default().to_owned()),
            (status, body) => Err(format!("{message}: {status} {body}")),
        }
    }

    /// `collect` posted 8 times at once, to the replicas `targets` picks: the answers.
    async fn collect_at_once(
        client: &reqwest::Client,
        bases: &[String],
        targets: impl Fn(usize) -> usize,
    ) -> Vec<String> {
        let runs: Vec<_> = (0..8)
            .map(|i| {
                let (client, base) = (client.clone(), bases[targets(i)].clone());
                tokio::spawn(async move { run(&client, &base, "collect").await })
            })
            .collect();
        let mut answers = Vec::new();
        for run in runs {
            answers.push(run.await.expect("a client task").unwrap_or_else(|e| panic!("{e}")));
        }
        answers
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_task_added_on_one_replica_is_popped_once_on_the_other() {
        let Some(url) = pg_server::database_url_or_skip("a_task_added_on_one_replica") else { return };
        let schema = schema("tasks");
        let mut replicas = [replica(&url, &schema, None, None), replica(&url, &schema, None, None)];
        let bases = [replicas[0].base.clone(), replicas[1].base.clone()];
        agno::models::openai::install_tls_provider();
        let client = reqwest::Client::builder().timeout(HANG).build().expect("an HTTP client");

        // Added on replica 0; eight runs on replica 1 ask for it at once.
        run(&client, &bases[0], "count: one two three").await.unwrap_or_else(|e| panic!("{e}"));
        let answers = collect_at_once(&client, &bases, |_| 1).await;
        let got: Vec<&String> = answers.iter().filter(|a| *a != "count: none").collect();
        assert_eq!(got, ["count: 3 words"], "exactly one run of the other replica popped it: {answers:?}");

        // Added on replica 1; eight runs split between both ask for it at once.
        run(&client, &bases[1], "count: four five").await.unwrap_or_else(|e| panic!("{e}"));
        let answers = collect_at_once(&client, &bases, |i| i % 2).await;
        let got: Vec<&String> = answers.iter().filter(|a| *a != "count: none").collect();
        assert_eq!(got, ["count: 2 words"], "exactly one run popped it: {answers:?}");

        let left =
            psql(&url, &format!("SELECT COUNT(*) FROM \"{schema}\".agno_task_results WHERE status = 'COMPLETED'"));
        assert_eq!(left, ["0"], "nothing left to pop");
        for replica in &mut replicas {
            stop(replica);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replica_stopped_mid_task_hands_it_back() {
        let Some(url) = pg_server::database_url_or_skip("a_replica_stopped_mid_task") else { return };
        let schema = schema("task_handback");
        agno::models::openai::install_tls_provider();
        let client = reqwest::Client::builder().timeout(HANG).build().expect("an HTTP client");
        // A grace period shorter than the task (300 ms).
        let mut stopping = replica(&url, &schema, None, Some(50));
        run(&client, &stopping.base, "count: handed back to the next replica").await.unwrap_or_else(|e| panic!("{e}"));
        stop(&mut stopping);
        let rows = psql(
            &url,
            &format!("SELECT status, owner IS NULL FROM \"{schema}\".agno_task_results WHERE key = 'count_words'"),
        );
        assert_eq!(rows, ["PENDING|t"], "handed back, not failed\n{}", stopping.output());
        let mut next = replica(&url, &schema, None, None);
        // The next replica takes the task over and runs it before any run of its own uses tasks.
        let deadline = std::time::Instant::now() + HANG;
        let status = format!("SELECT status FROM \"{schema}\".agno_task_results WHERE key = 'count_words'");
        while psql(&url, &status) != ["COMPLETED"] {
            assert!(std::time::Instant::now() < deadline, "the task never ran on the next replica\n{}", next.output());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(run(&client, &next.base, "collect").await.unwrap_or_else(|e| panic!("{e}")), "count: 6 words");
        stop(&mut next);
    }
}
