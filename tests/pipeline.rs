//! The hook pipeline's rules, end to end through `Agent::run`, with hand-written hooks.

mod common;

use std::sync::Arc;

use agno::db::{Db, InMemoryDb};
use agno::hooks::HookParams;
use agno::models::{BoxFuture, BoxStream, Model, ModelChunk, ModelError, ModelRequest, ModelResponse, Role};
use agno::prelude::*;
use agno::run::BackgroundMode;
use agno::run::RunStream;
use common::{Action, Collect, Log, Probe};

async fn drain(mut stream: RunStream) -> (Vec<RunEvent>, RunOutput) {
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        events.push(item.expect("no storage error"));
    }
    (events, stream.into_output().expect("stream finished"))
}

fn names(events: &[RunEvent]) -> Vec<&'static str> {
    events.iter().map(RunEvent::name).collect()
}

#[tokio::test]
async fn hooks_run_in_list_order_around_the_model() {
    let log = Log::default();
    let agent = Agent::builder()
        .pre_hook(Probe::new("pre1", &log))
        .pre_hooks(hooks![Probe::new("pre2", &log), Probe::new("pre3", &log)])
        .post_hook(Probe::new("post1", &log).params(HookParams::RUN_OUTPUT))
        .post_hook(Probe::new("post2", &log))
        .build()
        .unwrap();
    let out = agent.run("hi").await.unwrap();
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(
        log.entries(),
        ["pre1", "pre2", "pre3", "post1 status=RUNNING content=You said: \"hi\"", "post2"],
        "pre-hooks before the model (post1 already sees its answer, status still RUNNING), in list order"
    );
}

#[tokio::test]
async fn a_pre_hook_changes_what_the_model_sees() {
    let log = Log::default();
    let agent = Agent::builder()
        .instructions("Be brief.")
        .pre_hook(Probe::new("rewrite", &log).params(HookParams::RUN_INPUT_MUT).action(Action::SetInput("rewritten")))
        .pre_hook(Probe::new("after", &log).params(HookParams::RUN_INPUT))
        .build()
        .unwrap();
    let out = agent.run("original").await.unwrap();
    assert_eq!(log.entries(), ["rewrite input=original", "after input=rewritten"]);
    assert_eq!(out.content.as_deref(), Some("You said: \"rewritten\""));
    let messages = out.messages.expect("messages are stored");
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0].role, Role::System);
    assert_eq!(messages[0].content.as_deref(), Some("Be brief."));
    assert_eq!(messages[1].content.as_deref(), Some("rewritten"));
    assert_eq!(out.input.unwrap().input_content_string(), "rewritten");
}

#[tokio::test]
async fn a_post_hook_changes_the_output() {
    let log = Log::default();
    let agent = Agent::builder()
        .post_hook(Probe::new("edit", &log).params(HookParams::RUN_OUTPUT_MUT).action(Action::SetOutput("edited")))
        .build()
        .unwrap();
    let out = agent.run("hi").await.unwrap();
    assert_eq!(out.content.as_deref(), Some("edited"));
    assert_eq!(out.status, RunStatus::Completed);
}

#[tokio::test]
async fn input_check_error_stops_the_run_and_is_stored() {
    let log = Log::default();
    let db = Arc::new(InMemoryDb::new());
    let agent = Agent::builder()
        .db(Arc::clone(&db))
        .pre_hook(Probe::new("guard", &log).action(Action::RejectInput("blocked by guard")))
        .pre_hook(Probe::new("never", &log))
        .post_hook(Probe::new("never_post", &log))
        .build()
        .unwrap();
    let out = agent.run("hi").session_id("s1").await.unwrap();
    assert_eq!(out.status, RunStatus::Error);
    assert_eq!(out.content.as_deref(), Some("blocked by guard"));
    assert!(out.messages.is_none(), "the model was never called");
    assert_eq!(log.entries(), ["guard"], "later hooks do not run");
    let stored = db.get_run(&out.run_id).await.unwrap().expect("ERROR runs are stored");
    assert_eq!(stored.status, RunStatus::Error);
    assert_eq!(stored, out);
}

#[tokio::test]
async fn output_check_error_keeps_the_model_content() {
    let log = Log::default();
    let agent = Agent::builder()
        .post_hook(Probe::new("validate", &log).action(Action::RejectOutput("not allowed")))
        .post_hook(Probe::new("never", &log))
        .build()
        .unwrap();
    let out = agent.run("hi").await.unwrap();
    assert_eq!(out.status, RunStatus::Error);
    assert_eq!(out.content.as_deref(), Some("You said: \"hi\""), "content is only set when empty");
    assert_eq!(log.entries(), ["validate"]);
}

