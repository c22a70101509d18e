//! The router: agno's AgentOS routes for agents, teams, workflows, runs and sessions.

pub(crate) mod agents;
pub(crate) mod evals;
pub(crate) mod meta;
pub(crate) mod runs;
pub(crate) mod sessions;
pub(crate) mod teams;
pub(crate) mod workflows;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::routing::{get, post};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::AppState;
use crate::error::ApiError;
use crate::security;

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

/// The origins allowed when the program names none: agno's (the Agent UI on
/// `http://localhost:3000` and agno's hosted front-ends).
pub const DEFAULT_CORS_ORIGINS: [&str; 6] = [
    "http://localhost:3000",
    "https://agno.com",
    "https://www.agno.com",
    "https://app.agno.com",
    "https://os-stg.agno.com",
    "https://os.agno.com",
];

/// How long a browser may cache a preflight answer, as agno answers.
const CORS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// agno's CORS: the allowed origins (agno's defaults, or the program's, which replace them; `*`
/// for any, echoed back since credentials are allowed), every method, the headers the browser
/// asks for, credentials, and a 600 s preflight cache. Preflights are answered before the
/// security key is checked (browsers send no `Authorization` on them).
fn cors(origins: Option<&[String]>) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
            Method::HEAD,
        ])
        .allow_headers(AllowHeaders::mirror_request())
        .allow_credentials(true)
        .max_age(CORS_MAX_AGE);
    let defaults: Vec<String>;
    let origins = match origins {
        Some(origins) => origins,
        None => {
            defaults = DEFAULT_CORS_ORIGINS.iter().map(|o| (*o).to_owned()).collect();
            &defaults
        }
    };
    if origins.iter().any(|o| o == "*") {
        return layer.allow_origin(AllowOrigin::mirror_request());
    }
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| match HeaderValue::from_str(o.trim_end_matches('/')) {
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
        .route("/eval-runs", get(evals::list))
        .route("/eval-runs/{eval_run_id}", get(evals::get))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let app = match state.security_key {
        Some(_) => app.layer(middleware::from_fn_with_state(Arc::clone(&state), security::require_key)),
        None => app,
    };
    app.layer(DefaultBodyLimit::max(state.body_limit)).with_state(state).layer(cors(cors_origins))
}
