#![allow(unused)]

use agno::prelude::*;

#[task]
fn analyze_code(code: &str, bytes: &[u8], buffer: &mut Vec<u8>, name: Option<&str>) -> usize {
    code.len()
}

#[task]
fn label(n: u32) -> &'static str {
    "label"
}

#[task]
fn lines(text: String) -> Result<Vec<&'static str>, String> {
    Ok(Vec::new())
}

fn main() {}
