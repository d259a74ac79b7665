//! Operations routes: probes, Prometheus metrics and the playground page.

use std::sync::atomic::Ordering;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::http::error::ApiError;
use crate::http::types::*;
use crate::http::AppState;

/// The playground page: one file, compiled into the binary, no external assets (the CSP says so).
#[utoipa::path(get, path = "/", tag = "operations",
    responses((status = 200, description = "The playground page", content_type = "text/html", body = String)))]
pub async fn playground() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:",
        ))
        .body(include_str!("playground.html"))
}

/// Liveness: 200 while the process runs.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, body = Health)))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "live".into(), model: None, queue_depth: None })
}

/// Readiness: 200 while the model serves, 503 while starting or draining.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses((status = 200, body = Health), (status = 503, description = "not_ready: starting or draining", body = ErrorBody)))]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.ready.load(Ordering::Relaxed) {
        return Err(ApiError::NotReady);
    }
    let served = state.models.default_model();
    Ok(HttpResponse::Ok().json(Health {
        status: "ready".into(),
        model: Some(crate::pipeline::ModelRef {
            id: state.models.default_name().to_string(),
            name: served.parser.manifest().name.clone(),
            version: served.parser.manifest().version.clone(),
        }),
        queue_depth: Some(state.models.names().iter().filter_map(|n| state.models.get(n)).map(|s| s.parser.batcher().queue_depth()).sum()),
    }))
}

/// Prometheus metrics, text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    for name in state.models.names() {
        if let Some(served) = state.models.get(&name) {
            let depth = served.parser.batcher().queue_depth() as i64;
            crate::metrics::METRICS.queue_depth.with_label_values(&[name]).set(depth);
        }
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(crate::metrics::render())
}
