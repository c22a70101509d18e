//! `GET /agents` and `GET /agents/{agent_id}`.

use std::sync::Arc;

use agno_core::Agent;
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// What AgentOS shows of a list of hooks.
pub(crate) fn hook_list(list: &[agno_core::hooks::SharedHook]) -> Vec<Value> {
    list.iter()
        .map(|h| json!({ "name": h.name(), "run_in_background": h.run_in_background(), "guardrail": h.is_guardrail() }))
        .collect()
}

/// What AgentOS shows of an agent.
pub(crate) fn summary(agent: &Agent) -> Value {
    let model = agent.model();
    let hooks = hook_list;
    // agno's `system_message` object keeps only what differs from agno's defaults.
    let mut system_message = serde_json::Map::new();
    if let Some(text) = agent.system_message() {
        system_message.insert("system_message".into(), json!(text));
    }
    if !agent.instructions().is_empty() {
        system_message.insert("instructions".into(), json!(agent.instructions()));
    }
    if agent.markdown() {
        system_message.insert("markdown".into(), json!(true));
    }
    json!({
        "id": agent.id(),
        "name": agent.name(),
        // agno's `ModelResponse`: the badge of agno's Agent UI reads `model.model`.
        "model": { "name": model.id(), "model": model.id(), "provider": model.provider() },
        "db_id": agent.db().map(|db| db.id()),
        "instructions": agent.instructions(),
        "markdown": agent.markdown(),
        "system_message": (!system_message.is_empty()).then_some(Value::Object(system_message)),
        "pre_hooks": hooks(agent.pre_hooks()),
        "post_hooks": hooks(agent.post_hooks()),
    })
}

/// `GET /agents`.
#[utoipa::path(get, path = "/agents", tag = "Agents", responses((status = 200, description = "Every agent", body = serde_json::Value)))]
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(Value::Array(state.agents.iter().map(summary).collect()))
}

/// `GET /agents/{agent_id}`.
#[utoipa::path(get, path = "/agents/{agent_id}", tag = "Agents", params(("agent_id" = String, Path, description = "The agent's id")), responses((status = 200, description = "The agent", body = serde_json::Value), (status = 404, description = "No such agent", body = crate::openapi::ErrorBody)))]
pub(crate) async fn get_agent(
    State(state): State<Arc<AppState>>,
    Path(agent_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.agent(&agent_id).map(|a| Json(summary(a))).ok_or_else(ApiError::agent_not_found)
}
