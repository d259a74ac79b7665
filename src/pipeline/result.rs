//! What a parse answers: the intent, its ranking, the entities, the model, and the fallback policy
//! that may put `nlu_fallback` first.

use std::time::Duration;

use serde::Serialize;

use crate::decode::IntentScore;
use crate::entities::Entity;
use crate::lang::DetectedLanguage;

/// How many intents a ranking lists.
pub const RANKING_SIZE: usize = 10;

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ModelRef {
    /// The name the model is served under (`/v1/models/{id}`); "default" for a lone model.
    pub id: String,
    /// The bundle's own name and version.
    pub name: String,
    pub version: String,
}

/// The intent a low-confidence or ambiguous parse gets, as Rasa's FallbackClassifier names it.
pub const FALLBACK_INTENT: &str = "nlu_fallback";

/// When a parse becomes `nlu_fallback`. Both are off (0) by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    /// Below this top-1 confidence the intent is `nlu_fallback`; its confidence is this threshold
    /// (as in Rasa).
    #[serde(default)]
    pub threshold: f32,
    /// Below this gap between the top-1 and top-2 confidences, likewise.
    #[serde(default)]
    pub ambiguity_margin: f32,
    /// A trained bot's own off-topic gate, taken with its threshold (never set by configuration):
    /// below this cosine between the message's sentence vector and the nearest intent's mean, the
    /// intent is `nlu_fallback` ("far_from_intents").
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
}

impl Fallback {
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [("fallback threshold", self.threshold), ("ambiguity margin", self.ambiguity_margin)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} {v} is outside 0..=1"));
            }
        }
        Ok(())
    }

    /// Why a ranking falls back, if it does; `similarity`: the message's cosine to the nearest
    /// intent's mean, where the model gives one.
    pub fn reason(&self, ranking: &[IntentScore], similarity: Option<f32>) -> Option<&'static str> {
        let top = ranking.first()?.confidence;
        let second = ranking.get(1).map_or(0.0, |s| s.confidence);
        if self.similarity.zip(similarity).is_some_and(|(floor, s)| s < floor) {
            Some("far_from_intents")
        } else if top < self.threshold {
            Some("low_confidence")
        } else if top - second < self.ambiguity_margin {
            Some("ambiguous")
        } else {
            None
        }
    }
}

/// Where the time of one parse went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    pub tokenize: Duration,
    pub queue: Duration,
    pub inference: Duration,
    pub batch_size: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ParseResult {
    pub text: String,
    pub language: DetectedLanguage,
    pub intent: IntentScore,
    /// Highest first. After a fallback, `nlu_fallback` comes first and the model's own ranking follows.
    pub intent_ranking: Vec<IntentScore>,
    /// Set when the intent is `nlu_fallback`: "low_confidence", "ambiguous" or "far_from_intents"
    /// (a trained bot's off-topic gate).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub fallback_reason: Option<&'static str>,
    pub entities: Vec<Entity>,
    pub model: ModelRef,
    #[serde(skip)]
    pub timings: Timings,
}
