//! `#[task]`, `#[agent_task]` and the `tasks` hook parameter at run time, on the immediate
//! backend (deterministic) and the in-process one (real workers).

use std::sync::Arc;
use std::time::Duration;

use agno::hooks::{Hook, HookParams};
use agno::models::{Model, OfflineModel};
use agno::prelude::*;
use agno::registry::Kind;
use agno::tasks::{ImmediateBackend, InProcessBackend, Task, TaskErrorKind, TaskExt, Tasks, Work};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn immediate(session: &str) -> Tasks {
    Tasks::new(Arc::new(ImmediateBackend::new()), session)
}

fn in_process(session: &str) -> Tasks {
    Tasks::new(Arc::new(InProcessBackend::new()), session)
}

/// The seed's analyzer (fasthooks' Background Tasks page).
#[task]
fn analyze_code(code: String) -> String {
    format!("Analysis complete: {} chars", code.len())
}

/// Several arguments: `Args` is the tuple `(String, String, usize)`.
#[task]
fn search_memory(query: String, session_id: String, limit: usize) -> Vec<String> {
    (0..limit).map(|i| format!("{session_id}/{query}/{i}")).collect()
}

/// No argument: `Args` is `()`.
#[task]
fn heartbeat() -> u64 {
    42
}

/// An async task.
#[task]
async fn fetch(url: String) -> String {
    tokio::time::sleep(Duration::from_millis(5)).await;
    format!("body of {url}")
}

/// `Result<T, E>`: the output is `T`, an `Err` fails the task.
#[task]
fn risky_task(fail: bool) -> Result<String, std::io::Error> {
    if fail { Err(std::io::Error::other("Something went wrong")) } else { Ok("fine".to_owned()) }
}

/// Async, and the error type only needs `Display`.
#[task]
async fn parse_number(text: String) -> Result<u32, std::num::ParseIntError> {
    text.trim().parse()
}

#[task]
fn explode() -> u32 {
    panic!("boom: the task blew up")
}

#[task]
async fn explode_later() -> u32 {
    tokio::task::yield_now().await;
    panic!("async boom")
}

/// The seed's `transform=lambda r: r[:500]`.
fn truncate(r: String) -> String {
    r.chars().take(500).collect()
}

#[task(transform = truncate)]
fn long_output_task() -> String {
    "x".repeat(2000)
}

fn count_words(text: String) -> usize {
    text.split_whitespace().count()
}

/// A transform that changes the type: `output` names the new one.
#[task(transform = count_words, output = usize)]
async fn words(text: String) -> String {
    text.to_uppercase()
}

#[task(ttl = 600, priority = 5)]
fn important_task(query: String) -> String {
    format!("found {query}")
}

#[task(priority = -1, ttl = 1)]
fn unimportant_task() {}

#[tokio::test]
async fn add_then_pop_is_typed() {
    let tasks = immediate("s");
    let added = tasks.add(analyze_code, "fn main() {}".to_owned());
    assert_eq!(added.key, "analyze_code");
    assert_eq!(added.name, "analyze_code");
    let result: Option<String> = tasks.pop(analyze_code);
    assert_eq!(result.as_deref(), Some("Analysis complete: 12 chars"));
    assert_eq!(tasks.pop(analyze_code), None, "pop removes");
    // The function itself is still there.
    assert_eq!(analyze_code::func("abc".to_owned()), "Analysis complete: 3 chars");
    assert_eq!(analyze_code.name(), "analyze_code");
}

#[tokio::test]
async fn several_arguments_are_a_tuple_and_none_is_unit() {
    let tasks = immediate("s");
    tasks.add(search_memory, ("rust".to_owned(), "s1".to_owned(), 2));
    assert_eq!(tasks.pop(search_memory), Some(vec!["s1/rust/0".to_owned(), "s1/rust/1".to_owned()]));
    tasks.add(heartbeat, ());
    assert_eq!(tasks.pop(heartbeat), Some(42));
}