#[tokio::test]
async fn check_error_in_a_stream_ends_with_run_error() {
    let log = Log::default();
    let agent = Agent::builder()
        .pre_hook(Probe::new("ok", &log))
        .pre_hook(Probe::new("guard", &log).action(Action::RejectInput("nope")))
        .build()
        .unwrap();
    let (events, out) = drain(agent.run("hi").stream()).await;
    assert_eq!(names(&events), ["RunStarted", "PreHookStarted", "PreHookCompleted", "PreHookStarted", "RunError"]);
    match &events.last().unwrap().kind {
        RunEventKind::RunError { content, error_type, error_id, .. } => {
            assert_eq!(content, "nope");
            assert_eq!(error_type, "input_check_error");
            assert_eq!(error_id.as_deref(), Some("input_not_allowed"));
        }
        other => panic!("expected RunError, got {other:?}"),
    }
    assert_eq!(out.status, RunStatus::Error);

    let agent = Agent::builder()
        .post_hook(Probe::new("validate", &log).action(Action::RejectOutput("bad output")))
        .build()
        .unwrap();
    let (events, _) = drain(agent.run("hi").stream()).await;
    let last = events.last().unwrap();
    assert!(
        matches!(&last.kind, RunEventKind::RunError { error_type, error_id, .. }
            if error_type == "output_check_error" && error_id.as_deref() == Some("output_not_allowed")),
        "{last:?}"
    );
}

