#![allow(unused)]

use agno::prelude::*;

trait Tasks {
    #[task]
    fn analyze(code: String);
}

fn main() {}
