//! The two errors a hook raises to reject a run: [`InputCheckError`] and [`OutputCheckError`].
//!
//! Any hook, not only a guardrail, may return one of them. The run then stops: its status becomes
//! [`RunStatus::Error`](crate::run::RunStatus::Error), it is stored, and it is returned as `Ok`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a check rejected a run (agno's `CheckTrigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckTrigger {
    /// The input is off topic.
    OffTopic,
    /// The input is not allowed (the default for [`InputCheckError`]).
    InputNotAllowed,
    /// The output is not allowed (the default for [`OutputCheckError`]).
    OutputNotAllowed,
    /// A validation failed.
    ValidationFailed,
    /// A prompt injection was detected.
    PromptInjection,
    /// Personal data was detected.
    PiiDetected,
}

impl CheckTrigger {
    /// The wire value, as used for `error_id` (`"prompt_injection"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OffTopic => "off_topic",
            Self::InputNotAllowed => "input_not_allowed",
            Self::OutputNotAllowed => "output_not_allowed",
            Self::ValidationFailed => "validation_failed",
            Self::PromptInjection => "prompt_injection",
            Self::PiiDetected => "pii_detected",
        }
    }
}

impl std::fmt::Display for CheckTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! check_error {
    ($(#[$doc:meta])* $name:ident, $type_str:literal, $default:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, thiserror::Error)]
        #[error("{message}")]
        pub struct $name {
            /// The message shown to the user (the run's content when it had none).
            pub message: String,
            /// Why the check failed.
            pub check_trigger: CheckTrigger,
            /// Extra data about the failure (e.g. `{"detected_pii": ["Email"]}`).
            pub additional_data: Option<Value>,
        }

        impl $name {
            /// The error kind as agno names it in `RunError.error_type`.
            pub const ERROR_TYPE: &'static str = $type_str;

            /// A check error with the default trigger.
            pub fn new(message: impl Into<String>) -> Self {
                Self { message: message.into(), check_trigger: $default, additional_data: None }
            }

            /// Sets the trigger.
            pub fn with_trigger(mut self, trigger: CheckTrigger) -> Self {
                self.check_trigger = trigger;
                self
            }

            /// Attaches additional data.
            pub fn with_data(mut self, data: Value) -> Self {
                self.additional_data = Some(data);
                self
            }

            /// `error_id` as agno reports it: the trigger's wire value.
            pub fn error_id(&self) -> &'static str {
                self.check_trigger.as_str()
            }
        }
    };
}

check_error!(
    /// A hook rejected the run's input.
    InputCheckError,
    "input_check_error",
    CheckTrigger::InputNotAllowed
);
check_error!(
    /// A hook rejected the run's output.
    OutputCheckError,
    "output_check_error",
    CheckTrigger::OutputNotAllowed
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_ids_match_agno() {
        let e = InputCheckError::new("no");
        assert_eq!(e.check_trigger, CheckTrigger::InputNotAllowed);
        assert_eq!(e.error_id(), "input_not_allowed");
        assert_eq!(InputCheckError::ERROR_TYPE, "input_check_error");
        let o = OutputCheckError::new("bad").with_trigger(CheckTrigger::ValidationFailed);
        assert_eq!(o.error_id(), "validation_failed");
        assert_eq!(OutputCheckError::ERROR_TYPE, "output_check_error");
        assert_eq!(o.to_string(), "bad");
        assert_eq!(serde_json::to_string(&CheckTrigger::PiiDetected).unwrap(), "\"pii_detected\"");
    }
}
