//! A real browser for tests: Debian's Chromium (`apt-get install chromium` at test time when it is
//! missing) driven by `playwright-core` from npm (pinned, into the test-tools cache). Each says
//! `skipped: ...` and gives `None` when it cannot be had.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::tools::{cache_root, locked_install, npm_install};

/// The Chromium that Debian installs.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The pinned playwright-core.
pub const PLAYWRIGHT_CORE_VERSION: &str = "1.65.2";

fn works(chromium: &Path) -> Result<(), String> {
    let out = Command::new(chromium)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", chromium.display()))?;
    if out.status.success() { Ok(()) } else { Err(format!("`{} --version` failed", chromium.display())) }
}

fn apt_install() -> Result<(), String> {
    eprintln!("installing Debian's chromium with apt-get (once per machine)");
    for args in [&["update", "-qq"][..], &["install", "-y", "-qq", "chromium"][..]] {
        let out = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("apt-get not found: {e}"))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(format!("apt-get {} failed: {}", args[0], stderr.lines().last().unwrap_or("no output")));
        }
    }
    Ok(())
}

/// Chromium, installed if it is missing and this process may (root, apt-get).
pub fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    match locked_install("chromium", || works(&path), apt_install) {
        Ok(()) => Some(path),
        Err(reason) => {
            eprintln!("skipped: Chromium unavailable ({reason})");
            None
        }
    }
}

/// The folder of the installed `playwright-core` package (for `require`).
pub fn playwright_core() -> Option<PathBuf> {
    let found = cache_root().and_then(|root| {
        let dir = root.join(format!("playwright-core-{PLAYWRIGHT_CORE_VERSION}"));
        let package = dir.join("node_modules").join("playwright-core");
        let installed = || {
            if package.join("package.json").exists() {
                Ok(())
            } else {
                Err(format!("{} is missing", package.display()))
            }
        };
        let spec = format!("playwright-core@{PLAYWRIGHT_CORE_VERSION}");
        locked_install(&format!("playwright-core-{PLAYWRIGHT_CORE_VERSION}"), installed, || npm_install(&dir, &spec))
            .map(|()| package)
    });
    match found {
        Ok(package) => Some(package),
        Err(reason) => {
            eprintln!("skipped: playwright-core unavailable ({reason})");
            None
        }
    }
}
