//! A run's background hooks written down as a `HookJob` and taken back out, as a worker of
//! another replica does (no database needed): through JSON, found again by runner and place in
//! a team and its member, run with their delivery, and refused with a reason when the program
//! has no such runner or hook.

mod common;

use std::sync::{Arc, Mutex};

use agno::hooks::{HookJob, ResolveError};
use agno::prelude::*;
use agno::run::{BackgroundMode, Runner};
use agno::team::{Team, TeamMode};
use common::Collect;

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
