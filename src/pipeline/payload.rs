//! Rasa's button payloads: a text such as `/restart`, `/inform{"city": "Paris"}` or
//! `/affirm@0.8` names the intent (and entities) itself. Rasa's server answers it as that intent,
//! without running the model (its `RegexMessageHandler`); so does `/model/parse` here, and
//! `/v1/parse` when the request sets `rasa_payloads`.
//!
//! As in Rasa: the text is trimmed; the intent runs up to the first `{` or `@`; `@c` sets the
//! confidence (above 1 is 1, unreadable is 0; default 1); a JSON object maps entity types to a
//! value or a list of values, each entity spanning the JSON text; anything after is ignored; a
//! JSON that is not an object gives no entities. An intent the model does not know (nor one of
//! Rasa's default intents) is not a payload: the text is parsed as a user's words, as Rasa does
//! with intents missing from its domain. Unlike Rasa, entity types are not filtered (Parlance has
//! no domain file).
//!
//! Bounded work: the text obeys `--max-text-chars` like any other (checked before this module
//! reads it), and a JSON with more than [`MAX_ENTITY_VALUES`] values is refused
//! (`payload_too_complex`) before any entity is built, so a small body cannot fan out into a
//! large answer.

use std::sync::LazyLock;

use regex::Regex;

use crate::decode::IntentScore;
use crate::entities::Entity;
use crate::lang::DetectedLanguage;
use crate::pipeline::{ModelRef, ParseResult};

/// Intents every Rasa domain has.
pub const RASA_DEFAULT_INTENTS: [&str; 5] = ["restart", "back", "out_of_scope", "session_start", "nlu_fallback"];

/// Most entity values one payload is answered with (Rasa has no limit; a button carries a few).
pub const MAX_ENTITY_VALUES: usize = 100;

/// A payload's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub intent: String,
    pub confidence: f32,
    pub entities: Vec<PayloadEntity>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PayloadEntity {
    pub entity: String,
    pub value: serde_json::Value,
    /// Char offsets of the JSON object in the trimmed text, as Rasa gives them.
    pub start: usize,
    pub end: usize,
}

static PATTERN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^/(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>\{.+\})?(?P<rest>.*)").expect("payload pattern"));

/// The payload in `text`, if it is one whose intent `known` accepts; `Err(values)` when its JSON
/// holds more than [`MAX_ENTITY_VALUES`] entity values.
pub fn parse(text: &str, known: impl Fn(&str) -> bool) -> Option<Result<Payload, usize>> {
    let text = text.trim();
    if !text.starts_with('/') {
        return None;
    }
    let caps = PATTERN.captures(text)?;
    let intent = caps.name("intent")?.as_str().trim();
    if intent.is_empty() || !(known(intent) || RASA_DEFAULT_INTENTS.contains(&intent)) {
        return None;
    }
    let confidence = caps.name("confidence").map_or(1.0, |c| c.as_str()[1..].parse::<f32>().map_or(0.0, |v| v.min(1.0)));
    let entities = match caps.name("entities") {
        None => Vec::new(),
        Some(m) => {
            let start = text[..m.start()].chars().count();
            let end = start + m.as_str().chars().count();
            match entities(m.as_str(), start, end) {
                Ok(e) => e,
                Err(values) => return Some(Err(values)),
            }
        }
    };
    Some(Ok(Payload { intent: intent.to_string(), confidence, entities }))
}

