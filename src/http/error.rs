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
    BundleRefused { message: String, problems: Vec<crate::model::Problem> },
    #[error("{0}")]
    ReloadConflict(String),
    #[error("{0}")]
    ReloadFailed(String),
    /// Training data with problems: nothing was trained.
    #[error("invalid training data; nothing was trained")]
    InvalidTrainingData(Vec<crate::model::Problem>),
    #[error("{0}")]
    TrainingBusy(String),
    #[error("{0}")]
    TrainingConflict(String),
    #[error("no training run of model {0:?} since the server started")]
    NoTrainingRun(String),
    #[error("{0}")]
    TrainingUnavailable(String),
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// An error answer made outside our handlers (actix's extractors, middleware, the HTTP codec).
    #[error("{}", message.clone().unwrap_or_else(|| status.canonical_reason().unwrap_or("HTTP error").to_string()))]
    Http { status: StatusCode, message: Option<String> },
}

/// One row of the error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: &'static str,
    /// The HTTP status; 0 where it is the status actix gave (`http_error`).
    pub status: u16,
    pub when: &'static str,
}

const fn row(status: u16, code: &'static str, when: &'static str) -> ErrorCode {
    ErrorCode { code, status, when }
}

/// Every error code the API sends, with its status: the one table. `ApiError::status_code` reads
/// the status from it, and a test keeps the README's error table equal to it.
pub const ERROR_CODES: &[ErrorCode] = &[
    row(400, "malformed_json", "the body is not JSON"),
    row(422, "invalid_request", "JSON, but not the expected fields and types (`text` missing, not a string…)"),
    row(415, "unsupported_media_type", "`Content-Type` is not `application/json`"),
    row(400, "invalid_utf8", "the body is not UTF-8"),
    row(400, "empty_text", "`text` is empty or only spaces"),
    row(422, "text_too_long", "a text is longer than 2,000 characters (`--max-text-chars`)"),
    row(422, "untokenizable_text", "the model's tokenizer cannot read a text"),
    row(422, "batch_too_large", "a batch holds more than 64 texts (`--max-batch-texts`)"),
    row(400, "empty_batch", "`texts` is empty"),
    row(413, "payload_too_large", "the body is over 1 MiB (`--max-body-bytes`)"),
    row(422, "payload_too_complex", "a Rasa button payload's JSON holds more than 100 entity values"),
    row(400, "unsupported_language", "`lang` is not a language of the model"),
    row(400, "invalid_time_reference", "`reference_time` or `timezone` cannot be read (or is empty)"),
    row(400, "unknown_dimension", "`dimensions` names an unknown dimension"),
    row(401, "unauthorized", "API keys are configured and none valid was given (or no admin key for `/admin`)"),
    row(404, "unknown_model", "`/v1/models/{name}/…` names no served model"),
    row(422, "invalid_bundle", "a reload found problems in the bundle; `error.problems` lists each with its file; the old model keeps serving"),
    row(409, "reload_conflict", "the new bundle does not serve a language that is routed to it"),
    row(500, "reload_failed", "a reload could not finish (it took over 120 s and was abandoned, or its loader failed); the old model keeps serving"),
    row(422, "invalid_training_data", "`POST /admin/models/{name}/train`: the training data has problems; `error.problems` lists each with its file, intent and example; nothing is trained"),
    row(409, "training_busy", "a training run is in progress (one at a time)"),
    row(409, "training_conflict", "the name is served from a folder outside `--models-dir`: train under another name"),
    row(404, "no_training_run", "no training run of that model since the server started"),
    row(503, "training_unavailable", "training over HTTP is off: no `--models-dir`, no encoder at `--encoder`, or the models folder cannot be written"),
    row(404, "not_found", "unknown path (whatever its encoding)"),
    row(405, "method_not_allowed", "wrong method for the path (`Allow` lists the right ones)"),
    row(408, "request_timeout", "the head did not arrive within `--client-timeout`, or the body within `--body-timeout`"),
    row(400, "bad_request", "the request is not valid HTTP/1.1"),
    row(431, "headers_too_large", "the request head is too large"),
    row(503, "overloaded", "the parse queue is full; `Retry-After: 1`"),
    row(503, "not_ready", "readiness is off; `Retry-After: 1`"),
    row(500, "inference_failed", "ONNX Runtime failed on a batch"),
    row(503, "model_unavailable", "the model's inference worker stopped; reload the model"),
    row(500, "internal_error", "any other server-side failure"),
    row(0, "http_error", "any other error status of the HTTP layer"),
];

