//! [`HookApp`]: the handlers of one Claude Code hook command, and one event through them.

use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use super::event::{
    EventName, HookEvent, Notification, PermissionRequest, PostToolUse, PreCompact, PreToolUse, SessionEnd,
    SessionStart, Stop, SubagentStop, UserPromptSubmit,
};
use super::handler::{Fits, Handler, HandlerCall, HandlerContext, HandlerError};
use super::matcher::{MatcherError, ToolMatcher};
use super::response::{Outcome, Verdict};
use super::transcript::Transcript;
use super::worker::{self, Starter};
use crate::panic::{CatchPanic, panic_message};
use crate::tasks::{DEFAULT_MAX_WORKERS, SqliteTaskBackend, TaskBackend, Tasks};

/// The task store's file name under the project's `.claude/` folder.
pub const DEFAULT_TASK_DB: &str = "agno-tasks.db";

/// Overrides where the task store is (a file path).
pub const TASK_DB_ENV: &str = "AGNO_TASKS_DB";

/// A mistake in how the app was put together, found when a handler was registered.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A tool matcher is not a valid regular expression.
    #[error("handler `{handler}`: {source}")]
    Matcher {
        /// The handler it was given for.
        handler: String,
        /// Why.
        #[source]
        source: MatcherError,
    },
}

/// What happens when a handler fails (returns an error or panics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorPolicy {
    /// The default: the failure is reported on stderr and to the user (`systemMessage`), the
    /// process exits 1 (a non-blocking error for Claude Code, which still reads the other
    /// handlers' answer from stdout), and Claude Code goes on.
    #[default]
    NonBlocking,
    /// The failure blocks the event (exit code 2, the reason on stderr, which Claude Code gives
    /// the model): a tool is not run, a prompt is dropped. For guards that must fail closed.
    Blocking,
}

/// Where handlers' tasks are kept and run.
#[derive(Clone)]
enum TaskStore {
    /// A SQLite file (default: under the project's `.claude/`), run by a detached worker.
    File(Option<PathBuf>),
    /// A backend of the program's choice (tests: `ImmediateBackend`, `InProcessBackend`).
    Backend(Arc<dyn TaskBackend>),
}

/// A task file's queue and the starter of its worker.
type FileQueue = (Arc<SqliteTaskBackend>, Arc<Starter>);

/// A handler with its event type erased.
trait ErasedHandler: Send + Sync {
    fn name(&self) -> &str;
    fn needs_tasks(&self) -> bool;
    fn call<'a>(&'a self, cx: HandlerContext<'a>) -> HandlerCall<'a>;
}

impl<H: Handler> ErasedHandler for H {
    fn name(&self) -> &str {
        Handler::name(self)
    }
    fn needs_tasks(&self) -> bool {
        Handler::needs_tasks(self)
    }
    fn call<'a>(&'a self, cx: HandlerContext<'a>) -> HandlerCall<'a> {
        Handler::call(self, cx)
    }
}

struct Registration {
    event: EventName,
    tools: Option<ToolMatcher>,
    handler: Box<dyn ErasedHandler>,
}

/// The hooks of one Claude Code hook command: handlers registered per event, run in
/// registration order on each event Claude Code sends.
///
/// ```
/// use agno_core::claude_code::{HookApp, PreToolUse, Response, allow, deny};
/// use agno_macros::hook;
///
/// #[hook(crate = agno_core)]
/// fn no_env_files(event: &PreToolUse) -> Response {
///     match event.file_path() {
///         Some(path) if path.ends_with(".env") => deny("writing .env files is not allowed: they hold secrets"),
///         _ => allow(),
///     }
/// }
///
/// let app = HookApp::new().pre_tool("Write|Edit", no_env_files);
/// let out = app.handle(r#"{"hook_event_name": "PreToolUse", "session_id": "s", "cwd": "/p",
///     "tool_name": "Write", "tool_input": {"file_path": "/p/.env", "content": "KEY=1"}}"#);
/// assert_eq!(out.exit_code, 0);
/// assert!(out.stdout.contains(r#""permissionDecision":"deny""#));
/// // In `main`: `fn main() -> std::process::ExitCode { app.run() }`
/// ```
pub struct HookApp {
    registrations: Vec<Registration>,
    errors: Vec<ConfigError>,
    policy: ErrorPolicy,
    tasks: TaskStore,
    task_threads: usize,
}

