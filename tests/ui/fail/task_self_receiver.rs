#![allow(unused)]

use agno::prelude::*;

#[task]
fn method(&self, code: String) {}

fn main() {}
