//! One entity list from two sources: the model's slots and the rule-based built-ins, side by side
//! (as Rasa lists the entities of each of its extractors).
//!
//! The policy:
//! 1. Every rule entity (of the requested dimensions) is listed as it is (`source: "rule"`,
//!    `entity` = its dimension, e.g. `number`, `time`), whether or not a model slot overlaps it.
//! 2. A model slot keeps the model's type, span and confidence (`source: "model"`) and takes a
//!    resolved value as its `value`:
//!    a. from a rule entity of the slot type's dimension (`entities::slot_dimension`: `date`,
//!    `time`, `timeofday` → time, ...) that overlaps it. When one rule entity covers several
//!    slots ("demain" + "15h" in "demain à 15h"), a slot whose own text resolves to a whole day
//!    or longer keeps that (date "demain" = 2026-03-11, grain day), and the finer slot carries
//!    the combined value (time "15h" = 2026-03-11T15:00, tomorrow, not today);
//!    b. else from its own text (`entities::resolve_slot`);
//!    c. else, for any slot type, from a rule entity of any dimension that lies inside the slot
//!    when the rest of the slot is at most function words ("de", "of", "the", ...): `time` "two
//!    hours" carries the duration, `change_amount` "de 15 %" the percentage, `person`
//!    "john.smith@example.com" the email. A slot with other words around the entity ("99
//!    luftballons", a `song_name`) keeps its text;
//!    d. else its text.
//!
//! Rule entities and slots are sorted by start, then end; a slot before a rule entity at the same span.

use crate::entities::Entity;
use crate::entities::{self, Context, RuleEntity};

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// A time value of a whole day or longer.
fn coarse(v: &serde_json::Value) -> bool {
    matches!(v["grain"].as_str(), Some("day" | "week" | "month" | "quarter" | "year"))
}

/// Words a slot may hold around a rule entity and still be that entity ("de 15 %", "for two hours").
const FUNCTION_WORDS: [&str; 34] = [
    "de", "du", "des", "d", "le", "la", "les", "l", "à", "a", "au", "aux", "un", "une", "en", "pour", "par", "sur", "vers", "of", "the", "an", "for",
    "to", "at", "by", "about", "in", "on", "from", "with", "me", "my", "is",
];

/// The rule entity that a slot is, up to function words: it lies inside the slot and every other
/// word of the slot is a function word.
fn inner_rule<'r>(slot: &Entity, rules: &'r [RuleEntity]) -> Option<&'r RuleEntity> {
    let chars: Vec<char> = slot.text.chars().collect();
    rules.iter().filter(|r| r.start >= slot.start && r.end <= slot.end && r.end > r.start).find(|r| {
        let b = (r.end - slot.start).min(chars.len());
        let a = (r.start - slot.start).min(b);
        let rest: String = chars[..a].iter().chain([' '].iter()).chain(chars[b..].iter()).collect();
        rest.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).all(|w| FUNCTION_WORDS.contains(&w.to_lowercase().as_str()))
    })
}

fn rule_entity(r: &RuleEntity) -> Entity {
    Entity {
        entity: r.dim.name().to_string(),
        value: r.value.clone(),
        text: r.text.clone(),
        start: r.start,
        end: r.end,
        confidence: r.confidence,
        source: "rule",
        role: None,
        group: None,
    }
}

