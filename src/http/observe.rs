//! The outermost middleware: a request id, route metrics, logs, and JSON for every error answer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use tracing::Instrument;

use crate::http::error::ApiError;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client's `X-Request-Id` when it is a sane token, else a new one.
fn request_id(req: &ServiceRequest) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::LazyLock<u32> = std::sync::LazyLock::new(|| {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        (t.as_nanos() as u32) ^ std::process::id().rotate_left(16)
    });
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| format!("{:08x}-{:012x}", *PREFIX, NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// Around every request: a request id (echoed back, and in every log line of the request), and
/// the request count and latency metrics by route pattern (never by raw path, to bound cardinality).
/// Also where every error answer becomes JSON in the documented shape, actix's own included.
pub async fn observe(req: ServiceRequest, next: Next<impl MessageBody + 'static>) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    req.extensions_mut().insert(HeadRead(started));
    let span = tracing::info_span!("request", id = %id, method = %req.method(), route = tracing::field::Empty);
    let mut res = match next.call(req).instrument(span.clone()).await {
        Ok(res) => json_error(res.map_into_boxed_body()),
        Err(e) => {
            // an error from a middleware inside (CORS): answered by actix from the error, so the
            // error itself is made to answer in JSON
            use actix_web::ResponseError;
            let status = e.as_response_error().status_code();
            let answer = ApiError::Http { status, message: Some(e.to_string()) }.error_response();
            return Err(actix_web::error::InternalError::from_response(e.to_string(), answer).into());
        }
    };
    // The pattern of the route that answered, known once routing has run (on the decoded path).
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    span.record("route", route.as_str());
    let status = res.status();
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    let m = &crate::metrics::METRICS;
    m.http_requests.with_label_values(&[route.as_str(), status.as_str()]).inc();
    m.http_duration.with_label_values(&[route.as_str()]).observe(started.elapsed().as_secs_f64());
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), ms = started.elapsed().as_secs_f64() * 1000.0, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), ms = started.elapsed().as_secs_f64() * 1000.0, "request");
        }
    });
    Ok(res)
}

/// An error answer that is not already JSON (actix's extractors and middleware answer in plain
/// text, or with no body) gets the documented JSON body for its status.
fn json_error(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let is_json = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    use actix_web::ResponseError;
    let error = ApiError::Http { status, message: None };
    let mut answer = error.error_response();
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH && !answer.headers().contains_key(name) {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    res.into_response(answer)
}

/// When the request's head had been read (set by [`observe`], the outermost middleware).
#[derive(Clone, Copy)]
pub struct HeadRead(pub Instant);