/// The status of a code in [`ERROR_CODES`].
pub fn status_of(code: &str) -> Option<u16> {
    ERROR_CODES.iter().find(|r| r.code == code).map(|r| r.status)
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
        500 => "internal_error",
        _ => "http_error",
    }
}

impl From<crate::service::training::TrainStartError> for ApiError {
    fn from(e: crate::service::training::TrainStartError) -> Self {
        use crate::service::training::TrainStartError;
        match e {
            TrainStartError::Busy(_) => ApiError::TrainingBusy(e.to_string()),
            TrainStartError::Conflict(m) => ApiError::TrainingConflict(m),
            TrainStartError::Cancelled => ApiError::TrainingConflict("the run was cancelled while its data was checked".into()),
            TrainStartError::Unavailable(m) => ApiError::TrainingUnavailable(format!("training over HTTP is off: {m}")),
            TrainStartError::Invalid(found) => ApiError::InvalidTrainingData(
                found
                    .into_iter()
                    .map(|m| match m.split_once(": ").filter(|(f, _)| *f == "nlu.yml" || *f == "dev.yml") {
                        Some((file, rest)) => crate::model::Problem { file: file.into(), message: rest.into() },
                        None => crate::model::Problem { file: "request".into(), message: m },
                    })
                    .collect(),
            ),
        }
    }
}

impl From<crate::service::ReloadError> for ApiError {
    fn from(e: crate::service::ReloadError) -> Self {
        use crate::service::ReloadError;
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
    problems: Option<&'a [crate::model::Problem]>,
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
            ApiError::InvalidTrainingData(_) => "invalid_training_data",
            ApiError::TrainingBusy(_) => "training_busy",
            ApiError::TrainingConflict(_) => "training_conflict",
            ApiError::NoTrainingRun(_) => "no_training_run",
            ApiError::TrainingUnavailable(_) => "training_unavailable",
            ApiError::Parse(ParseError::EmptyText) => "empty_text",
            ApiError::Parse(ParseError::TextTooLong { .. }) => "text_too_long",
            ApiError::Parse(ParseError::UnsupportedLanguage(..)) => "unsupported_language",
            ApiError::Parse(ParseError::Overloaded) => "overloaded",
            ApiError::Parse(ParseError::Tokenizer(_)) => "untokenizable_text",
            ApiError::Parse(ParseError::PreparationPanicked) => "internal_error",
            ApiError::Parse(ParseError::WorkerStopped) => "model_unavailable",
            ApiError::Parse(ParseError::Inference(_)) => "inference_failed",
            ApiError::Parse(ParseError::InvalidTimeReference(_)) => "invalid_time_reference",
            ApiError::Parse(ParseError::UnknownDimension(_)) => "unknown_dimension",
            ApiError::Parse(ParseError::PayloadTooLarge { .. }) => "payload_too_complex",
            ApiError::Http { status, .. } => code_for_status(*status),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Http { status, .. } => *status,
            other => {
                let status = status_of(other.code()).expect("every code is in ERROR_CODES (tested)");
                StatusCode::from_u16(status).expect("a valid status")
            }
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
            ApiError::BundleRefused { problems, .. } | ApiError::InvalidTrainingData(problems) => Some(problems.as_slice()),
            _ => None,
        };
        res.json(Body { error: Detail { code: self.code(), message: crate::errors::chain(self), problems } })
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

