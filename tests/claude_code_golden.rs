//! Golden tests of `HookApp`: for every Claude Code event, the payload Claude Code 2.1.332 sent
//! (captured in `tests/fixtures/claude_code/`) goes in; stdout and the exit code come out.

use std::path::Path;
use std::sync::Arc;

use agno::claude_code::{
    ErrorPolicy, HookApp, HookEvent, Notification, Outcome, PermissionRequest, PostToolUse, PreCompact, PreToolUse,
    Response, SessionEnd, SessionStart, Stop, SubagentStop, ToolInput, Transcript, allow, approve, ask, block, context,
    deny, modify,
};
use agno::prelude::*;
use agno::tasks::ImmediateBackend;
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude_code").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn run(app: &HookApp, input: &Value) -> Outcome {
    app.handle(&input.to_string())
}

fn answer(outcome: &Outcome) -> Value {
    assert!(outcome.stdout.ends_with('\n') && outcome.stdout.matches('\n').count() == 1, "{outcome:?}");
    serde_json::from_str(&outcome.stdout).unwrap()
}

fn silent(outcome: &Outcome) {
    assert_eq!(outcome, &Outcome { stdout: String::new(), stderr: String::new(), exit_code: 0 });
}

#[task]
fn analyze_code(code: String) -> String {
    format!("Analysis complete: {} chars", code.len())
}

#[hook]
fn guard_env(event: &PreToolUse) -> Response {
    match event.file_path() {
        Some(p) if p.ends_with("/.env") => deny("writing .env files is not allowed: they hold secrets"),
        _ => allow(),
    }
}

#[hook]
fn on_write(event: &PreToolUse, tasks: &Tasks) -> Response {
    tasks.add(analyze_code, event.content().unwrap_or_default().to_owned());
    allow()
}

#[hook]
fn check_results(tasks: &Tasks) -> Response {
    match tasks.pop(analyze_code) {
        Some(result) => context(format!("Previous analysis: {result}")),
        None => allow(),
    }
}

#[hook]
fn no_rm(event: &PreToolUse) -> Response {
    match &event.tool_input {
        ToolInput::Bash(bash) if bash.command.contains("rm -rf") => ask("really delete?"),
        ToolInput::Bash(_) => context("Bash runs in the project folder"),
        _ => allow(),
    }
}

#[hook]
fn tidy_edit(event: &PreToolUse) -> Response {
    match &event.tool_input {
        ToolInput::Edit(edit) => modify(json!({
            "file_path": edit.file_path, "old_string": edit.old_string,
            "new_string": edit.new_string.trim_end(), "replace_all": edit.replace_all,
        })),
        _ => allow(),
    }
}

#[hook]
fn allow_writes(event: &PermissionRequest) -> Response {
    if event.tool_name == "Write" { approve() } else { allow() }
}

#[hook]
fn after_tool(event: &PostToolUse) -> Response {
    context(format!("{} took {} ms", event.tool_name, event.duration_ms.unwrap_or(0)))
}

#[hook]
fn one_more_turn(event: &Stop) -> Response {
    if event.stop_hook_active { allow() } else { block("run the tests before you stop") }
}

#[hook]
fn subagent_done(event: &SubagentStop) {
    assert!(
        event.last_assistant_message.is_some() && event.agent_id.is_some() && event.agent_transcript_path.is_some()
    );
}

#[hook]
fn greet(event: &SessionStart, transcript: &Transcript) -> Response {
    let _ = transcript.path();
    context(format!("session {} ({})", event.session_id(), event.source))
}

#[hook]
fn farewell(event: &SessionEnd) -> Response {
    allow().user_message(format!("bye ({})", event.reason))
}

#[hook]
fn before_compact(event: &PreCompact) -> Response {
    if event.trigger == "manual" { allow() } else { block("never") }
}

#[hook]
fn notified(event: &Notification) -> Response {
    allow().user_message(format!("seen: {}", event.message))
}

