#![allow(unused)]

use agno::prelude::*;

#[hook]
struct LogRequest;

#[hook]
impl LogRequest {
    fn call(&self) {}
}

#[hook]
pub const LIMIT: usize = 3;

fn main() {}
