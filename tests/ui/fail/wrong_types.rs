#![allow(unused)]

use agno::prelude::*;

#[hook]
fn log_request(agent: Agent, user_id: String, metadata: &serde_json::Value, debug_mode: Option<bool>) {}

fn main() {}
