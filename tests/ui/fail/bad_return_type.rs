#![allow(unused)]

use agno::prelude::*;

#[hook]
fn log_request(run_input: &RunInput) -> i32 {
    0
}

#[hook]
async fn log_analytics(run_output: &RunOutput) -> Result<u8, String> {
    Ok(1)
}

fn main() {}
