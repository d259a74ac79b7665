//! The HTTP layer: routes, request bodies and response shapes. No parsing logic lives here; each
//! handler checks its input, calls the pipeline and shapes the answer.

mod answers;
pub mod args;
pub mod auth;
pub mod body;
mod duckling;
pub mod error;
mod models;
pub mod observe;
pub mod openapi;
mod ops;
mod parse;
pub mod server;
mod train;
pub mod types;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use actix_web::dev::HttpServiceFactory;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest, HttpResponse};

use auth::Access;
pub use body::{check_content_type, decode_json};
pub use error::ApiError;
pub use observe::REQUEST_ID;

use crate::pipeline::Parser;
use crate::service::{Registry, Served};

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
    /// Training over HTTP; `None` when the server runs without it.
    pub trainer: Option<Arc<crate::service::training::Trainer>>,
    /// How `POST /model/parse` reports built-in entities.
    pub rasa_entities: types::RasaEntities,
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
            trainer: None,
            rasa_entities: types::RasaEntities::default(),
        })
    }

    /// The same state with training over HTTP.
    pub fn with_trainer(state: Arc<AppState>, trainer: Arc<crate::service::training::Trainer>) -> Arc<AppState> {
        let mut state = Arc::into_inner(state).expect("a new state is not shared yet");
        state.trainer = Some(trainer);
        Arc::new(state)
    }

    /// The same state with another body deadline.
    pub fn with_body_timeout(state: Arc<AppState>, body_timeout: std::time::Duration) -> Arc<AppState> {
        let mut state = Arc::into_inner(state).expect("a new state is not shared yet");
        state.body_timeout = body_timeout;
        Arc::new(state)
    }

    /// The same state with another way of reporting built-in entities to Rasa clients.
    pub fn with_rasa_entities(state: Arc<AppState>, style: types::RasaEntities) -> Arc<AppState> {
        let mut state = Arc::into_inner(state).expect("a new state is not shared yet");
        state.rasa_entities = style;
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
                .wrap(from_fn(observe::observe))
                .wrap(actix_web::middleware::Condition::new(cors_on, cors))
                .service(resource("/v1/parse", POST, Access::Parse, web::post().to(parse::parse)))
                .service(resource("/v1/parse/batch", POST, Access::Parse, web::post().to(parse::parse_batch)))
                .service(rasa_resource("/model/parse", web::post().to(parse::rasa_parse)))
                .service(resource("/v1/model", GET, Access::Parse, get().to(models::model_info)))
                .service(resource("/v1/models", GET, Access::Parse, get().to(models::models_list)))
                .service(resource("/v1/models/{name}", GET, Access::Parse, get().to(models::named_model_info)))
                .service(resource("/v1/models/{name}/parse", POST, Access::Parse, web::post().to(parse::named_parse)))
                .service(resource("/v1/models/{name}/parse/batch", POST, Access::Parse, web::post().to(parse::named_parse_batch)))
                .service(rasa_resource("/v1/models/{name}/model/parse", web::post().to(parse::named_rasa_parse)))
                .service(resource("/admin/models/{name}/reload", POST, Access::Admin, web::post().to(models::reload)))
                .service(guarded(
                    "/admin/models/{name}/train",
                    "POST, GET, HEAD, DELETE",
                    Access::Admin,
                    false,
                    vec![web::post().to(train::start), get().to(train::status), web::delete().to(train::cancel)],
                ))
                .service(resource("/health/live", GET, Access::Open, get().to(ops::live)))
                .service(resource("/health/ready", GET, Access::Open, get().to(ops::ready)))
                .service(resource("/metrics", GET, Access::Open, get().to(ops::metrics)))
                .service(resource("/", GET, Access::Open, get().to(ops::playground)))
                .service(resource("/openapi.json", GET, Access::Open, get().to(openapi::serve)))
                .default_service(web::to(not_found)),
        );
    }
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
    guarded(path, allow, access, false, vec![route])
}

/// Rasa's parse route: its key may also come in the body (`token`), as Rasa's client sends it.
fn rasa_resource(path: &str, route: actix_web::Route) -> impl HttpServiceFactory {
    guarded(path, POST, Access::Parse, true, vec![route])
}

fn guarded(path: &str, allow: &'static str, access: Access, body_token: bool, routes: Vec<actix_web::Route>) -> impl HttpServiceFactory {
    let allow = if allow == GET { "GET, HEAD" } else { allow };
    routes
        .into_iter()
        .fold(web::resource(path), |r, route| r.route(route))
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
