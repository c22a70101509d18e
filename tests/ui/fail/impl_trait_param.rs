#![allow(unused)]

use agno::prelude::*;

#[hook]
fn log_request(agent: impl AsRef<Agent>, user_id: Option<impl AsRef<str>>) {}

fn main() {}
