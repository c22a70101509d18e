//! `#[task]` on sync and async functions with 0, 1 and 3 parameters, in modules, inside function
//! bodies, public, with attributes, raw names and `mut` parameters.
#![deny(warnings)]

use std::sync::Arc;

use agno::task;
use agno::tasks::{ImmediateBackend, Task, Tasks};

/// No parameter.
#[task]
fn tick() -> u32 {
    1
}

/// One parameter.
#[task]
fn shout(text: String) -> String {
    text.to_uppercase()
}

/// Three parameters, one of them `mut`.
#[task]
fn join3(a: String, mut b: Vec<u8>, c: (u8, bool)) -> String {
    b.push(c.0);
    format!("{a}{b:?}{}", c.1)
}

/// Async, no parameter, nothing returned.
#[task]
async fn ping() {}

/// Async, three parameters.
#[task]
async fn add3(a: i64, b: i64, c: Option<i64>) -> i64 {
    a + b + c.unwrap_or_default()
}

/// Never added anywhere: still resumable by name, so no dead-code warning.
#[task]
fn unused_task(_code: String) {}

mod jobs {
    /// A public task in a module.
    #[agno::task]
    #[allow(clippy::needless_pass_by_value)]
    #[inline]
    pub fn public_job(n: u64) -> u64 {
        n * 2
    }

    #[agno::task]
    pub(crate) async fn crate_job(n: u64) -> u64 {
        n + 1
    }

    #[cfg(all())]
    #[agno::task]
    pub fn configured() {}

    #[agno::task]
    #[cfg(any())]
    pub fn configured_out() {}
}

#[task]
fn r#type(r#match: String) -> String {
    r#match
}

#[task]
fn inner_attributes(code: String) {
    #![allow(unused_variables)]
    let unused = code;
}

fn main() {
    #[task]
    fn local(n: u8) -> u8 {
        n
    }

    let tasks = Tasks::new(Arc::new(ImmediateBackend::new()), "s");
    tasks.add(tick, ());
    tasks.add(shout, "hi".to_owned());
    tasks.add(join3, ("a".to_owned(), vec![1], (2, true)));
    tasks.add(ping, ());
    tasks.add(add3, (1, 2, None));
    tasks.add(jobs::public_job, 4);
    tasks.add(jobs::crate_job, 4);
    tasks.add(jobs::configured, ());
    tasks.add(r#type, "m".to_owned());
    tasks.add(inner_attributes, String::new());
    tasks.add(local, 3);

    let _: Option<u32> = tasks.pop(tick);
    let _: Option<String> = tasks.pop(shout);
    let _: Option<String> = tasks.pop(join3);
    let _: Option<()> = tasks.pop(ping);
    let _: Option<i64> = tasks.pop(add3);
    let _: Option<u64> = tasks.pop(jobs::public_job);
    let _: Option<u8> = tasks.pop(local);
    assert_eq!(r#type.name(), "type");
    assert_eq!(jobs::public_job::func(2), 4);
    assert!(jobs::public_job::DESCRIPTOR.module_path.ends_with("::jobs"));
    let _ = format!("{:?}", shout.clone());
    let _: <join3 as Task>::Args = (String::new(), Vec::new(), (0, false));
    let _: <tick as Task>::Args = ();
}