#[tokio::test]
async fn failing_and_panicking_hooks_do_not_stop_the_run() {
    let log = Log::default();
    let agent = Agent::builder()
        .pre_hook(Probe::new("fails", &log).action(Action::Fail))
        .pre_hook(Probe::new("panics", &log).action(Action::Panic))
        .pre_hook(Probe::new("panics_async", &log).action(Action::PanicAsync))
        .pre_hook(Probe::new("still_runs", &log))
        .post_hook(Probe::new("post_panics", &log).action(Action::Panic))
        .post_hook(Probe::new("post_runs", &log))
        .build()
        .unwrap();
    let out = agent.run("hi").await.unwrap();
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(out.content.as_deref(), Some("You said: \"hi\""));
    assert_eq!(log.entries(), ["fails", "panics", "panics_async", "still_runs", "post_panics", "post_runs"]);

    // In a stream, a failed hook has a Started event and no Completed one.
    let (events, _) = drain(agent.run("hi").stream()).await;
    let hook_events: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            RunEventKind::PreHookStarted { pre_hook_name, .. } => Some(format!("start {pre_hook_name}")),
            RunEventKind::PreHookCompleted { pre_hook_name, .. } => Some(format!("done {pre_hook_name}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        hook_events,
        ["start fails", "start panics", "start panics_async", "start still_runs", "done still_runs"]
    );
}

#[tokio::test]
async fn async_hooks_are_awaited_in_order() {
    let log = Log::default();
    let agent = Agent::builder()
        .pre_hook(Probe::new("a", &log).action(Action::RecordAsync))
        .pre_hook(Probe::new("b", &log))
        .build()
        .unwrap();
    agent.run("hi").await.unwrap();
    assert_eq!(log.entries(), ["a", "a after await", "b"]);
}

#[tokio::test]
async fn stream_events_follow_agnos_async_order() {
    let log = Log::default();
    let agent = Agent::builder()
        .name("Hook Agent")
        .pre_hook(Probe::new("pre", &log).params(HookParams::RUN_INPUT))
        .post_hook(Probe::new("post", &log))
        .build()
        .unwrap();
    let (events, out) = drain(agent.run("hello there").stream()).await;
    let expected = [
        "RunStarted",
        "PreHookStarted",
        "PreHookCompleted",
        "ModelRequestStarted",
        "RunContent",
        "RunContent",
        "RunContent",
        "RunContent",
        "ModelRequestCompleted",
        "RunContentCompleted",
        "PostHookStarted",
        "PostHookCompleted",
        "RunCompleted",
    ];
    assert_eq!(names(&events), expected);
    let content: String = events
        .iter()
        .filter_map(|e| match &e.kind {
            RunEventKind::RunContent { content, .. } => Some(content.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(content, "You said: \"hello there\"");
    assert_eq!(out.content.as_deref(), Some(content.as_str()));
    for event in &events {
        assert_eq!(event.run_id, out.run_id);
        assert_eq!(event.agent_id, "hook-agent");
        assert_eq!(event.agent_name.as_deref(), Some("Hook Agent"));
        assert_eq!(event.session_id, out.session_id);
    }
    match &events[1].kind {
        RunEventKind::PreHookStarted { pre_hook_name, run_input } => {
            assert_eq!(pre_hook_name, "pre");
            assert_eq!(run_input.input_content_string(), "hello there");
        }
        other => panic!("{other:?}"),
    }
    // Non-stream runs create no events at all.
    assert!(agent.run("x").await.unwrap().events.is_none());
}

#[tokio::test]
async fn stored_events_skip_run_content() {
    let db = Arc::new(InMemoryDb::new());
    let agent = Agent::builder().db(Arc::clone(&db)).store_events(true).build().unwrap();
    let (events, out) = drain(agent.run("a b c").stream()).await;
    let stored = db.get_run(&out.run_id).await.unwrap().unwrap();
    let stored_events = stored.events.expect("events are stored");
    let expected: Vec<&RunEvent> = events.iter().filter(|e| e.name() != "RunContent").collect();
    assert_eq!(stored_events.iter().collect::<Vec<_>>(), expected);
    assert_eq!(stored_events.last().unwrap().name(), "RunCompleted");
}

#[tokio::test]
async fn background_hooks_run_inline_without_a_scheduler() {
    let log = Log::default();
    let agent = Agent::builder()
        .pre_hook(Probe::new("bg_pre", &log).background())
        .pre_hook(Probe::new("fg_pre", &log))
        .post_hook(Probe::new("bg_post", &log).background())
        .post_hook(Probe::new("fg_post", &log))
        .build()
        .unwrap();
    let (events, _) = drain(agent.run("hi").stream()).await;
    assert_eq!(log.entries(), ["bg_pre", "fg_pre", "bg_post", "fg_post"], "inline, in list order (agno)");
    assert_eq!(names(&events).iter().filter(|n| n.ends_with("HookCompleted")).count(), 4);
}

#[tokio::test]
async fn per_hook_background_hands_copies_to_the_scheduler() {
    let log = Log::default();
    let scheduler = Arc::new(Collect::default());
    let db = Arc::new(InMemoryDb::new());
    let agent = Agent::builder()
        .db(Arc::clone(&db))
        .pre_hook(Probe::new("bg_pre", &log).params(HookParams::RUN_INPUT).background())
        .pre_hook(
            Probe::new("mask", &log).params(HookParams::RUN_INPUT_MUT).action(Action::SetInput("masked")).guardrail(),
        )
        .post_hook(Probe::new("fg_post", &log))
        .post_hook(
            // A hand-written background hook that tries to change the run through its copy.
            Probe::new("bg_post", &log)
                .params(HookParams::RUN_OUTPUT_MUT)
                .action(Action::SetOutput("changed in background"))
                .background(),
        )
        .build()
        .unwrap();
    let (events, out) =
        drain(agent.run("secret").background(BackgroundMode::per_hook(scheduler.clone() as Arc<_>)).stream()).await;
    assert_eq!(log.entries(), ["mask input=secret", "fg_post"], "background hooks wait for the scheduler");
    assert!(
        !events.iter().any(|e| matches!(&e.kind,
            RunEventKind::PreHookStarted { pre_hook_name, .. } if pre_hook_name == "bg_pre")),
        "background hooks emit no events"
    );
    let jobs = scheduler.take();
    let queued: Vec<(&str, usize)> = jobs.iter().map(|j| (j.hook_name(), j.position())).collect();
    assert_eq!(queued, [("bg_pre", 1), ("bg_post", 2)], "pre before post, each in list order");
    assert!(jobs.iter().all(|j| j.run_id() == out.run_id));
    for job in jobs {
        job.run().await.unwrap();
    }
    assert_eq!(
        log.entries()[2..],
        ["bg_pre input=masked".to_owned(), "bg_post status=COMPLETED content=You said: \"masked\"".to_owned()],
        "copies are taken when the run has finished: masked input, final status"
    );
    assert_eq!(out.content.as_deref(), Some("You said: \"masked\""), "the copy's change did not reach the run");
    let stored = db.get_run(&out.run_id).await.unwrap().unwrap();
    assert_eq!(stored.content.as_deref(), Some("You said: \"masked\""));
}

#[tokio::test]
async fn all_hooks_mode_keeps_guardrails_and_modifiers_inline() {
    let log = Log::default();
    let scheduler = Arc::new(Collect::default());
    let agent = Agent::builder()
        .pre_hook(Probe::new("plain_pre", &log).params(HookParams::RUN_INPUT))
        .pre_hook(Probe::new("modifier", &log).params(HookParams::RUN_INPUT_MUT))
        .pre_hook(Probe::new("guard", &log).params(HookParams::RUN_INPUT).guardrail())
        .post_hook(Probe::new("plain_post", &log))
        .build()
        .unwrap();
    let mode = BackgroundMode::all_hooks(scheduler.clone() as Arc<_>);
    let out = agent.run("hi").background(mode.clone()).await.unwrap();
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(log.entries(), ["modifier input=hi", "guard input=hi"]);
    let queued: Vec<String> = scheduler.take().iter().map(|j| j.hook_name().to_owned()).collect();
    assert_eq!(queued, ["plain_pre", "plain_post"]);

    // A guardrail still rejects inline in this mode; hooks queued before it still run later,
    // post-hooks never do.
    let log = Log::default();
    let agent = Agent::builder()
        .pre_hook(Probe::new("plain_pre", &log))
        .pre_hook(Probe::new("guard", &log).guardrail().action(Action::RejectInput("rejected")))
        .post_hook(Probe::new("plain_post", &log))
        .build()
        .unwrap();
    let out = agent.run("hi").background(mode).await.unwrap();
    assert_eq!(out.status, RunStatus::Error);
    assert_eq!(out.content.as_deref(), Some("rejected"));
    let queued: Vec<String> = scheduler.take().iter().map(|j| j.hook_name().to_owned()).collect();
    assert_eq!(queued, ["plain_pre"]);
}

#[tokio::test]
async fn build_rejects_hooks_in_the_wrong_stage() {
    let log = Log::default();
    let err = Agent::builder()
        .pre_hook(Probe::new("wants_output", &log).params(HookParams::RUN_OUTPUT))
        .post_hook(Probe::new("wants_input", &log).params(HookParams::RUN_INPUT_MUT))
        .build()
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, agno::Error::Config(_)));
    assert!(msg.contains("pre-hook #1 `wants_output` takes `run_output`"), "{msg}");
    assert!(msg.contains("post-hook #1 `wants_input` takes `run_input`"), "{msg}");
}

#[tokio::test]
async fn sessions_carry_runs_state_and_owner() {
    let db = Arc::new(InMemoryDb::new());
    let log = Log::default();
    struct SeesSession(Log);
    impl agno::hooks::Hook for SeesSession {
        fn name(&self) -> &str {
            "sees_session"
        }
        fn params(&self) -> HookParams {
            HookParams::SESSION | HookParams::USER_ID
        }
        fn call<'a>(&'a self, cx: agno::HookContext<'a>) -> agno::hooks::HookCall<'a> {
            self.0.push(format!("{} earlier runs, user {:?}", cx.session.runs.len(), cx.run_context.user_id));
            agno::hooks::HookCall::Done(Ok(()))
        }
    }
    // With history on, `session.runs` is the window: the last two runs, never more.
    let agent = Agent::builder()
        .db(Arc::clone(&db))
        .add_history_to_context(true)
        .num_history_runs(2)
        .pre_hook(SeesSession(log.clone()))
        .build()
        .unwrap();
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        ids.push(agent.run(text).session_id("s").user_id("u1").await.unwrap().run_id);
    }
    let u1 = "user Some(\"u1\")";
    assert_eq!(
        log.entries(),
        [format!("0 earlier runs, {u1}"), format!("1 earlier runs, {u1}"), format!("2 earlier runs, {u1}")]
    );
    let session = db.get_session_with_runs("s", &agno::db::RunQuery::all()).await.unwrap().unwrap();
    assert_eq!(session.user_id.as_deref(), Some("u1"));
    assert_eq!(session.agent_id.as_deref(), Some(agent.id()));
    let stored: Vec<&str> = session.runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(stored, ids);
    let err = agent.run("four").session_id("s").user_id("intruder").await.unwrap_err();
    assert!(matches!(err, agno::Error::SessionOwnership { .. }), "{err}");
    assert_eq!(db.get_runs("s", &agno::db::RunQuery::all()).await.unwrap().len(), 3);

    // Without history, nothing of the past is read: the session row only.
    let log = Log::default();
    let plain = Agent::builder().db(Arc::clone(&db)).pre_hook(SeesSession(log.clone())).build().unwrap();
    plain.run("five").session_id("s").user_id("u1").await.unwrap();
    assert_eq!(log.entries(), [format!("0 earlier runs, {u1}")]);
}

#[tokio::test]
async fn run_options_reach_the_output_and_context() {
    let mut metadata = serde_json::Map::new();
    metadata.insert("k".into(), "v".into());
    let agent = Agent::builder().id("a1").name("Agent One").build().unwrap();
    let out = agent.run("hi").session_id("sess").user_id("u").metadata(metadata).run_id("run-1").await.unwrap();
    assert_eq!(out.run_id, "run-1");
    assert_eq!(out.session_id, "sess");
    assert_eq!(out.user_id.as_deref(), Some("u"));
    assert_eq!(out.metadata, Some(serde_json::json!({"k": "v"})));
    assert_eq!(out.agent_id, "a1");
    assert_eq!(out.model.as_deref(), Some("offline"));
    assert_eq!(out.model_provider.as_deref(), Some("Offline"));
    assert_eq!(out.metrics.input_tokens, Some(1));
    assert_eq!(out.metrics.output_tokens, Some(3));
    assert_eq!(out.metrics.total_tokens, Some(4));
    assert!(out.metrics.duration.is_some());
    let fresh = agent.run("hi").session_id("").await.unwrap();
    assert_eq!(fresh.session_id.len(), 36, "an empty session id means a new one");
}

/// A model that always fails.
struct Broken;

impl Model for Broken {
    fn id(&self) -> &str {
        "broken"
    }
    fn provider(&self) -> &str {
        "Test"
    }
    fn invoke<'a>(&'a self, _: &'a ModelRequest) -> BoxFuture<'a, Result<ModelResponse, ModelError>> {
        Box::pin(async { Err(ModelError::new("provider unavailable")) })
    }
    fn invoke_stream<'a>(&'a self, _: &'a ModelRequest) -> BoxStream<'a, Result<ModelChunk, ModelError>> {
        struct Once(Option<ModelError>);
        impl futures_core::Stream for Once {
            type Item = Result<ModelChunk, ModelError>;
            fn poll_next(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                std::task::Poll::Ready(self.0.take().map(Err))
            }
        }
        Box::pin(Once(Some(ModelError::new("provider unavailable"))))
    }
}

#[tokio::test]
async fn a_model_that_panics_ends_the_run_as_a_model_error() {
    let db = Arc::new(InMemoryDb::new());
    let agent = Agent::builder().model(common::PanicsMidway).db(Arc::clone(&db)).build().unwrap();
    let out = agent.run("hi").await.unwrap();
    assert_eq!(out.status, RunStatus::Error);
    assert_eq!(out.content.as_deref(), Some("the model panicked: lost the thread"));
    assert!(db.get_run(&out.run_id).await.unwrap().is_some(), "stored like any failed run");
    // Streamed: the first piece goes out, the second poll panics, and the run ends in error.
    let (events, out) = drain(agent.run("hi").stream()).await;
    assert!(events.iter().any(|e| matches!(&e.kind, RunEventKind::RunContent { content, .. } if content == "first ")));
    assert!(matches!(&events.last().unwrap().kind,
        RunEventKind::RunError { error_type, .. } if error_type == "model_error"));
    assert_eq!(out.status, RunStatus::Error);
    assert_eq!(out.content.as_deref(), Some("the model panicked: lost the thread mid-stream"));
}

#[tokio::test]
async fn a_model_failure_is_an_error_run_not_an_err() {
    let log = Log::default();
    let db = Arc::new(InMemoryDb::new());
    let agent = Agent::builder().model(Broken).db(Arc::clone(&db)).post_hook(Probe::new("post", &log)).build().unwrap();
    let out = agent.run("hi").await.unwrap();
    assert_eq!(out.status, RunStatus::Error);
    assert_eq!(out.content.as_deref(), Some("provider unavailable"));
    assert!(log.entries().is_empty(), "post-hooks do not run after a failed model call");
    assert!(db.get_run(&out.run_id).await.unwrap().is_some());
    let (events, _) = drain(agent.run("hi").stream()).await;
    assert!(matches!(&events.last().unwrap().kind,
        RunEventKind::RunError { error_type, .. } if error_type == "model_error"));
}
