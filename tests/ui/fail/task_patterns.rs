#![allow(unused)]

use agno::prelude::*;

#[task]
fn sum((a, b): (u32, u32), _: u32, ref name: String, n @ 1..=9: u8) -> u32 {
    a + b
}

fn main() {}
