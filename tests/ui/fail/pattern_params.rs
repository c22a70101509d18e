#![allow(unused)]

use agno::prelude::*;

#[hook]
fn tuple((a, b): (u8, u8)) {}

#[hook]
fn by_ref(ref agent: &Agent) {}

#[hook]
fn sub_pattern(debug_mode @ _: bool) {}

fn main() {}
