//! Where a run starts and ends: [`RunBuilder`] collects the options, `execute` runs the steps.
//!
//! The steps, in order:
//! 1. load the session (or start one), build the [`RunContext`], emit `RunStarted`;
//! 2. the pre-hooks, in list order, on `&mut RunInput` (`run_hooks`);
//! 3. the model call (streamed when the caller streams) (`call_model`);
//! 4. the post-hooks, in list order, on `&mut RunOutput`;
//! 5. the final status, `RunCompleted` or `RunError`, and the store ([`Db::save_run`]);
//! 6. the background hooks handed, with their copies, to the scheduler (if there is one).
//!
//! A check error from a hook or a model failure skips to step 5 with status `ERROR`.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};
use tracing::Instrument;

use super::stream::{EventSink, RunStream};
use super::{RunContext, RunEvent, RunEventKind, RunInput, RunMetrics, RunOutput, RunStatus, now_unix};
use crate::agent::Agent;
use crate::checks::{InputCheckError, OutputCheckError};
use crate::db::{Db, may_write};
use crate::error::{Error, Result};
use crate::hooks::background::RunSnapshot;
use crate::hooks::{
    BackgroundHook, BackgroundScheduler, Hook, HookContext, HookError, HookStage, SharedHook, call_hook,
};
use crate::models::{BoxFuture, Message, MessageMetrics, ModelChunk, ModelError, ModelRequest, Role};
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
    agent: Agent,
    input: RunInput,
    run_id: Option<String>,
    session_id: Option<String>,
    user_id: Option<String>,
    metadata: Option<Map<String, Value>>,
    session_state: Option<Map<String, Value>>,
    extra: Map<String, Value>,
    debug_mode: Option<bool>,
    store_events: Option<bool>,
    background: BackgroundMode,
}

impl RunBuilder {
    pub(crate) fn new(agent: Agent, input: RunInput) -> Self {
        Self {
            agent,
            input,
            run_id: None,
            session_id: None,
            user_id: None,
            metadata: None,
            session_state: None,
            extra: Map::new(),
            debug_mode: None,
            store_events: None,
            background: BackgroundMode::default(),
        }
    }