impl Default for HookApp {
    fn default() -> Self {
        Self::new()
    }
}

impl HookApp {
    /// An app with no handlers, the non-blocking error policy and the default task store.
    pub fn new() -> Self {
        Self {
            registrations: Vec::new(),
            errors: Vec::new(),
            policy: ErrorPolicy::default(),
            tasks: TaskStore::File(None),
            task_threads: DEFAULT_MAX_WORKERS,
        }
    }

    fn register<H: Handler>(mut self, event: EventName, tools: Option<&str>, handler: H) -> Self {
        let tools = match tools.map(ToolMatcher::parse).transpose() {
            Ok(tools) => tools,
            Err(source) => {
                self.errors.push(ConfigError::Matcher { handler: handler.name().to_owned(), source });
                return self;
            }
        };
        self.registrations.push(Registration { event, tools, handler: Box::new(handler) });
        self
    }

    /// Runs `handler` before a tool matching `tools` runs (`"Write"`, `"Write|Edit"`, a regular
    /// expression, or `""`/`"*"` for every tool). It may deny, ask, approve or rewrite the call.
    pub fn pre_tool<H: Handler>(self, tools: &str, handler: H) -> Self
    where
        H::Event: Fits<PreToolUse>,
    {
        self.register(EventName::PreToolUse, Some(tools), handler)
    }

    /// Runs `handler` after a tool matching `tools` ran.
    pub fn post_tool<H: Handler>(self, tools: &str, handler: H) -> Self
    where
        H::Event: Fits<PostToolUse>,
    {
        self.register(EventName::PostToolUse, Some(tools), handler)
    }

    /// Runs `handler` when Claude Code would ask the user to allow a tool matching `tools`.
    pub fn on_permission<H: Handler>(self, tools: &str, handler: H) -> Self
    where
        H::Event: Fits<PermissionRequest>,
    {
        self.register(EventName::PermissionRequest, Some(tools), handler)
    }

    /// Runs `handler` when the user sends a prompt, before the model sees it.
    pub fn on_prompt<H: Handler>(self, handler: H) -> Self
    where
        H::Event: Fits<UserPromptSubmit>,
    {
        self.register(EventName::UserPromptSubmit, None, handler)
    }

    /// Runs `handler` when the model ends its turn; `block(reason)` makes it take one more.
    pub fn on_stop<H: Handler>(self, handler: H) -> Self
    where
        H::Event: Fits<Stop>,
    {
        self.register(EventName::Stop, None, handler)
    }

    /// Runs `handler` when a subagent ends.
    pub fn on_subagent_stop<H: Handler>(self, handler: H) -> Self
    where
        H::Event: Fits<SubagentStop>,
    {
        self.register(EventName::SubagentStop, None, handler)
    }

    /// Runs `handler` when a session starts or resumes.
    pub fn on_session_start<H: Handler>(self, handler: H) -> Self
    where
        H::Event: Fits<SessionStart>,
    {
        self.register(EventName::SessionStart, None, handler)
    }

    /// Runs `handler` when a session ends.
    pub fn on_session_end<H: Handler>(self, handler: H) -> Self
    where
        H::Event: Fits<SessionEnd>,
    {
        self.register(EventName::SessionEnd, None, handler)
    }

    /// Runs `handler` before the conversation is compacted.
    pub fn on_pre_compact<H: Handler>(self, handler: H) -> Self
    where
        H::Event: Fits<PreCompact>,
    {
        self.register(EventName::PreCompact, None, handler)
    }

    /// Runs `handler` when Claude Code shows a notification.
    pub fn on_notification<H: Handler>(self, handler: H) -> Self
    where
        H::Event: Fits<Notification>,
    {
        self.register(EventName::Notification, None, handler)
    }

