//! The HTTP layer: routes, request bodies and response shapes. No parsing logic lives here; each
//! handler checks its input, calls the pipeline and shapes the answer.

pub mod auth;
pub mod error;
pub mod openapi;
pub mod types;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use tracing::Instrument;

pub use error::ApiError;
use types::*;

use crate::pipeline::{ParseResult, Parser};
use crate::registry::{Registry, Served};

/// The errors any parse route can answer.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum ParseErrors {
    #[response(status = 400, description = "malformed_json, invalid_utf8, empty_text, empty_batch, unsupported_language")]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "unauthorized: API keys are configured and none valid was given")]
    Unauthorized(ErrorBody),
    #[response(status = 413, description = "payload_too_large: the body is over the limit")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "unsupported_media_type")]
    MediaType(ErrorBody),
    #[response(status = 422, description = "invalid_request (JSON of the wrong shape), text_too_long, batch_too_large")]
    Invalid(ErrorBody),
    #[response(status = 500, description = "inference_failed")]
    Internal(ErrorBody),
    #[response(status = 503, description = "overloaded (with Retry-After)")]
    Overloaded(ErrorBody),
}

/// What every handler can reach.
pub struct AppState {
    /// The served models (one, "default", unless a models config names several).
    pub models: Arc<Registry>,
    /// False while starting and while draining on shutdown.
    pub ready: AtomicBool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    pub keys: auth::Keys,
    /// Origins allowed to call the API from a browser; empty = CORS off.
    pub cors_origins: Vec<String>,
}

impl AppState {
    pub fn new(parser: Parser, max_body_bytes: usize) -> Arc<AppState> {
        AppState::with_security(parser, max_body_bytes, auth::Keys::default(), Vec::new())
    }

    pub fn with_security(parser: Parser, max_body_bytes: usize, keys: auth::Keys, cors_origins: Vec<String>) -> Arc<AppState> {
        AppState::with_models(Arc::new(Registry::single(parser)), max_body_bytes, keys, cors_origins)
    }

    pub fn with_models(models: Arc<Registry>, max_body_bytes: usize, keys: auth::Keys, cors_origins: Vec<String>) -> Arc<AppState> {
        Arc::new(AppState { models, ready: AtomicBool::new(true), max_body_bytes, keys, cors_origins })
    }

    /// The model named in a path, now.
    fn model(&self, name: &str) -> Result<Arc<Served>, ApiError> {
        self.models.get(name).ok_or_else(|| ApiError::UnknownModel(name.to_string()))
    }
}

/// CORS: off (no headers at all) unless origins are configured; `*` allows any origin.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut c = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST"])
        .allowed_headers([header::CONTENT_TYPE, header::AUTHORIZATION, HeaderName::from_static("x-api-key"), REQUEST_ID])
        .expose_headers([REQUEST_ID, HeaderName::from_static("server-timing")])
        .max_age(3600);
    for o in origins {
        c = if o == "*" { c.allow_any_origin() } else { c.allowed_origin(o) };
    }
    c
}

/// Registers every route; used by the server and by the tests alike.
pub fn configure(state: Arc<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let cors_on = !state.cors_origins.is_empty();
        let cors = cors(&state.cors_origins);
        cfg.app_data(web::Data::from(state)).service(
            web::scope("")
                .wrap(from_fn(observe))
                .wrap(actix_web::middleware::Condition::new(cors_on, cors))
                .service(resource("/v1/parse", POST, web::post().to(parse)))
                .service(resource("/v1/parse/batch", POST, web::post().to(parse_batch)))
                .service(resource("/model/parse", POST, web::post().to(rasa_parse)))
                .service(resource("/v1/model", GET, web::get().to(model_info)))
                .service(resource("/v1/models", GET, web::get().to(models_list)))
                .service(resource("/v1/models/{name}", GET, web::get().to(named_model_info)))
                .service(resource("/v1/models/{name}/parse", POST, web::post().to(named_parse)))
                .service(resource("/v1/models/{name}/parse/batch", POST, web::post().to(named_parse_batch)))
                .service(resource("/admin/models/{name}/reload", POST, web::post().to(reload)))
                .service(resource("/health/live", GET, web::get().to(live)))
                .service(resource("/health/ready", GET, web::get().to(ready)))
                .service(resource("/metrics", GET, web::get().to(metrics)))
                .service(resource("/", GET, web::get().to(playground)))
                .service(resource("/openapi.json", GET, web::get().to(openapi::serve)))
                .default_service(web::to(not_found)),
        );
    }
}

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
/// Also where API keys are checked, before any handler runs.
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!("request", id = %id, method = %req.method(), route = %route);
    let allowed = match req.app_data::<web::Data<AppState>>() {
        Some(state) => state.keys.allows(&req, auth::access_for(req.path())),
        None => true,
    };
    let mut res = if allowed {
        next.call(req).instrument(span.clone()).await?.map_into_left_body()
    } else {
        use actix_web::ResponseError;
        req.into_response(ApiError::Unauthorized.error_response()).map_into_right_body()
    };
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

