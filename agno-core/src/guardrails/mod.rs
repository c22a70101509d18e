//! Guardrails: ready-made pre-hooks that reject (or mask) a run's input before the model sees it.
//!
//! A guardrail is a [`Hook`](crate::hooks::Hook) whose
//! [`is_guardrail`](crate::hooks::Hook::is_guardrail) is `true`. It reads `run_input`, and either
//! lets it through, rejects it with an [`InputCheckError`](crate::checks::InputCheckError) (the
//! run stops with status `ERROR` and the error's message as content), or, for
//! [`PIIDetectionGuardrail`] with `mask_pii(true)`, rewrites the input in place.
//!
//! * Guardrails are **pre-hooks**: add them with `Agent::builder().pre_hook(..)`. They ask for
//!   `run_input`, so `Agent::builder().build()` rejects one given as a post-hook (agno accepts it
//!   and then fails on every run with a `TypeError` that is only logged). To check the output,
//!   write a post-hook that returns an [`OutputCheckError`](crate::checks::OutputCheckError).
//! * Guardrails **always run inline**, never in the background: their
//!   [`run_in_background`](crate::hooks::Hook::run_in_background) is `false`, and AgentOS's
//!   "all hooks in background" mode still runs them before the model, so a rejection or a mask
//!   always takes effect.
//! * In events and logs a guardrail is named after its type (`"PIIDetectionGuardrail"`).
//!
//! ```
//! use agno_core::guardrails::{PIIDetectionGuardrail, PromptInjectionGuardrail};
//! use agno_core::prelude::*;
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let agent = Agent::builder()
//!     .pre_hook(PromptInjectionGuardrail::new())
//!     .pre_hook(PIIDetectionGuardrail::new().mask_pii(true))
//!     .build()
//!     .unwrap();
//! let out = agent.run("my email is a@b.com").await.unwrap();
//! assert_eq!(out.input.unwrap().input_content_string(), "my email is *******");
//! # });
//! ```

mod pii;
mod prompt_injection;

pub use pii::{PIIDetectionGuardrail, PiiPatternError};
pub use prompt_injection::{DEFAULT_INJECTION_PATTERNS, PromptInjectionGuardrail};

#[cfg(test)]
pub(crate) mod test_support {
    //! Calls a guardrail outside a run.

    use crate::agent::Agent;
    use crate::hooks::{Hook, HookCall, HookContext, HookError, HookStage};
    use crate::run::{RunContext, RunInput};
    use crate::session::Session;

    /// Calls `g` as a pre-hook on `input`; a guardrail must finish synchronously.
    pub(crate) fn check(g: &impl Hook, input: &mut RunInput) -> Result<(), HookError> {
        let agent = crate::run::Runner::Agent(Agent::builder().build().unwrap());
        let session = Session::new("s");
        let run_context = RunContext::default();
        let cx = HookContext::new(HookStage::Pre, Some(input), None, &run_context, &agent, &session, false, None);
        match g.call(cx) {
            HookCall::Done(result) => result,
            HookCall::Pending(_) => panic!("a guardrail must finish synchronously"),
        }
    }

    /// Calls `g` with no `run_input`, as a post-hook would.
    pub(crate) fn check_without_input(g: &impl Hook) -> Result<(), HookError> {
        let agent = crate::run::Runner::Agent(Agent::builder().build().unwrap());
        let session = Session::new("s");
        let run_context = RunContext::default();
        let cx = HookContext::new(HookStage::Post, None, None, &run_context, &agent, &session, false, None);
        match g.call(cx) {
            HookCall::Done(result) => result,
            HookCall::Pending(_) => panic!("a guardrail must finish synchronously"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Agent;

    #[test]
    fn guardrails_are_rejected_as_post_hooks() {
        let err = Agent::builder().post_hook(PromptInjectionGuardrail::new()).build().unwrap_err();
        assert!(err.to_string().contains("run_input"), "{err}");
        let err = Agent::builder().post_hook(PIIDetectionGuardrail::new().mask_pii(true)).build().unwrap_err();
        assert!(err.to_string().contains("run_input"), "{err}");
        assert!(
            Agent::builder()
                .pre_hook(PromptInjectionGuardrail::new())
                .pre_hook(PIIDetectionGuardrail::new())
                .build()
                .is_ok()
        );
    }
}
