//! `GET /sessions`, `GET /sessions/{id}`, `GET /sessions/{id}/runs`, `DELETE /sessions/{id}`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use agno_core::db::{Db, DbError, RunQuery, SessionQuery, SessionSort};
use agno_core::models::Role;
use agno_core::session::SessionType;
use agno_core::{RunOutput, RunStatus, Session};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use super::query::{Params, check_db_id, db, paged, positive, sorting};
use crate::AppState;
use crate::error::{ApiError, field_error};

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Session not found")
}

/// The text the user sent in a run (agno's `run_input`): its input, else its last user message.
fn run_input(run: &RunOutput) -> String {
    if let Some(input) = &run.input {
        return input.input_content_string();
    }
    run.messages
        .iter()
        .flatten()
        .rev()
        .find(|m| m.role == Role::User)
        .and_then(|m| m.content.clone())
        .unwrap_or_default()
}

/// agno's `session_name`: the one set in `session_data`, else the first user message of the
/// session (its first run's input, whole), else `""`. Reads at most the first run.
async fn session_name(db: &dyn Db, session: &Session) -> Result<String, DbError> {
    if let Some(name) = session.session_data.as_ref().and_then(|d| d.get("session_name")).and_then(Value::as_str) {
        return Ok(name.to_owned());
    }
    let first = db.get_runs(&session.session_id, &RunQuery { limit: Some(1), ..RunQuery::all() }).await?;
    Ok(first.iter().map(run_input).next().unwrap_or_default())
}

/// A session without its runs, named `session_name`, with `run_count` if given.
fn session_json(session: &Session, session_name: String, run_count: Option<usize>) -> Value {
    let mut value = json!({
        "session_id": session.session_id,
        "session_name": session_name,
        "session_type": session.session_type,
        "agent_id": session.agent_id,
        "team_id": session.team_id,
        "workflow_id": session.workflow_id,
        "user_id": session.user_id,
        "session_state": session.session_state(),
        "session_data": session.session_data,
        "agent_data": session.agent_data,
        "team_data": session.team_data,
        "workflow_data": session.workflow_data,
        "metadata": session.metadata,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
    });
    if let Some(count) = run_count {
        value["run_count"] = json!(count);
    }
    if session.session_type == SessionType::Agent {
        // agno's detail schema names the id twice.
        value["agent_session_id"] = json!(session.session_id);
    }
    value
}

/// The query of `GET /sessions`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// `agent`, `team` or `workflow`.
    #[serde(rename = "type")]
    #[param(value_type = Option<crate::openapi::ComponentType>)]
    session_type: Option<String>,
    /// The sessions of this user.
    user_id: Option<String>,
    /// The sessions of this agent.
    agent_id: Option<String>,
    /// The sessions of this team.
    team_id: Option<String>,
    /// The sessions of this workflow.
    workflow_id: Option<String>,
    /// The sessions of this agent, team or workflow (Agent UI's filter).
    component_id: Option<String>,
    /// The database (this OS has one).
    db_id: Option<String>,
    /// Sessions per page (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 4294967295_u64)]
    limit: Option<String>,
    /// The page, from 1.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 4294967295_u64)]
    page: Option<String>,
    /// `created_at` (default) or `updated_at`.
    #[param(value_type = Option<crate::openapi::SortBy>)]
    sort_by: Option<String>,
    /// `desc` (default) or `asc`.
    #[param(value_type = Option<crate::openapi::SortOrder>)]
    sort_order: Option<String>,
}

