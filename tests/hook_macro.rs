//! `#[hook]` at run time: agents built with macro hooks, run against the offline model (which
//! answers `You said: "<input>"`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use agno::hooks::{Hook, HookParams};
use agno::prelude::*;
use agno::registry::Kind;
use serde_json::{Map, Value, json};

/// What the injection hooks saw.
#[derive(Debug, Default, Clone)]
struct Seen {
    run_id: String,
    session_id: String,
    context_session_id: String,
    agent_id: String,
    input: String,
    user_id: Option<String>,
    metadata: Option<Value>,
    debug_mode: bool,
}

static PRE_SEEN: Mutex<Option<Seen>> = Mutex::new(None);
static POST_SEEN: Mutex<Option<Seen>> = Mutex::new(None);

/// Takes every pre-hook parameter, in an unusual order.
#[hook]
fn record_pre(
    debug_mode: bool,
    metadata: Option<&Value>,
    user_id: Option<&str>,
    session: &Session,
    run_input: &RunInput,
    agent: &Agent,
    run_context: &RunContext,
) {
    *PRE_SEEN.lock().unwrap() = Some(Seen {
        run_id: run_context.run_id.clone(),
        session_id: session.session_id.clone(),
        context_session_id: run_context.session_id.clone(),
        agent_id: agent.id().to_owned(),
        input: run_input.input_content_string(),
        user_id: user_id.map(str::to_owned),
        metadata: metadata.cloned(),
        debug_mode,
    });
}

/// Takes every post-hook parameter (metadata as a map), async.
#[hook]
async fn record_post(
    run_context: &RunContext,
    metadata: Option<&Map<String, Value>>,
    run_output: &RunOutput,
    agent: &Agent,
    session: &Session,
    user_id: Option<&str>,
    debug_mode: bool,
) {
    tokio::task::yield_now().await;
    *POST_SEEN.lock().unwrap() = Some(Seen {
        run_id: run_context.run_id.clone(),
        session_id: session.session_id.clone(),
        context_session_id: run_output.session_id.clone(),
        agent_id: agent.id().to_owned(),
        input: run_output.content.clone().unwrap_or_default(),
        user_id: user_id.map(str::to_owned),
        metadata: metadata.cloned().map(Value::Object),
        debug_mode,
    });
}

#[tokio::test]
async fn every_parameter_receives_its_value() {
    let agent = Agent::builder().id("inject-agent").pre_hook(record_pre).post_hook(record_post).build().unwrap();
    let mut metadata = Map::new();
    metadata.insert("tenant".to_owned(), json!("acme"));
    let output =
        agent.run("hi").session_id("s-inject").user_id("u1").metadata(metadata.clone()).debug_mode(true).await.unwrap();
    assert_eq!(output.status, RunStatus::Completed);

    let pre = PRE_SEEN.lock().unwrap().clone().expect("pre-hook ran");
    assert_eq!(pre.run_id, output.run_id);
    assert_eq!(pre.session_id, "s-inject");
    assert_eq!(pre.context_session_id, "s-inject");
    assert_eq!(pre.agent_id, "inject-agent");
    assert_eq!(pre.input, "hi");
    assert_eq!(pre.user_id.as_deref(), Some("u1"));
    assert_eq!(pre.metadata, Some(Value::Object(metadata.clone())));
    assert!(pre.debug_mode);

    let post = POST_SEEN.lock().unwrap().clone().expect("post-hook ran");
    assert_eq!(post.run_id, output.run_id);
    assert_eq!(post.session_id, output.session_id);
    assert_eq!(post.context_session_id, "s-inject");
    assert_eq!(post.agent_id, agent.id());
    assert_eq!(post.input, "You said: \"hi\"");
    assert_eq!(post.user_id.as_deref(), Some("u1"));
    assert_eq!(post.metadata, Some(Value::Object(metadata)));
    assert!(post.debug_mode);
}

static DEBUG_SEEN: Mutex<Vec<bool>> = Mutex::new(Vec::new());

#[hook]
fn record_debug(debug_mode: bool, user_id: Option<&str>, metadata: Option<&Value>) {
    assert_eq!(user_id, None);
    assert_eq!(metadata, None);
    DEBUG_SEEN.lock().unwrap().push(debug_mode);
}

#[tokio::test]
async fn debug_mode_comes_from_the_agent_unless_the_run_sets_it() {
    let agent = Agent::builder().debug_mode(true).pre_hook(record_debug).build().unwrap();
    agent.run("one").await.unwrap();
    agent.run("two").debug_mode(false).await.unwrap();
    assert_eq!(*DEBUG_SEEN.lock().unwrap(), [true, false]);
}

/// Changes what the model sees.
#[hook]
fn rewrite_input(run_input: &mut RunInput) {
    let text = run_input.input_content_string();
    run_input.input_content = format!("{text} (rewritten)").into();
}

