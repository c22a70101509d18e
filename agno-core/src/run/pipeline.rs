//! Where a run starts and ends: [`RunBuilder`] collects the options, `execute` runs the steps.
//!
//! The same steps run an agent, a team or a workflow ([`Runner`]), in order:
//! 1. load the session row and, with chat history on, its last runs of this runner (or start a
//!    new session without reading anything), build the [`RunContext`], emit `RunStarted`;
//! 2. the pre-hooks, in list order, on `&mut RunInput` (`run_hooks`);
//! 3. the answer (`respond`): an agent calls its model (streamed when the caller streams)
//!    (`call_model`); a team runs its members and its leader ([`crate::team`]); a workflow runs
//!    its steps ([`crate::workflow`]). Members and steps are child runs (`Children`) that go
//!    through these same steps, in the parent's session;
//! 4. the post-hooks, in list order, on `&mut RunOutput`;
//! 5. the final status, `RunCompleted` or `RunError`, and the store ([`Db::save_runs`]): the
//!    child runs first, then this one, awaited (the backend commits off the runtime threads);
//! 6. the background hooks handed, with their copies, to the scheduler (if there is one), in the
//!    order they would have run inline: this run's pre-hooks, its children's hooks, its
//!    post-hooks.
//!
//! A check error from a hook (or a member), or a model failure, skips to step 5 with status
//! `ERROR`. A child run does not store itself or schedule its background hooks: it hands both
//! to its parent, so a whole team is stored and scheduled once, by the top-level run.

use std::future::IntoFuture;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde_json::{Map, Value};
use tracing::Instrument;

use super::runner::Base;
use super::session_row::SessionRow;
use super::stream::{EventSink, RunStream};
use super::{RunContext, RunEvent, RunEventKind, RunInput, RunMetrics, RunOutput, RunStatus, Runner, RunnerKind};
use crate::checks::{InputCheckError, OutputCheckError};
use crate::clock::now_unix;
use crate::db::{Db, RunQuery, may_write};
use crate::error::{Error, Result};
use crate::hooks::HookJob;
use crate::hooks::background::RunSnapshot;
use crate::hooks::{
    BackgroundHook, BackgroundScheduler, Hook, HookContext, HookError, HookStage, SharedHook, call_hook,
};
use crate::models::{BoxFuture, Message, MessageMetrics, Model, ModelChunk, ModelError, ModelRequest, Role};
use crate::panic::{CatchPanic, catch_poll, panic_message};
use crate::session::Session;
use crate::tasks::Tasks;

/// Where background hooks go: inline (the default), or to a scheduler.
#[derive(Clone, Default)]
pub struct BackgroundMode {
    scheduler: Option<Arc<dyn BackgroundScheduler>>,
    all_hooks: bool,
}

impl BackgroundMode {
    /// Background hooks run inline, in list order (agno's behaviour outside AgentOS).
    pub fn inline() -> Self {
        Self::default()
    }

    /// Hooks marked `run_in_background` go to `scheduler`; the others run inline.
    pub fn per_hook(scheduler: Arc<dyn BackgroundScheduler>) -> Self {
        Self { scheduler: Some(scheduler), all_hooks: false }
    }

    /// Every hook goes to `scheduler`, except guardrails and hooks that modify the run
    /// (`&mut run_input` / `&mut run_output`), which stay inline so they still take effect.
    pub fn all_hooks(scheduler: Arc<dyn BackgroundScheduler>) -> Self {
        Self { scheduler: Some(scheduler), all_hooks: true }
    }

    /// Whether `hook` is handed to the scheduler instead of running inline.
    pub fn sends_to_background(&self, hook: &dyn Hook) -> bool {
        self.scheduler.is_some()
            && !hook.is_guardrail()
            && (hook.run_in_background() || (self.all_hooks && !hook.params().modifies()))
    }
}

/// A run about to start: set options, then `.await` it or call [`stream`](Self::stream).
#[must_use = "a run does nothing until it is awaited or streamed"]
pub struct RunBuilder {
    runner: Runner,
    input: RunInput,
    run_id: Option<String>,
    session_id: Option<String>,
    new_session: bool,
    user_id: Option<String>,
    metadata: Option<Map<String, Value>>,
    session_state: Option<Map<String, Value>>,
    extra: Map<String, Value>,
    debug_mode: Option<bool>,
    store_events: Option<bool>,
    background: BackgroundMode,
    parent: Option<Parent>,
    json: Option<RunJson>,
}

