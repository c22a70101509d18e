#![allow(unused)]

use agno::prelude::*;

#[hook(run_in_background = yes, crate = agno, run_in_bg = true)]
async unsafe fn log_request<T>(self, run_inptu: &RunInput, _: &Agent, agent: &Agent) {}

fn main() {}
