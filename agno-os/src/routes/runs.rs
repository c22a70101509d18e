//! `POST /agents/{id}/runs` (and `/teams/{id}/runs`, `/workflows/{id}/runs`) and the routes of
//! one run: poll, cancel, background hook outcomes. Agents, teams and workflows share this code:
//! each route names a [`RunnerKind`], the rest is the same.
//!
//! A client that leaves early neither cancels its run nor loses the run's background hooks, and
//! shutdown waits for both: a stream's or a detached run's run goes on in a tracked task; any
//! other run goes on in its request, and in a tracked task only once its client has left
//! ([`WaitingRun`]).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use agno_core::panic::CatchPanic;
use agno_core::run::{BackgroundMode, RunBuilder, RunEventKind, RunJson, RunnerKind};
use agno_core::{RunEvent, RunStatus, Runner};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::AppState;
use crate::background::{AfterBody, Collected, batch};
use crate::error::{ApiError, field_error};
use crate::form::{self, RunForm};
use crate::run_registry::Stop;
use crate::waiting_run::{Ended, WaitingRun};

fn new_id() -> String {
    agno_core::ids::new_id()
}

/// One SSE frame as agno writes it: `event: <Name>\ndata: <compact JSON>\n\n`.
fn sse_frame(event: &RunEvent) -> Bytes {
    let data = serde_json::to_string(event)
        .unwrap_or_else(|e| json!({ "event": "RunError", "content": e.to_string() }).to_string());
    Bytes::from(format!("event: {}\ndata: {data}\n\n", event.name()))
}

/// The frame sent when the run cannot be stored (an infrastructure error): the runner's own
/// error event (`RunError`, `TeamRunError`, `WorkflowError`).
fn error_frame(error: &agno_core::Error, owner: (RunnerKind, &str), run_id: &str, session_id: &str) -> Bytes {
    let kind = RunEventKind::RunError {
        content: error.to_string(),
        error_type: "internal_error".to_owned(),
        error_id: None,
        additional_data: None,
    };
    sse_frame(&RunEvent::new(kind, owner, run_id, session_id))
}

/// The SSE body: frames from the run task.
struct Frames(mpsc::Receiver<Bytes>);

impl futures_core::Stream for Frames {
    type Item = Result<Bytes, Infallible>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|frame| frame.map(Ok))
    }
}

/// The run a form asks for; a form without a `session_id` starts a session under the id made
/// for it, which nothing needs to be read for.
fn prepared(runner: &Runner, form: RunForm, run_id: &str, session_id: &str) -> RunBuilder {
    let run = runner.run(form.message).run_id(run_id);
    let run = if form.session_id.is_some() { run.session_id(session_id) } else { run.new_session_id(session_id) };
    let mut run = run.store_events(true).extra(form.extra);
    if let Some(user_id) = form.user_id {
        run = run.user_id(user_id);
    }
    if let Some(metadata) = form.metadata {
        run = run.metadata(metadata);
    }
    if let Some(state) = form.session_state {
        run = run.session_state(state);
    }
    run
}