/// One handler per event, the quick start's tasks on an `ImmediateBackend`.
fn app() -> HookApp {
    HookApp::new()
        .task_backend(Arc::new(ImmediateBackend::new()))
        .pre_tool("Write", guard_env)
        .pre_tool("Write", on_write)
        .pre_tool("Bash", no_rm)
        .pre_tool("Edit|MultiEdit", tidy_edit)
        .on_permission("*", allow_writes)
        .post_tool("", after_tool)
        .on_prompt(check_results)
        .on_stop(one_more_turn)
        .on_subagent_stop(subagent_done)
        .on_session_start(greet)
        .on_session_end(farewell)
        .on_pre_compact(before_compact)
        .on_notification(notified)
}

#[test]
fn session_start_gives_the_model_context() {
    let input = fixture("SessionStart");
    let out = run(&app(), &input);
    let session = input["session_id"].as_str().unwrap();
    assert_eq!(
        out.stdout,
        format!(
            "{{\"hookSpecificOutput\":{{\"additionalContext\":\"session {session} (startup)\",\"hookEventName\":\"SessionStart\"}}}}\n"
        )
    );
    assert_eq!(out.exit_code, 0);
    let out = run(&app(), &fixture("SessionStart.resume"));
    assert!(answer(&out)["hookSpecificOutput"]["additionalContext"].as_str().unwrap().ends_with("(resume)"));
}

#[test]
fn the_quick_start_across_two_events() {
    let app = app();
    let prompt = fixture("UserPromptSubmit");
    silent(&run(&app, &prompt));
    silent(&run(&app, &fixture("PreToolUse")));
    let out = run(&app, &prompt);
    assert_eq!(
        out.stdout,
        "{\"hookSpecificOutput\":{\"additionalContext\":\"Previous analysis: Analysis complete: 6 chars\",\"hookEventName\":\"UserPromptSubmit\"}}\n"
    );
    assert_eq!(out.exit_code, 0);
    silent(&run(&app, &prompt));
}

#[test]
fn the_env_guard_denies_and_queues_nothing() {
    let app = app();
    let mut write = fixture("PreToolUse");
    let project = write["cwd"].as_str().unwrap().to_owned();
    write["tool_input"]["file_path"] = json!(format!("{project}/.env"));
    let out = run(&app, &write);
    assert_eq!(
        out.stdout,
        "{\"hookSpecificOutput\":{\"hookEventName\":\"PreToolUse\",\"permissionDecision\":\"deny\",\"permissionDecisionReason\":\"writing .env files is not allowed: they hold secrets\"}}\n"
    );
    assert_eq!((out.exit_code, out.stderr.as_str()), (0, ""));
    silent(&run(&app, &fixture("UserPromptSubmit")));
}

#[test]
fn bash_and_edit_are_typed() {
    let out = run(&app(), &fixture("PreToolUse.Bash"));
    assert_eq!(
        answer(&out),
        json!({"hookSpecificOutput": {"hookEventName": "PreToolUse", "additionalContext": "Bash runs in the project folder"}})
    );
    let mut rm = fixture("PreToolUse.Bash");
    rm["tool_input"]["command"] = json!("rm -rf /");
    assert_eq!(
        answer(&run(&app(), &rm)),
        json!({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "ask", "permissionDecisionReason": "really delete?"}})
    );
    let edit = fixture("PreToolUse.Edit");
    let out = answer(&run(&app(), &edit));
    assert_eq!(out["hookSpecificOutput"]["permissionDecision"], "allow");
    let updated = &out["hookSpecificOutput"]["updatedInput"];
    assert_eq!(updated["file_path"], edit["tool_input"]["file_path"], "the whole input, not a patch");
    assert_eq!(updated["new_string"], edit["tool_input"]["new_string"].as_str().unwrap().trim_end());
}

