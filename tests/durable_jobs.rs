//! A run's background hooks written down as a `HookJob` and taken back out, as a worker of
//! another replica does (no database needed): through JSON, found again by runner and place in
//! a team and its member, run with their delivery, and refused with a reason when the program
//! has no such runner or hook. And a run stored with a durable queue: its hooks go into the job
//! stored with it, or, when that save fails, to the in-process scheduler instead.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agno::db::{Db, DbError, DbFuture, HookOutcome, HookQueue, InMemoryDb, JobHandler, RecordedOutcome};
use agno::hooks::{BackgroundHook, BackgroundScheduler, HookJob, ResolveError};
use agno::models::OfflineModel;
use agno::prelude::*;
use agno::run::{BackgroundMode, Runner};
use agno::team::{Team, TeamMode};
use common::{Collect, Log, Probe, forward_db_reads};

/// What the hooks saw: `(hook, run_id, attempt, key)`.
static SEEN: Mutex<Vec<(String, String, u32, String)>> = Mutex::new(Vec::new());

fn seen(hook: &str, run_context: &RunContext) {
    let (attempt, key) =
        run_context.delivery.as_ref().map_or((0, String::new()), |d| (d.attempt, d.idempotency_key.clone()));
    SEEN.lock().unwrap().push((hook.to_owned(), run_context.run_id.clone(), attempt, key));
}

#[hook(run_in_background = true)]
fn member_note(run_output: &RunOutput, run_context: &RunContext) {
    assert!(run_output.content.is_some());
    seen("member_note", run_context);
}

#[hook(run_in_background = true)]
async fn team_audit(run_input: &RunInput, run_context: &RunContext) {
    assert_eq!(run_input.input_content.to_string(), "Is this good?");
    seen("team_audit", run_context);
}

#[hook(run_in_background = true)]
fn team_notify(run_output: &RunOutput, run_context: &RunContext) {
    assert!(run_output.content.is_some());
    seen("team_notify", run_context);
}

fn desk() -> Team {
    let member = Agent::builder().id("writer").name("Writer").post_hook(member_note).build().unwrap();
    Team::builder()
        .id("desk")
        .name("Desk")
        .mode(TeamMode::Route)
        .member(member)
        .pre_hook(team_audit)
        .post_hook(team_notify)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_job_goes_through_json_and_its_hooks_run_with_their_delivery() {
    let team = desk();
    let collect = Arc::new(Collect::default());
    let output = team.run("Is this good?").background(BackgroundMode::per_hook(collect.clone())).await.unwrap();
    let hooks = collect.take();
    let owner = Runner::Team(team.clone());
    let job = HookJob::new(&output.run_id, &owner, &hooks);
    assert_eq!(job.owner.kind, "team");
    assert_eq!(job.owner.id, "desk");
    // Queue order: the team's pre-hook, the member's hook, the team's post-hook.
    let names: Vec<&str> = job.hooks.iter().map(|e| e.hook.as_str()).collect();
    assert_eq!(names, ["team_audit", "member_note", "team_notify"]);
    let member_run = &output.member_responses[0].run_id;
    assert_eq!(job.hooks[1].run_id(), member_run.as_str());
    assert_eq!(job.hooks[1].runner.id, "writer");
    assert_eq!(job.hooks[0].key, format!("{}:pre:1:team_audit", output.run_id));
    assert_eq!(job.hooks[1].key, format!("{member_run}:post:1:member_note"));

    // Another process reads the job back and finds each hook in the team it serves.
    let text = serde_json::to_string(&job).unwrap();
    let read: HookJob = serde_json::from_str(&text).unwrap();
    assert_eq!(read, job);
    SEEN.lock().unwrap().clear();
    let served = Runner::Team(desk());
    for entry in read.hooks {
        let hook = HookJob::resolve(&served, entry, 2).unwrap();
        hook.run().await.unwrap();
    }
    let seen = SEEN.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("team_audit".to_owned(), output.run_id.clone(), 2, format!("{}:pre:1:team_audit", output.run_id)),
            ("member_note".to_owned(), member_run.clone(), 2, format!("{member_run}:post:1:member_note")),
            ("team_notify".to_owned(), output.run_id.clone(), 2, format!("{}:post:1:team_notify", output.run_id)),
        ]
    );
}

