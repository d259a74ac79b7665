//! One entity list from two sources: the model's slots and the rule-based built-ins.
//!
//! The policy, one entity per stretch of text:
//! 1. A rule entity that overlaps no model slot is listed as it is (`source: "rule"`, `entity` =
//!    its dimension, e.g. `number`, `time`).
//! 2. A rule entity that overlaps model slots whose types it can resolve (`date`, `time`,
//!    `timeofday` by a date-time; see `entities::slot_dimension`) is not listed itself: it gives
//!    its value to those slots, which keep the model's type and span. When it covers several slots
//!    ("demain" + "15h" in "demain à 15h"), a slot whose own text resolves to a whole day or longer
//!    keeps that (date "demain" = 2026-03-11, grain day), and the finer slot carries the combined
//!    value (time "15h" = 2026-03-11T15:00, tomorrow, not today): one date-time entity, with the
//!    spans the model found.
//! 3. A rule entity that overlaps a slot it cannot resolve (a number inside a `song_name`) is
//!    dropped: the model's reading of that stretch wins.
//! 4. A value-bearing slot that no rule entity covers is resolved on its own text
//!    (`entities::resolve_slot`); a slot that resolves to nothing keeps its text as its value.
//!
//! Model slots keep `source: "model"` and the model's confidence.

use crate::entities::{self, Context, RuleEntity};
use crate::pipeline::Entity;

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Merges model slots (decoded, value = text) with rule entities; sorted by start.
/// A time value of a whole day or longer.
fn coarse(v: &serde_json::Value) -> bool {
    matches!(v["grain"].as_str(), Some("day" | "week" | "month" | "year"))
}

/// Merges model slots (decoded, value = text) with rule entities; sorted by start.
pub fn merge(model: Vec<Entity>, rules: Vec<RuleEntity>, ctx: &Context) -> Vec<Entity> {
    // which rule entity, if any, resolves each model slot
    let mut resolved_by: Vec<Option<usize>> = vec![None; model.len()];
    let mut out = Vec::new();
    for (ri, r) in rules.iter().enumerate() {
        let hit: Vec<usize> = (0..model.len())
            .filter(|&mi| resolved_by[mi].is_none() && overlaps((model[mi].start, model[mi].end), (r.start, r.end)))
            .collect();
        if hit.is_empty() {
            out.push(Entity {
                entity: r.dim.name().to_string(),
                value: r.value.clone(),
                text: r.text.clone(),
                start: r.start,
                end: r.end,
                confidence: r.confidence,
                source: "rule",
            });
        } else if hit.iter().all(|&mi| entities::slot_dimension(&model[mi].entity) == Some(r.dim)) {
            for mi in hit {
                resolved_by[mi] = Some(ri);
            }
        } // else: the model's slot wins that stretch; the rule entity is dropped
    }
    let group_size = |ri: usize| resolved_by.iter().filter(|r| **r == Some(ri)).count();
    for (mi, slot) in model.into_iter().enumerate() {
        let alone = entities::resolve_slot(&slot.entity, &slot.text, ctx).map(|(_, v)| v);
        let value = match resolved_by[mi] {
            None => alone,
            // several slots under one expression: a day-or-longer slot keeps its own value
            Some(ri) if group_size(ri) > 1 && alone.as_ref().is_some_and(coarse) => alone,
            Some(ri) => Some(rules[ri].value.clone()),
        };
        out.push(Entity { value: value.unwrap_or(slot.value), ..slot });
    }
    out.sort_by_key(|e| (e.start, e.end));
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
        assert_eq!(kinds, [("date", "demain", "model"), ("time", "15h", "model")], "the rule span is not listed again");
        assert_eq!(out[0].value["value"], "2026-03-11T00:00:00+01:00");
        assert_eq!(out[0].value["grain"], "day");
        assert_eq!(out[1].value, serde_json::json!({"type": "instant", "value": "2026-03-11T15:00:00+01:00", "grain": "hour"}));
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
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].entity.as_str(), out[0].start, out[0].end), ("date", 13, 19));
        assert!(out[0].value["value"].as_str().unwrap().starts_with("2026-03-11"), "{:?}", out[0].value);
    }

    #[test]
    fn rule_entities_outside_slots_are_listed_and_inside_other_slots_dropped() {
        let text = "joue 99 luftballons et mets le volume à 20 %";
        let out = run(text, vec![slot("song_name", "99 luftballons", 5)]);
        let kinds: Vec<(&str, &str, &str)> = out.iter().map(|e| (e.entity.as_str(), e.text.as_str(), e.source)).collect();
        assert_eq!(kinds, [("song_name", "99 luftballons", "model"), ("percentage", "20 %", "rule")]);
        assert_eq!(out[1].value, serde_json::json!(20));
    }

    #[test]
    fn an_unresolvable_slot_keeps_its_text() {
        let out = run("quel temps à paris", vec![slot("place_name", "paris", 13)]);
        assert_eq!(out[0].value, serde_json::json!("paris"));
    }
}
