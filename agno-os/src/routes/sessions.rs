//! `GET /sessions`, `GET /sessions/{id}`, `GET /sessions/{id}/runs`, `DELETE /sessions/{id}`.

use std::sync::Arc;

use agno_core::db::{Db, SessionQuery};
use agno_core::models::Role;
use agno_core::session::SessionType;
use agno_core::{RunOutput, Session};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
/// session's runs (whole), else `""`.
fn session_name(session: &Session, runs: &[RunOutput]) -> String {
    if let Some(name) = session.session_data.as_ref().and_then(|d| d.get("session_name")).and_then(Value::as_str) {
        return name.to_owned();
    }
    runs.iter().map(run_input).find(|text| !text.is_empty()).unwrap_or_default()
}

/// A session without its runs (`session_name` from `runs`, its runs).
fn session_json(session: &Session, runs: &[RunOutput], run_count: Option<usize>) -> Value {
    let mut value = json!({
        "session_id": session.session_id,
        "session_name": session_name(session, runs),
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
    let mut all = db.list_sessions(&SessionQuery {
        user_id: query.user_id,
        agent_id: query.agent_id,
        team_id: query.team_id,
        workflow_id: query.workflow_id,
        session_type,
        limit: None,
    })?;
    if let Some(component) = query.component_id.as_deref().filter(|c| !c.is_empty()) {
        let owns = |s: &Session| {
            [&s.agent_id, &s.team_id, &s.workflow_id].into_iter().any(|id| id.as_deref() == Some(component))
        };
        all.retain(owns);
    }
    all.sort_by(|a, b| {
        let key = |s: &Session| if by_updated { s.updated_at.max(s.created_at) } else { s.created_at };
        let order = key(a).cmp(&key(b)).then_with(|| a.session_id.cmp(&b.session_id));
        if descending { order.reverse() } else { order }
    });
    let total = all.len();
    let mut data = Vec::with_capacity(limit.min(total));
    for listed in all.iter().skip((page - 1).saturating_mul(limit)).take(limit) {
        // The runs, for `session_name` (a page at a time; the session row is read already).
        data.push(session_json(listed, &db.get_runs(&listed.session_id)?, None));
    }
    Ok(Json(paged(data, page, limit, total)))
}

/// `GET /sessions/{session_id}`.
#[utoipa::path(get, path = "/sessions/{session_id}", tag = "Sessions", params(("session_id" = String, Path, description = "The session"), ("db_id" = Option<String>, Query, description = "The database (this OS has one)"), ("type" = Option<String>, Query, description = "agent, team or workflow")), responses((status = 200, description = "The session, without its runs", body = serde_json::Value), (status = 404, description = "No such session", body = crate::openapi::ErrorBody)))]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    Path(session_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let session = db(&state)?.get_session(&session_id)?.ok_or_else(not_found)?;
    Ok(Json(session_json(&session, &session.runs, Some(session.runs.len()))))
}

/// `GET /sessions/{session_id}/runs`, oldest first.
#[utoipa::path(get, path = "/sessions/{session_id}/runs", tag = "Sessions", params(("session_id" = String, Path, description = "The session"), ("db_id" = Option<String>, Query, description = "The database (this OS has one)"), ("type" = Option<String>, Query, description = "agent, team or workflow")), responses((status = 200, description = "The session's runs, oldest first, each with `run_input`", body = serde_json::Value), (status = 404, description = "No such session", body = crate::openapi::ErrorBody)))]
pub(crate) async fn runs(
    State(state): State<Arc<AppState>>,
    Path(session_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let db = db(&state)?;
    let session = db.get_session(&session_id)?.ok_or_else(not_found)?;
    let runs: Vec<Value> = session
        .runs
        .iter()
        .map(|run| {
            let mut value = json!(run);
            value["run_input"] = json!(run_input(run));
            if value.get("content").is_none_or(Value::is_null) {
                value["content"] = json!("");
            }
            value
        })
        .collect();
    Ok(Json(Value::Array(runs)))
}

/// `DELETE /sessions/{session_id}`: 204, or 404 if there was none.
#[utoipa::path(delete, path = "/sessions/{session_id}", tag = "Sessions", params(("session_id" = String, Path, description = "The session"), ("db_id" = Option<String>, Query, description = "The database (this OS has one)")), responses((status = 204, description = "Deleted"), (status = 404, description = "No such session", body = crate::openapi::ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    if db(&state)?.delete_session(&session_id)? { Ok(StatusCode::NO_CONTENT.into_response()) } else { Err(not_found()) }
}
