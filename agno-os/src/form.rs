//! The form of `POST /agents/{id}/runs`: multipart or urlencoded, validated as agno's FastAPI
//! route does (422 with a list of errors, 400 for bad metadata, 413 for an oversized body).

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use percent_encoding::percent_decode;
use serde_json::{Map, Value};

use crate::error::{ApiError, field_error};

/// A validated run request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunForm {
    pub message: String,
    pub stream: bool,
    pub stream_events: bool,
    pub background: bool,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub session_state: Option<Map<String, Value>>,
    pub extra: Map<String, Value>,
}

/// pydantic's lax booleans.
fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// agno's coercion of extra fields: `true`/`false` to booleans, `null`/`none` to null.
fn coerce(value: String) -> Value {
    match value.to_ascii_lowercase().as_str() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" | "none" => Value::Null,
        _ => Value::String(value),
    }
}

fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
}

/// Decodes one urlencoded component, rejecting invalid UTF-8.
fn decode(raw: &[u8]) -> Result<String, ApiError> {
    let invalid = |_| ApiError::new(StatusCode::BAD_REQUEST, "Form data is not valid UTF-8");
    if raw.contains(&b'+') {
        let plus_as_space: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
        percent_decode(&plus_as_space).decode_utf8().map(|s| s.into_owned()).map_err(invalid)
    } else {
        percent_decode(raw).decode_utf8().map(|s| s.into_owned()).map_err(invalid)
    }
}

async fn urlencoded_fields(body: Body, limit: usize) -> Result<Vec<(String, String)>, ApiError> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| too_large())?;
    bytes
        .split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let key = decode(parts.next().unwrap_or_default())?;
            let value = decode(parts.next().unwrap_or_default())?;
            Ok((key, value))
        })
        .collect()
}

async fn multipart_fields(request: Request) -> Result<Vec<(String, String)>, ApiError> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("Malformed multipart form: {}", e.body_text())))?;
    let mut fields = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("Malformed multipart form: {}", e.body_text()),
                ));
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        if field.file_name().is_some() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("Unsupported file type: field `{name}` is a file upload, which this server does not accept"),
            ));
        }
        let value = match field.text().await {
            Ok(text) => text,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => {
                return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("Field `{name}` is not valid UTF-8 text")));
            }
        };
        fields.push((name, value));
    }
    Ok(fields)
}

/// Reads and validates the form. Errors come in agno's order: 422 (all field errors at once),
/// then 400 for metadata that is not a JSON object.
pub(crate) async fn parse(request: Request, limit: usize) -> Result<RunForm, ApiError> {
    let content_type =
        request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let fields = if content_type.starts_with("multipart/form-data") {
        multipart_fields(request).await?
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        urlencoded_fields(request.into_body(), limit).await?
    } else {
        // A JSON or empty body has no form fields: agno answers 422 for the missing message.
        axum::body::to_bytes(request.into_body(), limit).await.map_err(|_| too_large())?;
        Vec::new()
    };
    validate(fields)
}

fn validate(fields: Vec<(String, String)>) -> Result<RunForm, ApiError> {
    let mut errors = Vec::new();
    let mut form = RunForm {
        message: String::new(),
        stream: true,
        stream_events: true,
        background: false,
        session_id: None,
        user_id: None,
        metadata: None,
        session_state: None,
        extra: Map::new(),
    };
    let mut metadata_raw = None;
    for (name, value) in fields {
        let flag = |slot: &mut bool, errors: &mut Vec<Value>| match parse_bool(&value) {
            Some(b) => *slot = b,
            None => errors.push(field_error(
                "bool_parsing",
                &name,
                "Input should be a valid boolean, unable to interpret input",
                Value::String(value.clone()),
            )),
        };
        match name.as_str() {
            "message" => form.message = value,
            "stream" => flag(&mut form.stream, &mut errors),
            "stream_events" => flag(&mut form.stream_events, &mut errors),
            "background" => flag(&mut form.background, &mut errors),
            "session_id" => form.session_id = Some(value).filter(|s| !s.is_empty()),
            "user_id" => form.user_id = Some(value).filter(|s| !s.is_empty()),
            "metadata" => metadata_raw = Some(value),
            "session_state" => match serde_json::from_str::<Value>(&value) {
                Ok(Value::Object(state)) => form.session_state = Some(state),
                _ => tracing::warn!("ignoring session_state that is not a JSON object"),
            },
            _ => {
                form.extra.insert(name, coerce(value));
            }
        }
    }
    if form.message.trim().is_empty() {
        errors.insert(0, field_error("missing", "message", "Field required", Value::Null));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if let Some(raw) = metadata_raw.filter(|m| !m.trim().is_empty()) {
        match serde_json::from_str::<Value>(&raw) {
            Ok(Value::Object(map)) => form.metadata = Some(map),
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "Invalid metadata parameter: expected a JSON object",
                ));
            }
        }
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_and_coercion_follow_agno() {
        let form =
            validate(fields(&[("message", "hi"), ("foo", "bar"), ("flag", "TRUE"), ("nothing", "none")])).unwrap();
        assert!(form.stream && form.stream_events && !form.background);
        assert_eq!(form.extra["foo"], "bar");
        assert_eq!(form.extra["flag"], true);
        assert_eq!(form.extra["nothing"], Value::Null);
        let form = validate(fields(&[("message", "hi"), ("stream", "off"), ("session_id", "")])).unwrap();
        assert!(!form.stream);
        assert_eq!(form.session_id, None, "an empty session id means a new session");
    }

    #[test]
    fn errors_are_collected_and_ordered() {
        let err = validate(fields(&[("stream", "maybe"), ("background", "x")])).unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        let detail = err.detail.as_array().unwrap();
        assert_eq!(detail.len(), 3);
        assert_eq!(detail[0]["loc"], serde_json::json!(["body", "message"]));
        assert_eq!(detail[1]["type"], "bool_parsing");
        assert_eq!(detail[1]["input"], "maybe");
        let err = validate(fields(&[("message", "hi"), ("metadata", "[1,2]")])).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.detail, "Invalid metadata parameter: expected a JSON object");
        let form = validate(fields(&[("message", "hi"), ("metadata", r#"{"k":"v"}"#)])).unwrap();
        assert_eq!(form.metadata.unwrap()["k"], "v");
    }

    #[test]
    fn urlencoded_decoding_rejects_invalid_utf8() {
        assert_eq!(decode(b"Hello%2C+how+are+you%3F").unwrap(), "Hello, how are you?");
        assert_eq!(decode(b"%FF").unwrap_err().status, StatusCode::BAD_REQUEST);
    }
}
