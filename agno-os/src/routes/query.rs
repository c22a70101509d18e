//! What the list routes share: the database a query names, agno's paging and sorting
//! parameters, the paged answer, and query strings whose mistakes are agno's JSON 422.

use std::sync::Arc;

use agno_core::db::Db;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, field_error};

/// A query string read into `T`, whose mistakes (a duplicate or malformed parameter) are agno's
/// 422 with a JSON reason, as documented, instead of axum's plain-text 400.
pub(crate) struct Params<T>(pub(crate) T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                let mut error = field_error("query_parsing", "query", &rejection.body_text(), Value::Null);
                error["loc"] = json!(["query"]);
                Err(ApiError::validation(vec![error]))
            }
        }
    }
}

/// The OS's database, or agno's 404 when it has none.
pub(crate) fn db(state: &AppState) -> Result<&Arc<dyn Db>, ApiError> {
    state.db.as_ref().ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "No database is configured for sessions"))
}

/// `?db_id=`: the AgentOS's own database, or a 404 as agno answers.
pub(crate) fn check_db_id(db: &Arc<dyn Db>, db_id: Option<&str>) -> Result<(), ApiError> {
    match db_id.filter(|id| !id.is_empty()) {
        Some(id) if id != db.id() => {
            Err(ApiError::new(StatusCode::NOT_FOUND, format!("No database found with id '{id}'")))
        }
        _ => Ok(()),
    }
}

/// `sort_by` (`created_at` or `updated_at`) and `sort_order` (`asc` or `desc`), agno's defaults
/// `created_at` and `desc`; a 422 entry for a value out of those.
pub(crate) fn sorting(sort_by: Option<&str>, sort_order: Option<&str>, errors: &mut Vec<Value>) -> (bool, bool) {
    let mut invalid = |name: &str, allowed: &str, raw: &str| {
        let mut error = field_error("enum", name, &format!("Input should be {allowed}"), json!(raw));
        error["loc"] = json!(["query", name]);
        errors.push(error);
    };
    let by_updated = match sort_by.unwrap_or("created_at") {
        "created_at" => false,
        "updated_at" => true,
        other => {
            invalid("sort_by", "'created_at' or 'updated_at'", other);
            false
        }
    };
    let descending = match sort_order.unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        other => {
            invalid("sort_order", "'asc' or 'desc'", other);
            true
        }
    };
    (by_updated, descending)
}

pub(crate) fn positive(name: &str, raw: Option<String>, default: usize) -> Result<usize, Value> {
    match raw {
        None => Ok(default),
        // At most u32::MAX, as the document says.
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n as usize),
            _ => {
                let mut error =
                    field_error("greater_than_equal", name, "Input should be a whole number of at least 1", json!(raw));
                error["loc"] = json!(["query", name]);
                Err(error)
            }
        },
    }
}

/// agno's paged answer: `data` and `meta` (page, limit, totals, and a search time of 0).
pub(crate) fn paged(data: Vec<Value>, page: usize, limit: usize, total: usize) -> Value {
    json!({
        "data": data,
        "meta": {
            "page": page, "limit": limit, "total_count": total, "total_pages": total.div_ceil(limit), "search_time_ms": 0,
        },
    })
}
