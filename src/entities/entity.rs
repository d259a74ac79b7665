//! The entity of a parse result, whatever found it: the model's slots, the built-in grammar, a
//! bundle's Rasa lookups and regexes, or a Rasa button payload.

use serde::Serialize;

/// One entity in a result. `source` is "model" for slots the model tagged, "rule" for built-ins,
/// "payload" for the entities of a Rasa button payload.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Entity {
    pub entity: String,
    /// The resolved value: the text itself for a model slot without a resolver, else typed JSON.
    pub value: serde_json::Value,
    pub text: String,
    /// First char (Unicode scalar value) of the entity in the request text.
    pub start: usize,
    /// One past its last char.
    pub end: usize,
    pub confidence: f32,
    /// "model", "rule" or "payload".
    #[schema(value_type = String)]
    pub source: &'static str,
}
