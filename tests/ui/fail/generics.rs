#![allow(unused)]

use agno::prelude::*;

#[hook]
fn log_request<'a, T: Clone, const N: usize>(run_input: &'a RunInput, agent: T)
where
    T: Send,
{
}

fn main() {}
