//! Handlers: what `#[hook]` writes for a function that takes Claude Code parameters, and the
//! injection of those parameters by name.
//!
//! | name | type | what it is |
//! |---|---|---|
//! | `event` | `&PreToolUse`, `&PostToolUse`, `&PermissionRequest`, `&UserPromptSubmit`, `&Stop`, `&SubagentStop`, `&SessionStart`, `&SessionEnd`, `&PreCompact`, `&Notification`, or `&HookEvent` (any event) | the event, typed |
//! | `tasks` | `&Tasks` | background tasks of Claude's session |
//! | `session_id` | `&str` | Claude's session id |
//! | `cwd` | `&Path` or `&str` | the session's working directory |
//! | `transcript` | `&Transcript` | the session's transcript, read on first use |
//!
//! The event type decides which registrations accept the handler: a handler taking
//! `&UserPromptSubmit` given to `pre_tool` is a compile error on that argument.

use std::path::Path;

use super::event::{
    EventKind, HookEvent, Notification, PermissionRequest, PostToolUse, PreCompact, PreToolUse, SessionEnd,
    SessionStart, Stop, SubagentStop, UserPromptSubmit, with_typed_events,
};
use super::response::{IntoResponse, Response};
use super::transcript::Transcript;
use crate::future::BoxFuture;
use crate::tasks::Tasks;

/// What a handler receives.
#[non_exhaustive]
pub struct HandlerContext<'a> {
    /// The event.
    pub event: &'a HookEvent,
    /// The session's tasks (present when the handler asks for them).
    pub tasks: Option<&'a Tasks>,
    /// Claude's session id.
    pub session_id: &'a str,
    /// The working directory.
    pub cwd: &'a Path,
    /// The transcript.
    pub transcript: &'a Transcript,
}

impl<'a> HandlerContext<'a> {
    /// A context for one call.
    pub fn new(event: &'a HookEvent, tasks: Option<&'a Tasks>, cwd: &'a Path, transcript: &'a Transcript) -> Self {
        Self { event, tasks, session_id: event.session_id(), cwd, transcript }
    }
}

/// Why a handler did not answer.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// It returned an error.
    #[error("{0}")]
    Failed(Box<dyn std::error::Error + Send + Sync>),
    /// It panicked.
    #[error("panicked: {0}")]
    Panicked(String),
    /// It was given an event of another type (cannot happen through `HookApp`'s registrations).
    #[error("it takes {expected} events, not {found}")]
    WrongEvent {
        /// What it takes.
        expected: &'static str,
        /// What it got.
        found: &'static str,
    },
    /// It asked for something the app could not provide.
    #[error("`{0}` is not available to this handler")]
    Missing(&'static str),
}

/// A handler call: finished already (sync functions) or a future.
pub enum HandlerCall<'a> {
    /// The function ran synchronously.
    Done(Result<Response, HandlerError>),
    /// The function is async; await this.
    Pending(BoxFuture<'a, Result<Response, HandlerError>>),
}

impl<'a> HandlerCall<'a> {
    /// A finished call from whatever the function returned.
    pub fn done<R: IntoResponse>(result: R) -> Self {
        Self::Done(result.into_response().map_err(HandlerError::Failed))
    }

    /// A pending call from the function's future.
    pub fn pending<F>(future: F) -> Self
    where
        F: std::future::Future + Send + 'a,
        F::Output: IntoResponse,
    {
        Self::Pending(Box::pin(async move { future.await.into_response().map_err(HandlerError::Failed) }))
    }

    /// A call that could not be made.
    pub fn failed(error: HandlerError) -> Self {
        Self::Done(Err(error))
    }

    /// The call of a handler that asked for something the app could not provide.
    pub fn missing(what: &'static str) -> Self {
        Self::failed(HandlerError::Missing(what))
    }

    /// The call of a handler taking `K` events that was given another event.
    pub fn wrong_event<K: EventType>(event: &HookEvent) -> Self {
        Self::failed(HandlerError::WrongEvent { expected: K::NAME, found: event.name().as_str() })
    }
}

