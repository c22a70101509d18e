//! The examples run offline, exit by themselves, and register every hook they define.

use std::path::PathBuf;
use std::process::Command;

/// The example binaries cargo builds before running tests (`target/<profile>/examples/`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    profile_dir.join("examples").join(name)
}

/// The `#[hook]`, `#[task]` and `#[agent_task]` functions a source file defines, by scanning
/// for the attributes.
fn defined_in(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let line = line.trim_start();
        if line.starts_with("#[hook") || line.starts_with("#[task") || line.starts_with("#[agent_task") {
            let decl = lines.next().expect("a fn follows the attribute");
            let name = decl.split("fn ").nth(1).and_then(|rest| rest.split('(').next()).expect("fn name");
            names.push(name.trim().to_owned());
        }
    }
    names
}

/// Runs a built example in a fresh folder; its stdout, after checking that it succeeded.
fn run(name: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(example(name))
        .args(args)
        .current_dir(dir.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .output()
        .expect("example runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{name}: stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The registry line an example prints lists everything its source defines.
fn assert_registered(stdout: &str, source: &str) {
    let line = stdout.lines().find(|l| l.starts_with("registered hooks:")).expect("the example prints its registry");
    let defined = defined_in(source);
    assert!(!defined.is_empty());
    for name in defined {
        assert!(line.contains(&name), "`{name}` is not in the registry: {line}");
    }
}

#[test]
fn agent_with_hooks_runs_offline_and_lists_its_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(example("agent_with_hooks"))
        .current_dir(dir.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .output()
        .expect("example runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));

    let source = include_str!("../examples/agent_with_hooks.rs");
    assert_eq!(defined_in(source), ["log_request", "log_analytics", "send_notification", "validate_output"]);
    assert_registered(&stdout, source);
    assert!(stdout.starts_with("Model: offline (Offline)"), "{stdout}");
    assert!(stdout.contains("log_request (background)"));
    assert!(!stdout.contains("log_analytics (background)"));

    assert!(stdout.contains("-> COMPLETED \"You said: \\\"Hello, how are you?\\\"\""), "{stdout}");
    assert!(stdout.contains("[Background Pre-Hook] Input: my email is ****************"), "PII masked: {stdout}");
    assert!(!stdout.contains("jane@example.com\\\""), "the model never sees the email: {stdout}");
    assert!(stdout.contains("-> ERROR \"Potential jailbreaking or prompt injection detected.\""), "{stdout}");
    assert!(stdout.contains("with 2 runs in tmp/agent.db"), "{stdout}");
    assert!(dir.path().join("tmp/agent.db").exists());
}

#[test]
fn tasks_quickstart_picks_up_the_previous_runs_results() {
    let stdout = run("tasks_quickstart", &[]);
    assert_registered(&stdout, include_str!("../examples/tasks_quickstart.rs"));
    let first = stdout.find("[check_results] no previous analysis").expect(&stdout);
    let analysis = stdout.find("[check_results] Previous analysis: Analysis complete: 29 chars").expect(&stdout);
    assert!(first < analysis, "run 1 has nothing, run 2 gets run 1's analysis:\n{stdout}");
    assert!(stdout.contains("[check_results] Code review: You said: \"Review:"), "{stdout}");
}

#[test]
fn tasks_memory_lookup_enriches_the_next_prompt() {
    let stdout = run("tasks_memory_lookup", &[]);
    assert_registered(&stdout, include_str!("../examples/tasks_memory_lookup.rs"));
    let contexts: Vec<&str> = stdout.lines().filter(|l| l.starts_with("[enrich_prompt] Relevant context:")).collect();
    assert_eq!(contexts.len(), 2, "prompts 2 and 3 get the search of the prompt before:\n{stdout}");
    assert!(contexts[0].contains("The deploy script lives in ops/deploy.sh"), "{stdout}");
    assert!(contexts[1].contains("The database is migrated"), "{stdout}");
}

#[test]
fn the_process_example_registers_its_task() {
    let stdout = run("tasks_across_processes", &["tasks.db", "fn x() {}"]);
    assert_registered(&stdout, include_str!("../examples/tasks_across_processes.rs"));
    assert!(stdout.contains("previous result: none"), "{stdout}");
}

#[test]
fn teams_and_workflows_run_every_level_s_hook_after_the_response() {
    let stdout = run("teams_and_workflows", &[]);
    assert_registered(&stdout, include_str!("../examples/teams_and_workflows.rs"));
    assert!(stdout.contains("POST /teams/newsroom/runs: 200 OK \"COMPLETED\""), "{stdout}");
    assert!(stdout.contains("POST /workflows/publish/runs: 200 OK \"COMPLETED\""), "{stdout}");
    assert!(stdout.contains("5 of 5 background hooks ran after the response"), "{stdout}");
    assert!(stdout.contains("3 of 3 background hooks ran after the response"), "{stdout}");
    assert!(stdout.contains("shutdown: 0 unfinished background task(s)"), "{stdout}");
    // Where each hook ran, in the order the levels finish.
    let order: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("at ").and_then(|l| l.split_once(": ")).map(|(_, what)| what))
        .map(|what| what.split(" (").next().unwrap_or(what))
        .collect();
    assert_eq!(
        order,
        [
            "agent reporter",
            "agent fact-checker",
            "team desk with 2 member answer(s)",
            "agent editor",
            "team newsroom with 2 member answer(s)",
            "agent writer",
            "agent editor",
            "workflow publish after steps [\"write\", \"edit\"]",
        ]
    );
}
