//! Turning panics in user code (hooks, models, tasks, handlers) into errors: a panic while a
//! future is polled ends it with the panic's message.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::future::BoxFuture;

/// The text of a panic payload.
pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => (*s).to_owned(),
            Err(_) => "non-string panic payload".to_owned(),
        },
    }
}

/// Runs one poll (of a future or a stream); a panic inside it is `Err(message)`. What panicked
/// must not be polled again.
pub(crate) fn catch_poll<T>(poll: impl FnOnce() -> Poll<T>) -> Result<Poll<T>, String> {
    catch_unwind(AssertUnwindSafe(poll)).map_err(panic_message)
}

/// Polls a boxed future; a panic while polling ends it with `Err(message)`.
pub struct CatchPanic<'a, T>(pub(crate) BoxFuture<'a, T>);

impl<'a, T> CatchPanic<'a, T> {
    /// Guards `future`.
    pub fn new(future: BoxFuture<'a, T>) -> Self {
        Self(future)
    }
}

impl<T> Future for CatchPanic<'_, T> {
    type Output = Result<T, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match catch_poll(|| self.0.as_mut().poll(cx)) {
            Ok(poll) => poll.map(Ok),
            Err(message) => Poll::Ready(Err(message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_kept() {
        assert_eq!(panic_message(Box::new("static")), "static");
        assert_eq!(panic_message(Box::new(String::from("owned"))), "owned");
        assert_eq!(panic_message(Box::new(3_u8)), "non-string panic payload");
    }
}
