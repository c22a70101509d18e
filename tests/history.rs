//! agno's chat history (`add_history_to_context`, `num_history_runs`) end to end: real model
//! clients (`OpenAIChat`, `OpenAIResponses`, `Claude`) against loopback stand-ins that record
//! every request body, with the runs stored in a `SqliteDb` in a temporary folder.
//!
//! Each test checks the exact roles and texts of every request: the system message (when there
//! are instructions), then the user and assistant messages of the last `n` answered runs of the
//! same runner in the same session, oldest first, then the new user message. It also checks what
//! hooks see as `session.runs` (the history window) and what is stored (`messages`, with
//! `from_history: true` on the replayed ones).

mod common;
#[path = "common/openai.rs"]
mod openai_stand_in;

use std::sync::Arc;
use std::time::Duration;

use agno::db::{Db, RunQuery, SqliteDb};
use agno::hooks::{Hook, HookCall, HookContext, HookParams};
use agno::models::openai::{OpenAIChat, OpenAIResponses};
use agno::models::{Claude, Message, Role};
use agno::prelude::*;
use common::Log;
use common::anthropic::{AnthropicStandIn, Reply as ClaudeReply};
use common::model_runs::drain;
use openai_stand_in::{OpenAIStandIn, Reply};
use serde_json::Value;

const KEY: &str = "sk-test-SECRET-0123456789";

/// A pre-hook that logs the inputs of the runs it sees in `session.runs` (comma-separated), and
/// rejects the input `reject` with an input check error.
struct Window {
    log: Log,
    reject: &'static str,
}

impl Window {
    fn new(log: &Log, reject: &'static str) -> Self {
        Self { log: log.clone(), reject }
    }
}

impl Hook for Window {
    fn name(&self) -> &str {
        "window"
    }
    fn params(&self) -> HookParams {
        HookParams::SESSION | HookParams::RUN_INPUT
    }
    fn call<'a>(&'a self, cx: HookContext<'a>) -> HookCall<'a> {
        let seen: Vec<String> = cx
            .session
            .runs
            .iter()
            .map(|r| r.input.as_ref().map(RunInput::input_content_string).unwrap_or_default())
            .collect();
        self.log.push(seen.join(","));
        let input = cx.run_input.as_deref().map(RunInput::input_content_string).unwrap_or_default();
        if input == self.reject {
            return HookCall::done(Err::<(), _>(InputCheckError::new(format!("`{input}` is not allowed"))));
        }
        HookCall::Done(Ok(()))
    }
}

fn sqlite(dir: &tempfile::TempDir) -> Arc<SqliteDb> {
    Arc::new(SqliteDb::new(dir.path().join("agno.db")).unwrap())
}

fn chat(server: &OpenAIStandIn) -> OpenAIChat {
    OpenAIChat::new("gpt-4o").base_url(server.base_url()).api_key(KEY).retry_backoff(Duration::from_millis(1))
}

fn responses(server: &OpenAIStandIn) -> OpenAIResponses {
    OpenAIResponses::new("gpt-5.2").base_url(server.base_url()).api_key(KEY).retry_backoff(Duration::from_millis(1))
}

fn claude(server: &AnthropicStandIn) -> Claude {
    Claude::new("claude-haiku-4-5")
        .base_url(server.base_url())
        .api_key(KEY)
        .max_retries(0)
        .retry_backoff(Duration::from_millis(1))
}

fn replies(texts: &[&str]) -> Vec<Reply> {
    texts.iter().map(|t| Reply::text(t)).collect()
}

/// `(role, text)` pairs, as the tests write them.
fn turns(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(r, t)| ((*r).to_owned(), (*t).to_owned())).collect()
}

/// The `(role, content)` pairs of a list of `{"role", "content"}` objects.
fn pairs(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|m| (m["role"].as_str().unwrap().to_owned(), m["content"].as_str().unwrap().to_owned()))
        .collect()
}

/// What a Chat Completions request sent.
fn chat_turns(body: &Value) -> Vec<(String, String)> {
    pairs(&body["messages"])
}

/// What a Responses request sent.
fn responses_turns(body: &Value) -> Vec<(String, String)> {
    pairs(&body["input"])
}

