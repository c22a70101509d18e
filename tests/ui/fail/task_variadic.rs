#![allow(unused)]

use agno::prelude::*;

#[task]
fn counted(n: u32, _: ...) {}

fn main() {}