/// Where a stored run leaves its JSON, for a server that answers with the run: the text written
/// to the database is the text sent, serialised once (AgentOS's `POST …/runs` uses it).
#[derive(Clone, Debug, Default)]
pub struct RunJson(Arc<Mutex<Option<String>>>);

impl RunJson {
    /// An empty slot, to give to [`RunBuilder::json_into`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The JSON of the [`RunOutput`] the run returned (`serde_json`'s text of it), once: `None`
    /// if the run was not stored with it (no database, a durable hook queue, a failed save).
    pub fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn put(&self, json: String) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(json);
    }
}

/// The run a child run (a team member, a workflow step) belongs to.
struct Parent {
    run_id: String,
    session: Arc<Session>,
    depth: u32,
    /// Where the top-level run stores (and its children read their history).
    db: Option<Arc<dyn Db>>,
}

impl RunBuilder {
    pub(crate) fn new(runner: Runner, input: RunInput) -> Self {
        Self {
            runner,
            input,
            run_id: None,
            session_id: None,
            new_session: false,
            user_id: None,
            metadata: None,
            session_state: None,
            extra: Map::new(),
            debug_mode: None,
            store_events: None,
            background: BackgroundMode::default(),
            parent: None,
            json: None,
        }
    }

    /// Continues this session (default: a new one; an empty id also means new).
    pub fn session_id(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self.new_session = false;
        self
    }

    /// Starts a new session under `session_id`, an id just made for it: nothing is read from
    /// storage (a server that makes the id for a request without one saves that read).
    pub fn new_session_id(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self.new_session = true;
        self
    }

    /// The user running it.
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Metadata handed to hooks (`metadata`, `run_context.metadata`) and stored with the run.
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Replaces the session state for this run (default: the stored one).
    pub fn session_state(mut self, state: Map<String, Value>) -> Self {
        self.session_state = Some(state);
        self
    }

    /// Extra request fields handed to hooks in `run_context.extra`.
    pub fn extra(mut self, extra: Map<String, Value>) -> Self {
        self.extra = extra;
        self
    }

    /// The debug flag hooks receive (default: the agent's).
    pub fn debug_mode(mut self, debug_mode: bool) -> Self {
        self.debug_mode = Some(debug_mode);
        self
    }

    /// Uses this run id instead of a new UUID (AgentOS answers with it before the run ends).
    pub fn run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// Whether a streamed run stores its events (default: the agent's setting).
    pub fn store_events(mut self, store_events: bool) -> Self {
        self.store_events = Some(store_events);
        self
    }

    /// Where background hooks go (default: inline).
    pub fn background(mut self, mode: BackgroundMode) -> Self {
        self.background = mode;
        self
    }

    /// Leaves the run's JSON in `slot` once the run is stored (see [`RunJson`]): the database
    /// writes the text serialised for it instead of serialising the run again.
    pub fn json_into(mut self, slot: RunJson) -> Self {
        self.json = Some(slot);
        self
    }

    /// Runs with the event stream: `RunStarted`, hook events, content pieces, `RunCompleted` or
    /// `RunError`. The run advances as the stream is polled; dropping the stream cancels it.
    pub fn stream(self) -> RunStream {
        let events = EventSink::default();
        RunStream::new(self.into_future_with(Some(events.clone())), events)
    }

    pub(crate) fn into_future_with(self, sink: Option<EventSink>) -> BoxFuture<'static, Result<RunOutput>> {
        let span = run_span(&self.runner);
        Box::pin(execute(self, sink).instrument(span))
    }
}

impl IntoFuture for RunBuilder {
    type Output = Result<RunOutput>;
    type IntoFuture = BoxFuture<'static, Result<RunOutput>>;

    fn into_future(self) -> Self::IntoFuture {
        self.into_future_with(None)
    }
}

/// Why a run stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    Input(InputCheckError),
    Output(OutputCheckError),
    Model(ModelError),
    /// A member or step stopped: the parent stops with the same error.
    Child {
        content: String,
        error_type: String,
        error_id: Option<String>,
        additional_data: Option<Value>,
    },
}

impl Stop {
    /// What the run's content says when it stops.
    pub(crate) fn message(&self) -> &str {
        match self {
            Self::Input(e) => &e.message,
            Self::Output(e) => &e.message,
            Self::Model(e) => &e.message,
            Self::Child { content, .. } => content,
        }
    }

