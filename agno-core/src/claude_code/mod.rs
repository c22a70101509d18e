//! Claude Code hooks: fasthooks' `HookApp`, on the same `#[hook]` functions and `#[task]`s as
//! agents, answering with the protocol Claude Code really honours.
//!
//! Claude Code runs a hook as a command, one new process per event: it writes the event as JSON
//! to stdin and reads the answer from stdout and the exit code. A hook command is one program
//! whose `main` is [`HookApp::run`]:
//!
//! ```no_run
//! use agno_core::claude_code::{HookApp, PreToolUse, Response, allow, context};
//! use agno_core::tasks::Tasks;
//! use agno_macros::{hook, task};
//!
//! #[task(crate = agno_core)]
//! fn analyze_code(code: String) -> String {
//!     format!("Analysis complete: {} chars", code.len())
//! }
//!
//! #[hook(crate = agno_core)]
//! fn on_write(event: &PreToolUse, tasks: &Tasks) -> Response {
//!     if let Some(content) = event.content() {
//!         tasks.add(analyze_code, content.to_owned()); // queued; a detached worker runs it
//!     }
//!     allow()
//! }
//!
//! #[hook(crate = agno_core)]
//! fn check_results(tasks: &Tasks) -> Response {
//!     match tasks.pop(analyze_code) {
//!         Some(result) => context(format!("Previous analysis: {result}")), // reaches the model
//!         None => allow(),
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     HookApp::new().pre_tool("Write", on_write).on_prompt(check_results).run()
//! }
//! ```
//!
//! * Handlers take their parameters by name ([`handler`] lists them); the type of `event`
//!   decides which registrations accept the handler, checked when the program is compiled.
//! * The handlers of an event run in registration order; the first `deny`/`block` ends the event,
//!   contexts for the model are joined ([`response`]).
//! * `tasks` is keyed by Claude's `session_id` and kept in a SQLite file
//!   (`<project>/.claude/agno-tasks.db`); a detached worker (this same program, in a session of
//!   its own, with no stdio) runs them, so Claude Code never waits, and the next hook process of
//!   the session pops the result ([`worker`]).
//! * Bad input (not JSON, an unknown event, a missing field) is one line on stderr and exit code
//!   1: Claude Code goes on. A failing handler is reported on stderr and to the user, and blocks
//!   only under [`ErrorPolicy::Blocking`].

mod app;
pub mod event;
pub mod handler;
mod matcher;
pub mod response;
mod transcript;
pub mod worker;

pub use app::{ConfigError, DEFAULT_TASK_DB, ErrorPolicy, HookApp, TASK_DB_ENV, default_task_db};
pub use event::{
    BashInput, EditInput, EditOperation, EventError, EventKind, EventName, HookEvent, MultiEditInput, Notification,
    OtherEvent, PermissionRequest, PostToolUse, PreCompact, PreToolUse, ReadInput, SessionEnd, SessionStart, Stop,
    SubagentStop, ToolInput, UserPromptSubmit, WriteInput,
};
pub use handler::{EventType, Handler, HandlerCall, HandlerContext, HandlerError};
pub use matcher::{MatcherError, ToolMatcher};
pub use response::{IntoResponse, Outcome, Response, allow, approve, ask, block, context, deny, modify};
pub use transcript::{Transcript, TranscriptError};
