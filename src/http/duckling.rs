//! Built-in entities in the shape Rasa's DucklingEntityExtractor gives them, for bots written for
//! Rasa + Duckling (`POST /model/parse`, `serve --rasa-entities duckling`, the default): Duckling's
//! dimension names, `value` the main value (an ISO string for a time, `{"from", "to"}` for an
//! interval, the number for an amount or a duration), `additional_info` Duckling's value object,
//! `confidence` 1.0, `text`, `extractor` `DucklingEntityExtractor`.

use serde_json::{json, Value};

use super::types::{RasaEntities, RasaEntity, RasaParseResult};
use crate::entities::Entity;
use crate::pipeline::ParseResult;

/// Rasa's answer, built-in entities reported as `style` says.
pub fn rasa_answer(r: ParseResult, style: RasaEntities) -> RasaParseResult {
    let rules: Vec<Option<RasaEntity>> =
        r.entities.iter().map(|e| (style == RasaEntities::Duckling && e.source == "rule").then(|| rasa_entity(e))).collect();
    let mut out = RasaParseResult::from(r);
    for (slot, rule) in out.entities.iter_mut().zip(rules) {
        if let Some(rule) = rule {
            *slot = rule;
        }
    }
    out
}

/// Duckling's name of a dimension (`amount_of_money` → `amount-of-money`).
fn dimension(name: &str) -> String {
    name.replace('_', "-")
}

/// Duckling's value object of a built-in entity's value, and Rasa's `value` taken from it.
fn duckling_value(dim: &str, v: &Value) -> (Value, Value) {
    let unit = |v: &Value| v.get("currency").or_else(|| v.get("unit")).cloned().unwrap_or(Value::Null);
    match (dim, v["type"].as_str()) {
        ("time", Some("instant")) => {
            let one = json!({"value": v["value"], "grain": v["grain"], "type": "value"});
            (v["value"].clone(), json!({"value": v["value"], "grain": v["grain"], "type": "value", "values": [one]}))
        }
        ("time", Some("interval" | "open_interval")) => {
            let after = v["direction"] == "after";
            let (from, to) = match v["type"].as_str() {
                Some("interval") => (v["from"].clone(), v["to"].clone()),
                _ if after => (v["value"].clone(), Value::Null),
                _ => (Value::Null, v["value"].clone()),
            };
            let end = |x: &Value| if x.is_null() { Value::Null } else { json!({"value": x, "grain": v["grain"]}) };
            (json!({"from": from, "to": to}), json!({"type": "interval", "from": end(&from), "to": end(&to)}))
        }
        (_, Some("between" | "under" | "above")) => {
            let (from, to) = match v["type"].as_str() {
                Some("between") => (v["from"].clone(), v["to"].clone()),
                Some("under") => (Value::Null, v.get("amount").or_else(|| v.get("value")).cloned().unwrap_or(Value::Null)),
                _ => (v.get("amount").or_else(|| v.get("value")).cloned().unwrap_or(Value::Null), Value::Null),
            };
            let end = |x: &Value| if x.is_null() { Value::Null } else { json!({"value": x, "unit": unit(v)}) };
            (json!({"from": from, "to": to}), json!({"type": "interval", "from": end(&from), "to": end(&to)}))
        }
        ("amount_of_money", _) => (v["amount"].clone(), json!({"value": v["amount"], "unit": unit(v), "type": "value"})),
        ("duration", _) => {
            let u = v["unit"].as_str().unwrap_or("second");
            let info = json!({"value": v["value"], "unit": u, u: v["value"], "type": "value",
                              "normalized": {"value": v["seconds"], "unit": "second"}});
            (v["value"].clone(), info)
        }
        ("temperature", _) => (v["value"].clone(), json!({"value": v["value"], "unit": v["unit"], "type": "value"})),
        ("percentage", _) => (v.clone(), json!({"value": v, "unit": "%", "type": "value"})),
        ("number" | "ordinal", _) => (v.clone(), json!({"value": v, "type": "value"})),
        _ => (v.clone(), json!({"value": v})),
    }
}

/// A built-in entity as Rasa's DucklingEntityExtractor reports it.
pub fn rasa_entity(e: &Entity) -> RasaEntity {
    let (value, info) = duckling_value(&e.entity, &e.value);
    RasaEntity {
        entity: dimension(&e.entity),
        start: e.start,
        end: e.end,
        value,
        confidence_entity: None,
        confidence: Some(1.0),
        text: Some(e.text.clone()),
        additional_info: Some(info),
        extractor: "DucklingEntityExtractor",
        role: None,
        group: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(entity: &str, text: &str, value: Value) -> Entity {
        let end = text.chars().count();
        Entity { entity: entity.into(), value, text: text.into(), start: 0, end, confidence: 1.0, source: "rule", role: None, group: None }
    }

    #[test]
    fn built_in_entities_in_duckling_shape() {
        let t = rasa_entity(&rule("time", "demain", json!({"type": "instant", "value": "2026-03-11T00:00:00+01:00", "grain": "day"})));
        assert_eq!((t.entity.as_str(), &t.value, t.extractor), ("time", &json!("2026-03-11T00:00:00+01:00"), "DucklingEntityExtractor"));
        assert_eq!(t.additional_info.as_ref().unwrap()["grain"], "day");
        assert_eq!((t.confidence, t.confidence_entity, t.text.as_deref()), (Some(1.0), None, Some("demain")));
        let i = rasa_entity(&rule("time", "3-4pm", json!({"type": "interval", "from": "A", "to": "B", "grain": "hour"})));
        assert_eq!(i.value, json!({"from": "A", "to": "B"}));
        assert_eq!(i.additional_info.unwrap()["to"], json!({"value": "B", "grain": "hour"}));
        let o = rasa_entity(&rule("time", "after 2 pm", json!({"type": "open_interval", "direction": "after", "value": "A", "grain": "hour"})));
        assert_eq!(o.value, json!({"from": "A", "to": null}));
        let m = rasa_entity(&rule("amount_of_money", "$3.99", json!({"amount": 3.99, "currency": "USD"})));
        assert_eq!((m.entity.as_str(), &m.value), ("amount-of-money", &json!(3.99)));
        assert_eq!(m.additional_info.unwrap()["unit"], "USD");
        let d = rasa_entity(&rule("duration", "two hours", json!({"value": 2, "unit": "hour", "seconds": 7200, "iso": "PT2H"})));
        assert_eq!(d.value, json!(2));
        assert_eq!(d.additional_info.unwrap()["normalized"], json!({"value": 7200, "unit": "second"}));
        let r = rasa_entity(&rule("amount_of_money", "10-20$", json!({"type": "between", "from": 10, "to": 20, "currency": "USD"})));
        assert_eq!(r.value, json!({"from": 10, "to": 20}));
        let p = rasa_entity(&rule("phone_number", "06 12 34 56 78", json!("+33612345678")));
        assert_eq!((p.entity.as_str(), &p.value), ("phone-number", &json!("+33612345678")));
        let n = rasa_entity(&rule("number", "vingt-trois", json!(23)));
        assert_eq!((n.value.clone(), n.additional_info.unwrap()), (json!(23), json!({"value": 23, "type": "value"})));
    }
}