    fn event(&self) -> RunEventKind {
        let (error_type, error_id, additional_data) = match self {
            Self::Input(e) => (InputCheckError::ERROR_TYPE, Some(e.error_id()), e.additional_data.clone()),
            Self::Output(e) => (OutputCheckError::ERROR_TYPE, Some(e.error_id()), e.additional_data.clone()),
            Self::Model(_) => ("model_error", None, None),
            Self::Child { error_type, error_id, additional_data, .. } => {
                (error_type.as_str(), error_id.as_deref(), additional_data.clone())
            }
        };
        RunEventKind::RunError {
            content: self.message().to_owned(),
            error_type: error_type.to_owned(),
            error_id: error_id.map(str::to_owned),
            additional_data,
        }
    }

    /// The same stop, seen from the parent of the run it stopped.
    fn to_parent(&self) -> Self {
        match self.event() {
            RunEventKind::RunError { content, error_type, error_id, additional_data } => {
                Self::Child { content, error_type, error_id, additional_data }
            }
            _ => Self::Model(ModelError::new(self.message())),
        }
    }
}

/// Builds and hands out events; creates nothing when nobody streams.
pub(crate) struct Emitter {
    /// Boxed: most runs do not stream, and their future stays small.
    stream: Option<Box<Stream>>,
    stored: Option<Vec<RunEvent>>,
}

/// Where events go and the fields every event of this run repeats.
struct Stream {
    sink: EventSink,
    /// An event with this run's fields; each event is a copy with its own kind and time.
    head: RunEvent,
}

impl Emitter {
    /// Whether someone streams this run.
    pub(crate) fn active(&self) -> bool {
        self.stream.is_some()
    }

    fn make(stream: &Stream, kind: RunEventKind) -> RunEvent {
        RunEvent { created_at: now_unix(), kind, ..stream.head.clone() }
    }

    /// Emits an event built by `kind` (only called when streaming).
    pub(crate) fn emit(&mut self, kind: impl FnOnce() -> RunEventKind) {
        let Some(stream) = &self.stream else { return };
        let event = Self::make(stream, kind());
        if let Some(stored) = &mut self.stored
            && !matches!(event.kind, RunEventKind::RunContent { .. })
        {
            stored.push(event.clone());
        }
        stream.sink.push(event);
    }

    /// Records the final event for storage and returns it, to be sent after the store.
    fn finish(&mut self, kind: RunEventKind) -> Option<RunEvent> {
        let event = Self::make(self.stream.as_ref()?, kind);
        if let Some(stored) = &mut self.stored {
            stored.push(event.clone());
        }
        Some(event)
    }
}

/// What every hook of a phase shares.
struct Phase<'a> {
    runner: &'a Runner,
    run_context: &'a RunContext,
    session: &'a Session,
    debug_mode: bool,
    mode: &'a BackgroundMode,
    tasks: Option<&'a Tasks>,
    emitter: &'a mut Emitter,
    background: &'a mut Vec<(SharedHook, HookStage, usize)>,
}

/// Runs one phase's hooks in list order. Background hooks are set aside (copied at the end of
/// the run); a check error stops the phase; any other failure is logged and the next hook runs.
async fn run_hooks(
    stage: HookStage,
    hooks: &[SharedHook],
    phase: &mut Phase<'_>,
    mut run_input: Option<&mut RunInput>,
    mut run_output: Option<&mut RunOutput>,
) -> Result<(), Stop> {
    for (index, hook) in hooks.iter().enumerate() {
        let position = index + 1;
        if phase.mode.sends_to_background(&**hook) {
            phase.background.push((Arc::clone(hook), stage, position));
            continue;
        }
        let name = hook.name();
        if phase.emitter.active() {
            let input_copy = run_input.as_deref().cloned();
            phase.emitter.emit(|| match stage {
                HookStage::Pre => RunEventKind::PreHookStarted {
                    pre_hook_name: name.to_owned(),
                    run_input: input_copy.unwrap_or_else(|| RunInput::new("")),
                },
                HookStage::Post => RunEventKind::PostHookStarted { post_hook_name: name.to_owned() },
            });
        }
        let cx = HookContext::new(
            stage,
            run_input.as_deref_mut(),
            run_output.as_deref_mut(),
            phase.run_context,
            phase.runner,
            phase.session,
            phase.debug_mode,
            phase.tasks,
        );
        // Timed only when someone listens at debug level, so the hot path stays free.
        let timed = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        let result = call_hook(&**hook, cx).await;
        if let Some(started) = timed {
            let outcome = match &result {
                Ok(()) => "ok",
                Err(e) if e.is_check() => "rejected",
                Err(_) => "failed",
            };
            let duration_us = started.elapsed().as_secs_f64() * 1e6;
            tracing::debug!(hook = name, stage = stage.label(), position, duration_us, outcome, "hook finished");
        }
        match result {
            Ok(()) => {
                if phase.emitter.active() {
                    let input_copy = run_input.as_deref().cloned();
                    phase.emitter.emit(|| match stage {
                        HookStage::Pre => RunEventKind::PreHookCompleted {
                            pre_hook_name: name.to_owned(),
                            run_input: input_copy.unwrap_or_else(|| RunInput::new("")),
                        },
                        HookStage::Post => RunEventKind::PostHookCompleted { post_hook_name: name.to_owned() },
                    });
                }
            }
            Err(HookError::InputCheck(e)) => return Err(Stop::Input(e)),
            Err(HookError::OutputCheck(e)) => return Err(Stop::Output(e)),
            Err(error) => tracing::error!(
                hook = name,
                position,
                %error,
                "{} #{position} execution failed",
                stage.label()
            ),
        }
    }
    Ok(())
}