#[tokio::test]
async fn a_mut_run_input_pre_hook_changes_what_the_model_sees() {
    let agent = Agent::builder().pre_hook(rewrite_input).build().unwrap();
    let output = agent.run("hi").await.unwrap();
    assert_eq!(output.content.as_deref(), Some("You said: \"hi (rewritten)\""));
}

/// Changes the answer.
#[hook]
async fn shout_output(run_output: &mut RunOutput) {
    tokio::time::sleep(Duration::from_millis(1)).await;
    run_output.content = run_output.content.as_deref().map(str::to_uppercase);
}

#[tokio::test]
async fn a_mut_run_output_post_hook_changes_the_content() {
    let agent = Agent::builder().post_hook(shout_output).build().unwrap();
    let output = agent.run("hi").await.unwrap();
    assert_eq!(output.content.as_deref(), Some("YOU SAID: \"HI\""));
}

/// Rejects input containing "forbidden".
#[hook]
fn reject_forbidden(run_input: &RunInput) -> Result<(), InputCheckError> {
    if run_input.input_content_string().contains("forbidden") {
        return Err(InputCheckError::new("forbidden input"));
    }
    Ok(())
}

#[tokio::test]
async fn an_input_check_error_stops_the_run() {
    let agent = Agent::builder().pre_hook(reject_forbidden).build().unwrap();
    let rejected = agent.run("forbidden words").await.unwrap();
    assert_eq!(rejected.status, RunStatus::Error);
    assert_ne!(rejected.content.as_deref(), Some("You said: \"forbidden words\""));
    let accepted = agent.run("hi").await.unwrap();
    assert_eq!(accepted.status, RunStatus::Completed);
}

/// Empties the answer, so `validate_output` rejects it.
#[hook]
fn empty_output(run_output: &mut RunOutput) {
    run_output.content = Some(String::new());
}

/// Seed 003's validator: empty answers are not allowed.
#[hook]
fn validate_output(run_output: &RunOutput, agent: &Agent) -> Result<(), OutputCheckError> {
    let _ = agent;
    if run_output.content.as_deref().is_none_or(str::is_empty) {
        return Err(OutputCheckError::new("Empty response not allowed"));
    }
    Ok(())
}

#[tokio::test]
async fn an_output_check_error_stops_the_run() {
    let ok = Agent::builder().post_hook(validate_output).build().unwrap();
    assert_eq!(ok.run("hi").await.unwrap().status, RunStatus::Completed);
    let agent = Agent::builder().post_hooks(agno::hooks![empty_output, validate_output]).build().unwrap();
    assert_eq!(agent.run("hi").await.unwrap().status, RunStatus::Error);
}

static AFTER_FAILURE: AtomicUsize = AtomicUsize::new(0);

/// Fails with an ordinary error: logged, and the next hook runs.
#[hook]
async fn failing(agent: &Agent) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let _ = agent;
    Err("something broke".into())
}

#[hook]
fn after_failure() {
    AFTER_FAILURE.fetch_add(1, Ordering::SeqCst);
}

#[tokio::test]
async fn any_other_error_is_logged_and_the_next_hook_runs() {
    let agent = Agent::builder().pre_hooks(agno::hooks![failing, after_failure]).build().unwrap();
    let output = agent.run("hi").await.unwrap();
    assert_eq!(output.status, RunStatus::Completed);
    assert_eq!(AFTER_FAILURE.load(Ordering::SeqCst), 1);
}

static SLEPT: AtomicBool = AtomicBool::new(false);

/// Seed 000's slow analytics hook, shortened.
#[hook]
async fn log_analytics(run_output: &RunOutput, agent: &Agent, session: &Session) {
    let _ = (run_output, agent, session);
    tokio::time::sleep(Duration::from_millis(20)).await;
    SLEPT.store(true, Ordering::SeqCst);
}

#[tokio::test]
async fn an_async_hook_can_await() {
    let agent = Agent::builder().post_hook(log_analytics).build().unwrap();
    agent.run("hi").await.unwrap();
    assert!(SLEPT.load(Ordering::SeqCst));
}

static NOTIFIED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Seeds 001 and 003: a background post-hook; outside AgentOS it runs inline.
#[hook(run_in_background = true)]
async fn send_notification(run_output: &RunOutput, agent: &Agent) {
    tokio::time::sleep(Duration::from_millis(1)).await;
    NOTIFIED.lock().unwrap().push(format!("{}: {}", agent.id(), run_output.content.as_deref().unwrap_or_default()));
}

/// Seed 001's background pre-hook.
#[hook(run_in_background = true)]
fn log_request(run_input: &RunInput, agent: &Agent) {
    let _ = (run_input, agent);
}

