//! Request and response bodies of the HTTP API.

use serde::{Deserialize, Serialize};

use crate::batcher::BatchSettings;
use crate::model::Manifest;
use crate::pipeline::{Limits, ParseResult};

/// Options shared by the parse requests.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ParseOptions {
    /// "fr" or "en" (a tag such as "fr-FR" is accepted); detected when absent.
    #[serde(default)]
    pub lang: Option<String>,
    /// What relative dates ("demain", "next friday") resolve against: "2026-03-10T09:00:00"
    /// (local time in `timezone`) or RFC 3339 with an offset. Default: now.
    #[serde(default)]
    pub reference_time: Option<String>,
    /// IANA time zone, e.g. "Europe/Paris". Default: UTC.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Built-in dimensions wanted: number, ordinal, amount_of_money, percentage, duration,
    /// temperature, time, email, url, phone_number. Default: all; `[]`: none.
    #[serde(default)]
    pub dimensions: Option<Vec<String>>,
}

impl ParseOptions {
    pub fn input(&self, text: String) -> crate::pipeline::ParseInput {
        crate::pipeline::ParseInput {
            text,
            lang: self.lang.clone(),
            reference_time: self.reference_time.clone(),
            timezone: self.timezone.clone(),
            dimensions: self.dimensions.clone(),
            detected: None,
        }
    }
}

/// `POST /v1/parse`
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ParseRequest {
    pub text: String,
    /// Answer Rasa button payloads (`/intent{"entity": "value"}`) as Rasa does, without the
    /// model (entities get `source: "payload"`). Default false: the text is parsed as words.
    #[serde(default)]
    pub rasa_payloads: bool,
    #[serde(flatten)]
    pub options: ParseOptions,
}

/// `POST /v1/parse/batch`
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BatchRequest {
    pub texts: Vec<String>,
    #[serde(flatten)]
    pub options: ParseOptions,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResponse {
    pub results: Vec<ParseResult>,
}

/// `POST /model/parse`, as Rasa's HTTP API takes it (`text`, and from Rasa's own client `token`
/// and `message_id`); Parlance's time options are accepted too.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RasaParseRequest {
    pub text: String,
    /// Rasa's client sends the API token here; accepted as a parse key when none came in the
    /// headers or the query.
    #[serde(default)]
    pub token: Option<String>,
    /// Sent by Rasa's client; not used.
    #[serde(default)]
    #[allow(dead_code)]
    pub message_id: Option<serde_json::Value>,
    #[serde(flatten)]
    pub options: ParseOptions,
}

/// Rasa NLU's ParseResult.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RasaParseResult {
    pub text: String,
    pub intent: RasaIntent,
    pub intent_ranking: Vec<RasaIntent>,
    pub entities: Vec<RasaEntity>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RasaIntent {
    pub name: String,
    pub confidence: f32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RasaEntity {
    pub entity: String,
    pub start: usize,
    pub end: usize,
    pub value: serde_json::Value,
    /// A model's or a payload's entity (Rasa's DIET and RegexMessageHandler give it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence_entity: Option<f32>,
    /// A built-in entity in Duckling's shape (`--rasa-entities duckling`): 1.0, as Rasa's
    /// DucklingEntityExtractor gives it, with `text` and Duckling's `additional_info`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_info: Option<serde_json::Value>,
    #[schema(value_type = String)]
    pub extractor: &'static str,
    /// As Rasa's DIETClassifier returns a trained role and group (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// Rasa's `extractor` names for our sources of entities.
pub fn rasa_extractor(source: &str) -> &'static str {
    match source {
        "rule" => "ParlanceRules",
        "payload" => "RegexMessageHandler",
        _ => "ParlanceModel",
    }
}

/// Rasa's Duckling entities carry a date-time instant as its ISO string; other values as they are.
fn rasa_value(v: serde_json::Value) -> serde_json::Value {
    if v["type"] == "instant" {
        if let Some(s) = v.get("value").filter(|s| s.is_string()) {
            return s.clone();
        }
    }
    v
}

/// How `POST /model/parse` reports built-in (rule) entities (`serve --rasa-entities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RasaEntities {
    /// As Rasa's DucklingEntityExtractor: Duckling's dimension names (`amount-of-money`), `value`
    /// its main value, `additional_info` Duckling's value object, `extractor`
    /// `DucklingEntityExtractor` (docs/entities.md, "Rasa").
    #[default]
    Duckling,
    /// Parlance's dimension names and typed values, `extractor` `ParlanceRules`.
    Parlance,
}

impl From<ParseResult> for RasaParseResult {
    fn from(r: ParseResult) -> Self {
        let intent = |s: crate::decode::IntentScore| RasaIntent { name: s.name, confidence: s.confidence };
        RasaParseResult {
            text: r.text,
            intent: intent(r.intent),
            intent_ranking: r.intent_ranking.into_iter().map(intent).collect(),
            entities: r
                .entities
                .into_iter()
                .map(|e| RasaEntity {
                    entity: e.entity,
                    start: e.start,
                    end: e.end,
                    value: rasa_value(e.value),
                    confidence_entity: Some(e.confidence),
                    confidence: None,
                    text: None,
                    additional_info: None,
                    extractor: rasa_extractor(e.source),
                    role: e.role,
                    group: e.group,
                })
                .collect(),
        }
    }
}

/// `GET /v1/model`: the manifest's fields, plus what the server derives and enforces.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelInfo<'a> {
    #[serde(flatten)]
    #[schema(inline)]
    pub manifest: &'a Manifest,
    pub slot_types: Vec<String>,
    pub limits: &'a Limits,
    pub batching: &'a BatchSettings,
    pub fallback: &'a crate::pipeline::Fallback,
    pub max_body_bytes: usize,
    /// The threads the server runs with (issue 25): usable cores, inference workers and their
    /// intra-op threads, the latency lane, HTTP and rayon threads. Absent outside `serve`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<&'static crate::layout::Layout>,
}

/// Every error: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `empty_text`, `overloaded`.
    pub code: String,
    pub message: String,
    /// `invalid_bundle` only: every problem found, with its file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<BundleProblem>>,
}

/// One thing wrong with a bundle.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BundleProblem {
    pub file: String,
    pub message: String,
}

/// `GET /v1/models`
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelList {
    /// The model `/v1/parse` uses when no language route applies.
    pub default: String,
    pub models: Vec<crate::service::ModelSummary>,
}

/// `POST /admin/models/{name}/reload`; the body is optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReloadRequest {
    /// Load this bundle folder (on the server) instead of the model's current path; it becomes the
    /// model's path.
    #[serde(default)]
    pub path: Option<String>,
}

/// A reload that went through.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReloadResult {
    pub model: crate::service::ModelSummary,
    /// Time to load, check and warm the new bundle up, in milliseconds.
    pub took_ms: f64,
}

/// `GET /health/live`, `GET /health/ready`
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<crate::pipeline::ModelRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_depth: Option<usize>,
}
