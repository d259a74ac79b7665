//! The parse routes: `/v1/parse`, `/v1/parse/batch`, Rasa's `/model/parse`, and the same on a model
//! named in the path. Every one goes through [`parse_one`] or [`parse_batch_on`]; the handlers
//! only read their body and shape their answer.

use std::time::Instant;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

use crate::http::answers::ParseErrors;
use crate::http::auth::{self, Access};
use crate::http::body::read_json;
use crate::http::error::ApiError;
use crate::http::types::*;
use crate::http::AppState;
use crate::pipeline::{ParseInput, ParseResult, Parser};

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

/// Which model a parse goes to.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// The model routed for the text's language when routes are configured, else the default.
    Routed,
    /// The model served under this name (404 `unknown_model` when there is none).
    Named(&'a str),
}

/// The one way a single text is parsed, whatever the route: the target model, then a Rasa button
/// payload answered without the model when `payloads` asks for it, else the pipeline.
async fn parse_one(state: &AppState, target: Target<'_>, mut input: ParseInput, payloads: bool) -> Result<ParseResult, ApiError> {
    let served = match target {
        Target::Routed => state.models.route(&mut input),
        Target::Named(name) => state.model(name)?,
    };
    Ok(if payloads { served.parser.parse_or_payload(input).await? } else { served.parser.parse(input).await? })
}

/// The one way a batch is parsed: checked against the target's limits, then each text routed (or
/// all sent to the named model); results in order.
async fn parse_batch_on(state: &AppState, target: Target<'_>, body: BatchRequest) -> Result<Vec<ParseResult>, ApiError> {
    match target {
        Target::Routed => {
            let inputs = batch_inputs(body, &state.models.default_model().parser)?;
            Ok(state.models.parse_routed(inputs).await?)
        }
        Target::Named(name) => {
            let served = state.model(name)?;
            Ok(served.parser.parse_many(batch_inputs(body, &served.parser)?).await?)
        }
    }
}

/// `/v1/parse` and `/v1/models/{name}/parse`: a [`ParseRequest`] in, a [`ParseResult`] out.
async fn single(req: HttpRequest, payload: web::Payload, state: &AppState, target: Target<'_>) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    if let Target::Named(name) = target {
        state.model(name)?; // an unknown model is told before the body is read
    }
    let body: ParseRequest = read_json(&req, payload, state.max_body_bytes).await?;
    let result = parse_one(state, target, body.options.input(body.text), body.rasa_payloads).await?;
    Ok(timed(HttpResponse::Ok(), std::slice::from_ref(&result), started).json(result))
}

/// `/v1/parse/batch` and `/v1/models/{name}/parse/batch`: a [`BatchRequest`] in, a [`BatchResponse`] out.
async fn batch(req: HttpRequest, payload: web::Payload, state: &AppState, target: Target<'_>) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    if let Target::Named(name) = target {
        state.model(name)?;
    }
    let body: BatchRequest = read_json(&req, payload, state.max_body_bytes).await?;
    let results = parse_batch_on(state, target, body).await?;
    Ok(timed(HttpResponse::Ok(), &results, started).json(BatchResponse { results }))
}

/// Parse one text: intent, ranking, entities, language. Goes to the model routed for the text's
/// language when routes are configured, else to the default model.
#[utoipa::path(post, path = "/v1/parse", tag = "parse", request_body = ParseRequest,
    responses((status = 200, body = ParseResult), ParseErrors), security((), ("api_key" = [])))]
pub async fn parse(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    single(req, payload, &state, Target::Routed).await
}

/// Parse several texts; one result per text, in order. Each text is routed as `/v1/parse` would.
#[utoipa::path(post, path = "/v1/parse/batch", tag = "parse", request_body = BatchRequest,
    responses((status = 200, body = BatchResponse), ParseErrors), security((), ("api_key" = [])))]
pub async fn parse_batch(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    batch(req, payload, &state, Target::Routed).await
}