/// What a Messages request sent: its `system` (as a `system` turn) and its messages.
fn claude_turns(body: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(system) = body.get("system") {
        out.push(("system".to_owned(), system.as_str().unwrap().to_owned()));
    }
    out.extend(pairs(&body["messages"]));
    out
}

fn role(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// A stored run's messages as `(role, text, from_history)`.
fn stored(messages: &[Message]) -> Vec<(&'static str, String, bool)> {
    messages.iter().map(|m| (role(m.role), m.content.clone().unwrap_or_default(), m.from_history)).collect()
}

fn flagged(list: &[(&'static str, &str, bool)]) -> Vec<(&'static str, String, bool)> {
    list.iter().map(|(r, t, h)| (*r, (*t).to_owned(), *h)).collect()
}

#[tokio::test]
async fn chat_sends_the_last_two_answered_runs_oldest_first_without_the_error_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let server = OpenAIStandIn::start(replies(&["A1", "A2", "A3", "A5", "A6 streamed"])).await;
    let log = Log::default();
    let agent = Agent::builder()
        .id("chat-agent")
        .instructions("Be brief.")
        .model(chat(&server))
        .db(Arc::clone(&db))
        .add_history_to_context(true)
        .num_history_runs(2)
        .pre_hook(Window::new(&log, "forbidden"))
        .build()
        .unwrap();
    assert!(agent.add_history_to_context());
    assert_eq!(agent.num_history_runs(), Some(2));

    let mut outs = Vec::new();
    for text in ["q1", "q2", "q3", "forbidden", "q5"] {
        outs.push(agent.run(text).session_id("s1").user_id("u1").await.unwrap());
    }
    // The last turn streams: the streamed call carries the same history.
    let (pieces, last) = drain(agent.run("q6").session_id("s1").user_id("u1").stream()).await;
    assert_eq!(pieces.concat(), "A6 streamed");
    outs.push(last);

    let statuses: Vec<RunStatus> = outs.iter().map(|o| o.status).collect();
    use RunStatus::{Completed as C, Error as E};
    assert_eq!(statuses, [C, C, C, E, C, C]);
    assert_eq!(outs[3].content.as_deref(), Some("`forbidden` is not allowed"));
    let contents: Vec<&str> = outs.iter().map(|o| o.content.as_deref().unwrap()).collect();
    assert_eq!(contents[..3], ["A1", "A2", "A3"]);
    assert_eq!(contents[4..], ["A5", "A6 streamed"]);

    // The rejected run never reached the model: five requests for six runs.
    let bodies = server.bodies();
    assert_eq!(bodies.len(), 5, "{bodies:#?}");
    let sent: Vec<_> = bodies.iter().map(chat_turns).collect();
    let sys = ("system", "Be brief.");
    assert_eq!(sent[0], turns(&[sys, ("user", "q1")]));
    assert_eq!(sent[1], turns(&[sys, ("user", "q1"), ("assistant", "A1"), ("user", "q2")]));
    assert_eq!(
        sent[2],
        turns(&[sys, ("user", "q1"), ("assistant", "A1"), ("user", "q2"), ("assistant", "A2"), ("user", "q3")])
    );
    // After the ERROR run: runs 2 and 3 (the ERROR run is left out, the count stays at 2).
    assert_eq!(
        sent[3],
        turns(&[sys, ("user", "q2"), ("assistant", "A2"), ("user", "q3"), ("assistant", "A3"), ("user", "q5")])
    );
    // Runs 3 and 5; run 5's stored history (runs 2 and 3) is not sent again.
    assert_eq!(
        sent[4],
        turns(&[sys, ("user", "q3"), ("assistant", "A3"), ("user", "q5"), ("assistant", "A5"), ("user", "q6")])
    );
    assert_eq!(bodies[4]["stream"], true);
    assert!(bodies[..4].iter().all(|b| b.get("stream").is_none()));

    // Hooks see the window as `session.runs`, oldest first, never the ERROR run.
    assert_eq!(log.entries(), ["", "q1", "q1,q2", "q2,q3", "q2,q3", "q3,q5"]);

    // What is stored: the history messages are part of the run's messages, flagged.
    let run5 = db.get_run(&outs[4].run_id).await.unwrap().expect("stored");
    assert_eq!(
        stored(run5.messages.as_deref().unwrap()),
        flagged(&[
            ("system", "Be brief.", false),
            ("user", "q2", true),
            ("assistant", "A2", true),
            ("user", "q3", true),
            ("assistant", "A3", true),
            ("user", "q5", false),
            ("assistant", "A5", false),
        ])
    );
    assert_eq!(run5, outs[4], "the stored run is the returned one");
    let run6 = db.get_run(&outs[5].run_id).await.unwrap().expect("stored");
    assert_eq!(
        stored(run6.messages.as_deref().unwrap()),
        flagged(&[
            ("system", "Be brief.", false),
            ("user", "q3", true),
            ("assistant", "A3", true),
            ("user", "q5", true),
            ("assistant", "A5", true),
            ("user", "q6", false),
            ("assistant", "A6 streamed", false),
        ])
    );
    let first = db.get_run(&outs[0].run_id).await.unwrap().unwrap();
    assert!(first.messages.unwrap().iter().all(|m| !m.from_history), "the first run had no history");
    let rejected = db.get_run(&outs[3].run_id).await.unwrap().expect("ERROR runs are stored");
    assert_eq!(rejected.status, RunStatus::Error);
    assert!(rejected.messages.is_none());

    // Another connection on the file sees the same six runs, in run order.
    let reader = SqliteDb::new(dir.path().join("agno.db")).unwrap();
    let all = reader.get_runs("s1", &RunQuery::all()).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|r| r.run_id.as_str()).collect();
    let expected: Vec<&str> = outs.iter().map(|o| o.run_id.as_str()).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn responses_api_defaults_to_three_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = OpenAIStandIn::start(replies(&["R1", "R2", "R3", "R4", "R5 streamed"])).await;
    let log = Log::default();
    let agent = Agent::builder()
        .id("responses-agent")
        .instructions("Be brief.")
        .model(responses(&server))
        .db(sqlite(&dir))
        .add_history_to_context(true)
        .pre_hook(Window::new(&log, "-"))
        .build()
        .unwrap();
    assert_eq!(agent.num_history_runs(), Some(3), "agno's default count");
    for text in ["q1", "q2", "q3", "q4"] {
        let out = agent.run(text).session_id("s").await.unwrap();
        assert_eq!(out.status, RunStatus::Completed, "{:?}", out.content);
    }
    let (_, out) = drain(agent.run("q5").session_id("s").stream()).await;
    assert_eq!(out.content.as_deref(), Some("R5 streamed"));

    let bodies = server.bodies();
    assert_eq!(bodies.len(), 5);
    assert!(server.requests().iter().all(|r| r.path == "/v1/responses"));
    let sys = ("system", "Be brief.");
    let (u, a) = ("user", "assistant");
    assert_eq!(responses_turns(&bodies[0]), turns(&[sys, (u, "q1")]));
    assert_eq!(
        responses_turns(&bodies[3]),
        turns(&[sys, (u, "q1"), (a, "R1"), (u, "q2"), (a, "R2"), (u, "q3"), (a, "R3"), (u, "q4")])
    );
    assert_eq!(
        responses_turns(&bodies[4]),
        turns(&[sys, (u, "q2"), (a, "R2"), (u, "q3"), (a, "R3"), (u, "q4"), (a, "R4"), (u, "q5")]),
        "three runs, not four"
    );
    assert_eq!(bodies[4]["stream"], true);
    assert_eq!(log.entries(), ["", "q1", "q1,q2", "q1,q2,q3", "q2,q3,q4"]);
    let stored_last = out.messages.unwrap();
    assert_eq!(stored_last.iter().filter(|m| m.from_history).count(), 6);
    assert_eq!(stored_last.len(), 9);
}

#[tokio::test]
async fn claude_gets_history_as_turns_and_a_failed_model_call_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let server = AnthropicStandIn::scripted(vec![
        ClaudeReply::text("A1"),
        ClaudeReply::error(400, "invalid_request_error", "deliberately refused"),
        ClaudeReply::text("A3"),
        ClaudeReply::text("A4"),
        ClaudeReply::text("A5"),
    ]);
    let agent = Agent::builder()
        .id("claude-agent")
        .instructions("Be brief.")
        .model(claude(&server))
        .db(Arc::clone(&db))
        .add_history_to_context(true)
        .num_history_runs(2)
        .build()
        .unwrap();
    let mut outs = Vec::new();
    for text in ["q1", "q2", "q3", "q4", "q5"] {
        outs.push(agent.run(text).session_id("c").await.unwrap());
    }
    let statuses: Vec<RunStatus> = outs.iter().map(|o| o.status).collect();
    use RunStatus::{Completed as C, Error as E};
    assert_eq!(statuses, [C, E, C, C, C]);
    assert!(outs[1].content.as_deref().unwrap().contains("deliberately refused"), "{:?}", outs[1].content);

    let bodies = server.message_bodies();
    assert_eq!(bodies.len(), 5, "the failed call was sent once (no retries)");
    let sys = ("system", "Be brief.");
    let (u, a) = ("user", "assistant");
    assert_eq!(claude_turns(&bodies[0]), turns(&[sys, (u, "q1")]));
    assert_eq!(claude_turns(&bodies[1]), turns(&[sys, (u, "q1"), (a, "A1"), (u, "q2")]), "the call that failed");
    assert_eq!(claude_turns(&bodies[2]), turns(&[sys, (u, "q1"), (a, "A1"), (u, "q3")]), "the ERROR run is absent");
    assert_eq!(claude_turns(&bodies[3]), turns(&[sys, (u, "q1"), (a, "A1"), (u, "q3"), (a, "A3"), (u, "q4")]));
    assert_eq!(claude_turns(&bodies[4]), turns(&[sys, (u, "q3"), (a, "A3"), (u, "q4"), (a, "A4"), (u, "q5")]));

    let failed = db.get_run(&outs[1].run_id).await.unwrap().expect("ERROR runs are stored");
    assert_eq!(failed.status, RunStatus::Error);
    let last = db.get_run(&outs[4].run_id).await.unwrap().unwrap();
    assert_eq!(
        stored(last.messages.as_deref().unwrap()),
        flagged(&[
            ("system", "Be brief.", false),
            ("user", "q3", true),
            ("assistant", "A3", true),
            ("user", "q4", true),
            ("assistant", "A4", true),
            ("user", "q5", false),
            ("assistant", "A5", false),
        ])
    );
}

