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

/// The form of `POST /{agents,teams,workflows}/{id}/runs` (multipart or urlencoded).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct RunFormSchema {
    /// The user's message.
    message: String,
    /// Stream server-sent events (default `true`).
    stream: Option<bool>,
    /// The session to continue; empty or missing starts a new one.
    session_id: Option<String>,
    /// The user.
    user_id: Option<String>,
    /// A JSON object of metadata.
    metadata: Option<String>,
    /// A JSON object: the session state to start with.
    session_state: Option<String>,
    /// Answer 202 at once and run in the background (non-streaming).
    background: Option<bool>,
}

/// The document's head; the paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(title = "AgentOS", description = "agno's AgentOS HTTP API, served by agno for Rust."),
    components(schemas(ErrorBody, RunFormSchema))
)]
pub(crate) struct ApiDoc;