/// Sends `user_text` to `model`, after the system message (if any) and the chat history, and
/// fills content, messages and token counts.
pub(crate) async fn call_model(
    model: &dyn Model,
    system_message: Option<&str>,
    history: Vec<Message>,
    user_text: String,
    output: &mut RunOutput,
    emitter: &mut Emitter,
) -> Result<(), ModelError> {
    let mut messages = Vec::with_capacity(history.len() + 3);
    if let Some(system) = system_message {
        messages.push(Message::new(Role::System, system));
    }
    messages.extend(history);
    messages.push(Message::new(Role::User, user_text));
    let request = ModelRequest { messages };
    emitter.emit(|| RunEventKind::ModelRequestStarted {
        model: model.id().to_owned(),
        model_provider: model.provider().to_owned(),
    });
    let sent = Instant::now();
    let mut first_token = None;
    // A model is user code: a panic in it ends the run as a model error, like a failure.
    let panicked = |message| model_panicked(model, message);
    let (content, usage) = if emitter.active() {
        let mut stream = catch_unwind(AssertUnwindSafe(|| model.invoke_stream(&request)))
            .map_err(|payload| panicked(panic_message(payload)))?;
        let mut content = String::new();
        let mut usage = Default::default();
        let mut next = |cx: &mut std::task::Context<'_>| match catch_poll(|| stream.as_mut().poll_next(cx)) {
            Ok(poll) => poll,
            // Not polled again: the error ends the loop.
            Err(message) => std::task::Poll::Ready(Some(Err(panicked(message)))),
        };
        while let Some(chunk) = std::future::poll_fn(&mut next).await {
            match chunk? {
                ModelChunk::Content(piece) => {
                    first_token.get_or_insert_with(|| sent.elapsed().as_secs_f64());
                    content.push_str(&piece);
                    emitter.emit(|| RunEventKind::RunContent { content: piece, content_type: "str".into() });
                }
                ModelChunk::Usage(u) => usage = u,
            }
        }
        (content, usage)
    } else {
        let call = catch_unwind(AssertUnwindSafe(|| model.invoke(&request)))
            .map_err(|payload| panicked(panic_message(payload)))?;
        let response = CatchPanic(call).await.map_err(panicked)??;
        first_token = Some(sent.elapsed().as_secs_f64());
        (response.content, response.usage)
    };
    let ModelRequest { mut messages } = request;
    let mut answer = Message::new(Role::Assistant, content.clone());
    answer.metrics = Some(MessageMetrics { time_to_first_token: first_token });
    messages.push(answer);
    output.content = Some(content);
    output.messages = Some(messages);
    output.metrics.time_to_first_token = first_token;
    output.metrics.set_usage(usage);
    emitter.emit(|| RunEventKind::ModelRequestCompleted {
        model: model.id().to_owned(),
        model_provider: model.provider().to_owned(),
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
    });
    emitter.emit(|| RunEventKind::RunContentCompleted {});
    Ok(())
}

/// The model error a run ends with when its model panicked.
fn model_panicked(model: &dyn Model, message: String) -> ModelError {
    tracing::error!(model = model.id(), panic = %message, "the model panicked");
    ModelError::new(format!("the model panicked: {message}"))
}

