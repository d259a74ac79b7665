//! Request bodies: read bounded in size and time, then checked (content type, UTF-8, JSON syntax,
//! schema), every failure a JSON error with its own code.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest};
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;
use crate::http::observe::HeadRead;
use crate::http::{AppState, DEFAULT_BODY_TIMEOUT};

/// Reads a JSON body with our own checks, so that every failure is a JSON error with the right
/// status: content type, size (counted while reading, not trusted from headers), UTF-8, syntax,
/// schema.
pub async fn read_json<T: DeserializeOwned>(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<T, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    check_content_type(content_type)?;
    let body = read_body(req, payload, limit).await?;
    decode_json(&body)
}

/// The whole body, bounded in size (counted while reading) and in time: the body must be in
/// before the state's body deadline, counted from when the request's head was read.
pub async fn read_body(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let timeout = req.app_data::<web::Data<AppState>>().map_or(DEFAULT_BODY_TIMEOUT, |s| s.body_timeout);
    let since = req.extensions().get::<HeadRead>().map_or_else(Instant::now, |h| h.0);
    let deadline = tokio::time::Instant::from_std(since + timeout);
    tokio::time::timeout_at(deadline, payload.to_bytes_limited(limit))
        .await
        .map_err(|_| ApiError::RequestTimeout(timeout.as_secs_f64()))?
        .map_err(|_| ApiError::PayloadTooLarge(limit))?
        .map_err(|e| ApiError::MalformedJson(format!("cannot read body: {e}")))
}

/// JSON only (`application/json` or any `+json` type), any charset parameter.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let mime = content_type.and_then(|v| v.split(';').next()).map(|v| v.trim().to_ascii_lowercase()).unwrap_or_default();
    if mime == "application/json" || mime.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// A request body to a request type: UTF-8 first, then JSON syntax, then the schema. Pure, so
/// that it can be fuzzed (fuzz/fuzz_targets/request_body.rs).
pub fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::InvalidUtf8)?;
    serde_json::from_str(text).map_err(|e| if e.is_data() { ApiError::InvalidRequest(e.to_string()) } else { ApiError::MalformedJson(e.to_string()) })
}