#[tokio::test]
async fn a_background_hook_runs_inline_without_agentos() {
    let agent = Agent::builder()
        .id("bg-agent")
        .pre_hook(log_request)
        .post_hooks(agno::hooks![validate_output, send_notification])
        .build()
        .unwrap();
    agent.run("hi").await.unwrap();
    assert_eq!(*NOTIFIED.lock().unwrap(), ["bg-agent: You said: \"hi\""]);
}

#[test]
fn generated_hooks_describe_themselves() {
    assert_eq!(send_notification.name(), "send_notification");
    assert!(send_notification.run_in_background());
    assert!(!send_notification.is_guardrail());
    assert_eq!(send_notification.params(), HookParams::RUN_OUTPUT | HookParams::AGENT);

    assert_eq!(log_request.params(), HookParams::RUN_INPUT | HookParams::AGENT);
    assert!(log_request.run_in_background());

    assert_eq!(rewrite_input.name(), "rewrite_input");
    assert_eq!(rewrite_input.params(), HookParams::RUN_INPUT_MUT);
    assert!(rewrite_input.params().modifies());
    assert!(!rewrite_input.run_in_background());

    assert_eq!(shout_output.params(), HookParams::RUN_OUTPUT_MUT);
    assert_eq!(after_failure.params(), HookParams::NONE);
    assert_eq!(
        record_pre.params(),
        HookParams::DEBUG_MODE
            | HookParams::METADATA
            | HookParams::USER_ID
            | HookParams::SESSION
            | HookParams::RUN_INPUT
            | HookParams::AGENT
            | HookParams::RUN_CONTEXT
    );
    assert!(record_post.params().contains(HookParams::RUN_OUTPUT | HookParams::METADATA));
    assert!(!record_post.params().needs_input());
}

#[test]
fn the_descriptor_is_a_const() {
    const D: agno::registry::Descriptor = send_notification::DESCRIPTOR;
    assert_eq!(D.kind, Kind::Hook);
    assert_eq!(D.name, "send_notification");
    assert_eq!(D.module_path, "hook_macro");
    const { assert!(D.run_in_background) };
    assert_eq!(D.ttl_secs, 0);
    assert_eq!(D.priority, 0);
    const { assert!(!rewrite_input::DESCRIPTOR.run_in_background) };
}

mod nested {
    use agno::prelude::*;

    #[hook(run_in_background = true)]
    pub async fn nested_audit(run_context: &RunContext) {
        let _ = run_context;
    }
}

#[test]
fn the_registry_lists_the_hooks_of_this_file() {
    let hooks = agno::registry::hooks();
    let find = |name: &str| hooks.iter().find(|d| d.name == name).copied();
    let expected = [
        ("record_pre", false),
        ("record_post", false),
        ("record_debug", false),
        ("rewrite_input", false),
        ("shout_output", false),
        ("reject_forbidden", false),
        ("empty_output", false),
        ("validate_output", false),
        ("failing", false),
        ("after_failure", false),
        ("log_analytics", false),
        ("send_notification", true),
        ("log_request", true),
        ("takes_output", false),
    ];
    for (name, background) in expected {
        let d = find(name).unwrap_or_else(|| panic!("`{name}` is not registered"));
        assert_eq!(d.kind, Kind::Hook);
        assert_eq!(d.module_path, "hook_macro", "{name}");
        assert_eq!(d.run_in_background, background, "{name}");
    }
    let nested = find("nested_audit").expect("nested hook registered");
    assert_eq!(nested.module_path, "hook_macro::nested");
    assert!(nested.run_in_background);
    assert!(agno::registry::tasks().iter().all(|d| d.kind == Kind::Task));
    let _ = nested::nested_audit;
}

/// A post-hook by nature.
#[hook]
fn takes_output(run_output: &RunOutput) {
    let _ = run_output;
}

#[test]
fn a_pre_hook_taking_run_output_is_rejected_when_building() {
    match Agent::builder().id("misplaced").pre_hook(takes_output).build() {
        Err(agno::Error::Config(message)) => {
            assert!(message.contains("`takes_output`"), "{message}");
            assert!(message.contains("run_output"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    match Agent::builder().post_hook(rewrite_input).build() {
        Err(agno::Error::Config(message)) => assert!(message.contains("`rewrite_input`"), "{message}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert!(Agent::builder().post_hook(takes_output).build().is_ok());
}

#[tokio::test]
async fn the_functions_stay_callable() {
    let mut input = RunInput::new("hi");
    rewrite_input::func(&mut input);
    assert_eq!(input.input_content_string(), "hi (rewritten)");
    assert!(reject_forbidden::func(&RunInput::new("forbidden")).is_err());
    assert!(reject_forbidden::func(&input).is_ok());
    assert!(failing::func(&Agent::builder().build().unwrap()).await.is_err());
}
