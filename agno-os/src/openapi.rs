//! The OpenAPI description of AgentOS, generated from the route definitions (`#[utoipa::path]` on
//! each handler, collected by the router), served at `GET /openapi.json`, and the interactive
//! docs page at `GET /docs` (Swagger UI, its assets built into the binary, so it works offline).

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// Every error body: agno's `{"detail": ...}` (422s carry a list of field errors instead).
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// What went wrong.
    detail: String,
}

/// The form of `POST /{agents,teams,workflows}/{id}/runs` (multipart; urlencoded works too).
/// Other fields reach the hooks in `run_context.extra`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct RunFormSchema {
    /// The user's message.
    #[schema(min_length = 1, pattern = r"\S")]
    message: String,
    /// Stream server-sent events (default `true`).
    #[schema(nullable = false)]
    stream: Option<bool>,
    /// The session to continue; empty or missing starts a new one.
    #[schema(nullable = false)]
    session_id: Option<String>,
    /// The user.
    #[schema(nullable = false)]
    user_id: Option<String>,
    /// Metadata for the run (a JSON object).
    #[schema(nullable = false, value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
    /// The session state to start with (a JSON object).
    #[schema(nullable = false, value_type = Option<Object>)]
    session_state: Option<serde_json::Value>,
    /// Answer 202 at once and run in the background (non-streaming).
    #[schema(nullable = false)]
    background: Option<bool>,
}

/// `type`: which kind of component.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum ComponentType {
    /// Agents.
    Agent,
    /// Teams.
    Team,
    /// Workflows.
    Workflow,
}

/// `sort_by`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum SortBy {
    /// When it was created (default).
    CreatedAt,
    /// When it was last updated.
    UpdatedAt,
}

/// `sort_order`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum SortOrder {
    /// Newest first (default).
    Desc,
    /// Oldest first.
    Asc,
}

/// A run's status, as `GET /sessions/{id}/runs?status=` takes it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
#[allow(dead_code)]
pub(crate) enum RunStatusFilter {
    /// Queued, not started.
    Pending,
    /// Under way.
    Running,
    /// Answered.
    Completed,
    /// Paused.
    Paused,
    /// Cancelled.
    Cancelled,
    /// Failed.
    Error,
}

/// The document's head; the paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(title = "AgentOS", description = "agno's AgentOS HTTP API, served by agno for Rust."),
    components(schemas(ErrorBody, RunFormSchema, ComponentType, SortBy, SortOrder, RunStatusFilter))
)]
pub(crate) struct ApiDoc;

/// The document as served: what the route definitions say, plus what utoipa cannot write — the
/// names extra form fields may have (they reach the hooks in `run_context.extra`; a name with
/// control characters cannot even be sent in a multipart header).
pub(crate) fn finish(api: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(api).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot serialise the OpenAPI document");
        serde_json::Value::Null
    });
    if let Some(form) = doc.pointer_mut("/components/schemas/RunFormSchema").and_then(serde_json::Value::as_object_mut)
    {
        form.insert("propertyNames".into(), serde_json::json!({"pattern": "^[A-Za-z0-9_.-]+$"}));
        form.insert("additionalProperties".into(), serde_json::json!({"type": "string"}));
    }
    doc
}
