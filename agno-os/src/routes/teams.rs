//! `GET /teams` and `GET /teams/{team_id}`.

use std::sync::Arc;

use agno_core::run::RunnerKind;
use agno_core::team::{Member, Team};
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::agents::{hook_list, summary as agent_summary};
use crate::AppState;
use crate::error::ApiError;

/// What AgentOS shows of a team, its members (nested teams included) with it.
pub(crate) fn summary(team: &Team) -> Value {
    let model = team.model();
    let members: Vec<Value> = team
        .members()
        .iter()
        .map(|member| match member {
            Member::Agent(agent) => agent_summary(agent),
            Member::Team(team) => summary(team),
        })
        .collect();
    json!({
        "id": team.id(),
        "name": team.name(),
        "mode": team.mode().as_str(),
        "model": { "id": model.id(), "name": model.id(), "provider": model.provider() },
        "db_id": team.db().map(|db| db.id()),
        "instructions": team.instructions(),
        "members": members,
        "pre_hooks": hook_list(team.pre_hooks()),
        "post_hooks": hook_list(team.post_hooks()),
    })
}

/// `GET /teams`.
#[utoipa::path(get, path = "/teams", tag = "Teams", responses((status = 200, description = "Every team", body = serde_json::Value)))]
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(Value::Array(state.teams.iter().map(summary).collect()))
}

/// `GET /teams/{team_id}`.
#[utoipa::path(get, path = "/teams/{team_id}", tag = "Teams", params(("team_id" = String, Path, description = "The team's id")), responses((status = 200, description = "The team", body = serde_json::Value), (status = 404, description = "No such team", body = crate::openapi::ErrorBody)))]
pub(crate) async fn get_team(
    State(state): State<Arc<AppState>>,
    Path(team_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let team = state.team_index.get(&team_id).map(|i| &state.teams[*i]);
    team.map(|t| Json(summary(t))).ok_or_else(|| ApiError::not_found(RunnerKind::Team))
}