/// Writes the route handlers of one runner kind, which only name the kind and call the shared
/// handler.
macro_rules! kind_routes {
    (
        $kind:expr, $tag:literal, $id:literal,
        $create_path:literal, $run_path:literal, $cancel_path:literal, $hooks_path:literal,
        $create:ident, $get:ident, $cancel:ident, $hooks:ident
    ) => {
        /// `POST /{kind}s/{id}/runs`.
        #[utoipa::path(
            post, path = $create_path, tag = $tag,
            params(($id = String, Path, description = "Who runs")),
            request_body(description = "The run: a multipart form (an urlencoded one works too)", content(
                (crate::openapi::RunFormSchema = "multipart/form-data"),
            )),
            responses(
                (status = 200, description = "The finished run (`stream=false`), or its events as server-sent events (`event: <Name>`, `data: <JSON>`)",
                    content((serde_json::Value = "application/json"), (String = "text/event-stream"))),
                (status = 202, description = "Accepted (`background=true`): poll the run", body = serde_json::Value),
                (status = 400, description = "A form that cannot be read, or metadata that is not a JSON object", body = crate::openapi::ErrorBody),
                (status = 404, description = "No such runner", body = crate::openapi::ErrorBody),
                (status = 409, description = "The session belongs to another kind of runner", body = crate::openapi::ErrorBody),
                (status = 413, description = "The body is too large", body = crate::openapi::ErrorBody),
                (status = 422, description = "A field is missing or invalid", body = serde_json::Value),
            )
        )]
        pub(crate) async fn $create(
            state: State<Arc<AppState>>,
            Path(id): Path<String>,
            request: Request,
        ) -> Result<Response, ApiError> {
            create_run(state, $kind, id, request).await
        }

        /// `GET /{kind}s/{id}/runs/{run_id}?session_id=`.
        #[utoipa::path(
            get, path = $run_path, tag = $tag,
            params(($id = String, Path, description = "Who ran"), ("run_id" = String, Path, description = "The run"), RunQuery),
            responses(
                (status = 200, description = "The run, or its status while it runs", body = serde_json::Value),
                (status = 404, description = "No such run", body = crate::openapi::ErrorBody),
                (status = 422, description = "A parameter is invalid", body = serde_json::Value),
            )
        )]
        pub(crate) async fn $get(
            state: State<Arc<AppState>>,
            Path(ids): Path<(String, String)>,
            query: super::query::Params<RunQuery>,
        ) -> Result<Response, ApiError> {
            get_run(state, $kind, ids, query).await
        }

        /// `POST /{kind}s/{id}/runs/{run_id}/cancel`.
        #[utoipa::path(
            post, path = $cancel_path, tag = $tag,
            params(($id = String, Path, description = "Who runs"), ("run_id" = String, Path, description = "The run")),
            responses(
                (status = 200, description = "Cancelled", body = serde_json::Value),
                (status = 404, description = "No such run", body = crate::openapi::ErrorBody),
            )
        )]
        pub(crate) async fn $cancel(
            state: State<Arc<AppState>>,
            Path(ids): Path<(String, String)>,
        ) -> Result<Json<Value>, ApiError> {
            cancel_run(state, $kind, ids).await
        }

        /// `GET /{kind}s/{id}/runs/{run_id}/hooks`.
        #[utoipa::path(
            get, path = $hooks_path, tag = $tag,
            params(($id = String, Path, description = "Who ran"), ("run_id" = String, Path, description = "The run")),
            responses(
                (status = 200, description = "What each background hook of the run did", body = serde_json::Value),
                (status = 404, description = "No such run", body = crate::openapi::ErrorBody),
            )
        )]
        pub(crate) async fn $hooks(
            state: State<Arc<AppState>>,
            Path(ids): Path<(String, String)>,
        ) -> Result<Json<Value>, ApiError> {
            run_hooks(state, $kind, ids).await
        }
    };
}

kind_routes!(
    RunnerKind::Agent,
    "Agents",
    "agent_id",
    "/agents/{agent_id}/runs",
    "/agents/{agent_id}/runs/{run_id}",
    "/agents/{agent_id}/runs/{run_id}/cancel",
    "/agents/{agent_id}/runs/{run_id}/hooks",
    create_agent_run,
    get_agent_run,
    cancel_agent_run,
    agent_run_hooks
);
kind_routes!(
    RunnerKind::Team,
    "Teams",
    "team_id",
    "/teams/{team_id}/runs",
    "/teams/{team_id}/runs/{run_id}",
    "/teams/{team_id}/runs/{run_id}/cancel",
    "/teams/{team_id}/runs/{run_id}/hooks",
    create_team_run,
    get_team_run,
    cancel_team_run,
    team_run_hooks
);
kind_routes!(
    RunnerKind::Workflow,
    "Workflows",
    "workflow_id",
    "/workflows/{workflow_id}/runs",
    "/workflows/{workflow_id}/runs/{run_id}",
    "/workflows/{workflow_id}/runs/{run_id}/cancel",
    "/workflows/{workflow_id}/runs/{run_id}/hooks",
    create_workflow_run,
    get_workflow_run,
    cancel_workflow_run,
    workflow_run_hooks
);

