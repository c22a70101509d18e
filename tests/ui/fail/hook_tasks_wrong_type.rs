#![allow(unused)]

use agno::prelude::*;

#[hook]
fn by_value(tasks: Tasks) {}

#[hook]
fn mutable(tasks: &mut Tasks) {}

#[hook]
fn typo(task: &Tasks) {}

fn main() {}
