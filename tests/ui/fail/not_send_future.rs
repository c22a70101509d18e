#![allow(unused)]

use agno::prelude::*;
use std::rc::Rc;

#[hook]
async fn log_analytics(run_output: &RunOutput) {
    let counter = Rc::new(run_output.run_id.len());
    std::future::ready(()).await;
    drop(counter);
}

fn main() {}