#[test]
fn permission_requests_have_their_own_answer() {
    assert_eq!(
        run(&app(), &fixture("PermissionRequest")).stdout,
        "{\"hookSpecificOutput\":{\"decision\":{\"behavior\":\"allow\"},\"hookEventName\":\"PermissionRequest\"}}\n"
    );
}

#[test]
fn post_tool_use_context() {
    for name in ["PostToolUse", "PostToolUse.Bash", "PostToolUse.Edit"] {
        let input = fixture(name);
        let out = run(&app(), &input);
        let expected = format!("{} took {} ms", input["tool_name"].as_str().unwrap(), input["duration_ms"]);
        assert_eq!(
            answer(&out),
            json!({"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": expected}}),
            "{name}"
        );
    }
}

#[test]
fn stop_blocks_exactly_once() {
    assert_eq!(
        run(&app(), &fixture("Stop")).stdout,
        "{\"decision\":\"block\",\"reason\":\"run the tests before you stop\"}\n"
    );
    silent(&run(&app(), &fixture("Stop.stop_hook_active")));
}

#[test]
fn lifecycle_events() {
    silent(&run(&app(), &fixture("SubagentStop")));
    silent(&run(&app(), &fixture("PreCompact")));
    assert_eq!(run(&app(), &fixture("SessionEnd")).stdout, "{\"systemMessage\":\"bye (other)\"}\n");
    // Recognised events without a registration of their own: nothing to say.
    silent(&run(&app(), &fixture("PostCompact")));
    silent(&run(&app(), &fixture("SubagentStart")));
    let out = run(&app(), &fixture("SessionStart.compact"));
    assert!(answer(&out)["hookSpecificOutput"]["additionalContext"].as_str().unwrap().ends_with("(compact)"));
}

/// Notification never fired in `claude -p`, so its payload is the documented shape.
#[test]
fn notification() {
    let mut input = fixture("SessionEnd");
    input["hook_event_name"] = json!("Notification");
    input["message"] = json!("Claude needs your permission to use Bash");
    input["notification_type"] = json!("permission_prompt");
    assert_eq!(run(&app(), &input).stdout, "{\"systemMessage\":\"seen: Claude needs your permission to use Bash\"}\n");
}

#[test]
fn unknown_fields_are_ignored_and_kept() {
    #[hook]
    fn reads_raw(event: &HookEvent) -> Response {
        context(event.raw()["brand_new_field"].to_string())
    }
    let mut input = fixture("UserPromptSubmit");
    input["brand_new_field"] = json!({"x": 1});
    let out = run(&HookApp::new().on_prompt(reads_raw), &input);
    assert_eq!(answer(&out)["hookSpecificOutput"]["additionalContext"], "{\"x\":1}");
}

#[test]
fn bad_input_is_one_line_and_does_not_block() {
    let cases = [
        ("{not json".to_owned(), "agno hook: the hook input is not valid JSON"),
        ("".to_owned(), "agno hook: the hook input is not valid JSON"),
        (json!({"hook_event_name": "Bogus", "session_id": "s"}).to_string(), "unknown Claude Code event `Bogus`"),
        (json!({"session_id": "s"}).to_string(), "no `hook_event_name`"),
        (json!({"hook_event_name": "UserPromptSubmit", "session_id": "s"}).to_string(), "missing field `prompt`"),
    ];
    for (input, expected) in cases {
        let out = app().handle(&input);
        assert_eq!(out.exit_code, 1, "{input}");
        assert_eq!(out.stdout, "", "{input}");
        assert!(out.stderr.contains(expected) && out.stderr.lines().count() == 1, "{input}: {}", out.stderr);
    }
}

#[test]
fn a_tool_input_of_another_shape_still_reaches_the_guard() {
    let mut odd = fixture("PreToolUse");
    let project = odd["cwd"].as_str().unwrap().to_owned();
    odd["tool_input"] = json!({"file_path": format!("{project}/.env"), "contents": "K=1"});
    let out = run(&app(), &odd);
    assert_eq!(answer(&out)["hookSpecificOutput"]["permissionDecision"], "deny", "the guard still denies");
    assert_eq!(out.exit_code, 0);
    assert!(out.stderr.contains("`tool_input` of Write is not of the known shape"), "{}", out.stderr);
}