/// `GET /sessions?type=agent&user_id=&agent_id=&team_id=&workflow_id=&limit=20&page=1`, newest
/// first.
#[utoipa::path(get, path = "/sessions", tag = "Sessions", params(ListQuery), responses((status = 200, description = "A page of sessions: `data` and `meta`", body = serde_json::Value), (status = 404, description = "No database, or another `db_id`", body = crate::openapi::ErrorBody), (status = 422, description = "A query value out of range", body = serde_json::Value)))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Params(query): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let mut errors = Vec::new();
    let session_type = match query.session_type.as_deref() {
        None => None,
        Some(raw) => match SessionType::parse(raw) {
            Some(t) => Some(t),
            None => {
                let mut error =
                    field_error("enum", "type", "Input should be 'agent', 'team' or 'workflow'", json!(raw));
                error["loc"] = json!(["query", "type"]);
                errors.push(error);
                None
            }
        },
    };
    let limit = positive("limit", query.limit, 20).map_err(|e| errors.push(e)).unwrap_or(20);
    let page = positive("page", query.page, 1).map_err(|e| errors.push(e)).unwrap_or(1);
    let (by_updated, descending) = sorting(query.sort_by.as_deref(), query.sort_order.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let db = db(&state)?;
    check_db_id(db, query.db_id.as_deref())?;
    // Filtered, sorted and paged by the database: only the page is read.
    let found = db
        .list_sessions(&SessionQuery {
            user_id: query.user_id,
            agent_id: query.agent_id,
            team_id: query.team_id,
            workflow_id: query.workflow_id,
            component_id: query.component_id.filter(|c| !c.is_empty()),
            session_type,
            sort_by: if by_updated { SessionSort::UpdatedAt } else { SessionSort::CreatedAt },
            ascending: !descending,
            offset: (page - 1).saturating_mul(limit),
            limit: Some(limit),
        })
        .await?;
    let mut data = Vec::with_capacity(found.sessions.len());
    for listed in &found.sessions {
        data.push(session_json(listed, session_name(db.as_ref(), listed).await?, None));
    }
    Ok(Json(paged(data, page, limit, found.total)))
}

/// `GET /sessions/{session_id}`.
#[utoipa::path(get, path = "/sessions/{session_id}", tag = "Sessions", params(("session_id" = String, Path, description = "The session"), ("db_id" = Option<String>, Query, description = "The database (this OS has one)"), ("type" = Option<String>, Query, description = "agent, team or workflow")), responses((status = 200, description = "The session, without its runs", body = serde_json::Value), (status = 404, description = "No such session", body = crate::openapi::ErrorBody)))]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    Path(session_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let db = db(&state)?;
    let session = db.get_session(&session_id).await?.ok_or_else(not_found)?;
    let run_count = db.count_runs(&session_id, &RunQuery::all()).await?;
    let name = session_name(db.as_ref(), &session).await?;
    Ok(Json(session_json(&session, name, Some(run_count))))
}

/// The query of `GET /sessions/{id}/runs`: agno's filters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunsQuery {
    /// `agent`, `team` or `workflow` (accepted; a session has one type).
    #[serde(rename = "type")]
    #[param(value_type = Option<crate::openapi::ComponentType>)]
    session_type: Option<String>,
    /// The database (this OS has one).
    db_id: Option<String>,
    /// Only runs created at or after this time (Unix seconds).
    #[param(value_type = Option<i64>)]
    created_after: Option<String>,
    /// Only runs created at or before this time (Unix seconds).
    #[param(value_type = Option<i64>)]
    created_before: Option<String>,
    /// Only runs with this status (`COMPLETED`, `ERROR`, `RUNNING`, `PENDING`, `PAUSED`, `CANCELLED`).
    #[param(value_type = Option<crate::openapi::RunStatusFilter>)]
    status: Option<String>,
}

/// A Unix time of the query, or a 422 entry.
fn unix_time(name: &str, raw: Option<String>, errors: &mut Vec<Value>) -> Option<i64> {
    let raw = raw?;
    match raw.trim().parse::<i64>() {
        Ok(t) => Some(t),
        Err(_) => {
            let mut error =
                field_error("int_parsing", name, "Input should be a valid integer (Unix seconds)", json!(raw));
            error["loc"] = json!(["query", name]);
            errors.push(error);
            None
        }
    }
}

