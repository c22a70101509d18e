#![allow(unused)]

use agno::prelude::*;

#[task(priority = "high")]
fn quoted() {}

#[task(priority = 1.5)]
fn fractional() {}

#[task(priority = 99999999999999999999)]
fn too_large() {}

#[task(priority = HIGH)]
fn constant() {}

fn main() {}
