//! Training routes: `POST /admin/models/{name}/train` starts a run on Rasa NLU YAML (as the body,
//! or JSON `{"nlu": ..., "dev": ..., "version": ...}`), `GET` follows it, `DELETE` cancels it. All
//! need the admin key. The run itself is `service::training`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::http::answers::{AdminErrors, BodyErrors};
use crate::http::body::{decode_json, read_body};
use crate::http::error::ApiError;
use crate::http::types::ErrorBody;
use crate::http::AppState;
use crate::service::training::{TrainRequest, TrainStatus, Trainer};

/// `POST /admin/models/{name}/train` as JSON.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainBody {
    /// Rasa NLU YAML (`nlu:` with intents and examples; synonyms, lookups and regexes too).
    pub nlu: String,
    /// Dev data in the same format: calibration, the fallback threshold and the held-out score.
    /// Default: a held-out fifth of `nlu`.
    #[serde(default)]
    pub dev: Option<String>,
    /// The bundle's version (default 0.1.0).
    #[serde(default)]
    pub version: Option<String>,
    /// An intent that counts as out-of-scope besides Rasa's `out_of_scope`, `oos` and
    /// `nlu_fallback` (as `parlance train --out-of-scope-intent`).
    #[serde(default)]
    pub out_of_scope_intent: Option<String>,
    /// The fallback threshold (0..1) instead of the one chosen on dev (as `parlance train
    /// --fallback-threshold`).
    #[serde(default)]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub fallback_threshold: Option<f32>,
    /// Fine-tune the bot's own copy of the encoder's top layers first. Absent (the default, as
    /// `parlance train`): the layers the encoder offers (six on e5-small; none: the frozen encoder);
    /// true requires them (as `--adapt`); false trains on the frozen encoder (as `--fast`: seconds,
    /// about 2 points less at 10 examples per intent, docs/training-choices.md).
    #[serde(default)]
    pub adapt: Option<bool>,
    /// Epochs of the adapted layers (as `--adapt-epochs`; default 3, fewer for large bots). Not with `"adapt": false`.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 20)]
    pub adapt_epochs: Option<usize>,
    /// Rank of the change `adapt` stores for each weight matrix (as `--adapt-rank`; default 8 for
    /// one layer, 32 for more; 0: the whole layers, 3.5 MB each). Not with `"adapt": false`.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 64)]
    pub adapt_rank: Option<usize>,
    /// How many of the encoder's top layers `adapt` fine-tunes (as `--adapt-layers`; default: all
    /// it offers, 6 on e5-small; 1: its top layer only). Not with `"adapt": false`.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 12)]
    pub adapt_layers: Option<usize>,
    /// Character and word n-gram features beside the sentence vector (default true; false as
    /// `parlance train --no-lexical`).
    #[serde(default)]
    pub lexical: Option<bool>,
}

fn trainer(state: &AppState) -> Result<&std::sync::Arc<Trainer>, ApiError> {
    state
        .trainer
        .as_ref()
        .ok_or_else(|| ApiError::TrainingUnavailable("training over HTTP is off on this server: start it with --models-dir (and --encoder)".into()))
}

/// The media types a training body may have: YAML as it is, or the JSON form.
fn is_yaml(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    matches!(mime.as_str(), "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml")
}

/// Trains a model from Rasa NLU data in the background: the data is checked at once (422 with
/// every problem), then the run is started (202) and followed at `GET`. When it is done the model
/// is served under `name` (added, or reloaded as `/reload` does); a failed or cancelled run leaves
/// what was serving untouched. One run at a time. Needs the admin key.
#[utoipa::path(post, path = "/admin/models/{name}/train", tag = "admin",
    request_body(content = TrainBody, description = "JSON, or the NLU YAML itself with Content-Type application/yaml"),
    params(("name" = String, Path, description = "The name to serve the trained model under")),
    responses((status = 202, body = TrainStatus), AdminErrors, BodyErrors,
        (status = 409, description = "training_busy, training_conflict", body = ErrorBody),
        (status = 422, description = "invalid_training_data (with problems), invalid_request", body = ErrorBody),
        (status = 503, description = "training_unavailable", body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn start(req: HttpRequest, name: web::Path<String>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let trainer = trainer(&state)?.clone();
    let limit = TRAIN_BODY_BYTES;
    let body = read_body(&req, payload, limit).await?;
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let request = if is_yaml(content_type) {
        let nlu = String::from_utf8(body.to_vec()).map_err(|_| ApiError::InvalidUtf8)?;
        TrainRequest { nlu, ..Default::default() }
    } else {
        crate::http::body::check_content_type(Some(content_type))?;
        let b: TrainBody = decode_json(&body)?;
        let TrainBody { nlu, dev, version, out_of_scope_intent, fallback_threshold, adapt, adapt_epochs, adapt_rank, adapt_layers, lexical } = b;
        let no_lexical = lexical == Some(false);
        TrainRequest { nlu, dev, version, out_of_scope_intent, fallback_threshold, adapt, adapt_epochs, adapt_rank, adapt_layers, no_lexical }
    };
    let models = state.models.clone();
    let name = name.into_inner();
    // reading and checking the data is file work: off the async workers
    let status = web::block(move || trainer.start(models, &name, request)).await.map_err(|e| ApiError::TrainingUnavailable(e.to_string()))??;
    Ok(HttpResponse::Accepted().json(status))
}

/// Largest training body, whatever `--max-body-bytes` says for parses: a Rasa project of 20,000
/// examples is about 1 MiB; lookups come inline and are bounded at 2 MiB in all.
pub const TRAIN_BODY_BYTES: usize = 4 << 20;

/// Where `name`'s last training run stands: stage, examples embedded, and when it ended, its
/// outcome (held-out accuracy, fallback threshold, time per step) or its problems.
#[utoipa::path(get, path = "/admin/models/{name}/train", tag = "admin",
    params(("name" = String, Path, description = "A model name")),
    responses((status = 200, body = TrainStatus), AdminErrors,
        (status = 404, description = "no_training_run", body = ErrorBody),
        (status = 503, description = "training_unavailable", body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn status(name: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    run_answer(&state, &name, Trainer::status)
}

/// `name`'s run as `f` gives it (its status, or its status once asked to stop), or 404.
fn run_answer(state: &AppState, name: &str, f: impl Fn(&Trainer, &str) -> Option<TrainStatus>) -> Result<HttpResponse, ApiError> {
    let status = f(trainer(state)?, name).ok_or_else(|| ApiError::NoTrainingRun(name.to_string()))?;
    Ok(HttpResponse::Ok().json(status))
}

/// Cancels `name`'s running training run (it stops at its next encoder batch); the model in
/// service is untouched. Answers the run's status.
#[utoipa::path(delete, path = "/admin/models/{name}/train", tag = "admin",
    params(("name" = String, Path, description = "A model name")),
    responses((status = 200, body = TrainStatus), AdminErrors,
        (status = 404, description = "no_training_run", body = ErrorBody),
        (status = 503, description = "training_unavailable", body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn cancel(name: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    run_answer(&state, &name, Trainer::cancel)
}