#[tokio::test]
async fn history_is_off_by_default_and_a_count_alone_does_not_turn_it_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let server = OpenAIStandIn::start(replies(&["A1", "A2", "A3", "B1", "B2", "B3", "L1", "L2"])).await;
    let log = Log::default();
    let plain = Agent::builder()
        .id("plain")
        .instructions("Be brief.")
        .model(chat(&server))
        .db(Arc::clone(&db))
        .pre_hook(Window::new(&log, "-"))
        .build()
        .unwrap();
    assert!(!plain.add_history_to_context());
    assert_eq!(plain.num_history_runs(), None);
    let count_only = Agent::builder()
        .id("count-only")
        .instructions("Be brief.")
        .model(chat(&server))
        .db(Arc::clone(&db))
        .num_history_runs(5)
        .pre_hook(Window::new(&log, "-"))
        .build()
        .unwrap();
    assert!(!count_only.add_history_to_context());
    assert_eq!(count_only.num_history_runs(), None);

    for (agent, session) in [(&plain, "p"), (&count_only, "c")] {
        for text in ["one", "two", "three"] {
            let out = agent.run(text).session_id(session).await.unwrap();
            assert_eq!(out.status, RunStatus::Completed);
            assert!(out.messages.unwrap().iter().all(|m| !m.from_history));
        }
    }
    // A team without history: its leader gets the system message and the prompt only.
    let team = Team::builder()
        .id("team-plain")
        .instructions("Lead.")
        .member(Agent::builder().id("writer").name("Writer").build().unwrap())
        .model(chat(&server))
        .db(Arc::clone(&db))
        .build()
        .unwrap();
    assert!(!team.add_history_to_context());
    for text in ["one", "two"] {
        assert_eq!(team.run(text).session_id("t").await.unwrap().status, RunStatus::Completed);
    }

    let bodies = server.bodies();
    assert_eq!(bodies.len(), 8);
    for (i, text) in ["one", "two", "three", "one", "two", "three"].iter().enumerate() {
        assert_eq!(chat_turns(&bodies[i]), turns(&[("system", "Be brief."), ("user", text)]), "request {i}");
    }
    for (i, text) in ["one", "two"].iter().enumerate() {
        let prompt = format!("{text}\n\nThe team members answered:\n- Writer: You said: \"{text}\"");
        assert_eq!(chat_turns(&bodies[6 + i]), turns(&[("system", "Lead."), ("user", &prompt)]));
    }
    assert_eq!(log.entries(), ["", "", "", "", "", ""], "without history `session.runs` is empty");
    // The runs are stored all the same.
    assert_eq!(db.count_runs("p", &RunQuery::all()).await.unwrap(), 3);
    assert_eq!(db.count_runs("c", &RunQuery::all()).await.unwrap(), 3);
}

