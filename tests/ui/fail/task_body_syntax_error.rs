#![allow(unused)]

use agno::prelude::*;

#[task(ttl = 0)]
fn analyze(code: String) -> usize {
    let n = ;
    n
}

fn main() {}