/// A Claude Code handler. `#[hook]` implements it for a function whose parameters are Claude
/// Code ones (see the [module](self) docs); `HookApp`'s registrations take it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Claude Code handler",
    label = "not a handler",
    note = "put `#[hook]` on a `fn` or `async fn` whose parameters are among `event`, `tasks`, `session_id`, `cwd`, `transcript`, and that returns `()`, `Response` or a `Result` of those"
)]
pub trait Handler: Send + Sync + 'static {
    /// The event type it takes ([`HookEvent`] when it takes `&HookEvent` or no event).
    type Event: EventType;
    /// Its name, for messages.
    fn name(&self) -> &str;
    /// Whether it takes `tasks` (the task store is opened only then).
    fn needs_tasks(&self) -> bool;
    /// Calls it.
    fn call<'a>(&'a self, cx: HandlerContext<'a>) -> HandlerCall<'a>;
}

/// An event type a handler can take: one of the typed events, or [`HookEvent`] for every event.
pub trait EventType: Send + Sync + 'static {
    /// The name Claude Code gives the event (`"any"` for [`HookEvent`]).
    const NAME: &'static str;
    /// The event as this type, if it is one.
    fn extract(event: &HookEvent) -> Option<&Self>;
}

impl EventType for HookEvent {
    const NAME: &'static str = "any";
    fn extract(event: &HookEvent) -> Option<&Self> {
        Some(event)
    }
}

/// Whether a handler taking `Self` events can be registered for `E` events.
#[diagnostic::on_unimplemented(
    message = "this handler takes `{Self}` events, so it cannot be registered for `{E}` events",
    label = "takes `{Self}`, registered for `{E}`",
    note = "change the type of its `event` parameter to `&{E}` (or `&HookEvent` for any event), or register it for its own event"
)]
pub trait Fits<E> {}

impl<E: EventType> Fits<E> for HookEvent {}

/// Types an `event` parameter may have: a reference to an [`EventType`].
#[diagnostic::on_unimplemented(
    message = "`event` must be a reference to a Claude Code event type (`&PreToolUse`, `&UserPromptSubmit`, ..., or `&HookEvent`), not `{Self}`",
    label = "not an event type"
)]
pub trait FromEvent {
    /// The event type.
    type Kind: EventType;
}

impl FromEvent for &HookEvent {
    type Kind = HookEvent;
}

/// Each typed event: its name, its place in [`EventKind`], and that it fits itself.
macro_rules! event_types {
    ($($event:ident),* $(,)?) => {$(
        impl EventType for $event {
            const NAME: &'static str = stringify!($event);
            fn extract(event: &HookEvent) -> Option<&Self> {
                match event.kind() {
                    EventKind::$event(e) => Some(e),
                    _ => None,
                }
            }
        }
        impl Fits<$event> for $event {}
        impl FromEvent for &$event {
            type Kind = $event;
        }
    )*};
}

with_typed_events!(event_types);

/// Types a `session_id` parameter may have.
#[diagnostic::on_unimplemented(message = "`session_id` must be `&str`, not `{Self}`", label = "expected `&str`")]
pub trait FromSessionId<'a>: Sized {
    /// Converts.
    fn from_session_id(session_id: &'a str) -> Self;
}

impl<'a> FromSessionId<'a> for &'a str {
    fn from_session_id(session_id: &'a str) -> Self {
        session_id
    }
}

/// Types a `cwd` parameter may have.
#[diagnostic::on_unimplemented(message = "`cwd` must be `&Path` or `&str`, not `{Self}`", label = "expected `&Path`")]
pub trait FromCwd<'a>: Sized {
    /// Converts.
    fn from_cwd(cwd: &'a Path) -> Self;
}

impl<'a> FromCwd<'a> for &'a Path {
    fn from_cwd(cwd: &'a Path) -> Self {
        cwd
    }
}

impl<'a> FromCwd<'a> for &'a str {
    fn from_cwd(cwd: &'a Path) -> Self {
        cwd.to_str().unwrap_or_default()
    }
}

/// Types a `transcript` parameter may have.
#[diagnostic::on_unimplemented(
    message = "`transcript` must be `&Transcript`, not `{Self}`",
    label = "expected `&Transcript`"
)]
pub trait FromTranscript<'a>: Sized {
    /// Converts.
    fn from_transcript(transcript: &'a Transcript) -> Self;
}

impl<'a> FromTranscript<'a> for &'a Transcript {
    fn from_transcript(transcript: &'a Transcript) -> Self {
        transcript
    }
}