/// A JSON object's members in the order written (Rasa reads them into a Python dict, which keeps it).
struct Members(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, serde_json::Value>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// The entities of the payload's JSON, or `Err(values)` when there are too many.
fn entities(json: &str, start: usize, end: usize) -> Result<Vec<PayloadEntity>, usize> {
    let Ok(Members(members)) = serde_json::from_str::<Members>(json) else {
        return Ok(Vec::new());
    };
    let values: usize = members.iter().map(|(_, v)| v.as_array().map_or(1, Vec::len)).sum();
    if values > MAX_ENTITY_VALUES {
        return Err(values);
    }
    let mut out = Vec::with_capacity(values);
    for (entity, values) in members {
        let values = match values {
            serde_json::Value::Array(v) => v,
            v => vec![v],
        };
        out.extend(values.into_iter().map(|value| PayloadEntity { entity: entity.clone(), value, start, end }));
    }
    Ok(out)
}

impl Payload {
    /// The payload as a Parlance parse result (`source: "payload"` on its entities).
    pub fn into_result(self, text: String, language: DetectedLanguage, model: ModelRef) -> ParseResult {
        // every entity spans the same JSON object: its text is cut once
        let span = self.entities.first().map(|e| text.trim().chars().skip(e.start).take(e.end - e.start).collect::<String>());
        let intent = IntentScore { name: self.intent, confidence: self.confidence };
        let entities = self
            .entities
            .into_iter()
            .map(|e| Entity {
                text: span.clone().unwrap_or_default(),
                entity: e.entity,
                value: e.value,
                start: e.start,
                end: e.end,
                confidence: 1.0,
                source: "payload",
                role: None,
                group: None,
            })
            .collect();
        ParseResult {
            text,
            language,
            intent_ranking: vec![intent.clone()],
            intent,
            fallback_reason: None,
            entities,
            model,
            timings: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn known(i: &str) -> bool {
        ["inform", "affirm", "greet"].contains(&i)
    }

    #[test]
    fn intents_confidences_and_entities() {
        let p = parse("/restart", known).unwrap().unwrap();
        assert_eq!((p.intent.as_str(), p.confidence, p.entities.len()), ("restart", 1.0, 0));
        let p = parse(r#"  /inform{"city": "Paris"}  "#, known).unwrap().unwrap();
        assert_eq!(p.intent, "inform");
        assert_eq!(p.entities, vec![PayloadEntity { entity: "city".into(), value: json!("Paris"), start: 7, end: 24 }]);
        let p = parse(r#"/inform@0.8{"city": ["Paris", "Lyon"], "n": 2}"#, known).unwrap().unwrap();
        assert_eq!(p.confidence, 0.8);
        assert_eq!(p.entities.len(), 3);
        assert_eq!(p.entities[2].value, json!(2));
        assert_eq!(p.entities[0].value, json!("Paris"));
        assert_eq!(parse("/affirm@7", known).unwrap().unwrap().confidence, 1.0);
        assert_eq!(parse("/affirm@1.2.3", known).unwrap().unwrap().confidence, 0.0);
        // not an object: no entities, the intent still holds
        assert!(parse(r#"/inform{"a"}"#, known).unwrap().unwrap().entities.is_empty());
    }

    /// Rasa's answer carries an entity's role and group when it has them, and leaves them out otherwise.
    #[test]
    fn rasa_entities_carry_roles_and_groups() {
        let text = r#"/inform{"city": "Paris", "size": "large"}"#;
        let language = DetectedLanguage { code: "en".into(), confidence: 1.0, source: "request" };
        let model = ModelRef { id: "bot".into(), name: "bot".into(), version: "1".into() };
        let mut r = parse(text, known).unwrap().unwrap().into_result(text.into(), language, model);
        r.entities[0].role = Some("from".into());
        r.entities[1].group = Some("1".into());
        let rasa = serde_json::to_value(crate::http::types::RasaParseResult::from(r)).unwrap();
        let e = rasa["entities"].as_array().unwrap();
        assert_eq!((&e[0]["entity"], &e[0]["role"], e[0].get("group")), (&json!("city"), &json!("from"), None));
        assert_eq!((&e[1]["entity"], e[1].get("role"), &e[1]["group"]), (&json!("size"), None, &json!("1")));
    }

    #[test]
    fn offsets_are_chars() {
        let p = parse(r#"/inform{"ville": "Besançon"}"#, known).unwrap().unwrap();
        assert_eq!((p.entities[0].start, p.entities[0].end), (7, 28));
    }

    /// A long JSON list is refused before any entity is built (it once cost the server a gigabyte).
    #[test]
    fn too_many_values_are_refused() {
        let list = vec!["1"; 20_000].join(",");
        assert_eq!(parse(&format!("/inform{{\"t\":[{list}]}}"), known), Some(Err(20_000)));
        let list = vec!["1"; MAX_ENTITY_VALUES].join(",");
        assert_eq!(parse(&format!("/inform{{\"t\":[{list}]}}"), known).unwrap().unwrap().entities.len(), MAX_ENTITY_VALUES);
        assert_eq!(parse(r#"/inform{"a": [1, 2], "b": [3], "c": 4}"#, known).unwrap().unwrap().entities.len(), 4);
    }

    #[test]
    fn what_is_not_a_payload() {
        assert_eq!(parse("restart", known), None);
        assert_eq!(parse("/unknown_intent", known), None);
        assert_eq!(parse("/", known), None);
        assert_eq!(parse("/{\"a\": 1}", known), None);
        assert_eq!(parse("/@0.5", known), None);
    }
}