/// `POST /agents/{id}/runs`, `/teams/{id}/runs`, `/workflows/{id}/runs`.
async fn create_run(
    State(state): State<Arc<AppState>>,
    kind: RunnerKind,
    owner_id: String,
    request: Request,
) -> Result<Response, ApiError> {
    let form = form::parse(request, state.body_limit).await?;
    let runner = state.runner(kind, &owner_id).ok_or_else(|| ApiError::not_found(kind))?;
    let session_id = form.session_id.clone().unwrap_or_else(new_id);
    let run_id = new_id();
    tracing::info!(kind = kind.as_str(), id = %owner_id, run_id = %run_id, stream = form.stream, background = form.background, "run requested");
    let owner = (kind, owner_id.as_str());

    if form.background {
        return detached_run(&state, &runner, form, run_id, session_id);
    }

    let collected = Arc::new(Collected::for_runner(&runner));
    let mode = if state.all_hooks_in_background {
        BackgroundMode::all_hooks(collected.clone())
    } else {
        BackgroundMode::per_hook(collected.clone())
    };
    let stream = form.stream;
    let only_content = !form.stream_events;
    let run = prepared(&runner, form, &run_id, &session_id).background(mode);

    if stream {
        // The stream's end may come before the run's (a client that leaves): the hooks wait for it.
        let (done_tx, done_rx) = oneshot::channel::<()>();
        state.runs.start(&run_id, owner, &session_id, RunStatus::Running, None);
        let hooks = batch(&state.tracker, &state.hook_log, run_id.clone(), runner.clone(), collected, Some(done_rx));
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        let (task_state, task_run_id, task_session) = (Arc::clone(&state), run_id.clone(), session_id.clone());
        let task_owner = owner_id.clone();
        let handle = state.tracker.spawn("run", run_id.clone(), async move {
            let mut events = run.stream();
            while let Some(item) = events.next().await {
                let frame = match item {
                    Ok(event) if only_content && !matches!(event.kind, RunEventKind::RunContent { .. }) => continue,
                    Ok(event) => sse_frame(&event),
                    Err(error) => {
                        tracing::error!(run_id = %task_run_id, %error, "run failed");
                        error_frame(&error, (kind, &task_owner), &task_run_id, &task_session)
                    }
                };
                // A client that left does not stop the run: it still ends, is stored, and its
                // background hooks run.
                let _ = tx.send(frame).await;
            }
            task_state.runs.finish(&task_run_id);
            let _ = done_tx.send(());
        });
        state.runs.attach(&run_id, Stop::Task(handle.abort_handle()));
        let body = AfterBody::wrap(Body::from_stream(Frames(rx)), hooks);
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return Ok(response);
    }

    // The body is the JSON the database stored, when it stored the run: serialised once.
    let stored_json = RunJson::new();
    let run = run.json_into(stored_json.clone());
    // Most runs finish in one poll (no I/O in the hooks or the model). One that has to wait goes
    // on in this request, reported RUNNING and cancellable; if the client leaves first, it is
    // handed to a tracked task then (`WaitingRun`), so it still ends and runs its hooks.
    let mut pending = CatchPanic::new(std::future::IntoFuture::into_future(run));
    let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut pending).poll(cx))).await;
    let (outcome, hooks) = match first {
        Poll::Ready(outcome) => (outcome, None),
        Poll::Pending => {
            let (cancel, cancelled) = oneshot::channel();
            state.runs.start(&run_id, owner, &session_id, RunStatus::Running, Some(Stop::Signal(cancel)));
            let hooks =
                batch(&state.tracker, &state.hook_log, run_id.clone(), runner.clone(), Arc::clone(&collected), None);
            match WaitingRun::new(pending, cancelled, hooks, Arc::clone(&state)).end().await {
                Ended::Finished(outcome, hooks) => (outcome, Some(hooks)),
                Ended::Cancelled => {
                    let body = json!({"run_id": run_id, "session_id": session_id, kind.id_field(): owner_id, "status": "CANCELLED", "content": "Run cancelled"});
                    return Ok(Json(body).into_response());
                }
            }
        }
    };
    let output = match outcome {
        Ok(result) => result.map_err(ApiError::from),
        Err(panic) => {
            tracing::error!(run_id = %run_id, %panic, "a run panicked");
            Err(ApiError::internal(format!("the run panicked: {panic}")))
        }
    };
    let hooks = hooks.unwrap_or_else(|| batch(&state.tracker, &state.hook_log, run_id, runner, collected, None));
    let output = match output {
        Ok(output) => output,
        Err(error) => {
            // The run ended all the same: the background hooks it queued still run.
            hooks.spawn();
            return Err(error);
        }
    };
    let body = match stored_json.take() {
        Some(json) => json.into_bytes(),
        None => {
            let mut body = Vec::with_capacity(4096);
            serde_json::to_writer(&mut body, &output).map_err(ApiError::internal)?;
            body
        }
    };
    // The run has ended: its background hooks can start as soon as the body has gone.
    let mut response = Response::new(AfterBody::wrap(Body::from(body), hooks));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// `background=true`: 202 at once; the run goes on detached (its hooks inline, as in agno) and
