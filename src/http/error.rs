//! Every error the API returns: JSON `{"error": {"code", "message"}}` with the matching status.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::pipeline::ParseError;

/// Seconds a client is asked to wait when the queue is full.
pub const RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("request body does not match the schema: {0}")]
    InvalidRequest(String),
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("request body is not valid UTF-8")]
    InvalidUtf8,
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("batch has {0} texts; the limit is {1}")]
    BatchTooLarge(usize, usize),
    #[error("batch is empty")]
    EmptyBatch,
    #[error("no route {0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the request was not received within {0} s")]
    RequestTimeout(f64),
    #[error("model is not ready")]
    NotReady,
    #[error("a valid API key is required (Authorization: Bearer KEY, X-API-Key, or ?token=)")]
    Unauthorized,
    #[error("unknown model {0:?}; GET /v1/models lists the served ones")]
    UnknownModel(String),
    /// A reload onto a bundle that failed its checks; the old model keeps serving.
    #[error("{message}")]
    BundleRefused { message: String, problems: Vec<crate::bundle::Problem> },
    #[error("{0}")]
    ReloadConflict(String),
    #[error("{0}")]
    ReloadFailed(String),
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// An error answer made outside our handlers (actix's extractors, middleware, the HTTP codec).
    #[error("{}", message.clone().unwrap_or_else(|| status.canonical_reason().unwrap_or("HTTP error").to_string()))]
    Http { status: StatusCode, message: Option<String> },
}

/// The code of an error answer that only has a status (see [`ApiError::Http`]).
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        431 => "headers_too_large",
        s if s >= 500 => "internal_error",
        _ => "http_error",
    }
}

impl From<crate::registry::ReloadError> for ApiError {
    fn from(e: crate::registry::ReloadError) -> Self {
        use crate::registry::ReloadError;
        match e {
            ReloadError::UnknownModel(n) => ApiError::UnknownModel(n),
            ReloadError::Refused(b) => ApiError::BundleRefused {
                message: format!("bundle {} refused; the model in service is unchanged", b.path.display()),
                problems: b.problems,
            },
            ReloadError::Conflict(m) => ApiError::ReloadConflict(m),
            ReloadError::Failed(m) => ApiError::ReloadFailed(m),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    problems: Option<&'a [crate::bundle::Problem]>,
}

impl ApiError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::InvalidUtf8 => "invalid_utf8",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::BatchTooLarge(..) => "batch_too_large",
            ApiError::EmptyBatch => "empty_batch",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::NotReady => "not_ready",
            ApiError::Unauthorized => "unauthorized",
            ApiError::UnknownModel(_) => "unknown_model",
            ApiError::BundleRefused { .. } => "invalid_bundle",
            ApiError::ReloadConflict(_) => "reload_conflict",
            ApiError::ReloadFailed(_) => "reload_failed",
            ApiError::Parse(ParseError::EmptyText) => "empty_text",
            ApiError::Parse(ParseError::TextTooLong { .. }) => "text_too_long",
            ApiError::Parse(ParseError::UnsupportedLanguage(..)) => "unsupported_language",
            ApiError::Parse(ParseError::Overloaded) => "overloaded",
            ApiError::Parse(ParseError::Inference(_)) => "inference_failed",
            ApiError::Parse(ParseError::InvalidTimeReference(_)) => "invalid_time_reference",
            ApiError::Parse(ParseError::UnknownDimension(_)) => "unknown_dimension",
            ApiError::Http { status, .. } => code_for_status(*status),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) | ApiError::InvalidUtf8 | ApiError::EmptyBatch => StatusCode::BAD_REQUEST,
            ApiError::InvalidRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            // a field over its limit is a validation error; 413 is for the body itself
            ApiError::BatchTooLarge(..) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::UnknownModel(_) => StatusCode::NOT_FOUND,
            ApiError::BundleRefused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::ReloadConflict(_) => StatusCode::CONFLICT,
            ApiError::ReloadFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Parse(ParseError::EmptyText) => StatusCode::BAD_REQUEST,
            ApiError::Parse(ParseError::TextTooLong { .. }) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Parse(ParseError::UnsupportedLanguage(..)) => StatusCode::BAD_REQUEST,
            ApiError::Parse(ParseError::Overloaded) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Parse(ParseError::Inference(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Parse(ParseError::InvalidTimeReference(_)) | ApiError::Parse(ParseError::UnknownDimension(_)) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Http { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Parse(ParseError::Overloaded) | ApiError::NotReady) {
            res.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
        }
        if matches!(self, ApiError::Unauthorized) {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        let problems = match self {
            ApiError::BundleRefused { problems, .. } => Some(problems.as_slice()),
            _ => None,
        };
        res.json(Body { error: Detail { code: self.code(), message: self.to_string(), problems } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overload_is_503_with_retry_after_and_json() {
        let res = ApiError::Parse(ParseError::Overloaded).error_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "1");
        assert_eq!(res.headers().get(header::CONTENT_TYPE).unwrap(), "application/json");
    }

    #[test]
    fn client_errors_are_4xx_and_codes_are_distinct() {
        let errors = [
            ApiError::MalformedJson(String::new()),
            ApiError::InvalidRequest(String::new()),
            ApiError::UnsupportedMediaType,
            ApiError::InvalidUtf8,
            ApiError::PayloadTooLarge(1),
            ApiError::BatchTooLarge(2, 1),
            ApiError::EmptyBatch,
            ApiError::Parse(ParseError::EmptyText),
            ApiError::Parse(ParseError::TextTooLong { chars: 2, max: 1 }),
        ];
        let mut codes = std::collections::HashSet::new();
        for e in &errors {
            assert!(e.status_code().is_client_error(), "{e:?}");
            assert!(codes.insert(e.code()), "duplicate code {}", e.code());
        }
    }
}
