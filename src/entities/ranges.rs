//! Ranges and bounds of amounts and temperatures, as Duckling: "between 10 and 20 dollars", "10 -
//! 20 euro", "from 30 degrees to 40 degrees", "under seven euros", "at least $1.42", "plus de 10
//! euros", "over 40 degrees". Values: `{"type": "between", "from", "to", ...}` and `{"type":
//! "under" | "above", "amount" | "value", ...}` with the currency or the unit of the bound.

use super::measures::{money_at, temperature_at};
use super::numbers::quantity_at;
use super::text::Toks;
use super::Lang;
use serde_json::{json, Value};

type Measure = fn(&Toks, usize, Lang) -> Option<(usize, Value)>;

/// (value key, unit key) of a measure's JSON: money `amount` / `currency`, temperature `value` /
/// `unit`.
fn keys(money: bool) -> (&'static str, &'static str) {
    if money {
        ("amount", "currency")
    } else {
        ("value", "unit")
    }
}

/// "under 7 EUR", "at least 40 degrees", "plus de 10 euros", "moins de 10 dollars".
fn bound_at(t: &Toks, i: usize, lang: Lang, money: bool) -> Option<(usize, Value)> {
    let (under, above): (&[&str], &[&str]) = match lang {
        Lang::En => {
            (&["no more than", "less than", "lower than", "at most", "under", "below"], &["no less than", "more than", "at least", "over", "above"])
        }
        Lang::Fr => (&["pas plus de", "en dessous de", "au dessous de", "moins de", "moins que", "au plus"], &["au moins", "plus que", "plus de"]),
    };
    let (j, kind) = match t.phrases(i, under) {
        Some(j) => (j, "under"),
        None => (t.phrases(i, above)?, "above"),
    };
    let f: Measure = if money { money_at } else { temperature_at };
    let (e, v) = f(t, j, lang)?;
    let (vk, uk) = keys(money);
    Some((e, json!({"type": kind, vk: v[vk], uk: v[uk]})))
}

/// One end of a range: a measure, or a bare number that takes the other end's unit.
fn end_at(t: &Toks, j: usize, lang: Lang, f: Measure, vk: &str) -> Option<(usize, Value, bool)> {
    if let Some((e, v)) = f(t, j, lang) {
        return Some((e, json!({"n": v[vk], "v": v}), true));
    }
    let q = quantity_at(t, j, lang, false)?;
    Some((q.end, json!({"n": super::num_json(q.value)}), false))
}

/// "between 10 and 20 dollars", "from 10 dollars to 20 dollars", "10-20 dollars", "about
/// $10-$20", "entre 10 et 20 euro", "30-40 degrees celsius".
fn between_at(t: &Toks, i: usize, lang: Lang, money: bool) -> Option<(usize, Value)> {
    let around: &[&str] = if lang == Lang::En { &["around", "about", "approximately"] } else { &["environ"] };
    let i = t.phrases(i, around).unwrap_or(i);
    let (j, closes): (usize, &[&str]) = match (lang, t.key(i)) {
        (Lang::En, "between") => (i + 1, &["and"]),
        (Lang::En, "from") => (i + 1, &["to", "and", "-"]),
        (Lang::Fr, "entre") => (i + 1, &["et"]),
        _ => (i, &["-"]),
    };
    let f: Measure = if money { money_at } else { temperature_at };
    let (vk, uk) = keys(money);
    let (e1, a, a_unit) = end_at(t, j, lang, f, vk)?;
    let k = t.phrases(e1, closes)?;
    let (e2, b, b_unit) = end_at(t, k, lang, f, vk)?;
    if !(a_unit || b_unit) {
        return None;
    }
    let unit = if b_unit { b["v"][uk].clone() } else { a["v"][uk].clone() };
    let (from, to) = (a["n"].as_f64()?, b["n"].as_f64()?);
    if from >= to {
        return None;
    }
    Some((e2, json!({"type": "between", "from": a["n"], "to": b["n"], uk: unit})))
}

/// Money ranges and bounds at token `i`: (end, value).
pub(crate) fn money_range_at(t: &Toks, i: usize, lang: Lang) -> Option<(usize, Value)> {
    between_at(t, i, lang, true).or_else(|| bound_at(t, i, lang, true))
}

/// Temperature ranges and bounds at token `i`: (end, value).
pub(crate) fn temperature_range_at(t: &Toks, i: usize, lang: Lang) -> Option<(usize, Value)> {
    between_at(t, i, lang, false).or_else(|| bound_at(t, i, lang, false))
}