#[tokio::test]
async fn another_session_sees_no_history() {
    let dir = tempfile::tempdir().unwrap();
    let server = OpenAIStandIn::start(replies(&["A1", "A2", "B1", "A3", "B2"])).await;
    let agent = Agent::builder()
        .id("agent")
        .model(chat(&server))
        .db(sqlite(&dir))
        .add_history_to_context(true)
        .num_history_runs(2)
        .build()
        .unwrap();
    for (text, session) in [("a1", "A"), ("a2", "A"), ("b1", "B"), ("a3", "A"), ("b2", "B")] {
        assert_eq!(agent.run(text).session_id(session).await.unwrap().status, RunStatus::Completed);
    }
    // A run without a session id starts a new session: no history either.
    server.push([Reply::text("N1")]);
    let fresh = agent.run("n1").await.unwrap();
    assert_ne!(fresh.session_id, "A");

    let sent: Vec<_> = server.bodies().iter().map(chat_turns).collect();
    assert_eq!(sent.len(), 6);
    let (u, a) = ("user", "assistant");
    // No instructions: no system message.
    assert_eq!(sent[0], turns(&[(u, "a1")]));
    assert_eq!(sent[1], turns(&[(u, "a1"), (a, "A1"), (u, "a2")]));
    assert_eq!(sent[2], turns(&[(u, "b1")]), "session B starts empty");
    assert_eq!(sent[3], turns(&[(u, "a1"), (a, "A1"), (u, "a2"), (a, "A2"), (u, "a3")]));
    assert_eq!(sent[4], turns(&[(u, "b1"), (a, "B1"), (u, "b2")]), "B sees only B");
    assert_eq!(sent[5], turns(&[(u, "n1")]));
}

