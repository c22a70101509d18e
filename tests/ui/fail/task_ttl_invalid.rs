#![allow(unused)]

use agno::prelude::*;

#[task(ttl = 0)]
fn zero() {}

#[task(ttl = -5)]
fn negative() {}

#[task(ttl = "600")]
fn quoted() {}

#[task(ttl = 1.5)]
fn fractional() {}

#[task(ttl = 10 * 60)]
fn expression() {}

#[task(ttl = Duration::from_secs(600))]
fn duration() {}

fn main() {}
