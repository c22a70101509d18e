//! The router: agno's AgentOS routes for agents, teams, workflows, runs and sessions.

pub(crate) mod agents;
pub(crate) mod meta;
pub(crate) mod runs;
pub(crate) mod sessions;
pub(crate) mod teams;
pub(crate) mod workflows;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware;
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::AppState;
use crate::error::ApiError;
use crate::security;

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new().allow_methods(Any).allow_headers(Any);
    if origins.iter().any(|o| o == "*") {
        return layer.allow_origin(Any);
    }
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| match HeaderValue::from_str(o) {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::warn!(origin = %o, "ignoring a CORS origin that is not a valid header value");
                None
            }
        })
        .collect();
    layer.allow_origin(AllowOrigin::list(allowed))
}

pub(crate) fn router(state: Arc<AppState>, cors_origins: Option<&[String]>) -> Router {
    let app = Router::new()
        .route("/", get(meta::root))
        .route("/health", get(meta::health))
        .route("/info", get(meta::info))
        .route("/config", get(meta::config))
        .route("/registry", get(meta::registry))
        .route("/agents", get(agents::list))
        .route("/agents/{agent_id}", get(agents::get_agent))
        .route("/agents/{agent_id}/runs", post(runs::create_agent_run))
        .route("/agents/{agent_id}/runs/{run_id}", get(runs::get_agent_run))
        .route("/agents/{agent_id}/runs/{run_id}/cancel", post(runs::cancel_agent_run))
        .route("/agents/{agent_id}/runs/{run_id}/hooks", get(runs::agent_run_hooks))
        .route("/teams", get(teams::list))
        .route("/teams/{team_id}", get(teams::get_team))
        .route("/teams/{team_id}/runs", post(runs::create_team_run))
        .route("/teams/{team_id}/runs/{run_id}", get(runs::get_team_run))
        .route("/teams/{team_id}/runs/{run_id}/cancel", post(runs::cancel_team_run))
        .route("/teams/{team_id}/runs/{run_id}/hooks", get(runs::team_run_hooks))
        .route("/workflows", get(workflows::list))
        .route("/workflows/{workflow_id}", get(workflows::get_workflow))
        .route("/workflows/{workflow_id}/runs", post(runs::create_workflow_run))
        .route("/workflows/{workflow_id}/runs/{run_id}", get(runs::get_workflow_run))
        .route("/workflows/{workflow_id}/runs/{run_id}/cancel", post(runs::cancel_workflow_run))
        .route("/workflows/{workflow_id}/runs/{run_id}/hooks", get(runs::workflow_run_hooks))
        .route("/sessions", get(sessions::list))
        .route("/sessions/{session_id}", get(sessions::get).delete(sessions::delete))
        .route("/sessions/{session_id}/runs", get(sessions::runs))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let app = match state.security_key {
        Some(_) => app.layer(middleware::from_fn_with_state(Arc::clone(&state), security::require_key)),
        None => app,
    };
    let app = app.layer(DefaultBodyLimit::max(state.body_limit)).with_state(state);
    match cors_origins {
        Some(origins) => app.layer(cors(origins)),
        None => app,
    }
}