#[tokio::test]
async fn only_the_runs_of_the_runner_that_answers_are_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let server = OpenAIStandIn::start(replies(&["X1", "Y1", "X2", "Y2"])).await;
    let make = |id: &str, instructions: &str| {
        Agent::builder()
            .id(id)
            .instructions(instructions)
            .model(chat(&server))
            .db(Arc::clone(&db))
            .add_history_to_context(true)
            .build()
            .unwrap()
    };
    let (alpha, beta) = (make("alpha", "You are alpha."), make("beta", "You are beta."));
    for (agent, text) in [(&alpha, "a1"), (&beta, "b1"), (&alpha, "a2"), (&beta, "b2")] {
        assert_eq!(agent.run(text).session_id("shared").await.unwrap().status, RunStatus::Completed);
    }
    let sent: Vec<_> = server.bodies().iter().map(chat_turns).collect();
    let (u, a) = ("user", "assistant");
    assert_eq!(sent[0], turns(&[("system", "You are alpha."), (u, "a1")]));
    assert_eq!(sent[1], turns(&[("system", "You are beta."), (u, "b1")]));
    assert_eq!(sent[2], turns(&[("system", "You are alpha."), (u, "a1"), (a, "X1"), (u, "a2")]));
    assert_eq!(sent[3], turns(&[("system", "You are beta."), (u, "b1"), (a, "Y1"), (u, "b2")]));
    assert_eq!(db.count_runs("shared", &RunQuery::all()).await.unwrap(), 4);
}

