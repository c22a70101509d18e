//! The attribute macros of agno for Rust: [`macro@hook`] (pre- and post-hooks),
//! [`macro@task`] (background tasks) and [`macro@agent_task`] (background tasks that run an
//! agent).
//!
//! Use them through the `agno` crate (`use agno::prelude::*;`), which re-exports them; each
//! macro's page says what it accepts and writes. All three report every mistake at once, each on
//! the token at fault, and leave the function as written when there is one.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod args;
mod errors;
mod hook;
mod item;
mod params;
mod suggest;
mod task;

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
/// | `tasks` | `&Tasks` | the background tasks of the run's session: add [`macro@task`]s, pop their results in a later run |
///
/// `tasks` is bound to the run's session and uses the agent's task backend
/// (`Agent::builder().tasks_backend(..)`, default: one in-process backend for the program); see
/// [`macro@task`] for an example.
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
/// # Claude Code handlers
///
/// The same attribute turns a function into a handler of `agno::claude_code::HookApp` when it
/// takes Claude Code parameters or returns a `Response`:
///
/// | name | type | what it is |
/// |---|---|---|
/// | `event` | `&PreToolUse`, `&PostToolUse`, `&PermissionRequest`, `&UserPromptSubmit`, `&Stop`, `&SubagentStop`, `&SessionStart`, `&SessionEnd`, `&PreCompact`, `&Notification`, or `&HookEvent` | the event; its type decides which registrations (`pre_tool`, `on_prompt`, ...) accept the handler |
/// | `tasks` | `&Tasks` | tasks keyed by Claude's `session_id` |
/// | `session_id` | `&str` | Claude's session id |
/// | `cwd` | `&Path` or `&str` | the session's working directory |
/// | `transcript` | `&Transcript` | the transcript, read on first use |
///
/// A handler returns `()`, `Response`, `Option<Response>` or a `Result` of those. Agent-hook
/// and Claude Code parameters cannot be mixed, and `run_in_background` is an error on a handler.
/// A function taking neither kind's parameters and returning `()` (`fn f(tasks: &Tasks)`) is both
/// an agent hook and a handler.
///
/// ```
/// use agno::claude_code::{HookApp, PreToolUse, Response, allow, deny};
/// use agno::prelude::*;
///
/// #[hook]
/// fn no_secrets(event: &PreToolUse) -> Response {
///     if event.file_path().is_some_and(|p| p.ends_with("/.env")) { deny("no secrets") } else { allow() }
/// }
///
/// let app = HookApp::new().pre_tool("Write", no_secrets);
/// # assert!(app.check().is_ok());
/// ```
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
/// * `impl Hook for log_request` (name, parameters, background flag, and the call), or for a
///   Claude Code handler `impl claude_code::Handler` (its event type, name, and the call);
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
    hook::hook(args.into(), item.into()).into()
}

