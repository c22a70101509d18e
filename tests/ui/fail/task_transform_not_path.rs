#![allow(unused)]

use agno::prelude::*;

fn truncate(r: String) -> String {
    r
}

#[task(transform = |r: String| r[..500].to_owned())]
fn closure() -> String {
    String::new()
}

#[task(transform = "truncate")]
fn quoted() -> String {
    String::new()
}

#[task(transform = truncate())]
fn called() -> String {
    String::new()
}

#[task(transform = 500)]
fn number() -> String {
    String::new()
}

fn main() {}