/// Prometheus metrics, text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    for name in state.models.names() {
        if let Some(served) = state.models.get(name) {
            let depth = served.parser.batcher().queue_depth() as i64;
            crate::metrics::METRICS.queue_depth.with_label_values(&[name]).set(depth);
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render())
}

const GET: &str = "GET";
const POST: &str = "POST";

/// One path, one method; any other method gets a JSON 405 with `Allow` (RFC 9110).
fn resource(path: &str, allow: &'static str, route: actix_web::Route) -> actix_web::Resource {
    web::resource(path).route(route).default_service(web::to(move || async move {
        use actix_web::ResponseError;
        let mut res = ApiError::MethodNotAllowed.error_response();
        res.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
        res
    }))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(req.path().to_string()))
}

/// Reads a JSON body with our own checks, so that every failure is a JSON error with the right
/// status: content type, size (counted while reading, not trusted from headers), UTF-8, syntax,
/// schema.
async fn read_json<T: DeserializeOwned>(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<T, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    check_content_type(content_type)?;
    let body = payload
        .to_bytes_limited(limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(limit))?
        .map_err(|e| ApiError::MalformedJson(format!("cannot read body: {e}")))?;
    decode_json(&body)
}

/// JSON only (`application/json` or any `+json` type), any charset parameter.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let mime = content_type
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
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
    serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            ApiError::InvalidRequest(e.to_string())
        } else {
            ApiError::MalformedJson(e.to_string())
        }
    })
}

/// `Server-Timing` header: where the time of a parse went, in milliseconds.
fn server_timing(results: &[ParseResult], total: Instant) -> String {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let max = |f: fn(&ParseResult) -> std::time::Duration| results.iter().map(f).max().unwrap_or_default();
    format!(
        "tokenize;dur={:.3}, queue;dur={:.3}, inference;dur={:.3}, total;dur={:.3}",
        ms(max(|r| r.timings.tokenize)),
        ms(max(|r| r.timings.queue)),
        ms(max(|r| r.timings.inference)),
        ms(total.elapsed())
    )
}

/// Parse one text: intent, ranking, entities, language. Goes to the model routed for the text's
/// language when routes are configured, else to the default model.
#[utoipa::path(post, path = "/v1/parse", tag = "parse", request_body = ParseRequest,
    responses((status = 200, body = ParseResult), ParseErrors), security((), ("api_key" = [])))]
async fn parse(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let body: ParseRequest = read_json(&req, payload, state.max_body_bytes).await?;
    let mut input = body.options.input(body.text);
    let served = state.models.route(&mut input);
    let result = served.parser.parse(input).await?;
    Ok(timed(HttpResponse::Ok(), std::slice::from_ref(&result), started).json(result))
}

/// A parse answer with its `Server-Timing` header.
fn timed(mut res: actix_web::HttpResponseBuilder, results: &[ParseResult], started: Instant) -> actix_web::HttpResponseBuilder {
    res.insert_header(("Server-Timing", server_timing(results, started)));
    res
}

/// A batch request's texts, checked against the limits.
fn batch_inputs(body: BatchRequest, parser: &Parser) -> Result<Vec<crate::pipeline::ParseInput>, ApiError> {
    let max = parser.limits().max_batch_texts;
    if body.texts.is_empty() {
        return Err(ApiError::EmptyBatch);
    }
    if body.texts.len() > max {
        return Err(ApiError::BatchTooLarge(body.texts.len(), max));
    }
    Ok(body.texts.into_iter().map(|text| body.options.input(text)).collect())
}

/// Parse several texts; one result per text, in order. Each text is routed as `/v1/parse` would.
#[utoipa::path(post, path = "/v1/parse/batch", tag = "parse", request_body = BatchRequest,
    responses((status = 200, body = BatchResponse), ParseErrors), security((), ("api_key" = [])))]
async fn parse_batch(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let body: BatchRequest = read_json(&req, payload, state.max_body_bytes).await?;
    let inputs = batch_inputs(body, &state.models.default_model().parser)?;
    let results = state.models.parse_routed(inputs).await?;
    Ok(timed(HttpResponse::Ok(), &results, started).json(BatchResponse { results }))
}

/// Rasa NLU's parse endpoint, with Rasa's request and response shapes; routed as `/v1/parse`.
#[utoipa::path(post, path = "/model/parse", tag = "rasa", request_body = RasaParseRequest,
    responses((status = 200, body = RasaParseResult), ParseErrors), security((), ("api_key" = [])))]
async fn rasa_parse(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let body: RasaParseRequest = read_json(&req, payload, state.max_body_bytes).await?;
    let mut input = body.options.input(body.text);
    let served = state.models.route(&mut input);
    let result = served.parser.parse(input).await?;
    Ok(HttpResponse::Ok().json(RasaParseResult::from(result)))
}

