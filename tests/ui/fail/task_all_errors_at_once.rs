#![allow(unused)]

use agno::prelude::*;

#[task(ttl = 0, prority = 5, transform = |r| r)]
unsafe fn analyze<T>(code: &str, _: u32) -> impl Sized {
    code
}

fn main() {}
