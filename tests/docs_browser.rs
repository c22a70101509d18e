//! `/docs` in a real browser: Debian's Chromium, headless, driven by playwright-core (both
//! installed at test time; skipped with a message when impossible). The page renders the API, and
//! a request made from it (GET /health, "Try it out", "Execute") gets its answer.

mod common;

use std::process::{Command, Stdio};

use agno::os::AgentOS;
use agno::prelude::*;
use common::browser::{chromium, playwright_core};
use common::server::Server;
use serde_json::Value;

/// The browser's part: load the page, wait for it to render, run one request from it.
const SCRIPT: &str = r#"
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  const out = { errors: [], outside: [] };
  page.on('pageerror', e => out.errors.push(String(e)));
  page.on('request', r => { if (!r.url().startsWith(process.env.BASE)) out.outside.push(r.url()); });
  await page.goto(process.env.BASE + '/docs/', { waitUntil: 'load' });
  await page.waitForSelector('.swagger-ui .info .title', { timeout: 30000 });
  out.title = (await page.textContent('.swagger-ui .info .title')).trim();
  out.operations = await page.locator('.opblock').count();
  const op = page.locator('#operations-Core-health');
  await op.locator('.opblock-summary').click();
  await op.locator('button.try-out__btn').click();
  await op.locator('button.execute').click();
  const status = op.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor({ timeout: 30000 });
  out.status = (await status.textContent()).trim();
  out.body = await op.locator('.live-responses-table .response-col_description pre').first().textContent();
  await page.screenshot({ path: process.env.SHOT, fullPage: false });
  console.log(JSON.stringify(out));
  await browser.close();
})().catch(e => { console.error(String((e && e.stack) || e)); process.exit(1); });
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_renders_and_runs_a_request_in_chromium() {
    let (Some(browser), Some(playwright)) = (chromium(), playwright_core()) else { return };
    let agent = Agent::builder().id("docs-agent").build().unwrap();
    let server = Server::start(AgentOS::builder().agents([agent]).build().unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("docs.js");
    std::fs::write(&script, SCRIPT).unwrap();
    let shot = dir.path().join("docs.png");
    let (base, shot_path) = (server.base.clone(), shot.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&script)
            .env("PLAYWRIGHT_CORE", &playwright)
            .env("CHROMIUM", &browser)
            .env("BASE", &base)
            .env("SHOT", &shot_path)
            .stdin(Stdio::null())
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser script failed: {stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout).expect("the script's JSON");
    assert!(seen["title"].as_str().unwrap().contains("AgentOS"), "{seen}");
    assert!(seen["operations"].as_u64().unwrap() >= 29, "every route is on the page: {seen}");
    assert_eq!(seen["status"], "200", "{seen}");
    assert!(seen["body"].as_str().unwrap().contains("\"status\": \"ok\""), "{seen}");
    assert_eq!(seen["errors"], serde_json::json!([]), "no script error on the page");
    assert_eq!(seen["outside"], serde_json::json!([]), "nothing loaded from another host");
    assert!(shot.metadata().map(|m| m.len() > 1000).unwrap_or(false), "a screenshot was taken");
    server.stop().await;
}