/// The chat history made of earlier runs, oldest first: for each, what the user sent (its input)
/// and what it answered (its content), marked `from_history`.
fn history_messages(runs: &[RunOutput]) -> Vec<Message> {
    let mut messages = Vec::with_capacity(2 * runs.len());
    for run in runs {
        let input = run.input.as_ref().map(RunInput::input_content_string).unwrap_or_default();
        messages.push(Message { from_history: true, ..Message::new(Role::User, input) });
        if let Some(content) = &run.content {
            messages.push(Message { from_history: true, ..Message::new(Role::Assistant, content.clone()) });
        }
    }
    messages
}

/// The chat history of a run of `runner` (empty with history off). A top-level run has it in
/// its session (read with the session); a team member or workflow step reads its own last runs
/// in the parent's session, since those are child runs the parent's window does not hold.
async fn history(runner: &Runner, session: &Session, parent: Option<&Parent>) -> Result<Vec<Message>> {
    let Some(n) = runner.base().history_runs else { return Ok(Vec::new()) };
    match parent {
        None => Ok(history_messages(&session.runs)),
        Some(Parent { db: Some(db), .. }) => {
            let query = RunQuery { top_level: false, ..RunQuery::history(runner.id(), n) };
            Ok(history_messages(&db.get_runs(&session.session_id, &query).await?))
        }
        Some(Parent { db: None, .. }) => Ok(Vec::new()),
    }
}

/// The stored session, with its history window when chat history is on, or a new one for this
/// runner and user. A session known to be new is not looked up.
async fn load_session(runner: &Runner, session_id: &str, user_id: Option<&str>, new: bool) -> Result<Session> {
    let stored = match runner.db() {
        Some(_) if new => None,
        Some(db) => match runner.base().history_runs {
            Some(n) => db.get_session_with_runs(session_id, &RunQuery::history(runner.id(), n)).await?,
            None => db.get_session(session_id).await?,
        },
        None => None,
    };
    match stored {
        Some(session) if !may_write(session.user_id.as_deref(), user_id) => {
            Err(Error::SessionOwnership { session_id: session_id.to_owned() })
        }
        Some(session) if session.session_type != runner.kind().session_type() => Err(Error::SessionKind {
            session_id: session_id.to_owned(),
            found: session.session_type.as_str(),
            wanted: runner.kind().as_str(),
        }),
        Some(session) => Ok(session),
        None => {
            let mut session = Session::new(session_id);
            session.session_type = runner.kind().session_type();
            session.user_id = user_id.map(str::to_owned);
            Ok(session)
        }
    }
}

/// What a finished child run hands its parent besides its output.
#[derive(Default)]
struct Handover {
    /// Why it stopped early, for a parent that stops with it.
    stop: Option<Stop>,
    /// Its background hooks (and its children's), in queue order, not yet scheduled.
    jobs: Vec<BackgroundHook>,
    /// Its child runs that its output does not hold (workflow steps), and theirs, in the order
    /// they ran, not yet stored.
    children: Vec<RunOutput>,
}

/// The members or steps of a team or workflow run, run as child runs: same session, user,
/// metadata, state, debug flag, event storage and background mode; `parent_run_id` set; events
/// to the same stream.
pub(crate) struct Children<'a> {
    run_context: &'a RunContext,
    session: &'a Arc<Session>,
    db: Option<&'a Arc<dyn Db>>,
    depth: u32,
    debug_mode: bool,
    store_events: bool,
    mode: &'a BackgroundMode,
    sink: Option<EventSink>,
    /// Child runs the parent's output does not hold (`member_responses` holds a team's), to store.
    kept: Vec<RunOutput>,
    jobs: Vec<BackgroundHook>,
}

impl Children<'_> {
    /// Runs `runner` on `input` as a child run. Returns its output, and, if it stopped early
    /// (a check error, a model failure), the stop its parent should end with.
    pub(crate) async fn run(&mut self, runner: Runner, input: RunInput) -> Result<(RunOutput, Option<Stop>)> {
        let run = RunBuilder {
            runner,
            input,
            run_id: None,
            session_id: Some(self.run_context.session_id.clone()),
            new_session: false,
            user_id: self.run_context.user_id.clone(),
            metadata: self.run_context.metadata.as_ref().and_then(Value::as_object).cloned(),
            session_state: Some(self.run_context.session_state.clone()),
            extra: self.run_context.extra.clone(),
            debug_mode: Some(self.debug_mode),
            store_events: Some(self.store_events),
            background: self.mode.clone(),
            json: None,
            parent: Some(Parent {
                run_id: self.run_context.run_id.clone(),
                session: Arc::clone(self.session),
                depth: self.depth + 1,
                db: self.db.cloned(),
            }),
        };
        let mut handover = Handover::default();
        let output = run_boxed(run, self.sink.clone(), &mut handover).await?;
        self.jobs.extend(handover.jobs);
        self.kept.extend(handover.children);
        Ok((output, handover.stop.as_ref().map(Stop::to_parent)))
    }

    /// Keeps a child run the parent's output does not hold, to be stored with it.
    pub(crate) fn keep(&mut self, child: RunOutput) {
        self.kept.push(child);
    }
}

