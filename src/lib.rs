//! agno for Rust: agents with hooks that run before and after every model call, where any hook
//! can be moved off the response path.
//!
//! ```
//! use agno::prelude::*;
//!
//! #[hook]
//! fn log_request(run_input: &RunInput, agent: &Agent) {
//!     tracing::info!("request for {:?}: {}", agent.name(), run_input.input_content);
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), agno::Error> {
//! let agent = Agent::builder()
//!     .name("Hook Agent")
//!     .instructions("You are a helpful assistant")
//!     .pre_hook(log_request)
//!     .build()?;
//! let output = agent.run("Hello").await?;
//! assert_eq!(output.status, RunStatus::Completed);
//! # Ok(())
//! # }
//! ```
//!
//! Everything lives in the member crates and is re-exported here, so a program depends on `agno`
//! alone: [`agno_core`] (agents, runs, hooks, tasks, models, storage) and [`agno_macros`]
//! (`#[hook]`, `#[task]`, `#[agent_task]`).

#![warn(missing_docs)]

pub use agno_core::*;
pub use agno_macros::{agent_task, hook, task};
/// AgentOS: the HTTP server (`agno::os::AgentOS`).
pub use agno_os as os;

/// The names most programs need: `use agno::prelude::*;`.
pub mod prelude {
    pub use agno_core::prelude::*;
    pub use agno_macros::{agent_task, hook, task};
}

/// The README's examples, compiled as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
