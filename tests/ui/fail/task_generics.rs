#![allow(unused)]

use agno::prelude::*;

#[task]
fn analyze<'a, T: Clone, const N: usize>(code: T) -> T
where
    T: Send,
{
    code
}

fn main() {}
