#![allow(unused)]

use agno::prelude::*;

#[hook]
fn log_request(run_input: &RunInput, sesion: &Session) {
    let x = ;
}

fn main() {}
