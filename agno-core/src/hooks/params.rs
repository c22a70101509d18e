//! Injection of hook parameters by name: one trait per name, implemented for the types that name
//! accepts.
//!
//! `#[hook]` maps each parameter name to its trait and converts the matching part of the
//! [`HookContext`](super::HookContext) through it, so a wrong type is a compile error on that
//! parameter, with the message below.
//!
//! | name | accepted types |
//! |---|---|
//! | `run_input` | `&RunInput`, `&mut RunInput` (pre-hooks) |
//! | `run_output` | `&RunOutput`, `&mut RunOutput` (post-hooks) |
//! | `run_context` | `&RunContext` |
//! | `agent` | `&Agent` (agent runs) |
//! | `team` | `&Team` (team runs) |
//! | `workflow` | `&Workflow` (workflow runs) |
//! | `session` | `&Session` |
//! | `user_id` | `Option<&str>` |
//! | `metadata` | `Option<&serde_json::Value>` (always an object) or `Option<&serde_json::Map<String, Value>>` |
//! | `debug_mode` | `bool` |
//! | `tasks` | `&Tasks` |

use serde_json::{Map, Value};

use super::HookParams;
use crate::agent::Agent;
use crate::run::{RunContext, RunInput, RunOutput};
use crate::session::Session;
use crate::tasks::Tasks;
use crate::team::Team;
use crate::workflow::Workflow;

/// Types a `run_input` parameter may have.
#[diagnostic::on_unimplemented(
    message = "`run_input` must be `&RunInput` or `&mut RunInput`, not `{Self}`",
    label = "expected `&RunInput` or `&mut RunInput`"
)]
pub trait FromRunInput<'a>: Sized {
    /// What the hook receives.
    const PARAM: HookParams;
    /// Converts.
    fn from_run_input(input: &'a mut RunInput) -> Self;
}

impl<'a> FromRunInput<'a> for &'a RunInput {
    const PARAM: HookParams = HookParams::RUN_INPUT;
    fn from_run_input(input: &'a mut RunInput) -> Self {
        input
    }
}

impl<'a> FromRunInput<'a> for &'a mut RunInput {
    const PARAM: HookParams = HookParams::RUN_INPUT_MUT;
    fn from_run_input(input: &'a mut RunInput) -> Self {
        input
    }
}

/// Types a `run_output` parameter may have.
#[diagnostic::on_unimplemented(
    message = "`run_output` must be `&RunOutput` or `&mut RunOutput`, not `{Self}`",
    label = "expected `&RunOutput` or `&mut RunOutput`"
)]
pub trait FromRunOutput<'a>: Sized {
    /// What the hook receives.
    const PARAM: HookParams;
    /// Converts.
    fn from_run_output(output: &'a mut RunOutput) -> Self;
}

impl<'a> FromRunOutput<'a> for &'a RunOutput {
    const PARAM: HookParams = HookParams::RUN_OUTPUT;
    fn from_run_output(output: &'a mut RunOutput) -> Self {
        output
    }
}

impl<'a> FromRunOutput<'a> for &'a mut RunOutput {
    const PARAM: HookParams = HookParams::RUN_OUTPUT_MUT;
    fn from_run_output(output: &'a mut RunOutput) -> Self {
        output
    }
}

/// Types a `run_context` parameter may have.
#[diagnostic::on_unimplemented(
    message = "`run_context` must be `&RunContext`, not `{Self}`",
    label = "expected `&RunContext`"
)]
pub trait FromRunContext<'a>: Sized {
    /// What the hook receives.
    const PARAM: HookParams;
    /// Converts.
    fn from_run_context(cx: &'a RunContext) -> Self;
}

impl<'a> FromRunContext<'a> for &'a RunContext {
    const PARAM: HookParams = HookParams::RUN_CONTEXT;
    fn from_run_context(cx: &'a RunContext) -> Self {
        cx
    }
}

/// Types an `agent` parameter may have.
#[diagnostic::on_unimplemented(message = "`agent` must be `&Agent`, not `{Self}`", label = "expected `&Agent`")]
pub trait FromAgent<'a>: Sized {
    /// What the hook receives.
    const PARAM: HookParams;
    /// Converts.
    fn from_agent(agent: &'a Agent) -> Self;
}

impl<'a> FromAgent<'a> for &'a Agent {
    const PARAM: HookParams = HookParams::AGENT;
    fn from_agent(agent: &'a Agent) -> Self {
        agent
    }
}