/// Turns a `fn` or `async fn` into a background task that hooks add and a later call of the same
/// session picks up, like fasthooks' `@task` decorator.
///
/// ```
/// use std::sync::Arc;
/// use agno::prelude::*;
/// use agno::tasks::ImmediateBackend;
///
/// /// Runs on a worker thread; the hook that adds it returns at once.
/// #[task]
/// fn analyze_code(code: String) -> String {
///     format!("Analysis complete: {} chars", code.len())
/// }
///
/// /// Kept 10 minutes, scheduled before priority-0 tasks when workers are busy.
/// #[task(ttl = 600, priority = 5)]
/// async fn search_docs(query: String, limit: usize) -> Vec<String> {
///     (0..limit).map(|i| format!("{query} #{i}")).collect()
/// }
///
/// fn first_500(text: String) -> String {
///     text.chars().take(500).collect()
/// }
///
/// /// The transform runs inside the task, before it counts as completed.
/// #[task(transform = first_500)]
/// fn long_output_task() -> String {
///     "x".repeat(2000)
/// }
///
/// /// `Err` fails the task: `pop_errors` returns the message.
/// #[task]
/// fn risky_task() -> Result<String, std::io::Error> {
///     Err(std::io::Error::other("Something went wrong"))
/// }
///
/// // In a hook: `fn on_write(run_input: &RunInput, tasks: &Tasks) { tasks.add(..); }`.
/// let tasks = Tasks::new(Arc::new(ImmediateBackend::new()), "session-1");
/// tasks.add(analyze_code, "fn main() {}".to_owned());
/// tasks.add(search_docs, ("hooks".to_owned(), 2));
/// tasks.add(long_output_task, ());
/// tasks.add(risky_task, ());
///
/// // In a later call of the same session:
/// assert_eq!(tasks.pop(analyze_code).as_deref(), Some("Analysis complete: 12 chars"));
/// assert_eq!(tasks.pop(search_docs), Some(vec!["hooks #0".to_owned(), "hooks #1".to_owned()]));
/// assert_eq!(tasks.pop(long_output_task).map(|s| s.len()), Some(500));
/// assert_eq!(tasks.pop_errors()[0].1.message, "Something went wrong");
/// ```
///
/// # Arguments
///
/// * `#[task]` or `#[task()]`: result kept 300 s after the task finishes, priority 0.
/// * `ttl = 600`: how many seconds the result is kept after the task finishes; an integer literal
///   greater than 0.
/// * `priority = 5`: when all workers are busy, higher priorities start first (ties: first
///   added first); an integer literal, negative allowed (`priority = -1`).
/// * `transform = path::to_fn`: applied to what the function returns, inside the task, before it
///   counts as completed. A path to a function (not a closure: write a `fn` and name it) of type
///   `fn(Raw) -> Output` or `fn(Raw) -> Result<Output, E>` (`E: Display`), where `Raw` is the
///   function's output (see below). An `Err` fails the task with kind `Transform`; so does a panic
///   (kind `Panicked`).
/// * `output = Type` (only with `transform`): the type the transform returns, when it is not the
///   function's (`#[task(transform = count_words, output = usize)]`).
/// * `crate = path` (default `::agno`): where the runtime is, for programs that depend on
///   `agno-core` directly (`#[task(crate = agno_core)]`).
///
/// `ttl` and `priority` are defaults: `tasks.add_with(task, args, AddOptions::new().ttl(..))`
/// overrides them for one call.
///
/// # Parameters: the task's `Args`
///
/// Arguments cross threads, and with a persistent backend processes, so each parameter is an
/// owned value that implements `serde::Serialize`, `serde::Deserialize` and `Send` (`String`,
/// not `&str`; `Vec<u8>`, not `&[u8]`). Parameters are plain names (`code`, `mut code`;
/// `_code` if unused), not patterns. `tasks.add(task, args)` takes them as the task's
/// `Task::Args`:
///
/// | parameters | `Args` | `add` |
/// |---|---|---|
/// | none | `()` | `tasks.add(heartbeat, ())` |
/// | `code: String` | `String` | `tasks.add(analyze_code, code)` |
/// | `query: String, limit: usize` | `(String, usize)` | `tasks.add(search_docs, (query, 10))` |
///
/// # Return type: the task's `Output`
///
/// What `tasks.pop(task)` gives back (it must be serialisable too):
///
/// * no return type: `()`;
/// * `T`: `T`;
/// * `Result<T, E>`, written with any path whose last segment is `Result` and whose first
///   generic argument is `T` (`std::io::Result<T>`, `anyhow::Result<T>`, an alias of yours):
///   `T`. `Err(e)` makes the task `FAILED` with `e.to_string()` as its message (kind
///   `TaskErrorKind::Failed`), so `E` must implement `Display`. A task therefore cannot store a
///   `Result` itself: wrap it in a type of your own;
/// * with `transform`: the `output = Type` given, or else the same `T`.
///
/// A panic in the task makes it `FAILED` with the panic message (kind `Panicked`).
///
/// # Sync and async
///
/// A `fn` runs on the backend's worker threads (it may block); an `async fn` runs on the tokio
/// runtime and its future must be `Send`.
///
/// # What it writes
///
/// For `#[task] fn analyze_code(code: String) -> String` in module `app` of crate `my_crate`:
///
/// * `#[derive(Debug, Clone, Copy, Default)] struct analyze_code;`, a unit struct with the
///   function's doc comments and visibility: the value you pass to `tasks.add`, `tasks.pop`,
///   `tasks.get`, `tasks.cancel` and `analyze_code.keyed("key")` (to add it several times at once
///   under different keys);
/// * `analyze_code::func`, the function itself, unchanged, to call directly (and recursively);
/// * `analyze_code::DESCRIPTOR`, a const `agno::registry::Descriptor` of kind `Task`, with the
///   name `"analyze_code"`, the module path `"my_crate::app"`, the ttl in seconds, the priority
///   and the function that runs the task from JSON arguments;
/// * `impl agno::tasks::Task for analyze_code` (`Args`, `Output`, `name`, `ttl`, `priority`,
///   `run`);
/// * the descriptor's submission to the registry, so `agno::registry::tasks()` lists every task
///   and `agno::registry::resumable("analyze_code")` can run one from stored arguments.
///
/// Since the name becomes a unit struct, a parameter or `let` of the same name in its module no
/// longer binds a new variable: name tasks after what they do (`analyze_code`), not after a value.
///
/// On any error, the function is left as written and every error is reported at once, each on
/// the token at fault. The registry caveats of [`macro@hook`] apply.
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    task::task(args.into(), item.into(), item::Macro::Task).into()
}

