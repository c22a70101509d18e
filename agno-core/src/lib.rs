//! The runtime of agno for Rust: agents whose hooks run before and after every model call.
//!
//! Most users depend on the `agno` facade crate and write `use agno::prelude::*;`.
//!
//! Where a run goes, in order: [`Agent::run`](agent::Agent::run) (or [`Team::run`],
//! [`Workflow::run`]) gives a [`RunBuilder`](run::RunBuilder); awaiting it runs
//! [`run::pipeline`]: session, pre-hooks ([`mod@hooks`]), the model ([`models`]) or the team's
//! members ([`team`]) or the workflow's steps ([`workflow`]), post-hooks, then storage ([`db`]).
//!
//! Differences from agno 3.1.10, on purpose:
//! * hook parameters are checked when the program is compiled (`#[hook]`) and when the agent is
//!   built (a pre-hook asking for `run_output`, a post-hook asking for `run_input`), never
//!   skipped at run time;
//! * background hooks receive copies taken when the run has finished, so a background hook placed
//!   before a masking guardrail sees the masked input, and a background post-hook sees the final
//!   status instead of `RUNNING`;
//! * the "all hooks in background" mode is an option of each run, so it is never lost on a copy
//!   of the agent; guardrails and hooks that modify the run stay inline in that mode and still
//!   emit their events;
//! * guardrails are named after their type in events and logs (`PIIDetectionGuardrail`), not
//!   `check`.

#![warn(missing_docs)]

pub mod agent;
pub mod checks;
pub mod claude_code;
mod clock;
pub mod db;
pub mod error;
pub mod eval;
pub mod future;
pub mod guardrails;
pub mod hooks;
pub mod ids;
pub mod models;
pub mod panic;
pub mod registry;
pub mod run;
pub mod session;
mod sqlite_setup;
pub mod tasks;
pub mod team;
pub mod workflow;

pub use agent::{Agent, AgentBuilder};
pub use checks::{CheckTrigger, InputCheckError, OutputCheckError};
pub use error::{Error, Result};
pub use hooks::{Hook, HookContext, HookError};
pub use run::{RunContext, RunEvent, RunInput, RunOutput, RunStatus, Runner};
pub use session::Session;
pub use team::{Team, TeamMode};
pub use workflow::{Step, Workflow};

/// The names most programs need: `use agno_core::prelude::*;`.
pub mod prelude {
    pub use crate::agent::Agent;
    pub use crate::checks::{CheckTrigger, InputCheckError, OutputCheckError};
    pub use crate::hooks;
    pub use crate::run::{RunContext, RunEvent, RunEventKind, RunInput, RunOutput, RunStatus};
    pub use crate::session::Session;
    pub use crate::tasks::{TaskStatus, Tasks};
    pub use crate::team::{Team, TeamMode};
    pub use crate::workflow::{Step, StepInput, Workflow};
}

/// Items the macros' generated code uses. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::claude_code::HookEvent;
    pub use crate::claude_code::handler::{
        EventType, FromCwd, FromEvent, FromSessionId, FromTranscript, Handler, HandlerCall, HandlerContext,
    };
    pub use crate::hooks::params::{
        FromAgent, FromDebugMode, FromMetadata, FromRunContext, FromRunInput, FromRunOutput, FromSession, FromTasks,
        FromTeam, FromUserId, FromWorkflow,
    };
    pub use crate::hooks::{Hook, HookCall, HookContext, HookError, HookParams, IntoHookResult};
    pub use crate::registry::{Descriptor, Resume};
    pub use crate::tasks::{DEFAULT_TTL, IntoTransformed, Task, TaskError, TaskRun, resume};
    pub use inventory;
}