/// Parse one text with the model served under `name`.
#[utoipa::path(post, path = "/v1/models/{name}/parse", tag = "models", request_body = ParseRequest,
    params(("name" = String, Path, description = "A model name from GET /v1/models")),
    responses((status = 200, body = ParseResult), (status = 404, description = "unknown_model", body = ErrorBody), ParseErrors),
    security((), ("api_key" = [])))]
pub async fn named_parse(
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    single(req, payload, &state, Target::Named(&name)).await
}

/// Parse several texts with the model served under `name`.
#[utoipa::path(post, path = "/v1/models/{name}/parse/batch", tag = "models", request_body = BatchRequest,
    params(("name" = String, Path, description = "A model name from GET /v1/models")),
    responses((status = 200, body = BatchResponse), (status = 404, description = "unknown_model", body = ErrorBody), ParseErrors),
    security((), ("api_key" = [])))]
pub async fn named_parse_batch(
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    batch(req, payload, &state, Target::Named(&name)).await
}

/// Rasa NLU's parse endpoint, with Rasa's request and response shapes; routed as `/v1/parse`.
/// Button payloads (`/intent`, `/intent{"entity": "value"}`, `/intent@0.8`) are answered as Rasa
/// answers them, without the model. The key may also come as `token` in the body.
#[utoipa::path(post, path = "/model/parse", tag = "rasa", request_body = RasaParseRequest,
    responses((status = 200, body = RasaParseResult), ParseErrors), security((), ("api_key" = [])))]
pub async fn rasa_parse(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    rasa(req, payload, &state, Target::Routed).await
}

/// Rasa NLU's parse endpoint for the model served under `name`: a Rasa bot whose NLU endpoint
/// `url` is `http://parlance/v1/models/NAME` posts here (Rasa appends `/model/parse`), so each bot
/// of a shared server is reached by its own URL.
#[utoipa::path(post, path = "/v1/models/{name}/model/parse", tag = "rasa", request_body = RasaParseRequest,
    params(("name" = String, Path, description = "A model name from GET /v1/models")),
    responses((status = 200, body = RasaParseResult), (status = 404, description = "unknown_model", body = ErrorBody), ParseErrors),
    security((), ("api_key" = [])))]
pub async fn named_rasa_parse(
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    rasa(req, payload, &state, Target::Named(&name)).await
}

async fn rasa(req: HttpRequest, payload: web::Payload, state: &AppState, target: Target<'_>) -> Result<HttpResponse, ApiError> {
    let body = read_json::<RasaParseRequest>(&req, payload, state.max_body_bytes).await;
    if req.extensions().get::<auth::BodyTokenRequired>().is_some() {
        // No valid key in the headers or the query: Rasa's client sends it as `token` in the body.
        let token = body.as_ref().ok().and_then(|b| b.token.as_deref());
        if !state.keys.allows_key(token, Access::Parse) {
            return Err(ApiError::Unauthorized);
        }
    }
    let body = body?;
    let result = parse_one(state, target, body.options.input(body.text), true).await?;
    Ok(HttpResponse::Ok().json(super::duckling::rasa_answer(result, state.rasa_entities)))
}

/// A parse answer with its `Server-Timing` header.
fn timed(mut res: actix_web::HttpResponseBuilder, results: &[ParseResult], started: Instant) -> actix_web::HttpResponseBuilder {
    res.insert_header(("Server-Timing", server_timing(results, started)));
    res
}

/// A batch request's texts, checked against the limits.
fn batch_inputs(body: BatchRequest, parser: &Parser) -> Result<Vec<ParseInput>, ApiError> {
    let max = parser.limits().max_batch_texts;
    if body.texts.is_empty() {
        return Err(ApiError::EmptyBatch);
    }
    if body.texts.len() > max {
        return Err(ApiError::BatchTooLarge(body.texts.len(), max));
    }
    Ok(body.texts.into_iter().map(|text| body.options.input(text)).collect())
}