/// A run's background hooks with their copies of it: its pre-hooks' first (that phase ran first),
/// then its children's, then its post-hooks'.
fn background_jobs(
    background: Vec<(SharedHook, HookStage, usize)>,
    child_jobs: Vec<BackgroundHook>,
    snapshot: &RunSnapshot<'_>,
) -> Vec<BackgroundHook> {
    let pre = background.iter().take_while(|(_, stage, _)| *stage == HookStage::Pre).count();
    let make = |(hook, stage, position)| BackgroundHook::new(hook, stage, position, snapshot);
    let mut jobs = Vec::with_capacity(background.len() + child_jobs.len());
    let mut own = background.into_iter();
    jobs.extend(own.by_ref().take(pre).map(make));
    jobs.extend(child_jobs);
    jobs.extend(own.map(make));
    jobs
}

/// A run after its members (`member_responses`, each after its own), in the order to store them.
fn tree<'a>(run: &'a RunOutput, into: &mut Vec<&'a RunOutput>) {
    for member in &run.member_responses {
        tree(member, into);
    }
    into.push(run);
}

/// The span of one run (its `run_id` is recorded when the run starts).
fn run_span(runner: &Runner) -> tracing::Span {
    tracing::info_span!("run", kind = runner.kind().as_str(), id = %runner.id(), run_id = tracing::field::Empty)
}

/// Runs the pipeline. `sink` is set when the caller streams.
pub(crate) async fn execute(run: RunBuilder, sink: Option<EventSink>) -> Result<RunOutput> {
    // The steps' state lives in one box, so this future (moved into the caller's box, the
    // span's wrapper) stays as small as its arguments.
    Box::pin(run_to_end(run, sink, None)).await
}

/// [`run_to_end`] behind a box, so that a team can run itself a level down.
fn run_boxed<'a>(
    run: RunBuilder,
    sink: Option<EventSink>,
    handover: &'a mut Handover,
) -> BoxFuture<'a, Result<RunOutput>> {
    let span = run_span(&run.runner);
    Box::pin(run_to_end(run, sink, Some(handover)).instrument(span))
}

/// Step 3: the answer of an agent, a team or a workflow.
async fn respond(
    runner: &Runner,
    history: Vec<Message>,
    output: &mut RunOutput,
    emitter: &mut Emitter,
    children: &mut Children<'_>,
) -> Result<(), Stop> {
    match runner {
        Runner::Agent(agent) => {
            let text = output.input.as_ref().map(RunInput::input_content_string).unwrap_or_default();
            call_model(agent.model(), agent.system_message(), history, text, output, emitter).await.map_err(Stop::Model)
        }
        // Boxed, so that an agent run's future stays as small as if teams did not exist.
        Runner::Team(team) => Box::pin(crate::team::respond(team, history, output, emitter, children)).await,
        Runner::Workflow(workflow) => Box::pin(crate::workflow::respond(workflow, output, emitter, children)).await,
    }
}

