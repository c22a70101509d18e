//! HTTP errors with agno's body shape: `{"detail": <string or list>}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer: a status and agno's `{"detail": ...}` body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The status code.
    pub status: StatusCode,
    /// The `detail` value.
    pub detail: Value,
}

impl ApiError {
    /// An error with a text detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self { status, detail: Value::String(detail.into()) }
    }

    /// 404 with agno's text for an unknown agent.
    pub fn agent_not_found() -> Self {
        Self::not_found(agno_core::run::RunnerKind::Agent)
    }

    /// 404 `{"detail": "Agent not found"}` (or `Team`, `Workflow`).
    pub fn not_found(kind: agno_core::run::RunnerKind) -> Self {
        use agno_core::run::RunnerKind;
        let detail = match kind {
            RunnerKind::Agent => "Agent not found",
            RunnerKind::Team => "Team not found",
            RunnerKind::Workflow => "Workflow not found",
        };
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 422 with FastAPI's list of validation errors.
    pub fn validation(errors: Vec<Value>) -> Self {
        Self { status: StatusCode::UNPROCESSABLE_ENTITY, detail: Value::Array(errors) }
    }

    /// 500 for storage failures (the detail names the failure, never a secret).
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("Internal server error: {error}"))
    }
}

/// One FastAPI-style validation error for a body field.
pub fn field_error(kind: &str, field: &str, msg: &str, input: Value) -> Value {
    json!({ "type": kind, "loc": ["body", field], "msg": msg, "input": input })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "detail": self.detail }))).into_response()
    }
}

impl From<agno_core::Error> for ApiError {
    fn from(error: agno_core::Error) -> Self {
        match error {
            agno_core::Error::SessionOwnership { session_id } => {
                Self::new(StatusCode::FORBIDDEN, format!("Session {session_id} belongs to another user"))
            }
            error @ agno_core::Error::SessionKind { .. } => Self::new(StatusCode::CONFLICT, error.to_string()),
            agno_core::Error::Config(message) => Self::new(StatusCode::BAD_REQUEST, message),
            other => Self::internal(other),
        }
    }
}

impl From<agno_core::db::DbError> for ApiError {
    fn from(error: agno_core::db::DbError) -> Self {
        Self::internal(error)
    }
}
