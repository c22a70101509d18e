#![allow(unused)]

use agno::prelude::*;

#[task(ttl: 600)]
fn colon() {}

#[task(ttl(600))]
fn call_style() {}

#[task(ttl = 600 priority = 5)]
fn no_comma() {}

#[task(, ttl = 600)]
fn leading_comma() {}

#[task(ttl)]
fn no_value() {}

#[task(priority =)]
fn empty_value() {}

#[task(600)]
fn positional() {}

fn main() {}
