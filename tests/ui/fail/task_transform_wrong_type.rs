#![allow(unused)]

use agno::prelude::*;

fn count(text: String) -> usize {
    text.len()
}

/// Changes the type without `output = usize`.
#[task(transform = count)]
fn words(text: String) -> String {
    text
}

fn main() {}