/// Types a `team` parameter may have.
#[diagnostic::on_unimplemented(message = "`team` must be `&Team`, not `{Self}`", label = "expected `&Team`")]
pub trait FromTeam<'a>: Sized {
    /// What the hook receives.
    const PARAM: HookParams;
    /// Converts.
    fn from_team(team: &'a Team) -> Self;
}

impl<'a> FromTeam<'a> for &'a Team {
    const PARAM: HookParams = HookParams::TEAM;
    fn from_team(team: &'a Team) -> Self {
        team
    }
}

/// Types a `workflow` parameter may have.
#[diagnostic::on_unimplemented(
    message = "`workflow` must be `&Workflow`, not `{Self}`",
    label = "expected `&Workflow`"
)]
pub trait FromWorkflow<'a>: Sized {
    /// What the hook receives.
    const PARAM: HookParams;
    /// Converts.
    fn from_workflow(workflow: &'a Workflow) -> Self;
}

impl<'a> FromWorkflow<'a> for &'a Workflow {
    const PARAM: HookParams = HookParams::WORKFLOW;
    fn from_workflow(workflow: &'a Workflow) -> Self {
        workflow
    }
}

/// Types a `session` parameter may have.
#[diagnostic::on_unimplemented(message = "`session` must be `&Session`, not `{Self}`", label = "expected `&Session`")]
pub trait FromSession<'a>: Sized {
    /// What the hook receives.
    const PARAM: HookParams;
    /// Converts.
    fn from_session(session: &'a Session) -> Self;
}

impl<'a> FromSession<'a> for &'a Session {
    const PARAM: HookParams = HookParams::SESSION;
    fn from_session(session: &'a Session) -> Self {
        session
    }
}

/// Types a `user_id` parameter may have.
#[diagnostic::on_unimplemented(
    message = "`user_id` must be `Option<&str>`, not `{Self}`",
    label = "expected `Option<&str>`"
)]
pub trait FromUserId<'a>: Sized {
    /// What the hook receives.
    const PARAM: HookParams;
    /// Converts.
    fn from_user_id(cx: &'a RunContext) -> Self;
}

impl<'a> FromUserId<'a> for Option<&'a str> {
    const PARAM: HookParams = HookParams::USER_ID;
    fn from_user_id(cx: &'a RunContext) -> Self {
        cx.user_id.as_deref()
    }
}

/// Types a `metadata` parameter may have.
#[diagnostic::on_unimplemented(
    message = "`metadata` must be `Option<&serde_json::Value>` or `Option<&serde_json::Map<String, Value>>`, not `{Self}`",
    label = "expected `Option<&Value>`"
)]
pub trait FromMetadata<'a>: Sized {
    /// What the hook receives.
    const PARAM: HookParams;
    /// Converts.
    fn from_metadata(cx: &'a RunContext) -> Self;
}

impl<'a> FromMetadata<'a> for Option<&'a Value> {
    const PARAM: HookParams = HookParams::METADATA;
    fn from_metadata(cx: &'a RunContext) -> Self {
        cx.metadata.as_ref()
    }
}

impl<'a> FromMetadata<'a> for Option<&'a Map<String, Value>> {
    const PARAM: HookParams = HookParams::METADATA;
    fn from_metadata(cx: &'a RunContext) -> Self {
        cx.metadata.as_ref().and_then(Value::as_object)
    }
}

/// Types a `debug_mode` parameter may have.
#[diagnostic::on_unimplemented(message = "`debug_mode` must be `bool`, not `{Self}`", label = "expected `bool`")]
pub trait FromDebugMode: Sized {
    /// What the hook receives.
    const PARAM: HookParams;
    /// Converts.
    fn from_debug_mode(debug_mode: bool) -> Self;
}

impl FromDebugMode for bool {
    const PARAM: HookParams = HookParams::DEBUG_MODE;
    fn from_debug_mode(debug_mode: bool) -> Self {
        debug_mode
    }
}

/// Types a `tasks` parameter may have.
#[diagnostic::on_unimplemented(message = "`tasks` must be `&Tasks`, not `{Self}`", label = "expected `&Tasks`")]
pub trait FromTasks<'a>: Sized {
    /// What the hook receives.
    const PARAM: HookParams;
    /// Converts.
    fn from_tasks(tasks: &'a Tasks) -> Self;
}

impl<'a> FromTasks<'a> for &'a Tasks {
    const PARAM: HookParams = HookParams::TASKS;
    fn from_tasks(tasks: &'a Tasks) -> Self {
        tasks
    }
}
