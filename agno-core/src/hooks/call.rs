//! Calling one hook: the result type hooks return, and a call that turns a panic into an error.

use std::error::Error as StdError;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Hook, HookContext};
use crate::checks::{InputCheckError, OutputCheckError};
use crate::future::BoxFuture;
use crate::panic::{CatchPanic, panic_message};

/// Why a hook call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The hook rejected the input; the run stops.
    #[error(transparent)]
    InputCheck(#[from] InputCheckError),
    /// The hook rejected the output; the run stops.
    #[error(transparent)]
    OutputCheck(#[from] OutputCheckError),
    /// The hook failed; this is logged and the next hook runs.
    #[error("{0}")]
    Failed(Box<dyn StdError + Send + Sync>),
    /// The hook panicked; this is logged and the next hook runs.
    #[error("panicked: {0}")]
    Panicked(String),
    /// The hook asked for something this stage does not provide.
    #[error("`{0}` is not available to this hook")]
    Missing(&'static str),
}

impl HookError {
    /// Wraps any error, keeping check errors recognisable.
    pub fn from_boxed(err: Box<dyn StdError + Send + Sync>) -> Self {
        let err = match err.downcast::<InputCheckError>() {
            Ok(e) => return Self::InputCheck(*e),
            Err(other) => other,
        };
        let err = match err.downcast::<OutputCheckError>() {
            Ok(e) => return Self::OutputCheck(*e),
            Err(other) => other,
        };
        match err.downcast::<HookError>() {
            Ok(e) => *e,
            Err(other) => Self::Failed(other),
        }
    }

    /// Whether this error stops the run.
    pub fn is_check(&self) -> bool {
        matches!(self, Self::InputCheck(_) | Self::OutputCheck(_))
    }
}

/// What a hook function may return: `()` or `Result<(), E>` for any error `E`.
#[diagnostic::on_unimplemented(
    message = "a hook must return `()` or `Result<(), E>`, not `{Self}`",
    label = "unsupported return type",
    note = "return `Err(InputCheckError::new(..).into())` to reject the input, `OutputCheckError` for the output; any other error is logged"
)]
pub trait IntoHookResult {
    /// Converts into the hook's result.
    fn into_hook_result(self) -> Result<(), HookError>;
}

impl IntoHookResult for () {
    fn into_hook_result(self) -> Result<(), HookError> {
        Ok(())
    }
}

impl<E: Into<Box<dyn StdError + Send + Sync>>> IntoHookResult for Result<(), E> {
    fn into_hook_result(self) -> Result<(), HookError> {
        self.map_err(|e| HookError::from_boxed(e.into()))
    }
}

/// The result of [`Hook::call`]: finished already (sync hooks, no allocation) or a future.
pub enum HookCall<'a> {
    /// The hook ran synchronously.
    Done(Result<(), HookError>),
    /// The hook is async; await this.
    Pending(BoxFuture<'a, Result<(), HookError>>),
}

impl<'a> HookCall<'a> {
    /// A finished call from whatever the hook function returned.
    pub fn done<R: IntoHookResult>(result: R) -> Self {
        Self::Done(result.into_hook_result())
    }

    /// A pending call from the hook function's future.
    pub fn pending<F>(future: F) -> Self
    where
        F: Future + Send + 'a,
        F::Output: IntoHookResult,
    {
        Self::Pending(Box::pin(async move { future.await.into_hook_result() }))
    }
}

/// Calls a hook; a panic, sync or async, becomes [`HookError::Panicked`].
pub(crate) async fn call_hook(hook: &dyn Hook, cx: HookContext<'_>) -> Result<(), HookError> {
    match catch_unwind(AssertUnwindSafe(|| hook.call(cx))) {
        Err(panic) => Err(HookError::Panicked(panic_message(panic))),
        Ok(HookCall::Done(result)) => result,
        Ok(HookCall::Pending(future)) => CatchPanic(future).await.unwrap_or_else(|m| Err(HookError::Panicked(m))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_errors_survive_boxing() {
        let r: Result<(), InputCheckError> = Err(InputCheckError::new("no"));
        assert!(matches!(r.into_hook_result(), Err(HookError::InputCheck(e)) if e.message == "no"));
        let r: Result<(), Box<dyn StdError + Send + Sync>> = Err(Box::new(OutputCheckError::new("bad")));
        assert!(matches!(r.into_hook_result(), Err(HookError::OutputCheck(_))));
        let r: Result<(), HookError> = Err(HookError::InputCheck(InputCheckError::new("x")));
        assert!(r.into_hook_result().unwrap_err().is_check());
        let r: Result<(), &str> = Err("plain");
        assert!(matches!(r.into_hook_result(), Err(HookError::Failed(e)) if e.to_string() == "plain"));
        assert!(().into_hook_result().is_ok());
    }
}