#[tokio::test]
async fn cancelled_paused_member_and_other_runs_are_skipped_and_a_run_without_messages_replays_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let server = OpenAIStandIn::start(replies(&["A1", "A2", "A3"])).await;
    let log = Log::default();
    let agent = Agent::builder()
        .id("agent")
        .instructions("Be brief.")
        .model(chat(&server))
        .db(Arc::clone(&db))
        .add_history_to_context(true)
        .num_history_runs(3)
        .pre_hook(Window::new(&log, "-"))
        .build()
        .unwrap();
    let first = agent.run("q1").session_id("s").await.unwrap();

    // Rows written directly, between the first and second runs.
    let session = db.get_session("s").await.unwrap().expect("the first run stored the session");
    let template = db.get_run(&first.run_id).await.unwrap().unwrap();
    let row = |input: &str, status: RunStatus| {
        let mut run = template.clone();
        run.run_id = agno::ids::new_id();
        run.status = status;
        run.input = Some(RunInput::new(input));
        run.content = Some(format!("answer to {input}"));
        run.messages =
            Some(vec![Message::new(Role::User, input), Message::new(Role::Assistant, format!("answer to {input}"))]);
        run
    };
    let cancelled = row("cancelled q", RunStatus::Cancelled);
    let paused = row("paused q", RunStatus::Paused);
    let error = row("error q", RunStatus::Error);
    let mut member = row("member q", RunStatus::Completed);
    member.parent_run_id = Some(first.run_id.clone());
    let mut other = row("other q", RunStatus::Completed);
    other.agent_id = "someone-else".into();
    let mut bare = row("bare q", RunStatus::Completed);
    bare.messages = None;
    bare.content = Some("bare a".into());
    db.save_runs(&session, &[&cancelled, &paused, &error, &member, &other, &bare]).await.unwrap();

    agent.run("q2").session_id("s").await.unwrap();
    agent.run("q3").session_id("s").await.unwrap();

    let sent: Vec<_> = server.bodies().iter().map(chat_turns).collect();
    let sys = ("system", "Be brief.");
    let (u, a) = ("user", "assistant");
    assert_eq!(sent[1], turns(&[sys, (u, "q1"), (a, "A1"), (u, "bare q"), (a, "bare a"), (u, "q2")]));
    assert_eq!(
        sent[2],
        turns(&[sys, (u, "q1"), (a, "A1"), (u, "bare q"), (a, "bare a"), (u, "q2"), (a, "A2"), (u, "q3")])
    );
    assert_eq!(log.entries(), ["", "q1,bare q", "q1,bare q,q2"]);
    assert_eq!(db.count_runs("s", &RunQuery::all()).await.unwrap(), 9);
}

#[tokio::test]
async fn a_collaborating_team_sends_history_in_its_leaders_call() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let server = OpenAIStandIn::start(replies(&["L1", "L2", "L3", "L4"])).await;
    let log = Log::default();
    let team = Team::builder()
        .id("team")
        .mode(TeamMode::Collaborate)
        .instructions("Lead.")
        .member(Agent::builder().id("writer").name("Writer").build().unwrap())
        .model(chat(&server))
        .db(Arc::clone(&db))
        .add_history_to_context(true)
        .num_history_runs(2)
        .pre_hook(Window::new(&log, "-"))
        .build()
        .unwrap();
    assert_eq!(team.num_history_runs(), Some(2));
    let mut outs = Vec::new();
    for text in ["q1", "q2", "q3", "q4"] {
        let out = team.run(text).session_id("ts").await.unwrap();
        assert_eq!(out.status, RunStatus::Completed, "{:?}", out.content);
        outs.push(out);
    }
    let prompt = |q: &str| format!("{q}\n\nThe team members answered:\n- Writer: You said: \"{q}\"");
    let (p1, p2, p3, p4) = (prompt("q1"), prompt("q2"), prompt("q3"), prompt("q4"));

    // Only the leader calls the stand-in (the member runs offline).
    let sent: Vec<_> = server.bodies().iter().map(chat_turns).collect();
    assert_eq!(sent.len(), 4);
    let sys = ("system", "Lead.");
    let (u, a) = ("user", "assistant");
    // History holds what the user asked the team (not the prompt with the members' answers).
    assert_eq!(sent[0], turns(&[sys, (u, &p1)]));
    assert_eq!(sent[1], turns(&[sys, (u, "q1"), (a, "L1"), (u, &p2)]));
    assert_eq!(sent[2], turns(&[sys, (u, "q1"), (a, "L1"), (u, "q2"), (a, "L2"), (u, &p3)]));
    assert_eq!(sent[3], turns(&[sys, (u, "q2"), (a, "L2"), (u, "q3"), (a, "L3"), (u, &p4)]));
    // The team's hooks see the team's runs, not its members'.
    assert_eq!(log.entries(), ["", "q1", "q1,q2", "q2,q3"]);

    let last = db.get_run(&outs[3].run_id).await.unwrap().unwrap();
    assert_eq!(
        stored(last.messages.as_deref().unwrap()),
        flagged(&[
            ("system", "Lead.", false),
            ("user", "q2", true),
            ("assistant", "L2", true),
            ("user", "q3", true),
            ("assistant", "L3", true),
            ("user", &p4, false),
            ("assistant", "L4", false),
        ])
    );
    // Every member run is stored too, before its team run.
    let all = db.get_runs("ts", &RunQuery::all()).await.unwrap();
    assert_eq!(all.len(), 8);
    assert_eq!(all.iter().filter(|r| r.parent_run_id.is_some()).count(), 4);
}

