//! `GET /sessions`, `GET /sessions/{id}`, `GET /sessions/{id}/runs`, `DELETE /sessions/{id}`.

use std::sync::Arc;

use agno_core::Session;
use agno_core::db::{Db, SessionQuery};
use agno_core::session::SessionType;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, field_error};

fn db(state: &AppState) -> Result<&Arc<dyn Db>, ApiError> {
    state.db.as_ref().ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "No database is configured for sessions"))
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Session not found")
}

/// A session without its runs.
fn session_json(session: &Session, run_count: Option<usize>) -> Value {
    let mut value = json!({
        "session_id": session.session_id,
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
    value
}

/// The query of `GET /sessions`.
#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(rename = "type")]
    session_type: Option<String>,
    user_id: Option<String>,
    agent_id: Option<String>,
    team_id: Option<String>,
    workflow_id: Option<String>,
    limit: Option<String>,
    page: Option<String>,
}

fn positive(name: &str, raw: Option<String>, default: usize) -> Result<usize, Value> {
    match raw {
        None => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => {
                let mut error =
                    field_error("greater_than_equal", name, "Input should be a whole number of at least 1", json!(raw));
                error["loc"] = json!(["query", name]);
                Err(error)
            }
        },
    }
}

/// `GET /sessions?type=agent&user_id=&agent_id=&team_id=&workflow_id=&limit=20&page=1`, newest
/// first.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Query(query): Query<ListQuery>,
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
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let all = db(&state)?.list_sessions(&SessionQuery {
        user_id: query.user_id,
        agent_id: query.agent_id,
        team_id: query.team_id,
        workflow_id: query.workflow_id,
        session_type,
        limit: None,
    })?;
    let total = all.len();
    let data: Vec<Value> =
        all.iter().skip((page - 1).saturating_mul(limit)).take(limit).map(|s| session_json(s, None)).collect();
    Ok(Json(json!({
        "data": data,
        "meta": { "page": page, "limit": limit, "total_count": total, "total_pages": total.div_ceil(limit) },
    })))
}

/// `GET /sessions/{session_id}`.
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    Path(session_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let session = db(&state)?.get_session(&session_id)?.ok_or_else(not_found)?;
    Ok(Json(session_json(&session, Some(session.runs.len()))))
}

/// `GET /sessions/{session_id}/runs`, oldest first.
pub(crate) async fn runs(
    State(state): State<Arc<AppState>>,
    Path(session_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let db = db(&state)?;
    let session = db.get_session(&session_id)?.ok_or_else(not_found)?;
    Ok(Json(json!(session.runs)))
}

/// `DELETE /sessions/{session_id}`: 204, or 404 if there was none.
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    if db(&state)?.delete_session(&session_id)? { Ok(StatusCode::NO_CONTENT.into_response()) } else { Err(not_found()) }
}
