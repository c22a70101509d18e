#![allow(unused)]

use agno::prelude::*;

#[hook]
async fn log_analytics(run_output: &RunInput, session: Session) {}

fn main() {}