/// Turns an `async fn` into a background task that runs with an agent of its own, like
/// fasthooks' `@agent_task` decorator (with an agno agent instead of a Claude one).
///
/// ```
/// use std::sync::Arc;
/// use agno::prelude::*;
/// use agno::models::OfflineModel;
/// use agno::tasks::ImmediateBackend;
///
/// #[agent_task(instructions = "You review code for security issues.")]
/// async fn review_code(agent: Agent, code: String, file_path: String) -> Result<String, agno::Error> {
///     let review = agent.run(format!("Review {file_path}:\n{code}")).await?;
///     Ok(review.content.unwrap_or_default())
/// }
///
/// fn reviewer_model() -> OfflineModel {
///     OfflineModel::new()
/// }
///
/// #[agent_task(model = reviewer_model, ttl = 600, priority = 5)]
/// async fn summarize(agent: Agent, text: String) -> String {
///     match agent.run(text).await {
///         Ok(output) => output.content.unwrap_or_default(),
///         Err(error) => format!("no summary: {error}"),
///     }
/// }
///
/// let tasks = Tasks::new(Arc::new(ImmediateBackend::new()), "session-1");
/// tasks.add(review_code, ("eval(input())".to_owned(), "app.py".to_owned()));
/// tasks.add(summarize, "A long text".to_owned());
/// // The offline model answers `You said: "<input>"`.
/// assert_eq!(tasks.pop(review_code).as_deref(), Some("You said: \"Review app.py:\neval(input())\""));
/// assert_eq!(tasks.pop(summarize).as_deref(), Some("You said: \"A long text\""));
/// ```
///
/// # Arguments
///
/// * `instructions = "..."` or fasthooks' `system_prompt = "..."` (optional, one of the two): a
///   string literal, the agent's instructions (its system prompt).
/// * `model = "haiku"` (optional): a short name (`haiku`, `sonnet`, `opus`) or a Claude model
///   id, for `agno::models::claude_or_offline`: Claude when `ANTHROPIC_API_KEY` is set, the
///   offline model otherwise.
/// * `model = path::to_fn` (optional, instead): a path to a `fn() -> M` where `M` implements
///   `agno::models::Model`, called for each run of the task. Default: the offline model
///   (`OfflineModel::new()`), which answers `You said: "<input>"`.
/// * `ttl = 600`, `priority = 5`, `crate = path`: as for [`macro@task`].
///
/// # The function
///
/// It must be an `async fn` whose first parameter is `agent: Agent` (any plain name, of type
/// `Agent`, by value). The agent is not part of the task's arguments: each run builds one with
/// `Agent::builder().name("review_code").instructions(..).model(model()).build()` and passes it
/// first; if building it fails, the task is `FAILED` with the error's message (it never
/// panics). The other parameters are the task's `Args`, and the return type its `Output`,
/// exactly as for [`macro@task`] (including `Result<T, E>`); there is no `transform`.
///
/// It writes the same items as [`macro@task`]: the unit struct, `review_code::func` (which takes
/// the agent first), `DESCRIPTOR`, the `Task` impl and the registry entry.
#[proc_macro_attribute]
pub fn agent_task(args: TokenStream, item: TokenStream) -> TokenStream {
    task::task(args.into(), item.into(), item::Macro::AgentTask).into()
}
