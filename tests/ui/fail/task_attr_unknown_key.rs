#![allow(unused)]

use agno::prelude::*;

#[task(tll = 600)]
fn typo(code: String) {}

#[task(key = "fetch:a", krate = agno)]
fn per_call_key(url: String) {}

#[task(model = "haiku", system_prompt = "You review code.")]
fn agent_arguments(code: String) {}

fn main() {}
