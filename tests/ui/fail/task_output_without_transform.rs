#![allow(unused)]

use agno::prelude::*;

#[task(output = usize)]
fn words(text: String) -> String {
    text
}

fn count(text: String) -> impl Sized {
    text.len()
}

#[task(transform = count, output = impl Sized)]
fn opaque(text: String) -> String {
    text
}

fn main() {}
