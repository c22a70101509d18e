//! Per-run cost of hooks with the offline model, and the cost of a macro-generated hook over a
//! direct call of its function.
//!
//! `cargo bench --bench hooks`. Each run is one `agent.run("Hello").await` on a current-thread
//! tokio runtime, without storage (as agno's figures were measured).

use std::future::IntoFuture;
use std::hint::black_box;
use std::time::Duration;

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
    targets = per_run, hook_call
}
criterion_main!(benches);
