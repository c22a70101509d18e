#![allow(unused)]

use agno::prelude::*;

#[task]
const fn constant() {}

#[task]
unsafe fn dangerous() {}

#[task]
extern "C" fn foreign() {}

fn main() {}
