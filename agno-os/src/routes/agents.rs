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
    json!({
        "id": agent.id(),
        "name": agent.name(),
        "model": { "id": model.id(), "name": model.id(), "provider": model.provider() },
        "db_id": agent.db().map(|db| db.id()),
        "instructions": agent.instructions(),
        "markdown": agent.markdown(),
        "system_message": agent.system_message(),
        "pre_hooks": hooks(agent.pre_hooks()),
        "post_hooks": hooks(agent.post_hooks()),
    })
}

/// `GET /agents`.
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(Value::Array(state.agents.iter().map(summary).collect()))
}

/// `GET /agents/{agent_id}`.
pub(crate) async fn get_agent(
    State(state): State<Arc<AppState>>,
    Path(agent_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.agent(&agent_id).map(|a| Json(summary(a))).ok_or_else(ApiError::agent_not_found)
}