/// `GET /sessions/{session_id}/runs?created_after=&created_before=&status=`, oldest first: a
/// JSON array streamed [`RUNS_PER_READ`] runs at a time, so a long session is never held whole.
#[utoipa::path(get, path = "/sessions/{session_id}/runs", tag = "Sessions", params(("session_id" = String, Path, description = "The session"), RunsQuery), responses((status = 200, description = "The session's runs, oldest first, each with `run_input`", body = serde_json::Value), (status = 404, description = "No such session", body = crate::openapi::ErrorBody), (status = 422, description = "A filter out of range", body = serde_json::Value)))]
pub(crate) async fn runs(
    State(state): State<Arc<AppState>>,
    Path(session_id): Path<String>,
    Params(query): Params<RunsQuery>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    if let Some(raw) = query.session_type.as_deref().filter(|raw| SessionType::parse(raw).is_none()) {
        let mut error = field_error("enum", "type", "Input should be 'agent', 'team' or 'workflow'", json!(raw));
        error["loc"] = json!(["query", "type"]);
        errors.push(error);
    }
    let created_after = unix_time("created_after", query.created_after, &mut errors);
    let created_before = unix_time("created_before", query.created_before, &mut errors);
    let status = match query.status {
        None => None,
        Some(raw) => match RunStatus::parse(&raw) {
            Some(status) => Some(status),
            None => {
                let allowed = "'PENDING', 'RUNNING', 'COMPLETED', 'PAUSED', 'CANCELLED' or 'ERROR'";
                let mut error = field_error("enum", "status", &format!("Input should be {allowed}"), json!(raw));
                error["loc"] = json!(["query", "status"]);
                errors.push(error);
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let db = db(&state)?;
    check_db_id(db, query.db_id.as_deref())?;
    db.get_session(&session_id).await?.ok_or_else(not_found)?;
    let filters = RunQuery { created_after, created_before, status, ..RunQuery::all() };
    let pages = RunPages { db: Arc::clone(db), session_id, query: filters, next: None, started: false, done: false };
    Ok(([(header::CONTENT_TYPE, "application/json")], Body::from_stream(pages)).into_response())
}

/// How many runs `GET /sessions/{id}/runs` reads and sends at a time.
pub(crate) const RUNS_PER_READ: usize = 100;

/// A page of runs being read.
type PageRead = Pin<Box<dyn Future<Output = Result<Vec<RunOutput>, DbError>> + Send>>;

/// The body of `GET /sessions/{id}/runs`: `[`, then each page of runs as it is read, then `]`.
struct RunPages {
    db: Arc<dyn Db>,
    session_id: String,
    query: RunQuery,
    next: Option<PageRead>,
    started: bool,
    done: bool,
}

impl RunPages {
    /// A run as the route answers it: with `run_input`, and `content` never `null`.
    fn run_json(run: &RunOutput) -> Value {
        let mut value = json!(run);
        value["run_input"] = json!(run_input(run));
        if value.get("content").is_none_or(Value::is_null) {
            value["content"] = json!("");
        }
        value
    }
}

impl futures_core::Stream for RunPages {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let read = this.next.get_or_insert_with(|| {
            let (db, session_id) = (Arc::clone(&this.db), this.session_id.clone());
            let query = RunQuery { limit: Some(RUNS_PER_READ), ..this.query.clone() };
            Box::pin(async move { db.get_runs(&session_id, &query).await })
        });
        let page = match read.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(page) => page,
        };
        this.next = None;
        match page {
            Ok(runs) => {
                let mut chunk = Vec::with_capacity(runs.len() * 1024 + 2);
                for run in &runs {
                    chunk.push(if this.started { b',' } else { b'[' });
                    this.started = true;
                    // A `Value` always serialises.
                    serde_json::to_writer(&mut chunk, &Self::run_json(run)).map_err(std::io::Error::other)?;
                }
                this.query.offset += runs.len();
                if runs.len() < RUNS_PER_READ {
                    if !this.started {
                        chunk.push(b'[');
                    }
                    chunk.push(b']');
                    this.done = true;
                }
                Poll::Ready(Some(Ok(Bytes::from(chunk))))
            }
            Err(e) => {
                // The status line is sent already: the body ends short, and the reason is logged.
                tracing::error!(session_id = %this.session_id, error = %e, "reading runs failed mid-answer");
                this.done = true;
                Poll::Ready(Some(Err(std::io::Error::other(e))))
            }
        }
    }
}

/// `DELETE /sessions/{session_id}`: 204, or 404 if there was none.
#[utoipa::path(delete, path = "/sessions/{session_id}", tag = "Sessions", params(("session_id" = String, Path, description = "The session"), ("db_id" = Option<String>, Query, description = "The database (this OS has one)")), responses((status = 204, description = "Deleted"), (status = 404, description = "No such session", body = crate::openapi::ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    if db(&state)?.delete_session(&session_id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found())
    }
}
