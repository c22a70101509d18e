//! The examples run offline, exit by themselves, and register every hook they define.

use std::path::PathBuf;
use std::process::Command;

/// The example binaries cargo builds before running tests (`target/<profile>/examples/`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    profile_dir.join("examples").join(name)
}

/// The `#[hook]` functions a source file defines, by scanning for the attribute.
fn hooks_defined_in(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("#[hook") {
            let decl = lines.next().expect("a fn follows #[hook]");
            let name = decl.split("fn ").nth(1).and_then(|rest| rest.split('(').next()).expect("fn name");
            names.push(name.trim().to_owned());
        }
    }
    names
}

#[test]
fn agent_with_hooks_runs_offline_and_lists_its_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(example("agent_with_hooks")).current_dir(dir.path()).output().expect("example runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));

    let defined = hooks_defined_in(include_str!("../examples/agent_with_hooks.rs"));
    assert_eq!(defined, ["log_request", "log_analytics", "send_notification", "validate_output"]);
    for name in &defined {
        assert!(
            stdout.contains(&format!("registered hook: agent_with_hooks::{name} ")),
            "{name} is not in the registry:\n{stdout}"
        );
    }
    assert!(stdout.contains("registered hook: agent_with_hooks::log_request (background: true)"));
    assert!(stdout.contains("registered hook: agent_with_hooks::log_analytics (background: false)"));

    assert!(stdout.contains("-> COMPLETED \"You said: \\\"Hello, how are you?\\\"\""), "{stdout}");
    assert!(stdout.contains("[Background Pre-Hook] Input: my email is ****************"), "PII masked: {stdout}");
    assert!(!stdout.contains("jane@example.com\\\""), "the model never sees the email: {stdout}");
    assert!(stdout.contains("-> ERROR \"Potential jailbreaking or prompt injection detected.\""), "{stdout}");
    assert!(stdout.contains("with 2 runs in tmp/agent.db"), "{stdout}");
    assert!(dir.path().join("tmp/agent.db").exists());
}
