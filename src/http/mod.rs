//! The HTTP layer: routes, request bodies and response shapes. No parsing logic lives here; each
//! handler checks its input, calls the pipeline and shapes the answer.

pub mod auth;
pub mod error;
pub mod openapi;
pub mod payload;
pub mod server;
pub mod types;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{HttpServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use tracing::Instrument;

pub use error::ApiError;
use auth::Access;
use types::*;

use crate::pipeline::{ParseResult, Parser};
use crate::service::{Registry, Served};

/// The errors any parse route can answer.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum ParseErrors {
    #[response(status = 400, description = "malformed_json, invalid_utf8, empty_text, empty_batch, unsupported_language")]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "unauthorized: API keys are configured and none valid was given")]
    Unauthorized(ErrorBody),
    #[response(status = 408, description = "request_timeout: the body did not arrive within the body deadline")]
    Timeout(ErrorBody),
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
    /// Time a client has to send a request's body, counted from when its head was read (the head
    /// has its own limit, the server's client request timeout); past it, 408.
    pub body_timeout: std::time::Duration,
}

/// The body deadline when none is set: the head's default limit.
pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl AppState {
    pub fn new(parser: Parser, max_body_bytes: usize) -> Arc<AppState> {
        AppState::with_security(parser, max_body_bytes, auth::Keys::default(), Vec::new())
    }

    pub fn with_security(parser: Parser, max_body_bytes: usize, keys: auth::Keys, cors_origins: Vec<String>) -> Arc<AppState> {
        AppState::with_models(Arc::new(Registry::single(parser)), max_body_bytes, keys, cors_origins)
    }

    pub fn with_models(models: Arc<Registry>, max_body_bytes: usize, keys: auth::Keys, cors_origins: Vec<String>) -> Arc<AppState> {
        Arc::new(AppState {
            models,
            ready: AtomicBool::new(true),
            max_body_bytes,
            keys,
            cors_origins,
            body_timeout: DEFAULT_BODY_TIMEOUT,
        })
    }

    /// The same state with another body deadline.
    pub fn with_body_timeout(state: Arc<AppState>, body_timeout: std::time::Duration) -> Arc<AppState> {
        let mut state = Arc::into_inner(state).expect("a new state is not shared yet");
        state.body_timeout = body_timeout;
        Arc::new(state)
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
                .service(resource("/v1/parse", POST, Access::Parse, web::post().to(parse)))
                .service(resource("/v1/parse/batch", POST, Access::Parse, web::post().to(parse_batch)))
                .service(rasa_resource("/model/parse", web::post().to(rasa_parse)))
                .service(resource("/v1/model", GET, Access::Parse, get().to(model_info)))
                .service(resource("/v1/models", GET, Access::Parse, get().to(models_list)))
                .service(resource("/v1/models/{name}", GET, Access::Parse, get().to(named_model_info)))
                .service(resource("/v1/models/{name}/parse", POST, Access::Parse, web::post().to(named_parse)))
                .service(resource("/v1/models/{name}/parse/batch", POST, Access::Parse, web::post().to(named_parse_batch)))
                .service(resource("/admin/models/{name}/reload", POST, Access::Admin, web::post().to(reload)))
                .service(resource("/health/live", GET, Access::Open, get().to(live)))
                .service(resource("/health/ready", GET, Access::Open, get().to(ready)))
                .service(resource("/metrics", GET, Access::Open, get().to(metrics)))
                .service(resource("/", GET, Access::Open, get().to(playground)))
                .service(resource("/openapi.json", GET, Access::Open, get().to(openapi::serve)))
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
/// Also where every error answer becomes JSON in the documented shape, actix's own included.
async fn observe(req: ServiceRequest, next: Next<impl MessageBody + 'static>) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
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
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
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

/// `GET`, and `HEAD` on the same handler (actix sends the head without the body).
fn get() -> actix_web::Route {
    web::route().guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
}

/// One path, one method, the key it needs; any other method gets a JSON 405 with `Allow` (RFC 9110).
/// The key is checked by [`auth::authorize`] around the resource, so only after routing.
fn resource(path: &str, allow: &'static str, access: Access, route: actix_web::Route) -> impl HttpServiceFactory {
    guarded(path, allow, access, false, route)
}

/// Rasa's parse route: its key may also come in the body (`token`), as Rasa's client sends it.
fn rasa_resource(path: &str, route: actix_web::Route) -> impl HttpServiceFactory {
    guarded(path, POST, Access::Parse, true, route)
}

fn guarded(
    path: &str,
    allow: &'static str,
    access: Access,
    body_token: bool,
    route: actix_web::Route,
) -> impl HttpServiceFactory {
    let allow = if allow == GET { "GET, HEAD" } else { allow };
    web::resource(path)
        .route(route)
        .default_service(web::to(move || async move {
            use actix_web::ResponseError;
            let mut res = ApiError::MethodNotAllowed.error_response();
            res.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
            res
        }))
        .wrap(from_fn(move |req, next| auth::authorize(access, body_token, req, next)))
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
    let body = read_body(req, payload, limit).await?;
    decode_json(&body)
}

/// The whole body, bounded in size (counted while reading) and in time: the body must be in
/// before the state's body deadline, counted from when the request's head was read.
async fn read_body(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let timeout = req.app_data::<web::Data<AppState>>().map_or(DEFAULT_BODY_TIMEOUT, |s| s.body_timeout);
    let since = req.extensions().get::<HeadRead>().map_or_else(Instant::now, |h| h.0);
    let deadline = tokio::time::Instant::from_std(since + timeout);
    tokio::time::timeout_at(deadline, payload.to_bytes_limited(limit))
        .await
        .map_err(|_| ApiError::RequestTimeout(timeout.as_secs_f64()))?
        .map_err(|_| ApiError::PayloadTooLarge(limit))?
        .map_err(|e| ApiError::MalformedJson(format!("cannot read body: {e}")))
}

/// When the request's head had been read (set by [`observe`], the outermost middleware).
#[derive(Clone, Copy)]
struct HeadRead(Instant);

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
    let result = match body.rasa_payloads.then(|| payload_answer(&served, &input)).flatten() {
        Some(answer) => answer,
        None => served.parser.parse(input).await?,
    };
    Ok(timed(HttpResponse::Ok(), std::slice::from_ref(&result), started).json(result))
}

/// A Rasa button payload (`/intent{...}`) answered without the model, when `input` is one for an
/// intent of `served` (or a Rasa default intent).
fn payload_answer(served: &Served, input: &crate::pipeline::ParseInput) -> Option<ParseResult> {
    let manifest = served.parser.manifest();
    let found = payload::parse(&input.text, |intent| manifest.intents.iter().any(|i| i == intent))?;
    let language = match input.lang.as_deref().and_then(crate::lang::normalize_tag) {
        Some(code) => crate::lang::DetectedLanguage { code, confidence: 1.0, source: "request" },
        None => input.detected.clone().unwrap_or_else(|| crate::lang::detect(&input.text)),
    };
    let model = crate::pipeline::ModelRef {
        id: served.parser.id().to_string(),
        name: manifest.name.clone(),
        version: manifest.version.clone(),
    };
    Some(found.into_result(input.text.clone(), language, model))
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
/// Button payloads (`/intent`, `/intent{"entity": "value"}`, `/intent@0.8`) are answered as Rasa
/// answers them, without the model. The key may also come as `token` in the body.
#[utoipa::path(post, path = "/model/parse", tag = "rasa", request_body = RasaParseRequest,
    responses((status = 200, body = RasaParseResult), ParseErrors), security((), ("api_key" = [])))]
async fn rasa_parse(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let body = read_json::<RasaParseRequest>(&req, payload, state.max_body_bytes).await;
    if req.extensions().get::<auth::BodyTokenRequired>().is_some() {
        // No valid key in the headers or the query: Rasa's client sends it as `token` in the body.
        let token = body.as_ref().ok().and_then(|b| b.token.as_deref());
        if !state.keys.allows_key(token, Access::Parse) {
            return Err(ApiError::Unauthorized);
        }
    }
    let body = body?;
    let mut input = body.options.input(body.text);
    let served = state.models.route(&mut input);
    let result = match payload_answer(&served, &input) {
        Some(answer) => answer,
        None => served.parser.parse(input).await?,
    };
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
