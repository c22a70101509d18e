//! Test helpers: a configurable hand-written hook that records what it sees.

#![allow(dead_code)]

pub mod anthropic;
pub mod browser;
pub mod claude_cli;
pub mod model_runs;
pub mod process;
pub mod server;
pub mod tools;

use std::sync::{Arc, Mutex};

use agno::hooks::{BackgroundHook, BackgroundScheduler, Hook, HookCall, HookContext, HookParams};
use agno::models::{BoxFuture, BoxStream, Model, ModelChunk, ModelError, ModelRequest, ModelResponse};
use agno::{InputCheckError, OutputCheckError};

/// A shared, ordered log of what hooks did.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }
    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// What a [`Probe`] does when called.
#[derive(Clone)]
pub enum Action {
    Record,
    RecordAsync,
    Fail,
    Panic,
    PanicAsync,
    RejectInput(&'static str),
    RejectOutput(&'static str),
    SetInput(&'static str),
    SetOutput(&'static str),
    /// Sleeps this many milliseconds (async), then logs `<name> done`.
    Sleep(u64),
    /// Sleeps this many milliseconds (async) before logging what it saw, so nothing is logged
    /// while a response that should not wait for it is still arriving.
    LateRecord(u64),
}

/// A hook that logs `<name>` (plus what it saw) and then does its action.
pub struct Probe {
    pub name: &'static str,
    pub params: HookParams,
    pub background: bool,
    pub guardrail: bool,
    pub action: Action,
    pub log: Log,
}

impl Probe {
    pub fn new(name: &'static str, log: &Log) -> Self {
        Self {
            name,
            params: HookParams::RUN_CONTEXT,
            background: false,
            guardrail: false,
            action: Action::Record,
            log: log.clone(),
        }
    }
    pub fn params(mut self, params: HookParams) -> Self {
        self.params = params;
        self
    }
    pub fn background(mut self) -> Self {
        self.background = true;
        self
    }
    pub fn guardrail(mut self) -> Self {
        self.guardrail = true;
        self
    }
    pub fn action(mut self, action: Action) -> Self {
        self.action = action;
        self
    }
}

impl Hook for Probe {
    fn name(&self) -> &str {
        self.name
    }
    fn params(&self) -> HookParams {
        self.params
    }
    fn run_in_background(&self) -> bool {
        self.background
    }
    fn is_guardrail(&self) -> bool {
        self.guardrail
    }
    fn call<'a>(&'a self, cx: HookContext<'a>) -> HookCall<'a> {
        let mut seen = self.name.to_owned();
        if let Some(input) = cx.run_input.as_deref().filter(|_| self.params.needs_input()) {
            seen.push_str(&format!(" input={}", input.input_content));
        }
        if let Some(output) = cx.run_output.as_deref().filter(|_| self.params.needs_output()) {
            seen.push_str(&format!(" status={} content={}", output.status, output.content.as_deref().unwrap_or("-")));
        }
        if let Some(agent) = cx.agent.filter(|_| self.params.contains(HookParams::AGENT)) {
            seen.push_str(&format!(" agent={}", agent.id()));
        }
        if let Some(team) = cx.team.filter(|_| self.params.contains(HookParams::TEAM)) {
            seen.push_str(&format!(" team={}", team.id()));
        }
        if let Some(workflow) = cx.workflow.filter(|_| self.params.contains(HookParams::WORKFLOW)) {
            seen.push_str(&format!(" workflow={}", workflow.id()));
        }
        if let Action::LateRecord(ms) = self.action {
            let log = self.log.clone();
            return HookCall::pending(async move {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                log.push(seen);
            });
        }
        self.log.push(seen);
        match self.action.clone() {
            Action::Record | Action::LateRecord(_) => HookCall::Done(Ok(())),
            Action::RecordAsync => {
                let log = self.log.clone();
                let name = self.name;
                HookCall::pending(async move {
                    tokio::task::yield_now().await;
                    log.push(format!("{name} after await"));
                })
            }
            Action::Fail => HookCall::done(Err::<(), _>("deliberate failure")),
            Action::Panic => panic!("deliberate panic in {}", self.name),
            Action::PanicAsync => HookCall::pending(async move {
                tokio::task::yield_now().await;
                if std::hint::black_box(true) {
                    panic!("deliberate async panic");
                }
            }),
            Action::RejectInput(msg) => HookCall::done(Err::<(), _>(InputCheckError::new(msg))),
            Action::RejectOutput(msg) => HookCall::done(Err::<(), _>(OutputCheckError::new(msg))),
            Action::SetInput(text) => {
                if let Some(input) = cx.run_input {
                    input.input_content = text.into();
                }
                HookCall::Done(Ok(()))
            }
            Action::Sleep(ms) => {
                let log = self.log.clone();
                let name = self.name;
                HookCall::pending(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    log.push(format!("{name} done"));
                })
            }
            Action::SetOutput(text) => {
                if let Some(output) = cx.run_output {
                    output.content = Some(text.to_owned());
                }
                HookCall::Done(Ok(()))
            }
        }
    }
}

/// A scheduler that keeps the jobs it is given, to run them when the test says.
#[derive(Default)]
pub struct Collect(pub Mutex<Vec<BackgroundHook>>);

impl BackgroundScheduler for Collect {
    fn schedule(&self, hooks: Vec<BackgroundHook>) {
        self.0.lock().unwrap().extend(hooks);
    }
}

impl Collect {
    pub fn take(&self) -> Vec<BackgroundHook> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A model that answers a first piece, then panics (in its future, or in its stream after the
/// first chunk).
pub struct PanicsMidway;

impl Model for PanicsMidway {
    fn id(&self) -> &str {
        "panics-midway"
    }
    fn provider(&self) -> &str {
        "Test"
    }
    fn invoke<'a>(&'a self, _: &'a ModelRequest) -> BoxFuture<'a, Result<ModelResponse, ModelError>> {
        Box::pin(async {
            tokio::task::yield_now().await;
            panic!("lost the thread")
        })
    }
    fn invoke_stream<'a>(&'a self, _: &'a ModelRequest) -> BoxStream<'a, Result<ModelChunk, ModelError>> {
        struct FirstThenPanic(bool);
        impl futures_core::Stream for FirstThenPanic {
            type Item = Result<ModelChunk, ModelError>;
            fn poll_next(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                assert!(!self.0, "lost the thread mid-stream");
                self.0 = true;
                std::task::Poll::Ready(Some(Ok(ModelChunk::Content("first ".into()))))
            }
        }
        Box::pin(FirstThenPanic(false))
    }
}

/// Inside `impl Db for Wrapper`: every read and the eval runs forwarded to the wrapper's field
/// `$inner` (a name or a tuple index), so a test's wrapper writes only what it changes.
#[allow(unused_macros)] // like the rest of this module, used by some tests only
macro_rules! forward_db_reads {
    ($inner:tt) => {
        fn get_session<'a>(&'a self, id: &'a str) -> ::agno::db::DbFuture<'a, Option<::agno::session::Session>> {
            self.$inner.get_session(id)
        }
        fn get_session_with_runs<'a>(
            &'a self,
            id: &'a str,
            query: &'a ::agno::db::RunQuery,
        ) -> ::agno::db::DbFuture<'a, Option<::agno::session::Session>> {
            self.$inner.get_session_with_runs(id, query)
        }
        fn list_sessions<'a>(
            &'a self,
            query: &'a ::agno::db::SessionQuery,
        ) -> ::agno::db::DbFuture<'a, ::agno::db::SessionPage> {
            self.$inner.list_sessions(query)
        }
        fn delete_session<'a>(&'a self, id: &'a str) -> ::agno::db::DbFuture<'a, bool> {
            self.$inner.delete_session(id)
        }
        fn get_run<'a>(&'a self, id: &'a str) -> ::agno::db::DbFuture<'a, Option<::agno::run::RunOutput>> {
            self.$inner.get_run(id)
        }
        fn get_runs<'a>(
            &'a self,
            id: &'a str,
            query: &'a ::agno::db::RunQuery,
        ) -> ::agno::db::DbFuture<'a, Vec<::agno::run::RunOutput>> {
            self.$inner.get_runs(id, query)
        }
        fn count_runs<'a>(&'a self, id: &'a str, query: &'a ::agno::db::RunQuery) -> ::agno::db::DbFuture<'a, usize> {
            self.$inner.count_runs(id, query)
        }
        fn save_eval_run<'a>(&'a self, eval_run: &'a ::agno::db::EvalRun) -> ::agno::db::DbFuture<'a, ()> {
            self.$inner.save_eval_run(eval_run)
        }
        fn get_eval_run<'a>(&'a self, id: &'a str) -> ::agno::db::DbFuture<'a, Option<::agno::db::EvalRun>> {
            self.$inner.get_eval_run(id)
        }
        fn get_eval_runs<'a>(
            &'a self,
            query: &'a ::agno::db::EvalRunQuery,
        ) -> ::agno::db::DbFuture<'a, Vec<::agno::db::EvalRun>> {
            self.$inner.get_eval_runs(query)
        }
    };
}
#[allow(unused_imports)]
pub(crate) use forward_db_reads;
