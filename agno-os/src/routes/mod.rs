//! The router: agno's AgentOS routes for agents, teams, workflows, runs and sessions.

pub(crate) mod agents;
pub(crate) mod evals;
pub(crate) mod meta;
pub(crate) mod query;
pub(crate) mod runs;
pub(crate) mod sessions;
pub(crate) mod teams;
pub(crate) mod workflows;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;
use crate::error::ApiError;
use crate::openapi::ApiDoc;
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

/// The request headers a CORS answer depends on (tower-http's default `Vary`), as one value.
const CORS_VARY: HeaderValue =
    HeaderValue::from_static("origin, access-control-request-method, access-control-request-headers");

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
        .max_age(CORS_MAX_AGE)
        // `Vary` is added by `vary_layer` as one ready value: tower-http builds its own for
        // every response (three allocations).
        .vary([]);
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
    // Behind an `Arc`: the layer is cloned for every request, and a list would be copied.
    let allowed: Arc<[HeaderValue]> = allowed.into();
    layer.allow_origin(AllowOrigin::predicate(move |origin, _| allowed.contains(origin)))
}

/// The `Vary` header of every answer, preflights included (see [`cors`]).
fn vary_layer() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::appending(header::VARY, CORS_VARY)
}

pub(crate) fn router(state: Arc<AppState>, cors_origins: Option<&[String]>) -> Router {
    // Each handler's `#[utoipa::path]` describes its route; the router collects them into the
    // OpenAPI document, so the document cannot drift from the routes.
    let (app, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(meta::root))
        .routes(routes!(meta::health))
        .routes(routes!(meta::info))
        .routes(routes!(meta::config))
        .routes(routes!(meta::registry))
        .routes(routes!(agents::list))
        .routes(routes!(agents::get_agent))
        .routes(routes!(runs::create_agent_run))
        .routes(routes!(runs::get_agent_run))
        .routes(routes!(runs::cancel_agent_run))
        .routes(routes!(runs::agent_run_hooks))
        .routes(routes!(teams::list))
        .routes(routes!(teams::get_team))
        .routes(routes!(runs::create_team_run))
        .routes(routes!(runs::get_team_run))
        .routes(routes!(runs::cancel_team_run))
        .routes(routes!(runs::team_run_hooks))
        .routes(routes!(workflows::list))
        .routes(routes!(workflows::get_workflow))
        .routes(routes!(runs::create_workflow_run))
        .routes(routes!(runs::get_workflow_run))
        .routes(routes!(runs::cancel_workflow_run))
        .routes(routes!(runs::workflow_run_hooks))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::get, sessions::delete))
        .routes(routes!(sessions::runs))
        .routes(routes!(evals::list))
        .routes(routes!(evals::get))
        .split_for_parts();
    let app = app
        .merge(SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", crate::openapi::finish(&api)))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let app = match state.security_key {
        Some(_) => app.layer(middleware::from_fn_with_state(Arc::clone(&state), security::require_key)),
        None => app,
    };
    app.layer(DefaultBodyLimit::max(state.body_limit)).with_state(state).layer(cors(cors_origins)).layer(vary_layer())
}
