#![allow(unused)]

use agno::prelude::*;

#[task(ttl = 600, priority = 1, ttl = 60)]
fn twice(code: String) {}

fn main() {}