    /// One error of each kind the handlers raise.
    fn one_of_each() -> Vec<ApiError> {
        vec![
            ApiError::MalformedJson(String::new()),
            ApiError::InvalidRequest(String::new()),
            ApiError::UnsupportedMediaType,
            ApiError::InvalidUtf8,
            ApiError::PayloadTooLarge(1),
            ApiError::BatchTooLarge(2, 1),
            ApiError::EmptyBatch,
            ApiError::NotFound(String::new()),
            ApiError::MethodNotAllowed,
            ApiError::RequestTimeout(1.0),
            ApiError::NotReady,
            ApiError::Unauthorized,
            ApiError::UnknownModel(String::new()),
            ApiError::BundleRefused { message: String::new(), problems: vec![] },
            ApiError::ReloadConflict(String::new()),
            ApiError::ReloadFailed(String::new()),
            ApiError::InvalidTrainingData(vec![]),
            ApiError::TrainingBusy(String::new()),
            ApiError::TrainingConflict(String::new()),
            ApiError::NoTrainingRun(String::new()),
            ApiError::TrainingUnavailable(String::new()),
            ApiError::Parse(ParseError::EmptyText),
            ApiError::Parse(ParseError::TextTooLong { chars: 2, max: 1 }),
            ApiError::Parse(ParseError::PayloadTooLarge { values: 2, max: 1 }),
            ApiError::Parse(ParseError::UnsupportedLanguage(String::new(), String::new())),
            ApiError::Parse(ParseError::Overloaded),
            ApiError::Parse(ParseError::Inference(crate::model::RunError::Panicked)),
            ApiError::Parse(ParseError::PreparationPanicked),
            ApiError::Parse(ParseError::WorkerStopped),
            ApiError::Parse(ParseError::Tokenizer(Box::<dyn std::error::Error + Send + Sync>::from("no").into())),
            ApiError::Parse(ParseError::InvalidTimeReference(String::new())),
            ApiError::Parse(ParseError::UnknownDimension(String::new())),
        ]
    }

    #[test]
    fn every_code_is_in_the_table_once() {
        let errors = one_of_each();
        for e in &errors {
            assert!(status_of(e.code()).is_some_and(|s| s == e.status_code().as_u16()), "{}", e.code());
        }
        for s in [400, 404, 405, 408, 413, 415, 431, 500, 502, 418] {
            let code = code_for_status(StatusCode::from_u16(s).unwrap());
            assert!(status_of(code).is_some_and(|t| t == s || t == 0), "{s} {code}");
        }
        let mut codes: Vec<_> = ERROR_CODES.iter().map(|r| r.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ERROR_CODES.len(), "a code twice in ERROR_CODES");
    }

    /// The README's error table is this table: the same codes, statuses and order.
    #[test]
    fn readme_error_table_is_the_code_table() {
        let readme = include_str!("../../README.md");
        let section = readme.split("### Errors and limits").nth(1).expect("README has the error section");
        let rows: Vec<(String, String)> = section
            .lines()
            .skip_while(|l| !l.starts_with("| status"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (cells[1].to_string(), cells[2].trim_matches('`').to_string())
            })
            .collect();
        let want: Vec<(String, String)> =
            ERROR_CODES.iter().map(|r| (if r.status == 0 { "4xx/5xx".to_string() } else { r.status.to_string() }, r.code.to_string())).collect();
        assert_eq!(rows, want, "README's error table differs from http::error::ERROR_CODES");
    }

    #[test]
    fn client_errors_are_4xx_and_codes_are_distinct() {
        let errors = one_of_each();
        let mut codes = std::collections::HashSet::new();
        for e in &errors {
            let status = e.status_code();
            let server_side = matches!(
                e,
                ApiError::ReloadFailed(_)
                    | ApiError::NotReady
                    | ApiError::TrainingUnavailable(_)
                    | ApiError::Parse(
                        ParseError::Overloaded | ParseError::Inference(_) | ParseError::PreparationPanicked | ParseError::WorkerStopped
                    )
            );
            assert_eq!(status.is_server_error(), server_side, "{e:?}");
            assert!(status.is_client_error() || server_side, "{e:?}");
            assert!(codes.insert(e.code()), "duplicate code {}", e.code());
        }
    }
}
