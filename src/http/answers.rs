//! The error answers that routes share in the OpenAPI document: every parse route's
//! ([`ParseErrors`]), reading a request body's ([`BodyErrors`]) and the admin key's
//! ([`AdminErrors`]). Each names its codes from the one error table (`error.rs`); a test in
//! `openapi.rs` holds every description to it. A route adds its own answers beside them.

use super::types::ErrorBody;

/// The errors any parse route can answer.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ParseErrors {
    #[response(
        status = 400,
        description = "malformed_json, invalid_utf8, empty_text, empty_batch, unsupported_language, invalid_time_reference, unknown_dimension"
    )]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "unauthorized: API keys are configured and none valid was given")]
    Unauthorized(ErrorBody),
    #[response(status = 408, description = "request_timeout: the body did not arrive within the body deadline")]
    Timeout(ErrorBody),
    #[response(status = 413, description = "payload_too_large: the body is over the limit")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "unsupported_media_type")]
    MediaType(ErrorBody),
    #[response(
        status = 422,
        description = "invalid_request (JSON of the wrong shape), text_too_long, untokenizable_text, batch_too_large, payload_too_complex"
    )]
    Invalid(ErrorBody),
    #[response(status = 500, description = "inference_failed")]
    Internal(ErrorBody),
    #[response(status = 503, description = "overloaded (with Retry-After), model_unavailable (the inference worker stopped)")]
    Overloaded(ErrorBody),
}

/// What reading a request body can answer, on the routes that take one besides the parse routes.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum BodyErrors {
    #[response(status = 400, description = "malformed_json, invalid_utf8")]
    BadRequest(ErrorBody),
    #[response(status = 408, description = "request_timeout: the body did not arrive within the body deadline")]
    Timeout(ErrorBody),
    #[response(status = 413, description = "payload_too_large: the body is over the limit")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "unsupported_media_type")]
    MediaType(ErrorBody),
}

/// Every `/admin` route needs the admin key.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum AdminErrors {
    #[response(status = 401, description = "unauthorized: no admin key configured, or not given")]
    Unauthorized(ErrorBody),
}
