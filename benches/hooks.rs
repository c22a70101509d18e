//! Per-run cost of hooks with the offline model, and the cost of a macro-generated hook over a
//! direct call of its function.
//!
//! `cargo bench --bench hooks`. Each run is one `agent.run("Hello").await` on a current-thread
//! tokio runtime, without storage (as agno's figures were measured).
//!
//! The `levels` group measures the same one-hook-per-level layout through teams nested one to
//! three deep (route mode, so no leader call) and a one-step workflow, with and without the
//! hooks: the difference over the number of hooks is the hook cost per level.

use std::future::IntoFuture;
use std::hint::black_box;
use std::time::Duration;

use agno::Runner;
use agno::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};

/// Seed 001's pre-hook, without the printing.
#[hook]
fn log_request(run_input: &RunInput, agent: &Agent) {
    black_box((run_input.input_content.as_text(), agent.name()));
}

/// Seed 001's first post-hook, made sync.
#[hook]
fn log_analytics(run_output: &RunOutput, agent: &Agent, session: &Session) {
    black_box((&run_output.run_id, agent.name(), &session.session_id));
}

/// Seed 001's second post-hook, made sync.
#[hook]
fn send_notification(run_output: &RunOutput, agent: &Agent) {
    black_box((run_output.content.as_deref(), agent.name()));
}

/// The same work as `send_notification`, async.
#[hook]
async fn send_notification_async(run_output: &RunOutput, agent: &Agent) {
    black_box((run_output.content.as_deref(), agent.name()));
}

/// A team's post-hook.
#[hook]
fn team_post(run_output: &RunOutput, team: &Team) {
    black_box((run_output.content.as_deref(), team.id()));
}

/// A workflow's post-hook.
#[hook]
fn workflow_post(run_output: &RunOutput, workflow: &Workflow) {
    black_box((run_output.content.as_deref(), workflow.id()));
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start a tokio runtime: {e}"),
    }
}

fn agent(configure: impl FnOnce(agno::AgentBuilder) -> agno::AgentBuilder) -> Agent {
    match configure(Agent::builder().id("bench-agent").name("Bench Agent").instructions("You are a helpful assistant"))
        .build()
    {
        Ok(agent) => agent,
        Err(e) => panic!("bench agent: {e}"),
    }
}

fn per_run(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("run");
    let no_hooks = agent(|b| b);
    let three = agent(|b| b.pre_hook(log_request).post_hook(log_analytics).post_hook(send_notification));
    let three_async = agent(|b| b.pre_hook(log_request).post_hook(log_analytics).post_hook(send_notification_async));
    let ten = agent(|b| (0..10).fold(b, |b, _| b.post_hook(send_notification)));
    for (name, agent) in
        [("no_hooks", &no_hooks), ("3_hooks", &three), ("3_hooks_one_async", &three_async), ("10_hooks", &ten)]
    {
        group.bench_function(name, |b| b.iter(|| rt.block_on(agent.run("Hello").into_future())));
    }
    group.finish();
}

/// `depth` teams nested in route mode around one agent; one post-hook per level when `hooked`.
fn nested(depth: usize, hooked: bool) -> Runner {
    let mut runner = Runner::Agent(agent(|b| if hooked { b.post_hook(send_notification) } else { b }));
    for level in 0..depth {
        let member: agno::team::Member = match runner {
            Runner::Agent(a) => a.into(),
            Runner::Team(t) => t.into(),
            Runner::Workflow(_) => unreachable!("only agents and teams are nested here"),
        };
        let builder = Team::builder().id(format!("team-{level}")).mode(TeamMode::Route).member(member);
        let builder = if hooked { builder.post_hook(team_post) } else { builder };
        runner = match builder.build() {
            Ok(team) => Runner::Team(team),
            Err(e) => panic!("bench team: {e}"),
        };
    }
    runner
}

fn levels(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("levels");
    for depth in [1, 3] {
        for hooked in [false, true] {
            let runner = nested(depth, hooked);
            let name = format!("team_depth_{depth}/{}", if hooked { "hook_per_level" } else { "no_hooks" });
            group.bench_function(name, |b| b.iter(|| rt.block_on(runner.run("Hello").into_future())));
        }
    }
    for hooked in [false, true] {
        let step_agent = agent(|b| if hooked { b.post_hook(send_notification) } else { b });
        let builder = Workflow::builder().id("bench-workflow").step(Step::agent("only", step_agent));
        let workflow = match (if hooked { builder.post_hook(workflow_post) } else { builder }).build() {
            Ok(workflow) => workflow,
            Err(e) => panic!("bench workflow: {e}"),
        };
        let name = format!("workflow_1_step/{}", if hooked { "hook_per_level" } else { "no_hooks" });
        group.bench_function(name, |b| b.iter(|| rt.block_on(workflow.run("Hello").into_future())));
    }
    group.finish();
}

fn hook_call(c: &mut Criterion) {
    let agent = agent(|b| b);
    let output = match runtime().block_on(agent.run("Hello").into_future()) {
        Ok(output) => output,
        Err(e) => panic!("{e}"),
    };
    c.bench_function("hook_call/direct", |b| b.iter(|| send_notification::func(black_box(&output), black_box(&agent))));
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = per_run, levels, hook_call
}
criterion_main!(benches);