#[tokio::test]
async fn a_member_with_history_gets_its_own_earlier_answers_in_the_team_session() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let server = OpenAIStandIn::start(replies(&["M1", "M2", "M3"])).await;
    // A routing team on the offline model always hands the request to its first member.
    let member = Agent::builder()
        .id("member")
        .instructions("Member.")
        .model(chat(&server))
        .add_history_to_context(true)
        .num_history_runs(2)
        .build()
        .unwrap();
    let team = Team::builder().id("router").mode(TeamMode::Route).member(member).db(Arc::clone(&db)).build().unwrap();
    for text in ["r1", "r2", "r3"] {
        let out = team.run(text).session_id("routed").await.unwrap();
        assert_eq!(out.status, RunStatus::Completed, "{:?}", out.content);
    }
    let sent: Vec<_> = server.bodies().iter().map(chat_turns).collect();
    let sys = ("system", "Member.");
    let (u, a) = ("user", "assistant");
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0], turns(&[sys, (u, "r1")]));
    assert_eq!(sent[1], turns(&[sys, (u, "r1"), (a, "M1"), (u, "r2")]));
    assert_eq!(sent[2], turns(&[sys, (u, "r1"), (a, "M1"), (u, "r2"), (a, "M2"), (u, "r3")]));
}

#[tokio::test]
async fn a_routing_team_with_history_sends_it_when_its_model_picks_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    // The stand-in is the routing model: it names the member each time.
    let server = OpenAIStandIn::start(replies(&["helper", "helper", "helper"])).await;
    let team = Team::builder()
        .id("router")
        .mode(TeamMode::Route)
        .member(Agent::builder().id("helper").build().unwrap())
        .model(chat(&server))
        .db(Arc::clone(&db))
        .add_history_to_context(true)
        .build()
        .unwrap();
    let mut answers = Vec::new();
    for text in ["t1", "t2", "t3"] {
        let out = team.run(text).session_id("rs").await.unwrap();
        assert_eq!(out.status, RunStatus::Completed, "{:?}", out.content);
        answers.push(out.content.unwrap());
    }
    let sent: Vec<_> = server.bodies().iter().map(chat_turns).collect();
    assert_eq!(sent.len(), 3);
    // After the routing system message: the earlier team runs (input, answer), then the request.
    let tail = |turns: &Vec<(String, String)>| turns[1..].to_vec();
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter().map(|(r, t)| ((*r).to_owned(), (*t).to_owned())).collect()
    };
    assert_eq!(tail(&sent[0]), pairs(&[("user", "t1")]));
    assert_eq!(tail(&sent[1]), pairs(&[("user", "t1"), ("assistant", &answers[0]), ("user", "t2")]));
    assert_eq!(
        tail(&sent[2]),
        pairs(&[
            ("user", "t1"),
            ("assistant", &answers[0]),
            ("user", "t2"),
            ("assistant", &answers[1]),
            ("user", "t3")
        ])
    );
}
