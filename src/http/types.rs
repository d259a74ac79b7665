//! Request and response bodies of the HTTP API.

use serde::{Deserialize, Serialize};

use crate::batcher::BatchSettings;
use crate::bundle::Manifest;
use crate::pipeline::{Limits, ParseResult};

/// `POST /v1/parse`
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ParseRequest {
    pub text: String,
    /// "fr" or "en" (a tag such as "fr-FR" is accepted); detected when absent.
    #[serde(default)]
    pub lang: Option<String>,
}

/// `POST /v1/parse/batch`
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BatchRequest {
    pub texts: Vec<String>,
    #[serde(default)]
    pub lang: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResponse {
    pub results: Vec<ParseResult>,
}

/// `POST /model/parse`, as Rasa's HTTP API takes it (other fields such as `message_id` are ignored).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RasaParseRequest {
    pub text: String,
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
    pub confidence_entity: f32,
    #[schema(value_type = String)]
    pub extractor: &'static str,
}

/// Rasa's `extractor` names for our two sources of entities.
pub fn rasa_extractor(source: &str) -> &'static str {
    match source {
        "rule" => "ParlanceRules",
        _ => "ParlanceModel",
    }
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
                    value: e.value,
                    confidence_entity: e.confidence,
                    extractor: rasa_extractor(e.source),
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
    pub max_body_bytes: usize,
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