/// Parse one text with the model served under `name`.
#[utoipa::path(post, path = "/v1/models/{name}/parse", tag = "models", request_body = ParseRequest,
    params(("name" = String, Path, description = "A model name from GET /v1/models")),
    responses((status = 200, body = ParseResult), (status = 404, description = "unknown_model", body = ErrorBody), ParseErrors),
    security((), ("api_key" = [])))]
async fn named_parse(
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let served = state.model(&name)?;
    let body: ParseRequest = read_json(&req, payload, state.max_body_bytes).await?;
    let result = served.parser.parse(body.options.input(body.text)).await?;
    Ok(timed(HttpResponse::Ok(), std::slice::from_ref(&result), started).json(result))
}

/// Parse several texts with the model served under `name`.
#[utoipa::path(post, path = "/v1/models/{name}/parse/batch", tag = "models", request_body = BatchRequest,
    params(("name" = String, Path, description = "A model name from GET /v1/models")),
    responses((status = 200, body = BatchResponse), (status = 404, description = "unknown_model", body = ErrorBody), ParseErrors),
    security((), ("api_key" = [])))]
async fn named_parse_batch(
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let served = state.model(&name)?;
    let body: BatchRequest = read_json(&req, payload, state.max_body_bytes).await?;
    let results = served.parser.parse_many(batch_inputs(body, &served.parser)?).await?;
    Ok(timed(HttpResponse::Ok(), &results, started).json(BatchResponse { results }))
}

fn model_info_of(served: &Served, max_body_bytes: usize) -> HttpResponse {
    let p = &served.parser;
    HttpResponse::Ok().json(ModelInfo {
        manifest: p.manifest(),
        slot_types: p.manifest().slot_types(),
        limits: p.limits(),
        batching: p.batcher().settings(),
        fallback: p.fallback(),
        max_body_bytes,
    })
}

/// The default model: manifest, labels, limits.
#[utoipa::path(get, path = "/v1/model", tag = "model",
    responses((status = 200, body = ModelInfo), (status = 401, body = ErrorBody)), security((), ("api_key" = [])))]
async fn model_info(state: web::Data<AppState>) -> HttpResponse {
    model_info_of(&state.models.default_model(), state.max_body_bytes)
}

/// The model served under `name`: manifest, labels, limits.
#[utoipa::path(get, path = "/v1/models/{name}", tag = "models",
    params(("name" = String, Path, description = "A model name from GET /v1/models")),
    responses((status = 200, body = ModelInfo), (status = 404, description = "unknown_model", body = ErrorBody),
        (status = 401, body = ErrorBody)), security((), ("api_key" = [])))]
async fn named_model_info(name: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let served = state.model(&name)?;
    Ok(model_info_of(&served, state.max_body_bytes))
}

/// Every served model: name, bundle, languages, routes, fallback, when it was loaded.
#[utoipa::path(get, path = "/v1/models", tag = "models",
    responses((status = 200, body = ModelList), (status = 401, body = ErrorBody)), security((), ("api_key" = [])))]
async fn models_list(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(ModelList { default: state.models.default_name().to_string(), models: state.models.summaries() })
}

/// Loads the model's bundle again (or the one at `path`) beside the one serving, checks it, warms
/// it up and swaps it in; requests in flight finish on the old one. A bundle with any problem is
/// refused (422, every problem listed) and the old model keeps serving. Needs the admin key.
#[utoipa::path(post, path = "/admin/models/{name}/reload", tag = "admin", request_body(content = Option<ReloadRequest>),
    params(("name" = String, Path, description = "A model name from GET /v1/models")),
    responses((status = 200, body = ReloadResult),
        (status = 401, description = "unauthorized: no admin key configured, or not given", body = ErrorBody),
        (status = 404, description = "unknown_model", body = ErrorBody),
        (status = 409, description = "reload_conflict: a language route would lose its language", body = ErrorBody),
        (status = 422, description = "invalid_bundle (with problems), invalid_request", body = ErrorBody)),
    security(("admin_key" = [])))]
async fn reload(
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    state.model(&name)?;
    // The body is optional: no body (or an empty one) reloads from the model's current path.
    let body = payload.to_bytes_limited(state.max_body_bytes).await.map_err(|_| ApiError::PayloadTooLarge(state.max_body_bytes))?
        .map_err(|e| ApiError::MalformedJson(format!("cannot read body: {e}")))?;
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

/// The playground page: one file, compiled into the binary, no external assets (the CSP says so).
#[utoipa::path(get, path = "/", tag = "operations",
    responses((status = 200, description = "The playground page", content_type = "text/html", body = String)))]
async fn playground() -> HttpResponse {
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
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "live".into(), model: None, queue_depth: None })
}

/// Readiness: 200 while the model serves, 503 while starting or draining.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
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
        queue_depth: Some(state.models.names().filter_map(|n| state.models.get(n)).map(|s| s.parser.batcher().queue_depth()).sum()),
    }))
}
