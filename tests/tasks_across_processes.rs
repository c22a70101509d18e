//! Task results survive the process: the `tasks_across_processes` example, run three times on one
//! database as a hook program is run once per event, pops each time what the previous run added.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The example binaries cargo builds before running tests (`target/<profile>/examples/`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    profile_dir.join("examples").join(name)
}

/// Runs the example once with this code to analyse; its stdout.
fn run_once(db: &Path, cwd: &Path, code: &str) -> String {
    let out = Command::new(example("tasks_across_processes"))
        .arg(db)
        .arg(code)
        .current_dir(cwd)
        .output()
        .expect("the example runs (cargo builds it before the tests)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[test]
fn results_survive_the_process_and_pending_tasks_are_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state").join("tasks.db");
    // Inputs of different lengths, so each result names the run that added it.
    let inputs = ["fn a() {}", "fn bb() { todo!() }", "fn ccc() { println!(\"third\"); }"];

    let first = run_once(&db, dir.path(), inputs[0]);
    assert!(first.contains("previous result: none\n"), "{first}");
    assert!(first.contains(&format!("added analyze_code ({} chars", inputs[0].len())), "{first}");

    // The first run's task completed before it exited, or it was still pending and this run
    // resumed it: either way its result is here.
    let second = run_once(&db, dir.path(), inputs[1]);
    assert!(second.contains(&format!("previous result: Analysis complete: {} chars\n", inputs[0].len())), "{second}");

    let third = run_once(&db, dir.path(), inputs[2]);
    assert!(third.contains(&format!("previous result: Analysis complete: {} chars\n", inputs[1].len())), "{third}");
    assert!(db.exists());
}
