#![allow(unused)]

use agno::prelude::*;

#[task]
fn analyze(code: impl Into<String>) -> impl std::fmt::Display {
    code.into()
}

fn main() {}
