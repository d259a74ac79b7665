//! Model routes: what is served (`/v1/model`, `/v1/models`, `/v1/models/{name}`) and reloads.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::http::answers::{AdminErrors, BodyErrors};
use crate::http::body::{check_content_type, decode_json, read_body};
use crate::http::error::ApiError;
use crate::http::types::*;
use crate::http::AppState;
use crate::service::Served;

fn model_info_of(served: &Served, max_body_bytes: usize) -> HttpResponse {
    let p = &served.parser;
    HttpResponse::Ok().json(ModelInfo {
        manifest: p.manifest(),
        slot_types: p.manifest().slot_types(),
        limits: p.limits(),
        batching: p.batcher().settings(),
        fallback: p.fallback(),
        max_body_bytes,
        layout: crate::layout::in_force(),
    })
}

/// The default model: manifest, labels, limits.
#[utoipa::path(get, path = "/v1/model", tag = "model",
    responses((status = 200, body = ModelInfo), (status = 401, body = ErrorBody)), security((), ("api_key" = [])))]
pub async fn model_info(state: web::Data<AppState>) -> HttpResponse {
    model_info_of(&state.models.default_model(), state.max_body_bytes)
}

/// The model served under `name`: manifest, labels, limits.
#[utoipa::path(get, path = "/v1/models/{name}", tag = "models",
    params(("name" = String, Path, description = "A model name from GET /v1/models")),
    responses((status = 200, body = ModelInfo), (status = 404, description = "unknown_model", body = ErrorBody),
        (status = 401, body = ErrorBody)), security((), ("api_key" = [])))]
pub async fn named_model_info(name: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let served = state.model(&name)?;
    Ok(model_info_of(&served, state.max_body_bytes))
}

/// Every served model: name, bundle, languages, routes, fallback, when it was loaded.
#[utoipa::path(get, path = "/v1/models", tag = "models",
    responses((status = 200, body = ModelList), (status = 401, body = ErrorBody)), security((), ("api_key" = [])))]
pub async fn models_list(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(ModelList { default: state.models.default_name().to_string(), models: state.models.summaries() })
}

/// Loads the model's bundle again (or the one at `path`) beside the one serving, checks it, warms
/// it up and swaps it in; requests in flight finish on the old one. A bundle with any problem is
/// refused (422, every problem listed) and the old model keeps serving. Needs the admin key.
#[utoipa::path(post, path = "/admin/models/{name}/reload", tag = "admin", request_body(content = Option<ReloadRequest>),
    params(("name" = String, Path, description = "A model name from GET /v1/models")),
    responses((status = 200, body = ReloadResult), AdminErrors, BodyErrors,
        (status = 404, description = "unknown_model", body = ErrorBody),
        (status = 409, description = "reload_conflict: a language route would lose its language", body = ErrorBody),
        (status = 422, description = "invalid_bundle (with problems), invalid_request", body = ErrorBody),
        (status = 500, description = "reload_failed: over the reload timeout, or the loader failed; the old model keeps serving", body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn reload(req: HttpRequest, name: web::Path<String>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    state.model(&name)?;
    // The body is optional: no body (or an empty one) reloads from the model's current path.
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    let request: ReloadRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReloadRequest::default()
    } else {
        check_content_type(req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()))?;
        decode_json(&body)?
    };
    let path = request.path.filter(|p| !p.trim().is_empty()).map(std::path::PathBuf::from);
    state.models.reload(&name, path).await?;
    let model = state.models.summary(&name).ok_or_else(|| ApiError::UnknownModel(name.to_string()))?;
    Ok(HttpResponse::Ok().json(ReloadResult { model, took_ms: started.elapsed().as_secs_f64() * 1000.0 }))
}