#[hook]
fn panics(event: &PreToolUse) -> Response {
    panic!("boom on {}", event.tool_name)
}

#[hook]
async fn fails(event: &PreToolUse) -> Result<Response, std::io::Error> {
    let _ = event;
    Err(std::io::Error::other("disk full"))
}

#[test]
fn failing_handlers_are_loud_and_follow_the_policy() {
    let write = fixture("PreToolUse");
    let lenient = HookApp::new().pre_tool("*", panics).pre_tool("*", fails).pre_tool("Write", no_rm);
    let out = run(&lenient, &write);
    assert_eq!(out.exit_code, 1, "a non-blocking error: Claude Code goes on and still reads stdout");
    assert!(
        out.stderr.contains(
            "handler `panics` failed on PreToolUse: panicked: boom on Write; going on (error policy: non-blocking)"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("handler `fails` failed on PreToolUse: disk full"), "{}", out.stderr);
    let shown = answer(&out)["systemMessage"].as_str().unwrap().to_owned();
    assert!(shown.contains("`panics` failed") && shown.contains("`fails` failed"), "{shown}");

    let strict = HookApp::new().error_policy(ErrorPolicy::Blocking).pre_tool("Write", guard_env).pre_tool("*", fails);
    let out = run(&strict, &write);
    assert_eq!((out.exit_code, out.stdout.as_str()), (2, ""));
    assert!(out.stderr.contains("handler `fails` failed on PreToolUse: disk full; blocking (error policy: blocking)"));

    // A Stop already forced into another turn is not blocked again: no endless turns.
    #[hook]
    fn stop_fails(event: &Stop) -> Result<Response, String> {
        let _ = event;
        Err("no".into())
    }
    let strict = HookApp::new().error_policy(ErrorPolicy::Blocking).on_stop(stop_fails);
    assert_eq!(run(&strict, &fixture("Stop")).exit_code, 2);
    assert_eq!(run(&strict, &fixture("Stop.stop_hook_active")).exit_code, 1);
}

#[test]
fn the_first_deny_wins_and_later_handlers_do_not_run() {
    #[hook]
    fn first(event: &PreToolUse) -> Response {
        let _ = event;
        context("checked by first")
    }
    #[hook]
    fn second(event: &PreToolUse) -> Response {
        let _ = event;
        deny("second says no").context("and why")
    }
    let app = HookApp::new().pre_tool("Write", first).pre_tool("Write", second).pre_tool("Write", panics);
    let out = run(&app, &fixture("PreToolUse"));
    assert_eq!(
        answer(&out),
        json!({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
            "permissionDecisionReason": "second says no", "additionalContext": "checked by first\n\nand why"}})
    );
    assert_eq!((out.exit_code, out.stderr.as_str()), (0, ""), "`panics` never ran");
}

#[test]
fn matchers_select_handlers() {
    let app = HookApp::new().pre_tool("Bash", no_rm);
    silent(&run(&app, &fixture("PreToolUse")));
    let app = HookApp::new().pre_tool("Write(", guard_env);
    let errors = app.check().unwrap_err();
    assert!(
        errors[0].to_string().contains("handler `guard_env`: tool matcher `Write(` is not a valid regular expression")
    );
    let out = run(&app, &fixture("PreToolUse"));
    assert_eq!(out.exit_code, 1);
    assert!(out.stderr.starts_with("agno hook: configuration: handler `guard_env`"), "{}", out.stderr);
    // A guard that cannot be set up fails closed under the blocking policy.
    let strict = HookApp::new().error_policy(ErrorPolicy::Blocking).pre_tool("Write(", guard_env);
    assert_eq!(run(&strict, &fixture("PreToolUse")).exit_code, 2);
}