/// The steps of one run, top-level or child (a child fills `handover` for its parent).
async fn run_to_end(run: RunBuilder, sink: Option<EventSink>, handover: Option<&mut Handover>) -> Result<RunOutput> {
    let started = Instant::now();
    let RunBuilder {
        runner,
        input,
        run_id,
        session_id,
        new_session,
        user_id,
        metadata,
        session_state,
        extra,
        debug_mode,
        store_events,
        background: mode,
        parent,
        json,
    } = run;
    let common: &Base = runner.base();
    let run_id = run_id.unwrap_or_else(crate::ids::new_id);
    tracing::Span::current().record("run_id", run_id.as_str());
    let (session_id, new_session) = match session_id.filter(|s| !s.is_empty()) {
        Some(id) => (id, new_session),
        None => (crate::ids::new_id(), true),
    };
    let session = match &parent {
        Some(parent) => Arc::clone(&parent.session),
        None => Arc::new(load_session(&runner, &session_id, user_id.as_deref(), new_session).await?),
    };
    let session_state = session_state.or_else(|| session.session_state().cloned()).unwrap_or_default();
    let metadata = metadata.map(Value::Object);
    let run_context = RunContext {
        run_id: run_id.clone(),
        session_id: session_id.clone(),
        user_id,
        metadata,
        session_state,
        extra,
        delivery: None,
    };
    let debug_mode = debug_mode.unwrap_or(common.debug_mode);
    let store_events = sink.is_some() && store_events.unwrap_or(common.store_events);
    let model = runner.model();
    let (model_id, model_provider) = match model {
        Some(model) => (Some(model.id().to_owned()), Some(model.provider().to_owned())),
        None => (None, None),
    };
    let mut output = RunOutput {
        run_id,
        agent_id: String::new(),
        agent_name: None,
        team_id: None,
        team_name: None,
        workflow_id: None,
        workflow_name: None,
        session_id,
        parent_run_id: parent.as_ref().map(|p| p.run_id.clone()),
        user_id: run_context.user_id.clone(),
        content: None,
        content_type: "str".to_owned(),
        model: model_id,
        model_provider,
        metadata: run_context.metadata.clone(),
        session_state: None,
        created_at: now_unix(),
        status: RunStatus::Running,
        metrics: RunMetrics::default(),
        messages: None,
        tools: Vec::new(),
        input: None,
        events: None,
        member_responses: Vec::new(),
        step_results: Vec::new(),
    };
    let (id, name) = (common.id.clone(), common.name.clone());
    match runner.kind() {
        RunnerKind::Agent => (output.agent_id, output.agent_name) = (id, name),
        RunnerKind::Team => (output.team_id, output.team_name) = (Some(id), name),
        RunnerKind::Workflow => (output.workflow_id, output.workflow_name) = (Some(id), name),
    }
    let depth = parent.as_ref().map_or(0, |p| p.depth);
    let mut emitter = Emitter {
        stream: sink.clone().map(|sink| {
            Box::new(Stream {
                sink,
                head: RunEvent {
                    agent_name: output.agent_name.clone(),
                    team_name: output.team_name.clone(),
                    workflow_name: output.workflow_name.clone(),
                    parent_run_id: output.parent_run_id.clone(),
                    nested_depth: depth,
                    ..RunEvent::new(
                        RunEventKind::RunContentCompleted {},
                        output.runner(),
                        &output.run_id,
                        &output.session_id,
                    )
                },
            })
        }),
        stored: store_events.then(Vec::new),
    };
    emitter.emit(|| RunEventKind::RunStarted {
        model: output.model.clone().unwrap_or_default(),
        model_provider: output.model_provider.clone().unwrap_or_default(),
    });

    let mut background = Vec::new();
    let store = match &parent {
        Some(parent) => parent.db.clone(),
        None => common.db.clone(),
    };
    let tasks = common
        .needs_tasks
        .then(|| Tasks::new(common.tasks_backend_in(store.as_ref()), run_context.session_id.as_str()));
    let history = history(&runner, &session, parent.as_ref()).await?;
    let mut children = Children {
        run_context: &run_context,
        session: &session,
        db: store.as_ref(),
        depth,
        debug_mode,
        store_events,
        mode: &mode,
        sink,
        kept: Vec::new(),
        jobs: Vec::new(),
    };
    let mut input = input;
    let mut phase = Phase {
        runner: &runner,
        run_context: &run_context,
        session: &session,
        debug_mode,
        mode: &mode,
        tasks: tasks.as_ref(),
        emitter: &mut emitter,
        background: &mut background,
    };
    let pre = run_hooks(HookStage::Pre, &common.pre_hooks, &mut phase, Some(&mut input), None).await;
    output.input = Some(input);
    let outcome = match pre {
        Err(stop) => Err(stop),
        Ok(()) => match respond(&runner, history, &mut output, phase.emitter, &mut children).await {
            Err(stop) => Err(stop),
            Ok(()) => run_hooks(HookStage::Post, &common.post_hooks, &mut phase, None, Some(&mut output)).await,
        },
    };
    let Children { kept: child_runs, jobs: child_jobs, .. } = children;

    output.session_state = Some(run_context.session_state.clone());
    output.metrics.duration = Some(started.elapsed().as_secs_f64());
    let final_event = match &outcome {
        Ok(()) => {
            output.status = RunStatus::Completed;
            emitter.finish(RunEventKind::RunCompleted {
                content: output.content.clone(),
                content_type: output.content_type.clone(),
                session_state: run_context.session_state.clone(),
                metrics: output.metrics.clone(),
            })
        }
        Err(stop) => {
            output.status = RunStatus::Error;
            if output.content.is_none() {
                output.content = Some(stop.message().to_owned());
            }
            match stop {
                Stop::Input(e) => tracing::error!("Validation failed: {e} | Check trigger: {}", e.check_trigger),
                Stop::Output(e) => tracing::error!("Validation failed: {e} | Check trigger: {}", e.check_trigger),
                Stop::Model(e) => tracing::error!(error = %e, "model call failed"),
                Stop::Child { content, .. } => tracing::error!(error = %content, "a member or step stopped the run"),
            }
            emitter.finish(stop.event())
        }
    };
    output.events = emitter.stored.take();
    // Background hooks queued in the run's own transaction (a database with a durable queue)
    // are run by a worker of any process.
    let has_jobs = !background.is_empty() || !child_jobs.is_empty();
    let durable = has_jobs
        && mode.scheduler.as_ref().is_some_and(|s| s.durable())
        && common.db.as_ref().is_some_and(|db| db.hook_queue().is_some());
    // The session row, for a top-level run that stores (taken before the context is shared).
    // A caller that takes the run's JSON gets it serialised once, for the database and for
    // itself, and the row's JSON columns as text with it.
    let row = match (&parent, &common.db) {
        (None, Some(db)) => {
            let run_text =
                json.as_ref().filter(|_| !durable).and_then(|_| crate::db::write_rows::run_json(&output).ok());
            Some((db, SessionRow::new(&runner, &session, &run_context, run_text)))
        }
        _ => None,
    };

    // This run's background hooks, copied from the finished run. A parent or a durable queue
    // takes them now; a scheduler after the save, so that the copies are made on the worker the
    // run goes on in once its commit is answered (the one that then hands them to their task),
    // not the one it started on: glibc frees another thread's memory under a lock. A child's
    // copies are still made in the child, before its parent's save.
    let run_context = has_jobs.then(|| Arc::new(run_context));
    let mut own_jobs = Some((background, child_jobs));
    let mut jobs_now = || match (&run_context, own_jobs.take()) {
        (Some(run_context), Some((background, child_jobs))) => {
            let snapshot = RunSnapshot {
                run_output: &output,
                run_context,
                runner: &runner,
                session: &session,
                debug_mode,
                tasks: tasks.as_ref(),
            };
            background_jobs(background, child_jobs, &snapshot)
        }
        _ => Vec::new(),
    };

    if let Some(handover) = handover {
        // The parent stores and schedules; the final event goes out now, the run is over.
        if let (Some(event), Some(stream)) = (final_event, &emitter.stream) {
            stream.sink.push(event);
        }
        *handover = Handover { stop: outcome.err(), jobs: jobs_now(), children: child_runs };
        return Ok(output);
    }

    let mut jobs = if durable { jobs_now() } else { Vec::new() };
    let saved = match row {
        Some((db, row)) => {
            // Every run of the tree in one call (one transaction in SQLite), children first.
            let mut runs = Vec::new();
            for child in &child_runs {
                tree(child, &mut runs);
            }
            tree(&output, &mut runs);
            // The row has text only for a caller that takes the run's JSON, never with durable
            // hooks; without text it holds its columns as values.
            if let Some(text) = row.text {
                let saved = db.save_runs_with_json(&row.session, &runs, &text.saved_json()).await;
                if let (Ok(()), Some(slot)) = (&saved, &json) {
                    // The run is final: this text is what a server answering with it sends.
                    slot.put(text.run);
                }
                saved
            } else if durable {
                let job = HookJob::new(&output.run_id, &runner, &jobs);
                let saved = db.save_runs_with_hooks(&row.session, &runs, &job).await;
                if saved.is_ok() {
                    jobs.clear();
                }
                saved
            } else {
                db.save_runs(&row.session, &runs).await
            }
        }
        None => Ok(()),
    };
    if let Some(scheduler) = &mode.scheduler {
        if !durable {
            jobs = jobs_now();
        }
        if !jobs.is_empty() {
            scheduler.schedule(jobs);
        }
    }
    saved?;
    if let (Some(event), Some(stream)) = (final_event, &emitter.stream) {
        stream.sink.push(event);
    }
    Ok(output)
}
