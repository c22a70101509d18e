//! The `#[hook]` attribute macro of agno for Rust.
//!
//! Use it through the `agno` crate (`use agno::prelude::*;`), which re-exports it; see
//! [`macro@hook`] for what it accepts and writes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod args;
mod errors;
mod expand;
mod params;
mod suggest;

use proc_macro::TokenStream;

/// Turns a `fn` or `async fn` into a hook that agents run before (pre-hook) or after
/// (post-hook) the model call, like agno's `@hook` decorator.
///
/// ```
/// use agno::prelude::*;
///
/// /// Logs every request.
/// #[hook]
/// fn log_request(run_input: &RunInput, agent: &Agent) {
///     println!("request for {:?}: {}", agent.name(), run_input.input_content);
/// }
///
/// /// Runs after the response when served by AgentOS.
/// #[hook(run_in_background = true)]
/// async fn send_notification(run_output: &RunOutput, agent: &Agent) {
///     println!("notify: {} answered {:?}", agent.id(), run_output.content);
/// }
///
/// /// Rejects empty answers; the run ends with status `Error`.
/// #[hook]
/// fn validate_output(run_output: &RunOutput) -> Result<(), OutputCheckError> {
///     match run_output.content.as_deref() {
///         Some(content) if !content.trim().is_empty() => Ok(()),
///         _ => Err(OutputCheckError::new("Empty response not allowed")),
///     }
/// }
///
/// let agent = Agent::builder()
///     .pre_hook(log_request)
///     .post_hooks(agno::hooks![validate_output, send_notification])
///     .build()?;
/// # assert_eq!(agent.post_hooks().len(), 2);
/// # Ok::<(), agno::Error>(())
/// ```
///
/// # Arguments
///
/// * `#[hook]` or `#[hook()]`: a hook that runs inline, in list order.
/// * `run_in_background = true` (default `false`): when the agent is served by AgentOS, the hook
///   runs after the response is sent, with its own copies of the run's data. Outside AgentOS it
///   runs inline like any other hook.
/// * `crate = path` (default `::agno`): where the runtime is, for programs that depend on
///   `agno-core` directly (`#[hook(crate = agno_core)]`) or re-export it under another name.
///
/// # Parameters
///
/// A hook receives what it asks for, **by parameter name**, in any order and each at most once.
/// Names and types are checked when the program is compiled:
///
/// | name | type | what it is |
/// |---|---|---|
/// | `run_input` | `&RunInput` or `&mut RunInput` | the input (pre-hooks only); changing it changes what the model sees |
/// | `run_output` | `&RunOutput` or `&mut RunOutput` | the output (post-hooks only); changing it changes the answer |
/// | `run_context` | `&RunContext` | run id, session id, user, metadata, session state |
/// | `agent` | `&Agent` | the agent that runs |
/// | `session` | `&Session` | the session, with its earlier runs |
/// | `user_id` | `Option<&str>` | the user given to the run |
/// | `metadata` | `Option<&serde_json::Value>` or `Option<&serde_json::Map<String, Value>>` | the run's metadata |
/// | `debug_mode` | `bool` | the run's debug flag |
///
/// `Agent::builder().build()` rejects a pre-hook that takes `run_output` and a post-hook that
/// takes `run_input`. `mut name: Type` is fine; patterns, `_` and other names are errors, as are
/// `self`, generics, `const fn`, `unsafe fn`, `extern` functions and variadics.
///
/// # Return type
///
/// `()` or `Result<(), E>` for any error `E` that converts into
/// `Box<dyn Error + Send + Sync>`. An `InputCheckError` or `OutputCheckError` stops the run
/// (`RunStatus::Error`); any other error is logged and the next hook runs. An `async fn` hook's
/// future must be `Send`.
///
/// # Background hooks cannot modify the run
///
/// With `run_in_background = true`, a `&mut` parameter is a compile error: the hook runs on
/// copies after the response, so the change would be lost. Take `&RunInput` / `&RunOutput`.
///
/// # What it writes
///
/// For `#[hook] fn log_request(..)` in module `app` of crate `my_crate`:
///
/// * `struct log_request;`, a unit struct carrying the function's doc comments, so the name is
///   the value you pass: `.pre_hook(log_request)`;
/// * `log_request::func`, the function itself, unchanged (same parameters, body, attributes
///   and visibility), to call directly: `log_request::func(&input, &agent)`. Inside the body,
///   call the function recursively as `log_request::func(..)` too;
/// * `log_request::DESCRIPTOR`, a const `agno::registry::Descriptor` with the name
///   `"log_request"`, the module path `"my_crate::app"` and the background flag;
/// * `impl Hook for log_request` (name, parameters, background flag, and the call);
/// * the descriptor's submission to the registry, so `agno::registry::hooks()` lists every hook
///   of the program.
///
/// Since the name becomes a unit struct, do not name a hook after a parameter (`agent`,
/// `session`, ...): in the same module, parameters of that name would then refer to the struct.
///
/// On any error, the function is left as written and every error is reported at once, each on
/// the token at fault.
///
/// # Registry caveats
///
/// Registration happens before `main` (through `inventory`). It works for hooks defined at
/// module level and inside function bodies, but:
///
/// * a hook in a library crate is only listed if the final binary links that crate's code,
///   i.e. uses something from it (`use my_hooks as _;` is not enough);
/// * on targets without life-before-main (some WebAssembly), nothing is collected: call
///   `agno::registry::register(&log_request::DESCRIPTOR)` yourself.
#[proc_macro_attribute]
pub fn hook(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::hook(args.into(), item.into()).into()
}
