#![allow(unused)]

use std::rc::Rc;

use agno::prelude::*;

#[task]
async fn analyze(code: String) -> usize {
    let shared = Rc::new(code);
    std::future::ready(()).await;
    shared.len()
}

fn main() {}