/// is polled at `GET /agents/{id}/runs/{run_id}`.
fn detached_run(
    state: &Arc<AppState>,
    runner: &Runner,
    form: RunForm,
    run_id: String,
    session_id: String,
) -> Result<Response, ApiError> {
    if runner.db().is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("Background runs need a database: give the {} or AgentOS a db", runner.kind().as_str()),
        ));
    }
    let run = prepared(runner, form, &run_id, &session_id).background(BackgroundMode::inline());
    state.runs.start(&run_id, (runner.kind(), runner.id()), &session_id, RunStatus::Pending, None);
    let (task_state, task_run_id) = (Arc::clone(state), run_id.clone());
    let handle = state.tracker.spawn("background run", run_id.clone(), async move {
        task_state.runs.running(&task_run_id);
        if let Err(error) = run.await {
            tracing::error!(run_id = %task_run_id, %error, "background run failed");
        }
        task_state.runs.finish(&task_run_id);
    });
    state.runs.attach(&run_id, Stop::Task(handle.abort_handle()));
    let body = json!({ "run_id": run_id, "session_id": session_id, "status": "PENDING" });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// The query of `GET /agents/{id}/runs/{run_id}`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunQuery {
    /// The run's session.
    #[serde(default)]
    #[param(required = true)]
    session_id: String,
}

/// `GET /agents/{agent_id}/runs/{run_id}?session_id=`: the run, or its status while it runs.
async fn get_run(
    State(state): State<Arc<AppState>>,
    kind: RunnerKind,
    (owner_id, run_id): (String, String),
    super::query::Params(query): super::query::Params<RunQuery>,
) -> Result<Response, ApiError> {
    let Some(session_id) = Some(query.session_id).filter(|s| !s.is_empty()) else {
        let mut error = field_error("missing", "session_id", "Field required", Value::Null);
        error["loc"] = json!(["query", "session_id"]);
        return Err(ApiError::validation(vec![error]));
    };
    let runner = state.runner(kind, &owner_id).ok_or_else(|| ApiError::not_found(kind))?;
    if let Some(status) = state.runs.status(&run_id, (kind, &owner_id), &session_id) {
        let body = json!({ "run_id": run_id, kind.id_field(): owner_id, "session_id": session_id, "status": status });
        return Ok(Json(body).into_response());
    }
    let db = runner.db().ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Run not found"))?;
    match db.get_run(&run_id).await? {
        Some(run) if run.session_id == session_id && run.runner() == (kind, owner_id.as_str()) => {
            Ok(Json(run).into_response())
        }
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, "Run not found")),
    }
}

/// `POST /agents/{agent_id}/runs/{run_id}/cancel`: stops the run if it is still going; `200 {}`
/// in every case, as agno.
async fn cancel_run(
    State(state): State<Arc<AppState>>,
    kind: RunnerKind,
    (owner_id, run_id): (String, String),
) -> Result<Json<Value>, ApiError> {
    state.runner(kind, &owner_id).ok_or_else(|| ApiError::not_found(kind))?;
    if state.runs.cancel(&run_id, (kind, &owner_id)) {
        tracing::info!(run_id = %run_id, "run cancelled");
    }
    Ok(Json(json!({})))
}

/// `GET /agents/{agent_id}/runs/{run_id}/hooks`: what the run's background hooks did.
async fn run_hooks(
    State(state): State<Arc<AppState>>,
    kind: RunnerKind,
    (owner_id, run_id): (String, String),
) -> Result<Json<Value>, ApiError> {
    let runner = state.runner(kind, &owner_id).ok_or_else(|| ApiError::not_found(kind))?;
    let none = || ApiError::new(StatusCode::NOT_FOUND, "No background hooks recorded for this run (yet)");
    // Durable hooks: what any replica recorded, in the shared database.
    if let Some((db, queue)) = runner.db().and_then(|db| Some((db, db.hook_queue()?))) {
        let run = db.get_run(&run_id).await?.ok_or_else(none)?;
        if run.runner() != (kind, owner_id.as_str()) {
            return Err(none());
        }
        let hooks = queue.outcomes(&run_id).await?;
        if hooks.is_empty() {
            return Err(none());
        }
        return Ok(Json(json!({ "run_id": run_id, "hooks": hooks })));
    }
    let hooks = state.hook_log.get(&run_id, kind, &owner_id).ok_or_else(none)?;
    Ok(Json(json!({ "run_id": run_id, "hooks": hooks })))
}