    /// Continues this session (default: a new one; an empty id also means new).
    pub fn session_id(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
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

    /// Runs with the event stream: `RunStarted`, hook events, content pieces, `RunCompleted` or
    /// `RunError`. The run advances as the stream is polled; dropping the stream cancels it.
    pub fn stream(self) -> RunStream {
        RunStream::new(self)
    }

    pub(crate) fn into_future_with(self, sink: Option<EventSink>) -> BoxFuture<'static, Result<RunOutput>> {
        let span = tracing::info_span!("run", agent_id = %self.agent.id(), run_id = tracing::field::Empty);
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
enum Stop {
    Input(InputCheckError),
    Output(OutputCheckError),
    Model(ModelError),
}

impl Stop {
    fn message(&self) -> &str {
        match self {
            Self::Input(e) => &e.message,
            Self::Output(e) => &e.message,
            Self::Model(e) => &e.message,
        }
    }

    fn event(&self) -> RunEventKind {
        let (error_type, error_id, additional_data) = match self {
            Self::Input(e) => (InputCheckError::ERROR_TYPE, Some(e.error_id()), e.additional_data.clone()),
            Self::Output(e) => (OutputCheckError::ERROR_TYPE, Some(e.error_id()), e.additional_data.clone()),
            Self::Model(_) => ("model_error", None, None),
        };
        RunEventKind::RunError {
            content: self.message().to_owned(),
            error_type: error_type.to_owned(),
            error_id: error_id.map(str::to_owned),
            additional_data,
        }
    }
}

/// Builds and hands out events; creates nothing when nobody streams.
struct Emitter {
    stream: Option<Stream>,
    stored: Option<Vec<RunEvent>>,
}

/// Where events go and the fields every event repeats.
struct Stream {
    sink: EventSink,
    agent_id: String,
    agent_name: Option<String>,
    run_id: String,
    session_id: String,
}

impl Emitter {
    fn active(&self) -> bool {
        self.stream.is_some()
    }

    fn make(stream: &Stream, kind: RunEventKind) -> RunEvent {
        RunEvent {
            created_at: now_unix(),
            kind,
            agent_id: stream.agent_id.clone(),
            agent_name: stream.agent_name.clone(),
            run_id: stream.run_id.clone(),
            session_id: stream.session_id.clone(),
            nested_depth: 0,
        }
    }

    /// Emits an event built by `kind` (only called when streaming).
    fn emit(&mut self, kind: impl FnOnce() -> RunEventKind) {
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
    agent: &'a Agent,
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
            phase.agent,
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

/// Sends the conversation to the model and fills content, messages and token counts.
async fn call_model(agent: &Agent, output: &mut RunOutput, emitter: &mut Emitter) -> Result<(), ModelError> {
    let model = agent.model();
    let mut messages = Vec::with_capacity(3);
    if let Some(system) = agent.system_message() {
        messages.push(Message::new(Role::System, system));
    }
    let user_text = output.input.as_ref().map(RunInput::input_content_string).unwrap_or_default();
    messages.push(Message::new(Role::User, user_text));
    let request = ModelRequest { messages };
    emitter.emit(|| RunEventKind::ModelRequestStarted {
        model: model.id().to_owned(),
        model_provider: model.provider().to_owned(),
    });
    let sent = Instant::now();
    let mut first_token = None;
    let (content, usage) = if emitter.active() {
        let mut stream = model.invoke_stream(&request);
        let mut content = String::new();
        let mut usage = Default::default();
        while let Some(chunk) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
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
        let response = model.invoke(&request).await?;
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
    output.metrics.input_tokens = usage.input_tokens;
    output.metrics.output_tokens = usage.output_tokens;
    output.metrics.total_tokens = match (usage.input_tokens, usage.output_tokens) {
        (None, None) => None,
        (i, o) => Some(i.unwrap_or(0) + o.unwrap_or(0)),
    };
    emitter.emit(|| RunEventKind::ModelRequestCompleted {
        model: model.id().to_owned(),
        model_provider: model.provider().to_owned(),
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
    });
    emitter.emit(|| RunEventKind::RunContentCompleted {});
    Ok(())
}

/// The stored session, or a new one for this agent and user.
fn load_session(agent: &Agent, session_id: &str, user_id: Option<&str>) -> Result<Session> {
    let stored = match agent.db() {
        Some(db) => db.get_session(session_id)?,
        None => None,
    };
    match stored {
        Some(session) if !may_write(session.user_id.as_deref(), user_id) => {
            Err(Error::SessionOwnership { session_id: session_id.to_owned() })
        }
        Some(session) => Ok(session),
        None => {
            let mut session = Session::new(session_id);
            session.agent_id = Some(agent.id().to_owned());
            session.user_id = user_id.map(str::to_owned);
            Ok(session)
        }
    }
}

/// The session row written at the end of a run (without the runs).
fn session_row(agent: &Agent, session: &Session, run_context: &RunContext) -> Session {
    let model = agent.model();
    Session {
        session_id: session.session_id.clone(),
        session_type: session.session_type,
        agent_id: Some(agent.id().to_owned()),
        user_id: session.user_id.clone().or_else(|| run_context.user_id.clone()),
        session_data: Some(json!({ "session_state": run_context.session_state })),
        agent_data: Some(json!({
            "name": agent.name(),
            "agent_id": agent.id(),
            "model": { "id": model.id(), "provider": model.provider() },
        })),
        metadata: session.metadata.clone(),
        runs: Vec::new(),
        created_at: session.created_at,
        updated_at: now_unix(),
    }
}

/// Runs the pipeline. `sink` is set when the caller streams.
pub(crate) async fn execute(run: RunBuilder, sink: Option<EventSink>) -> Result<RunOutput> {
    let started = Instant::now();
    let RunBuilder {
        agent,
        input,
        run_id,
        session_id,
        user_id,
        metadata,
        session_state,
        extra,
        debug_mode,
        store_events,
        background: mode,
    } = run;
    let run_id = run_id.unwrap_or_else(crate::ids::new_id);
    tracing::Span::current().record("run_id", run_id.as_str());
    let session_id = session_id.filter(|s| !s.is_empty()).unwrap_or_else(crate::ids::new_id);
    let session = Arc::new(load_session(&agent, &session_id, user_id.as_deref())?);
    let session_state = session_state.or_else(|| session.session_state().cloned()).unwrap_or_default();
    let metadata = metadata.map(Value::Object);
    let run_context =
        RunContext { run_id: run_id.clone(), session_id: session_id.clone(), user_id, metadata, session_state, extra };
    let debug_mode = debug_mode.unwrap_or_else(|| agent.debug_mode());
    let store_events = sink.is_some() && store_events.unwrap_or_else(|| agent.store_events());
    let model = agent.model();
    let mut output = RunOutput {
        run_id,
        agent_id: agent.id().to_owned(),
        agent_name: agent.name().map(str::to_owned),
        session_id,
        parent_run_id: None,
        user_id: run_context.user_id.clone(),
        content: None,
        content_type: "str".to_owned(),
        model: Some(model.id().to_owned()),
        model_provider: Some(model.provider().to_owned()),
        metadata: run_context.metadata.clone(),
        session_state: None,
        created_at: now_unix(),
        status: RunStatus::Running,
        metrics: RunMetrics::default(),
        messages: None,
        tools: Vec::new(),
        input: None,
        events: None,
    };
    let mut emitter = Emitter {
        stream: sink.map(|sink| Stream {
            sink,
            agent_id: output.agent_id.clone(),
            agent_name: output.agent_name.clone(),
            run_id: output.run_id.clone(),
            session_id: output.session_id.clone(),
        }),
        stored: store_events.then(Vec::new),
    };
    emitter.emit(|| RunEventKind::RunStarted {
        model: model.id().to_owned(),
        model_provider: model.provider().to_owned(),
    });

    let tasks = agent.needs_tasks().then(|| Tasks::new(agent.tasks_backend(), run_context.session_id.as_str()));
    let mut background = Vec::new();
    let mut input = input;
    let mut phase = Phase {
        agent: &agent,
        run_context: &run_context,
        session: &session,
        debug_mode,
        mode: &mode,
        tasks: tasks.as_ref(),
        emitter: &mut emitter,
        background: &mut background,
    };
    let pre = run_hooks(HookStage::Pre, agent.pre_hooks(), &mut phase, Some(&mut input), None).await;
    output.input = Some(input);
    let outcome = match pre {
        Err(stop) => Err(stop),
        Ok(()) => match call_model(&agent, &mut output, phase.emitter).await {
            Err(e) => Err(Stop::Model(e)),
            Ok(()) => run_hooks(HookStage::Post, agent.post_hooks(), &mut phase, None, Some(&mut output)).await,
        },
    };

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
            }
            emitter.finish(stop.event())
        }
    };
    output.events = emitter.stored.take();

    let saved = match agent.db() {
        Some(db) => db.save_run(&session_row(&agent, &session, &run_context), &output),
        None => Ok(()),
    };

    if let Some(scheduler) = &mode.scheduler
        && !background.is_empty()
    {
        let run_context = Arc::new(run_context);
        let snapshot = RunSnapshot {
            run_output: &output,
            run_context: &run_context,
            agent: &agent,
            session: &session,
            debug_mode,
            tasks: tasks.as_ref(),
        };
        let jobs = background
            .into_iter()
            .map(|(hook, stage, position)| BackgroundHook::new(hook, stage, position, &snapshot))
            .collect();
        scheduler.schedule(jobs);
    }

    saved?;
    if let (Some(event), Some(stream)) = (final_event, &emitter.stream) {
        stream.sink.push(event);
    }
    Ok(output)
}
