//! Test tools installed at test time into a cache outside the repo (`$AGNO_TEST_CACHE`, else
//! `$XDG_CACHE_HOME/agno-test-tools`, else `~/.cache/agno-test-tools`), once per cache, with a
//! lock so that parallel test processes install them once.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cache directory for test tools.
pub fn cache_root() -> Result<PathBuf, String> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("AGNO_TEST_CACHE") {
        return Ok(dir);
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Ok(dir.join("agno-test-tools"));
    }
    if let Some(home) = var("HOME") {
        return Ok(home.join(".cache").join("agno-test-tools"));
    }
    Err("no cache directory: set AGNO_TEST_CACHE, XDG_CACHE_HOME or HOME".into())
}

/// Runs `install` unless `installed` says it is there, holding `<cache>/<name>.lock` meanwhile
/// (another process may be installing it); then checks again.
pub fn locked_install(
    name: &str,
    installed: impl Fn() -> Result<(), String>,
    install: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    if installed().is_ok() {
        return Ok(());
    }
    let root = cache_root()?;
    fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let lock_path = root.join(format!("{name}.lock"));
    let lock = File::create(&lock_path).map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
    lock.lock().map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    let result = if installed().is_ok() { Ok(()) } else { install().and_then(|()| installed()) };
    let _ = lock.unlock();
    result
}

/// `npm install --prefix dir spec`, with npm's own reason when it fails.
pub fn npm_install(dir: &Path, spec: &str) -> Result<(), String> {
    let npm = Command::new("npm")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("npm not found: {e}"))?;
    if !npm.status.success() {
        return Err(format!("`npm --version` failed with {}", npm.status));
    }
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    eprintln!("installing {spec} into {} (once per cache)", dir.display());
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(dir)
        .arg(spec)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    // npm's first error lines name the cause (`code E...`, then the message).
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("npm error "))
        .filter(|l| !l.trim_start().starts_with("at ") && !l.starts_with("syscall") && !l.starts_with("errno"))
        .take(2)
        .collect();
    let detail =
        if errors.is_empty() { stderr.lines().last().unwrap_or("no output").to_owned() } else { errors.join(": ") };
    Err(format!("npm install failed with {}: {detail}", out.status))
}
