//! `GET /`, `/health`, `/info`, `/config`, `/registry`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::agents::summary;
use crate::AppState;

/// `GET /`.
#[utoipa::path(get, path = "/", tag = "Core", responses((status = 200, description = "What this server is", body = serde_json::Value)))]
pub(crate) async fn root() -> Json<Value> {
    Json(json!({ "name": "AgentOS", "health": "/health", "info": "/info", "docs": "/docs" }))
}

/// `GET /health` (open even with a security key).
#[utoipa::path(get, path = "/health", tag = "Core", responses((status = 200, description = "Up", body = serde_json::Value)))]
pub(crate) async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({ "status": "ok", "instantiated_at": state.instantiated_at }))
}

/// `GET /info`.
#[utoipa::path(get, path = "/info", tag = "Core", responses((status = 200, description = "The OS and what it serves", body = serde_json::Value)))]
pub(crate) async fn info(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({
        "os_id": state.os_id,
        "name": state.name,
        "os_version": env!("CARGO_PKG_VERSION"),
        "agno_version": env!("CARGO_PKG_VERSION"),
        "agent_count": state.agents.len(),
        "team_count": state.teams.len(),
        "workflow_count": state.workflows.len(),
        "mcp": false,
        "auth_mode": if state.security_key.is_some() { "security_key" } else { "none" },
        "user_isolation": false,
    }))
}

/// `GET /config`.
#[utoipa::path(get, path = "/config", tag = "Core", responses((status = 200, description = "agno's configuration view", body = serde_json::Value)))]
pub(crate) async fn config(State(state): State<Arc<AppState>>) -> Json<Value> {
    let mut databases: Vec<&str> = state.agents.iter().filter_map(|a| a.db()).map(|db| db.id()).collect();
    databases.extend(state.teams.iter().filter_map(|t| t.db()).map(|db| db.id()));
    databases.extend(state.workflows.iter().filter_map(|w| w.db()).map(|db| db.id()));
    databases.extend(state.db.as_ref().map(|db| db.id()));
    databases.sort_unstable();
    databases.dedup();
    Json(json!({
        "os_id": state.os_id,
        "name": state.name,
        "description": state.description,
        "agents": state.agents.iter().map(summary).collect::<Vec<_>>(),
        "teams": state.teams.iter().map(super::teams::summary).collect::<Vec<_>>(),
        "workflows": state.workflows.iter().map(super::workflows::summary).collect::<Vec<_>>(),
        "databases": databases,
        "interfaces": [],
        "run_hooks_in_background": state.all_hooks_in_background,
    }))
}

/// `GET /registry`: every `#[hook]` and `#[task]` of the program.
#[utoipa::path(get, path = "/registry", tag = "Core", responses((status = 200, description = "Every registered hook and task", body = serde_json::Value)))]
pub(crate) async fn registry() -> Json<Value> {
    let entries = |items: Vec<&'static agno_core::registry::Descriptor>| {
        items
            .into_iter()
            .map(|d| {
                json!({
                    "name": d.name,
                    "module_path": d.module_path,
                    "run_in_background": d.run_in_background,
                    "ttl_secs": d.ttl_secs,
                    "priority": d.priority,
                })
            })
            .collect::<Vec<_>>()
    };
    Json(json!({
        "hooks": entries(agno_core::registry::hooks()),
        "tasks": entries(agno_core::registry::tasks()),
    }))
}
