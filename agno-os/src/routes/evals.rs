//! `GET /eval-runs` and `GET /eval-runs/{eval_run_id}`: the stored evaluations (agno's
//! `agno_eval_runs`), with agno's filters and paging.

use std::sync::Arc;

use agno_core::db::{EvalRun, EvalRunQuery};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use super::query::{Params, check_db_id, db, paged, positive, sorting};
use crate::AppState;
use crate::error::{ApiError, field_error};
use crate::time::iso8601;

/// agno's evaluation types.
const EVAL_TYPES: [&str; 4] = ["accuracy", "agent_as_judge", "performance", "reliability"];

/// The query of `GET /eval-runs`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Evaluations of this agent.
    agent_id: Option<String>,
    /// Evaluations of this team.
    team_id: Option<String>,
    /// Evaluations of this workflow.
    workflow_id: Option<String>,
    /// Evaluations by this judge model.
    model_id: Option<String>,
    /// `agent`, `team` or `workflow`: evaluations of that kind of component.
    #[serde(rename = "type")]
    #[param(value_type = Option<crate::openapi::ComponentType>)]
    filter_type: Option<String>,
    /// Comma-separated evaluation types (`accuracy`, `agent_as_judge`, `performance`, `reliability`).
    #[param(
        pattern = "^((accuracy|agent_as_judge|performance|reliability)(,(accuracy|agent_as_judge|performance|reliability))*)?$"
    )]
    eval_types: Option<String>,
    /// Evaluations per page (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 4294967295_u64)]
    limit: Option<String>,
    /// The page, from 1.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 4294967295_u64)]
    page: Option<String>,
    /// `created_at` (default) or `updated_at`.
    #[param(value_type = Option<crate::openapi::SortBy>)]
    sort_by: Option<String>,
    /// `desc` (default) or `asc`.
    #[param(value_type = Option<crate::openapi::SortOrder>)]
    sort_order: Option<String>,
    /// The database (this OS has one).
    db_id: Option<String>,
}

/// A stored time in agno's form (`2026-12-04T03:00:00.000000+00:00`).
fn time(unix: i64) -> String {
    iso8601(std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(unix).unwrap_or(0)))
}

/// agno's `EvalSchema` (nulls kept, as agno sends them on this route).
fn eval_json(run: &EvalRun) -> Value {
    json!({
        "id": run.run_id,
        "agent_id": run.agent_id,
        "model_id": run.model_id,
        "model_provider": run.model_provider,
        "team_id": run.team_id,
        "workflow_id": run.workflow_id,
        "name": run.name,
        "evaluated_component_name": run.evaluated_component_name,
        "user_id": Value::Null,
        "eval_type": run.eval_type,
        "eval_data": run.eval_data,
        "eval_input": run.eval_input,
        "created_at": time(run.created_at),
        "updated_at": time(run.updated_at),
    })
}

/// `GET /eval-runs?agent_id=&team_id=&workflow_id=&model_id=&type=&eval_types=&limit=20&page=1&sort_by=created_at&sort_order=desc`.
#[utoipa::path(get, path = "/eval-runs", tag = "Evals", params(ListQuery), responses((status = 200, description = "A page of evaluations: `data` and `meta`", body = serde_json::Value), (status = 404, description = "No database, or another `db_id`", body = crate::openapi::ErrorBody), (status = 422, description = "A query value out of range", body = serde_json::Value)))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Params(query): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let mut errors = Vec::new();
    let limit = positive("limit", query.limit, 20).map_err(|e| errors.push(e)).unwrap_or(20);
    let page = positive("page", query.page, 1).map_err(|e| errors.push(e)).unwrap_or(1);
    let (by_updated, descending) = sorting(query.sort_by.as_deref(), query.sort_order.as_deref(), &mut errors);
    let types: Option<Vec<String>> = query
        .eval_types
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(|t| t.split(',').map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()).collect());
    for unknown in types.iter().flatten().filter(|t| !EVAL_TYPES.contains(&t.as_str())) {
        let mut error = field_error(
            "enum",
            "eval_types",
            &format!("Invalid eval_type: {unknown}. Valid types: {}", EVAL_TYPES.join(", ")),
            json!(unknown),
        );
        error["loc"] = json!(["query", "eval_types"]);
        errors.push(error);
    }
    let kind = match query.filter_type.as_deref() {
        None => None,
        Some(k @ ("agent" | "team" | "workflow")) => Some(k.to_owned()),
        Some(other) => {
            let mut error = field_error("enum", "type", "Input should be 'agent', 'team' or 'workflow'", json!(other));
            error["loc"] = json!(["query", "type"]);
            errors.push(error);
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let db = db(&state)?;
    check_db_id(db, query.db_id.as_deref())?;
    let mut all = db.get_eval_runs(&EvalRunQuery { agent_id: query.agent_id, eval_type: None, limit: None }).await?;
    let same = |wanted: &Option<String>, found: &Option<String>| wanted.is_none() || wanted == found;
    all.retain(|run| {
        same(&query.team_id, &run.team_id)
            && same(&query.workflow_id, &run.workflow_id)
            && same(&query.model_id, &run.model_id)
            && types.as_ref().is_none_or(|t| t.contains(&run.eval_type))
            && match kind.as_deref() {
                Some("agent") => run.agent_id.is_some(),
                Some("team") => run.team_id.is_some(),
                Some("workflow") => run.workflow_id.is_some(),
                _ => true,
            }
    });
    all.sort_by(|a, b| {
        let key = |r: &EvalRun| if by_updated { r.updated_at } else { r.created_at };
        let order = key(a).cmp(&key(b));
        if descending { order.reverse() } else { order }
    });
    let total = all.len();
    let data: Vec<Value> = all.iter().skip((page - 1).saturating_mul(limit)).take(limit).map(eval_json).collect();
    Ok(Json(paged(data, page, limit, total)))
}

/// The query of `GET /eval-runs/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GetQuery {
    /// The database (this OS has one).
    db_id: Option<String>,
}

/// `GET /eval-runs/{eval_run_id}`.
#[utoipa::path(get, path = "/eval-runs/{eval_run_id}", tag = "Evals", params(("eval_run_id" = String, Path, description = "The evaluation"), GetQuery), responses((status = 200, description = "The evaluation", body = serde_json::Value), (status = 404, description = "No such evaluation", body = crate::openapi::ErrorBody)))]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    Path(eval_run_id): Path<String>,
    Params(query): Params<GetQuery>,
) -> Result<Json<Value>, ApiError> {
    let db = db(&state)?;
    check_db_id(db, query.db_id.as_deref())?;
    db.get_eval_run(&eval_run_id)
        .await?
        .map(|r| Json(eval_json(&r)))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("Eval run with id '{eval_run_id}' not found")))
}
