//! `ttl`, `priority`, `transform` with and without `output`, and `crate`.
#![deny(warnings)]

use std::time::Duration;

use agno::task;
use agno::tasks::Task;

mod util {
    pub fn truncate(r: String) -> String {
        r.chars().take(500).collect()
    }

    pub fn first<T: Clone>(items: Vec<T>) -> Option<T> {
        items.first().cloned()
    }
}

fn count(text: String) -> usize {
    text.len()
}

#[task(ttl = 600, priority = 5)]
fn important_task(query: String) -> String {
    query
}

#[task(priority = -1)]
fn background_task() {}

#[task(ttl = 10, priority = 0,)]
fn trailing_comma() {}

#[task()]
fn empty_parens() {}

#[task(transform = util::truncate)]
fn long_output_task() -> String {
    "x".repeat(1000)
}

#[task(transform = count, output = usize, ttl = 30)]
async fn measured(text: String) -> String {
    text
}

#[task(transform = util::first::<String>, output = Option<String>)]
fn listed(items: Vec<String>) -> Result<Vec<String>, String> {
    Ok(items)
}

#[task(output = std::collections::HashMap<String, u32>, transform = to_map)]
fn pairs() -> Vec<(String, u32)> {
    vec![("a".to_owned(), 1)]
}

fn to_map(list: Vec<(String, u32)>) -> std::collections::HashMap<String, u32> {
    list.into_iter().collect()
}

#[task(crate = agno_core, ttl = 5)]
fn via_core() {}

#[task(crate = "agno")]
fn via_string() {}

fn main() {
    assert_eq!(important_task.ttl(), Duration::from_secs(600));
    assert_eq!(important_task.priority(), 5);
    assert_eq!(background_task.priority(), -1);
    assert_eq!(background_task::DESCRIPTOR.ttl_secs, 300);
    assert_eq!(trailing_comma.ttl(), Duration::from_secs(10));
    assert_eq!(empty_parens.name(), "empty_parens");
    let _: fn() -> String = long_output_task::func;
    let _: std::marker::PhantomData<usize> = output_of(measured);
    let _: std::marker::PhantomData<Option<String>> = output_of(listed);
    let _: std::marker::PhantomData<std::collections::HashMap<String, u32>> = output_of(pairs);
    assert_eq!(via_core::DESCRIPTOR.ttl_secs, 5);
    assert_eq!(via_string.name(), "via_string");
}

fn output_of<T: Task>(_: T) -> std::marker::PhantomData<T::Output> {
    std::marker::PhantomData
}