#[tokio::test]
async fn a_program_without_the_runner_or_hook_refuses_with_the_reason() {
    let team = desk();
    let collect = Arc::new(Collect::default());
    let output = team.run("Is this good?").background(BackgroundMode::per_hook(collect.clone())).await.unwrap();
    let job = HookJob::new(&output.run_id, &Runner::Team(team), &collect.take());

    // A build whose team has another id.
    let other = Runner::Team(
        Team::builder().id("other-desk").member(Agent::builder().id("writer").build().unwrap()).build().unwrap(),
    );
    let error = HookJob::resolve(&other, job.hooks[0].clone(), 1).unwrap_err();
    assert!(matches!(error, ResolveError::UnknownRunner { .. }), "{error:?}");
    assert!(error.to_string().contains("no team `desk`"), "{error}");

    // A build of the same team without the member's hook.
    let without = Runner::Team(
        Team::builder()
            .id("desk")
            .mode(TeamMode::Route)
            .member(Agent::builder().id("writer").build().unwrap())
            .pre_hook(team_audit)
            .post_hook(team_notify)
            .build()
            .unwrap(),
    );
    let error = HookJob::resolve(&without, job.hooks[1].clone(), 1).unwrap_err();
    assert!(matches!(error, ResolveError::UnknownHook { .. }), "{error:?}");
    assert!(error.to_string().contains("agent `writer` has no post-hook `member_note` at position 1"), "{error}");
    // The others still resolve.
    assert!(HookJob::resolve(&without, job.hooks[2].clone(), 1).is_ok());
}

/// A durable queue that is never worked: these tests only look at what is queued.
struct IdleQueue;

impl HookQueue for IdleQueue {
    fn work(
        &self,
        _: Arc<dyn JobHandler>,
        _: Pin<Box<dyn Future<Output = ()> + Send>>,
        _: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<(), DbError>> + Send>> {
        Box::pin(async { Ok(()) })
    }
    fn save_outcomes<'a>(&'a self, _: &'a str, _: &'a [RecordedOutcome]) -> DbFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
    fn outcomes<'a>(&'a self, _: &'a str) -> DbFuture<'a, Vec<HookOutcome>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// `InMemoryDb` with a durable queue: it records the hooks of every job saved with a run, and
/// fails those saves when told to.
struct QueuingDb {
    inner: InMemoryDb,
    fail: bool,
    jobs: Mutex<Vec<Vec<String>>>,
}

impl Db for QueuingDb {
    forward_db_reads!(inner);
    fn id(&self) -> &str {
        "queuing"
    }
    fn save_runs<'a>(&'a self, session: &'a Session, runs: &'a [&'a RunOutput]) -> DbFuture<'a, ()> {
        self.inner.save_runs(session, runs)
    }
    fn hook_queue(&self) -> Option<Arc<dyn HookQueue>> {
        Some(Arc::new(IdleQueue))
    }
    fn save_runs_with_hooks<'a>(
        &'a self,
        session: &'a Session,
        runs: &'a [&'a RunOutput],
        job: &'a HookJob,
    ) -> DbFuture<'a, ()> {
        self.jobs.lock().unwrap().push(job.hooks.iter().map(|h| h.hook.clone()).collect());
        Box::pin(async move {
            if self.fail {
                Err(DbError::Config("the queue is down".into()))
            } else {
                self.inner.save_runs(session, runs).await
            }
        })
    }
}

/// A scheduler that asks for the durable queue, and keeps what it is given instead.
#[derive(Default)]
struct DurableCollect(Mutex<Vec<BackgroundHook>>);

impl BackgroundScheduler for DurableCollect {
    fn schedule(&self, hooks: Vec<BackgroundHook>) {
        self.0.lock().unwrap().extend(hooks);
    }
    fn durable(&self) -> bool {
        true
    }
}

/// A run with a background pre- and post-hook on a durable queue whose save fails or not: the
/// hooks of the job saved with it, the hooks scheduled in process, and whether the run was `Ok`.
async fn durable_run(fail: bool) -> (Vec<Vec<String>>, Vec<String>, bool) {
    let log = Log::default();
    let db = Arc::new(QueuingDb { inner: InMemoryDb::new(), fail, jobs: Mutex::new(Vec::new()) });
    let agent = Agent::builder()
        .id("a")
        .model(OfflineModel::new())
        .db(db.clone() as Arc<dyn Db>)
        .pre_hook(Probe::new("pre", &log).background())
        .post_hook(Probe::new("post", &log).background())
        .build()
        .unwrap();
    let scheduler = Arc::new(DurableCollect::default());
    let output = agent.run("hi").background(BackgroundMode::per_hook(scheduler.clone())).await;
    let scheduled = scheduler.0.lock().unwrap().iter().map(|h| h.hook_name().to_owned()).collect();
    let jobs = db.jobs.lock().unwrap().clone();
    (jobs, scheduled, output.is_ok())
}

#[tokio::test]
async fn a_durable_save_queues_the_hooks_with_the_run_and_schedules_none() {
    let (jobs, scheduled, ok) = durable_run(false).await;
    assert!(ok);
    assert_eq!(jobs, [["pre", "post"]]);
    assert!(scheduled.is_empty(), "{scheduled:?}");
}

#[tokio::test]
async fn a_failed_durable_save_schedules_the_hooks_in_process() {
    let (jobs, scheduled, ok) = durable_run(true).await;
    assert!(!ok, "the save failed");
    assert_eq!(jobs, [["pre", "post"]], "the job was built before the save");
    assert_eq!(scheduled, ["pre", "post"], "no hook is lost");
}