#[tokio::test(flavor = "multi_thread")]
async fn async_tasks_run_on_the_runtime() {
    let tasks = in_process("s");
    tasks.add(fetch, "https://example.com".to_owned());
    assert_eq!(tasks.wait(fetch, WAIT).await.as_deref(), Some("body of https://example.com"));
    assert_eq!(tasks.pop(fetch).as_deref(), Some("body of https://example.com"));

    let tasks = immediate("s");
    tasks.add(parse_number, " 17 ".to_owned());
    assert_eq!(tasks.pop(parse_number), Some(17));
}

#[tokio::test(flavor = "multi_thread")]
async fn keyed_adds_run_side_by_side() {
    let tasks = in_process("s");
    tasks.add(fetch.keyed("fetch:a"), "https://example.com/a".to_owned());
    tasks.add(fetch.keyed("fetch:b"), "https://example.com/b".to_owned());
    let all = tasks.wait_all(["fetch:a", "fetch:b"], WAIT).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(tasks.pop(fetch.keyed("fetch:a")).as_deref(), Some("body of https://example.com/a"));
    assert_eq!(tasks.pop("fetch:b"), Some(json!("body of https://example.com/b")));
    assert_eq!(tasks.pop(fetch), None, "nothing under the task's own name");
}

#[tokio::test]
async fn an_err_fails_the_task_with_its_message() {
    let tasks = immediate("s");
    tasks.add(risky_task, true);
    let snapshot = tasks.get(risky_task).unwrap();
    assert_eq!(snapshot.status, TaskStatus::Failed);
    assert_eq!(tasks.pop(risky_task), None);
    let errors = tasks.pop_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (key, error) = &errors[0];
    assert_eq!(key, "risky_task");
    assert_eq!(error.kind, TaskErrorKind::Failed);
    assert_eq!(error.message, "Something went wrong");

    tasks.add(risky_task, false);
    assert_eq!(tasks.pop(risky_task).as_deref(), Some("fine"));

    tasks.add(parse_number, "twelve".to_owned());
    let errors = tasks.pop_errors();
    assert_eq!(errors[0].1.message, "invalid digit found in string");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_fails_the_task_with_the_panic_message() {
    let tasks = immediate("s");
    tasks.add(explode, ());
    let snapshot = tasks.get(explode).unwrap();
    assert_eq!(snapshot.status, TaskStatus::Failed);
    let error = snapshot.error.unwrap();
    assert_eq!(error.kind, TaskErrorKind::Panicked);
    assert!(error.message.contains("boom: the task blew up"), "{error:?}");

    let tasks = in_process("s");
    tasks.add(explode_later, ());
    assert_eq!(tasks.wait(explode_later, WAIT).await, None);
    let error = tasks.get(explode_later).unwrap().error.unwrap();
    assert_eq!(error.kind, TaskErrorKind::Panicked);
    assert!(error.message.contains("async boom"), "{error:?}");
}

/// A fallible transform: an `Err` fails the task with kind `Transform`.
fn parse_port(raw: String) -> Result<u16, std::num::ParseIntError> {
    raw.trim().parse()
}

/// Reads a port number; the transform parses it.
#[task(transform = parse_port, output = u16)]
fn read_port(text: String) -> String {
    text
}

#[test]
fn a_failing_transform_fails_the_task() {
    let tasks = immediate("s");
    tasks.add(read_port, " 8080 ".to_owned());
    assert_eq!(tasks.pop(read_port), Some(8080));
    let failed = tasks.add(read_port.keyed("bad"), "eighty".to_owned());
    assert_eq!(failed.status, TaskStatus::Failed);
    let errors = tasks.pop_errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "bad");
    assert_eq!(errors[0].1.kind, TaskErrorKind::Transform);
    assert_eq!(errors[0].1.message, "invalid digit found in string");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_transform_runs_before_completion() {
    let tasks = immediate("s");
    tasks.add(long_output_task, ());
    let snapshot = tasks.get(long_output_task).unwrap();
    assert_eq!(snapshot.status, TaskStatus::Completed);
    assert_eq!(snapshot.value.as_ref().and_then(Value::as_str).map(str::len), Some(500), "stored transformed");
    assert_eq!(tasks.pop(long_output_task).map(|s| s.len()), Some(500));
    // Calling the function directly does not transform.
    assert_eq!(long_output_task::func().len(), 2000);

    let tasks = in_process("s");
    tasks.add(words, "one two three".to_owned());
    let count: Option<usize> = tasks.wait(words, WAIT).await;
    assert_eq!(count, Some(3));
}

#[tokio::test]
async fn ttl_and_priority_come_from_the_attribute() {
    let tasks = immediate("s");
    let added = tasks.add(important_task, "q".to_owned());
    assert_eq!(added.ttl, Duration::from_secs(600));
    assert_eq!(added.priority, 5);
    let snapshot = tasks.get(important_task).unwrap();
    assert_eq!(snapshot.ttl, Duration::from_secs(600));
    assert_eq!(snapshot.priority, 5);
    assert_eq!(important_task.ttl(), Duration::from_secs(600));
    assert_eq!(important_task.priority(), 5);

    assert_eq!(unimportant_task.ttl(), Duration::from_secs(1));
    assert_eq!(unimportant_task.priority(), -1);
    assert_eq!(analyze_code.ttl(), agno::tasks::DEFAULT_TTL);
    assert_eq!(analyze_code.priority(), 0);
    let added = tasks.add(analyze_code, String::new());
    assert_eq!((added.ttl, added.priority), (Duration::from_secs(300), 0));
}

#[test]
fn descriptors_describe_the_tasks() {
    let d = important_task::DESCRIPTOR;
    assert_eq!(d.kind, Kind::Task);
    assert_eq!(d.name, "important_task");
    assert_eq!(d.module_path, "task_macro");
    assert_eq!(d.ttl_secs, 600);
    assert_eq!(d.priority, 5);
    assert!(!d.run_in_background);
    assert!(d.resume.is_some());
    assert_eq!(analyze_code::DESCRIPTOR.ttl_secs, 300);
    assert_eq!(unimportant_task::DESCRIPTOR.priority, -1);
    assert_eq!(review_code::DESCRIPTOR.name, "review_code");
}

#[test]
fn the_registry_lists_every_task() {
    let names: Vec<&str> = agno::registry::tasks().iter().map(|d| d.name).collect();
    for name in ["analyze_code", "search_memory", "fetch", "long_output_task", "important_task", "review_code"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(agno::registry::hooks().iter().all(|d| d.name != "analyze_code"));
    assert!(agno::registry::hooks().iter().any(|d| d.name == "starter"));
}

#[tokio::test]
async fn registered_tasks_resume_from_json_arguments() {
    let resume = agno::registry::resumable("analyze_code").expect("analyze_code is resumable");
    let Work::Blocking(work) = resume(json!("abcd")).unwrap() else { panic!("a sync task is blocking work") };
    assert_eq!(work().unwrap(), json!("Analysis complete: 4 chars"));

    let resume = agno::registry::resumable("search_memory").unwrap();
    let Work::Blocking(work) = resume(json!(["q", "s", 1])).unwrap() else { panic!("blocking") };
    assert_eq!(work().unwrap(), json!(["s/q/0"]));

    let resume = agno::registry::resumable("fetch").unwrap();
    let Work::Async(work) = resume(json!("u")).unwrap() else { panic!("an async task is async work") };
    assert_eq!(work.await.unwrap(), json!("body of u"));

    let resume = agno::registry::resumable("long_output_task").unwrap();
    let Work::Blocking(work) = resume(Value::Null).unwrap() else { panic!("blocking") };
    assert_eq!(work().unwrap().as_str().map(str::len), Some(500), "the transform applies when resumed");

    let Err(error) = agno::registry::resumable("analyze_code").unwrap()(json!(7)) else { panic!("bad arguments") };
    assert_eq!(error.kind, TaskErrorKind::Serialization);
    assert!(agno::registry::resumable("no_such_task").is_none());
}

/// The seed's code reviewer, with agno's agent and the default (offline) model.
#[agent_task(instructions = "You review code for security issues.")]
async fn review_code(agent: Agent, code: String, file_path: String) -> Result<String, agno::Error> {
    let output = agent.run(format!("Review {file_path}:\n{code}")).await?;
    Ok(output.content.unwrap_or_default())
}

fn offline() -> OfflineModel {
    OfflineModel::new()
}

/// With a model function, ttl and priority, and a plain return type.
#[agent_task(model = offline, ttl = 60, priority = 2)]
async fn describe_agent(agent: Agent) -> String {
    let answer = agent.run("hi").await.map(|o| o.content.unwrap_or_default()).unwrap_or_else(|e| e.to_string());
    format!("{:?}|{:?}|{}|{answer}", agent.name(), agent.instructions(), agent.model().id())
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_tasks_run_with_their_agent() {
    let tasks = in_process("s");
    tasks.add(review_code, ("eval(input())".to_owned(), "app.py".to_owned()));
    let review = tasks.wait(review_code, WAIT).await.expect("the review completes");
    assert_eq!(review, "You said: \"Review app.py:\neval(input())\"");

    let tasks = immediate("s");
    tasks.add(describe_agent, ());
    let described = tasks.pop(describe_agent).unwrap();
    assert_eq!(described, "Some(\"describe_agent\")|[]|offline|You said: \"hi\"");
    assert_eq!(describe_agent.ttl(), Duration::from_secs(60));
    assert_eq!(describe_agent.priority(), 2);

    // The instructions reach the agent.
    #[agent_task(instructions = "Be brief.")]
    async fn instructions_of(agent: Agent) -> Vec<String> {
        agent.instructions().to_vec()
    }
    tasks.add(instructions_of, ());
    assert_eq!(tasks.pop(instructions_of), Some(vec!["Be brief.".to_owned()]));
    assert_eq!(OfflineModel::new().id(), "offline");
}

/// Starts an analysis when the input is a write (fasthooks' `pre_tool("Write")`).
#[hook]
fn starter(tasks: &Tasks, run_input: &RunInput) {
    if let Some(code) = run_input.input_content_string().strip_prefix("Write ") {
        tasks.add(analyze_code, code.to_owned());
    }
}

/// On a later prompt of the same session, reports the analysis (fasthooks' `on_prompt`).
#[hook]
fn check_results(tasks: &Tasks, run_output: &mut RunOutput) {
    let is_write = run_output.input.as_ref().is_some_and(|i| i.input_content_string().starts_with("Write "));
    if is_write {
        return;
    }
    if let Some(result) = tasks.pop(analyze_code) {
        run_output.content = Some(format!("Previous analysis: {result}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_hand_tasks_to_a_later_run_of_the_session() {
    assert!(starter.params().contains(HookParams::TASKS.union(HookParams::RUN_INPUT)));
    let backend = Arc::new(ImmediateBackend::new());
    let agent = Agent::builder()
        .name("Tasks Agent")
        .tasks_backend(backend.clone())
        .pre_hook(starter)
        .post_hook(check_results)
        .build()
        .unwrap();

    let first = agent.run("Write fn main() {}").session_id("a").await.unwrap();
    assert_eq!(first.status, RunStatus::Completed);
    assert_eq!(first.content.as_deref(), Some("You said: \"Write fn main() {}\""));

    // Another session sees nothing.
    let other = agent.run("Anything?").session_id("b").await.unwrap();
    assert_eq!(other.content.as_deref(), Some("You said: \"Anything?\""));

    let second = agent.run("Anything?").session_id("a").await.unwrap();
    assert_eq!(second.content.as_deref(), Some("Previous analysis: Analysis complete: 12 chars"));

    // Popped: a third prompt has nothing more.
    let third = agent.run("Anything?").session_id("a").await.unwrap();
    assert_eq!(third.content.as_deref(), Some("You said: \"Anything?\""));
    assert!(Tasks::new(backend, "a").get(analyze_code).is_none());
}