/// Merges model slots (decoded, value = text) with rule entities; sorted by start.
pub fn merge(model: Vec<Entity>, rules: Vec<RuleEntity>, ctx: &Context) -> Vec<Entity> {
    // which rule entity of the slot's own dimension, if any, resolves each model slot
    let mut resolved_by: Vec<Option<usize>> = vec![None; model.len()];
    for (ri, r) in rules.iter().enumerate() {
        for (mi, slot) in model.iter().enumerate() {
            if resolved_by[mi].is_none()
                && entities::slot_dimension(&slot.entity) == Some(r.dim)
                && overlaps((slot.start, slot.end), (r.start, r.end))
            {
                resolved_by[mi] = Some(ri);
            }
        }
    }
    let group_size = |ri: usize| resolved_by.iter().filter(|r| **r == Some(ri)).count();
    let mut out: Vec<Entity> = Vec::with_capacity(model.len() + rules.len());
    for (mi, slot) in model.into_iter().enumerate() {
        let alone = || entities::resolve_slot(&slot.entity, &slot.text, ctx).map(|(_, v)| v);
        let value = match resolved_by[mi] {
            // several slots under one expression: a day-or-longer slot keeps its own value
            Some(ri) if group_size(ri) > 1 => alone().filter(coarse).unwrap_or_else(|| rules[ri].value.clone()),
            Some(ri) => rules[ri].value.clone(),
            None => alone().or_else(|| inner_rule(&slot, &rules).map(|r| r.value.clone())).unwrap_or_else(|| slot.value.clone()),
        };
        out.push(Entity { value, ..slot });
    }
    out.extend(rules.iter().map(rule_entity));
    out.sort_by_key(|e| (e.start, e.end, e.source == "rule"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::Lang;

    fn ctx() -> Context {
        Context::from_request(Some("2026-03-10T09:00:00"), Some("Europe/Paris"), Lang::Fr).unwrap()
    }

    fn slot(entity: &str, text: &str, start: usize) -> Entity {
        Entity {
            entity: entity.into(),
            value: serde_json::Value::String(text.into()),
            text: text.into(),
            start,
            end: start + text.chars().count(),
            confidence: 0.9,
            source: "model",
            role: None,
            group: None,
        }
    }

    fn run(text: &str, model: Vec<Entity>) -> Vec<Entity> {
        let c = ctx();
        merge(model, entities::extract(text, &c, None), &c)
    }

    #[test]
    fn date_and_time_slots_keep_their_spans_and_one_carries_the_date_time() {
        let text = "rappelle-moi d'appeler maman demain à 15h";
        let out = run(text, vec![slot("date", "demain", 29), slot("time", "15h", 38)]);
        let kinds: Vec<(&str, &str, &str)> = out.iter().map(|e| (e.entity.as_str(), e.text.as_str(), e.source)).collect();
        assert_eq!(kinds, [("date", "demain", "model"), ("time", "demain à 15h", "rule"), ("time", "15h", "model")]);
        assert_eq!(out[0].value["value"], "2026-03-11T00:00:00+01:00");
        assert_eq!(out[0].value["grain"], "day");
        let at_15 = serde_json::json!({"type": "instant", "value": "2026-03-11T15:00:00+01:00", "grain": "hour"});
        assert_eq!(out[1].value, at_15);
        assert_eq!(out[2].value, at_15);
    }

    #[test]
    fn without_model_slots_the_rule_entity_is_listed_whole() {
        let text = "rappelle-moi d'appeler maman demain à 15h";
        let out = run(text, vec![]);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].entity.as_str(), out[0].text.as_str(), out[0].source), ("time", "demain à 15h", "rule"));
        assert_eq!(out[0].value["value"], "2026-03-11T15:00:00+01:00");
    }

    #[test]
    fn a_lone_slot_keeps_its_type_and_span_and_gains_the_value() {
        let text = "réveille-moi demain";
        let out = run(text, vec![slot("date", "demain", 13)]);
        let kinds: Vec<(&str, usize, usize, &str)> = out.iter().map(|e| (e.entity.as_str(), e.start, e.end, e.source)).collect();
        assert_eq!(kinds, [("date", 13, 19, "model"), ("time", 13, 19, "rule")], "the slot first at the same span");
        assert!(out[0].value["value"].as_str().unwrap().starts_with("2026-03-11"), "{:?}", out[0].value);
        assert_eq!(out[0].value, out[1].value);
    }

    #[test]
    fn rule_entities_inside_other_slots_are_listed_and_a_slot_with_other_words_keeps_its_text() {
        let text = "joue 99 luftballons et mets le volume à 20 %";
        let out = run(text, vec![slot("song_name", "99 luftballons", 5)]);
        let kinds: Vec<(&str, &str, &str)> = out.iter().map(|e| (e.entity.as_str(), e.text.as_str(), e.source)).collect();
        assert_eq!(kinds, [("number", "99", "rule"), ("song_name", "99 luftballons", "model"), ("percentage", "20 %", "rule")]);
        assert_eq!(out[0].value, serde_json::json!(99));
        assert_eq!(out[1].value, serde_json::json!("99 luftballons"));
        assert_eq!(out[2].value, serde_json::json!(20));
    }

    fn run_lang(text: &str, lang: Lang, model: Vec<Entity>) -> Vec<Entity> {
        let c = Context::from_request(Some("2026-03-10T09:00:00"), Some("Europe/Paris"), lang).unwrap();
        merge(model, entities::extract(text, &c, None), &c)
    }

    /// The five losses of issue 16: the rule entity is listed and the slot carries its value.
    #[test]
    fn a_slot_of_another_type_keeps_the_rule_entity_and_carries_its_value() {
        use serde_json::json;
        let cases = [
            (
                "set a timer for two hours",
                Lang::En,
                ("time", "two hours", 16),
                "duration",
                json!({"value": 2, "unit": "hour", "seconds": 7200, "iso": "PT2H"}),
            ),
            ("appelle le 06 12 34 56 78", Lang::Fr, ("radio_name", "06 12 34 56 78", 11), "phone_number", json!("+33612345678")),
            (
                "email john.smith@example.com about the report",
                Lang::En,
                ("person", "john.smith@example.com", 6),
                "email",
                json!("john.smith@example.com"),
            ),
            ("baisse le volume de 15 %", Lang::Fr, ("change_amount", "de 15 %", 17), "percentage", json!(15)),
            (
                "mets un minuteur de deux heures",
                Lang::Fr,
                ("time", "de deux heures", 17),
                "duration",
                json!({"value": 2, "unit": "hour", "seconds": 7200, "iso": "PT2H"}),
            ),
        ];
        for (text, lang, (ty, span, at), dim, value) in cases {
            let out = run_lang(text, lang, vec![slot(ty, span, at)]);
            let rule = out.iter().find(|e| e.source == "rule" && e.entity == dim).unwrap_or_else(|| panic!("{text}: {out:?}"));
            assert_eq!(rule.value, value, "{text}");
            let model = out.iter().find(|e| e.source == "model").unwrap();
            assert_eq!((model.entity.as_str(), model.text.as_str()), (ty, span), "{text}");
            assert_eq!(model.value, value, "{text}: the slot carries the rule value");
        }
    }

    #[test]
    fn an_unresolvable_slot_keeps_its_text() {
        let out = run("quel temps à paris", vec![slot("place_name", "paris", 13)]);
        assert_eq!(out[0].value, serde_json::json!("paris"));
    }
}
