//! `GET /workflows` and `GET /workflows/{workflow_id}`.

use std::sync::Arc;

use agno_core::run::RunnerKind;
use agno_core::workflow::{StepExecutor, Workflow};
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::agents::{hook_list, summary as agent_summary};
use super::teams::summary as team_summary;
use crate::AppState;
use crate::error::ApiError;

/// What AgentOS shows of a workflow, with its steps.
pub(crate) fn summary(workflow: &Workflow) -> Value {
    let steps: Vec<Value> = workflow
        .steps()
        .iter()
        .map(|step| {
            let (agent, team) = match step.executor() {
                StepExecutor::Agent(agent) => (Some(agent_summary(agent)), None),
                StepExecutor::Team(team) => (None, Some(team_summary(team))),
                StepExecutor::Function(_) => (None, None),
            };
            json!({ "name": step.name(), "type": step.executor_type(), "agent": agent, "team": team })
        })
        .collect();
    json!({
        "id": workflow.id(),
        "name": workflow.name(),
        "description": workflow.description(),
        "db_id": workflow.db().map(|db| db.id()),
        "steps": steps,
        "pre_hooks": hook_list(workflow.pre_hooks()),
        "post_hooks": hook_list(workflow.post_hooks()),
    })
}

/// `GET /workflows`.
#[utoipa::path(get, path = "/workflows", tag = "Workflows", responses((status = 200, description = "Every workflow", body = serde_json::Value)))]
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(Value::Array(state.workflows.iter().map(summary).collect()))
}

/// `GET /workflows/{workflow_id}`.
#[utoipa::path(get, path = "/workflows/{workflow_id}", tag = "Workflows", params(("workflow_id" = String, Path, description = "The workflow's id")), responses((status = 200, description = "The workflow", body = serde_json::Value), (status = 404, description = "No such workflow", body = crate::openapi::ErrorBody)))]
pub(crate) async fn get_workflow(
    State(state): State<Arc<AppState>>,
    Path(workflow_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let workflow = state.workflow_index.get(&workflow_id).map(|i| &state.workflows[*i]);
    workflow.map(|w| Json(summary(w))).ok_or_else(|| ApiError::not_found(RunnerKind::Workflow))
}