    /// What a failing handler does (default [`ErrorPolicy::NonBlocking`]).
    pub fn error_policy(mut self, policy: ErrorPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Keeps tasks in this SQLite file instead of `<project>/.claude/agno-tasks.db`.
    pub fn task_db(mut self, path: impl Into<PathBuf>) -> Self {
        self.tasks = TaskStore::File(Some(path.into()));
        self
    }

    /// How many tasks the detached worker runs at once (default 4); the others wait, highest
    /// priority first.
    pub fn task_threads(mut self, threads: usize) -> Self {
        self.task_threads = threads.max(1);
        self
    }

    /// Runs tasks on this backend instead of a SQLite file and a detached worker (tests use
    /// `ImmediateBackend` or `InProcessBackend`; their results do not outlive the process).
    pub fn task_backend(mut self, backend: Arc<dyn TaskBackend>) -> Self {
        self.tasks = TaskStore::Backend(backend);
        self
    }

    /// The configuration errors found while registering (an invalid tool matcher); `run` and
    /// `handle` report them on every event.
    pub fn check(&self) -> Result<(), &[ConfigError]> {
        if self.errors.is_empty() { Ok(()) } else { Err(&self.errors) }
    }

    /// The hook command's `main`: reads one event from stdin, runs the matching handlers, writes
    /// the answer to stdout (problems to stderr) and returns the exit code Claude Code acts on.
    /// Tasks added by handlers are queued in the task store and run by a detached worker: this
    /// same program, started again in a session of its own with no stdio (`run` serves as the
    /// worker's `main` too, so call it first thing in `main`).
    pub fn run(&self) -> ExitCode {
        if let Some((db, threads)) = worker::invocation() {
            return worker::run(&db, threads);
        }
        let mut input = String::new();
        let outcome = match std::io::stdin().read_to_string(&mut input) {
            Ok(_) => self.handle_with(&input, true),
            Err(e) => Outcome::bad_input(format!("cannot read the hook input from stdin: {e}")),
        };
        let mut stdout = std::io::stdout().lock();
        let written = stdout.write_all(outcome.stdout.as_bytes()).and_then(|()| stdout.flush());
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(outcome.stderr.as_bytes());
        if let Err(e) = written {
            let _ = writeln!(stderr, "agno hook: cannot write the answer to stdout: {e}");
            return ExitCode::from(1);
        }
        ExitCode::from(u8::try_from(outcome.exit_code).unwrap_or(1))
    }

    /// One event through the handlers, without a process: what `run` would write and return.
    /// With the default task store, a handler taking `tasks` opens (creates) the SQLite file
    /// under the event's `cwd` and queues its tasks, but no worker is started: give
    /// [`task_backend`](Self::task_backend) to run them in tests. From async code,
    /// [`handle_async`](Self::handle_async) saves a thread.
    pub fn handle(&self, input: &str) -> Outcome {
        self.handle_with(input, false)
    }

    /// [`handle`](Self::handle) from async code.
    pub async fn handle_async(&self, input: &str) -> Outcome {
        match self.select(input) {
            Ok((event, selected)) => self.dispatch(event, selected, false).await,
            Err(outcome) => outcome,
        }
    }

    /// The event and its handlers, or the answer when there is nothing to run (no runtime is
    /// started for an event nobody handles: most events of a command installed for all).
    fn handle_with(&self, input: &str, start_workers: bool) -> Outcome {
        let (event, selected) = match self.select(input) {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let on_own_runtime = move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(self.dispatch(event, selected, start_workers)),
            Err(e) => Outcome::bad_input(format!("cannot start a runtime for the handlers: {e}")),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Called from async code (`#[tokio::main]`): a runtime cannot block inside another.
            std::thread::scope(|scope| scope.spawn(on_own_runtime).join())
                .unwrap_or_else(|_| Outcome::bad_input("the handlers' thread panicked"))
        } else {
            on_own_runtime()
        }
    }

    /// Checks the configuration, parses the event and picks its handlers, in registration order.
    /// `Err` is the whole answer: a bad configuration or input, or no handler (nothing to say).
    fn select(&self, input: &str) -> Result<(HookEvent, Vec<&Registration>), Outcome> {
        if let Err(errors) = self.check() {
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let outcome = Outcome::bad_input(format!("configuration: {}", errors.join("; ")));
            // A guard that cannot be set up must not let everything through.
            return Err(match self.policy {
                ErrorPolicy::Blocking => Outcome { exit_code: 2, ..outcome },
                ErrorPolicy::NonBlocking => outcome,
            });
        }
        let event = HookEvent::parse(input).map_err(Outcome::bad_input)?;
        let (name, tool) = (event.name(), event.tool_name());
        let selected: Vec<&Registration> = self
            .registrations
            .iter()
            .filter(|r| r.event == name && r.tools.as_ref().zip(tool).is_none_or(|(m, t)| m.matches(t)))
            .collect();
        if selected.is_empty() {
            return Err(Outcome { stdout: String::new(), stderr: String::new(), exit_code: 0 });
        }
        Ok((event, selected))
    }

    /// Runs the selected handlers on the event and folds their answers.
    async fn dispatch(&self, event: HookEvent, selected: Vec<&Registration>, start_workers: bool) -> Outcome {
        let name = event.name();
        let cwd = event.cwd().map(Path::to_path_buf).or_else(|| std::env::current_dir().ok()).unwrap_or_default();
        let transcript = Transcript::new(event.transcript_path().map(Path::to_path_buf));
        let mut verdict = Verdict::default();
        verdict.notes = event.warnings().iter().map(|w| format!("agno hook: {w}")).collect();
        let (tasks, queue) = if selected.iter().any(|r| r.handler.needs_tasks()) {
            match self.open_tasks(&event, &cwd, start_workers) {
                Ok((tasks, queue)) => (Some(tasks), queue),
                Err(e) => {
                    verdict.notes.push(format!("agno hook: {e}"));
                    (None, None)
                }
            }
        } else {
            (None, None)
        };
        // A Stop already forced into another turn is not blocked again (no endless turns).
        let may_block = !event.stop_hook_active();
        for registration in selected {
            let handler = &*registration.handler;
            let cx = HandlerContext::new(&event, tasks.as_ref(), &cwd, &transcript);
            match call(handler, cx).await {
                Ok(response) => {
                    if verdict.add(response) {
                        break;
                    }
                }
                Err(error) => {
                    let what = format!("handler `{}` failed on {name}: {error}", handler.name());
                    if self.policy == ErrorPolicy::Blocking && may_block {
                        let mut stderr: String = verdict.notes.iter().map(|n| format!("{n}\n")).collect();
                        stderr.push_str(&format!("agno hook: {what}; blocking (error policy: blocking)\n"));
                        return Outcome { stdout: String::new(), stderr, exit_code: 2 };
                    }
                    verdict.failed(what);
                }
            }
        }
        if let Some(Err(e)) = queue.as_ref().map(|(queue, starter)| starter.finish(queue)) {
            verdict.notes.push(format!("agno hook: {e}"));
        }
        verdict.render(name)
    }

    /// The session's tasks; with a file store, the queue and its worker starter.
    fn open_tasks(
        &self,
        event: &HookEvent,
        cwd: &Path,
        start_workers: bool,
    ) -> Result<(Tasks, Option<FileQueue>), String> {
        match &self.tasks {
            TaskStore::Backend(backend) => Ok((Tasks::new(Arc::clone(backend), event.session_id()), None)),
            TaskStore::File(path) => {
                let path = path.clone().unwrap_or_else(|| default_task_db(cwd));
                let starter = Starter::new(path.clone(), start_workers, self.task_threads);
                let on_queued = Arc::clone(&starter);
                let queue = SqliteTaskBackend::open_queue(&path)
                    .map_err(|e| format!("cannot open the task store {}: {e}", path.display()))?
                    // A failure to start is reported once the handlers are done (`Starter::finish`).
                    .on_queued(move || on_queued.start());
                let queue = Arc::new(queue);
                let tasks = Tasks::new(Arc::clone(&queue) as Arc<dyn TaskBackend>, event.session_id());
                Ok((tasks, Some((queue, starter))))
            }
        }
    }
}

/// Where tasks are kept when the app names no file: `$AGNO_TASKS_DB`, else
/// `$CLAUDE_PROJECT_DIR/.claude/agno-tasks.db`, else `<cwd>/.claude/agno-tasks.db`.
pub fn default_task_db(cwd: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os(TASK_DB_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let project = std::env::var_os("CLAUDE_PROJECT_DIR")
        .filter(|p| !p.is_empty())
        .map_or_else(|| cwd.to_path_buf(), PathBuf::from);
    project.join(".claude").join(DEFAULT_TASK_DB)
}

/// Calls one handler; a panic, sync or async, becomes [`HandlerError::Panicked`].
async fn call(handler: &dyn ErasedHandler, cx: HandlerContext<'_>) -> Result<super::Response, HandlerError> {
    match catch_unwind(AssertUnwindSafe(|| handler.call(cx))) {
        Err(panic) => Err(HandlerError::Panicked(panic_message(panic))),
        Ok(HandlerCall::Done(result)) => result,
        Ok(HandlerCall::Pending(future)) => {
            CatchPanic(future).await.unwrap_or_else(|message| Err(HandlerError::Panicked(message)))
        }
    }
}
