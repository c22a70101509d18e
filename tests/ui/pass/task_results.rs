//! Return types: `()`, a value, `Result<T, E>` under any path ending in `Result`, whose `T` is the
//! output.
#![deny(warnings)]

use std::fmt;

use agno::task;
use agno::tasks::Task;

#[derive(Debug)]
struct MyError;

impl fmt::Display for MyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("my error")
    }
}

type Result<T> = std::result::Result<T, MyError>;

#[task]
fn unit() {}

#[task]
fn optional(n: u8) -> Option<u8> {
    n.checked_add(1)
}

#[task]
fn plain(n: u8) -> std::result::Result<u8, String> {
    Ok(n)
}

#[task]
fn io(path: String) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

#[task]
async fn alias(n: u8) -> Result<u8> {
    if n > 3 { Err(MyError) } else { Ok(n) }
}

#[task]
fn boxed(n: u8) -> core::result::Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    Ok(vec![n])
}

#[task]
fn static_str_error(n: u8) -> std::result::Result<u8, &'static str> {
    if n == 0 { Err("zero") } else { Ok(n) }
}

fn output_of<T: Task>(_: T) -> std::marker::PhantomData<T::Output> {
    std::marker::PhantomData
}

fn main() {
    let _: std::marker::PhantomData<()> = output_of(unit);
    let _: std::marker::PhantomData<Option<u8>> = output_of(optional);
    let _: std::marker::PhantomData<u8> = output_of(plain);
    let _: std::marker::PhantomData<String> = output_of(io);
    let _: std::marker::PhantomData<u8> = output_of(alias);
    let _: std::marker::PhantomData<Vec<u8>> = output_of(boxed);
    let _: std::marker::PhantomData<u8> = output_of(static_str_error);
}
