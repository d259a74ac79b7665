//! Rule-based built-in entities for French and English: numbers, ordinals, amounts of money,
//! percentages, durations, temperatures, dates and times (resolved against a reference time in an
//! IANA zone), email addresses, URLs and phone numbers. See `docs/entities.md`.
//!
//! Pipeline: the text is tokenised into whole words, numeric literals and punctuation
//! ([`text`]); every grammar proposes candidates at every token; candidates that would start or
//! end inside a word are dropped; the overlap policy keeps the longest span (ties broken by
//! dimension priority, then earliest start); the `dims` filter is applied last.

pub mod entity;
mod grain;
mod measures;
mod number_words;
mod numbers;
mod ranges;
mod text;
mod time;
mod web;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

pub use entity::{slot_type, split_slot_type, Entity};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    En,
    Fr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Number,
    Ordinal,
    AmountOfMoney,
    Percentage,
    Duration,
    Temperature,
    Time,
    Email,
    Url,
    PhoneNumber,
}

const ALL_DIMS: [Dimension; 10] = [
    Dimension::Number,
    Dimension::Ordinal,
    Dimension::AmountOfMoney,
    Dimension::Percentage,
    Dimension::Duration,
    Dimension::Temperature,
    Dimension::Time,
    Dimension::Email,
    Dimension::Url,
    Dimension::PhoneNumber,
];

impl Dimension {
    pub fn name(&self) -> &'static str {
        match self {
            Dimension::Number => "number",
            Dimension::Ordinal => "ordinal",
            Dimension::AmountOfMoney => "amount_of_money",
            Dimension::Percentage => "percentage",
            Dimension::Duration => "duration",
            Dimension::Temperature => "temperature",
            Dimension::Time => "time",
            Dimension::Email => "email",
            Dimension::Url => "url",
            Dimension::PhoneNumber => "phone_number",
        }
    }

    pub fn all() -> &'static [Dimension] {
        &ALL_DIMS
    }

    /// Parses a dimension name as returned by [`Dimension::name`] (case-insensitive; `-` and `_`
    /// interchangeable).
    pub fn parse(s: &str) -> Option<Dimension> {
        let k = s.trim().to_ascii_lowercase().replace('-', "_");
        ALL_DIMS.iter().copied().find(|d| d.name() == k)
    }

    /// Overlap tie-break among equally long spans: lower wins.
    fn priority(self) -> u8 {
        match self {
            Dimension::Email => 0,
            Dimension::Url => 1,
            Dimension::PhoneNumber => 2,
            Dimension::Time => 3,
            Dimension::AmountOfMoney => 4,
            Dimension::Percentage => 5,
            Dimension::Temperature => 6,
            Dimension::Duration => 7,
            Dimension::Ordinal => 8,
            Dimension::Number => 9,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Context {
    pub reference_time: DateTime<Tz>,
    pub lang: Lang,
}

impl Context {
    /// reference "2026-03-10T09:00:00" (naive → in `timezone`) or RFC 3339 with offset; timezone
    /// IANA name, default "UTC"; no reference time → now.
    pub fn from_request(reference_time: Option<&str>, timezone: Option<&str>, lang: Lang) -> Result<Context, String> {
        let tz: Tz = match timezone.map(str::trim).filter(|s| !s.is_empty()) {
            None => Tz::UTC,
            Some(name) => {
                name.parse().map_err(|_| format!("unknown time zone {name:?}: expected an IANA name such as \"Europe/Paris\" or \"UTC\""))?
            }
        };
        let reference_time = match reference_time.map(str::trim).filter(|s| !s.is_empty()) {
            None => Utc::now().with_timezone(&tz),
            Some(s) => {
                if let Ok(d) = DateTime::parse_from_rfc3339(s) {
                    d.with_timezone(&tz)
                } else {
                    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
                        .iter()
                        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
                        .ok_or_else(|| {
                            format!(
                                "invalid reference_time {s:?}: expected \"YYYY-MM-DDTHH:MM:SS\" (local time in the time zone) or RFC 3339 with an offset"
                            )
                        })?;
                    time::localize(&tz, naive)
                }
            }
        };
        Ok(Context { reference_time, lang })
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RuleEntity {
    pub dim: Dimension,
    /// Char offsets (Unicode scalar values) into the text given, end exclusive.
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub value: serde_json::Value,
    pub confidence: f32,
}

/// A number as JSON: an integer when integral, else the nearest double to its 6-decimal rounding.
pub(crate) fn num_json(v: f64) -> Value {
    let r: f64 = format!("{v:.6}").parse().unwrap_or(v);
    if r.fract() == 0.0 && r.abs() < 9.0e15 {
        Value::from(r as i64)
    } else {
        serde_json::Number::from_f64(r).map(Value::Number).unwrap_or(Value::Null)
    }
}

struct Cand {
    dim: Dimension,
    s: usize,
    e: usize,
    value: Value,
    confidence: f32,
}

fn candidates(text: &str, ctx: &Context, chars: &[char]) -> Vec<Cand> {
    let lang = ctx.lang;
    let toks = text::tokenize(text, lang);
    let t = &toks;
    let mut out: Vec<Cand> = Vec::new();
    let span = |i: usize, e: usize| (t.t[i].s, t.t[e - 1].e);

    // email, url, phone: regexes on the raw text (byte offsets → char offsets)
    let mut web = Vec::new();
    web::find(text, &mut web);
    if !web.is_empty() {
        let mut b2c = vec![0usize; text.len() + 1];
        for (ci, (bi, ch)) in text.char_indices().enumerate() {
            for k in 0..ch.len_utf8() {
                b2c[bi + k] = ci;
            }
        }
        b2c[text.len()] = chars.len();
        for w in web {
            out.push(Cand { dim: w.dim, s: b2c[w.bs], e: b2c[w.be], value: Value::String(w.value), confidence: 1.0 });
        }
    }

    let tz = ctx.reference_time.timezone();
    let cx = time::Cx {
        t,
        lang,
        now: ctx.reference_time.naive_local(),
        abs: ctx.reference_time,
        anchors: time::anchor_words(t, lang),
        date_memo: std::cell::RefCell::new(vec![None; t.len() + 2]),
    };
    let mut tv = Vec::new();
    for i in 0..t.len() {
        if let Some(m) = numbers::number_at(t, i, lang, false) {
            let (s, e) = span(i, m.end);
            let conf = if m.spelled { 0.9 } else { 1.0 };
            if m.ordinal {
                if m.value.fract() == 0.0 && m.value > 0.0 {
                    out.push(Cand { dim: Dimension::Ordinal, s, e, value: Value::from(m.value as i64), confidence: conf });
                }
            } else {
                out.push(Cand { dim: Dimension::Number, s, e, value: num_json(m.value), confidence: conf });
            }
        }
        if let Some((end, v)) = measures::money_at(t, i, lang) {
            let (s, e) = span(i, end);
            out.push(Cand { dim: Dimension::AmountOfMoney, s, e, value: v, confidence: 1.0 });
        }
        if let Some((end, v)) = ranges::money_range_at(t, i, lang) {
            let (s, e) = span(i, end);
            out.push(Cand { dim: Dimension::AmountOfMoney, s, e, value: v, confidence: 1.0 });
        }
        if let Some((end, v)) = ranges::temperature_range_at(t, i, lang) {
            let (s, e) = span(i, end);
            out.push(Cand { dim: Dimension::Temperature, s, e, value: v, confidence: 1.0 });
        }
        if let Some((end, v)) = measures::percentage_at(t, i, lang) {
            let (s, e) = span(i, end);
            out.push(Cand { dim: Dimension::Percentage, s, e, value: v, confidence: 1.0 });
        }
        if let Some((end, v)) = measures::temperature_at(t, i, lang) {
            let (s, e) = span(i, end);
            out.push(Cand { dim: Dimension::Temperature, s, e, value: v, confidence: 1.0 });
        }
        if let Some((end, d)) = measures::duration_at(t, i, lang) {
            let (s, e) = span(i, end);
            out.push(Cand { dim: Dimension::Duration, s, e, value: d.to_json(), confidence: 0.95 });
        }
        tv.clear();
        cx.time_at(i, &mut tv);
        for (end, v) in tv.drain(..) {
            let (s, e) = span(i, end);
            out.push(Cand { dim: Dimension::Time, s, e, value: v.to_json(&tz), confidence: 0.95 });
        }
    }
    out
}

/// True when the span [s, e) starts or ends inside a word (letter/digit on both sides of a
/// boundary), or starts right after a `-`, `/` or `:` glued to a letter or digit ("midi" in
/// "l'après-midi", "2 hour" in "1/2 hour", "30" in "9:30").
fn inside_word(chars: &[char], s: usize, e: usize) -> bool {
    let w = |c: char| c.is_alphanumeric();
    let after_joiner = s >= 2 && s < chars.len() && matches!(chars[s - 1], '-' | '/' | ':') && w(chars[s - 2]) && w(chars[s]);
    after_joiner || (s > 0 && s < chars.len() && w(chars[s - 1]) && w(chars[s])) || (e > 0 && e < chars.len() && w(chars[e - 1]) && w(chars[e]))
}

/// Overlap policy: the longest span wins; equal lengths → dimension priority (email, url, phone,
/// time, money, percentage, temperature, duration, ordinal, number), then the earlier start, then
/// the grammar that proposed it first. Returns the kept candidates sorted by start.
fn resolve_overlaps(mut c: Vec<Cand>) -> Vec<Cand> {
    let mut idx: Vec<usize> = (0..c.len()).collect();
    idx.sort_by_key(|&k| (std::cmp::Reverse(c[k].e - c[k].s), c[k].dim.priority(), c[k].s, k));
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut keep = vec![false; c.len()];
    for k in idx {
        let (s, e) = (c[k].s, c[k].e);
        if e <= s || taken.iter().any(|&(a, b)| s < b && a < e) {
            continue;
        }
        taken.push((s, e));
        keep[k] = true;
    }
    let mut n = 0;
    c.retain(|_| {
        n += 1;
        keep[n - 1]
    });
    c.sort_by_key(|x| x.s);
    c
}

/// All rule entities in `text` (the raw user text, any case, accents, typographic apostrophes ’
/// allowed), non-overlapping after the overlap policy, sorted by start. `dims = None` means all
/// dimensions. The overlap policy runs over all dimensions before the `dims` filter, so asking for
/// numbers only does not return the digits of a time or of an amount.
pub fn extract(text: &str, ctx: &Context, dims: Option<&[Dimension]>) -> Vec<RuleEntity> {
    let chars: Vec<char> = text.chars().collect();
    let cands: Vec<Cand> = candidates(text, ctx, &chars).into_iter().filter(|c| !inside_word(&chars, c.s, c.e)).collect();
    resolve_overlaps(cands)
        .into_iter()
        .filter(|c| dims.is_none_or(|d| d.contains(&c.dim)))
        .map(|c| RuleEntity { dim: c.dim, start: c.s, end: c.e, text: chars[c.s..c.e].iter().collect(), value: c.value, confidence: c.confidence })
        .collect()
}

/// Optional: compiles the extractor's regular expressions (≈ 3 ms) so that the first request does
/// not pay for it. `extract` works without it.
pub fn warm_up() {
    web::warm_up();
}

/// Dimension that resolves a slot of the given (MASSIVE-style) type.
pub fn slot_dimension(slot_type: &str) -> Option<Dimension> {
    Some(match slot_type.trim().to_ascii_lowercase().as_str() {
        "date" | "time" | "timeofday" | "time_of_day" | "datetime" | "date_time" => Dimension::Time,
        "general_frequency" | "duration" => Dimension::Duration,
        "currency_name" | "amount" | "price" | "amount_of_money" | "money" => Dimension::AmountOfMoney,
        "email_address" | "email" => Dimension::Email,
        "phone_number" | "phone" => Dimension::PhoneNumber,
        "url" | "website" => Dimension::Url,
        "number" | "quantity" | "count" => Dimension::Number,
        "ordinal" => Dimension::Ordinal,
        "percentage" | "percent" => Dimension::Percentage,
        "temperature" => Dimension::Temperature,
        _ => return None,
    })
}

/// Value for a span the NLU model tagged (MASSIVE slot types: "date", "time", "timeofday",
/// "general_frequency", "currency_name", ...). Returns the resolved value when the span (alone)
/// parses as the dimension that fits the slot type, covering all of its letters and digits; for
/// date/time slots a bare clock reading ("sept heures", "seven") is read as a time of day.
pub fn resolve_slot(slot_type: &str, span_text: &str, ctx: &Context) -> Option<(Dimension, serde_json::Value)> {
    let dim = slot_dimension(slot_type)?;
    let span = span_text.trim();
    if span.is_empty() {
        return None;
    }
    let covers = |text: &str, ents: &[RuleEntity], off: usize| -> Option<Value> {
        let chars: Vec<char> = text.chars().collect();
        let e = ents.iter().find(|e| e.dim == dim)?;
        let before = chars.get(off..e.start).unwrap_or(&[]);
        let outside = before.iter().chain(chars[e.end..].iter()).any(|c| c.is_alphanumeric());
        (!outside).then(|| e.value.clone())
    };
    let ents = extract(span, ctx, Some(&[dim]));
    if let Some(v) = covers(span, &ents, 0) {
        return Some((dim, v));
    }
    if dim == Dimension::Time {
        // "sept heures", "seven": read as a clock time
        let prefix = if ctx.lang == Lang::Fr { "à " } else { "at " };
        let text = format!("{prefix}{span}");
        let ents = extract(&text, ctx, Some(&[dim]));
        if ents.first().is_some_and(|e| e.start == 0) {
            if let Some(v) = covers(&text, &ents, prefix.chars().count()) {
                return Some((dim, v));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(lang: Lang) -> Context {
        Context::from_request(Some("2026-03-10T09:00:00"), Some("Europe/Paris"), lang).unwrap()
    }

    #[test]
    fn relative_times_past_any_calendar_are_not_date_times() {
        // found by cargo fuzz: chrono panicked on "in 777777777777774 h"
        for (text, lang) in [
            ("on0444447in777777777777774h444444", Lang::En),
            ("in 777777777777774 hours", Lang::En),
            ("in 99999999999999 days", Lang::En),
            ("99999999999 years ago", Lang::En),
            ("dans 99999999999 semaines", Lang::Fr),
            ("il y a 9999999999999 mois", Lang::Fr),
        ] {
            let e = extract(text, &ctx(lang), None);
            assert!(e.iter().all(|e| e.dim != Dimension::Time), "{text}: {e:?}");
        }
        let e = extract("in 3 hours", &ctx(Lang::En), None);
        assert!(e.iter().any(|e| e.dim == Dimension::Time), "{e:?}");
    }

    #[test]
    fn must_pass_merged_date_time() {
        let e = extract("rappelle-moi d'appeler maman demain à 15h", &ctx(Lang::Fr), None);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].dim, Dimension::Time);
        assert_eq!(e[0].text, "demain à 15h");
        assert_eq!(e[0].value, json!({"type": "instant", "value": "2026-03-11T15:00:00+01:00", "grain": "hour"}));
    }

    #[test]
    fn overlap_longest_span_wins() {
        // the time swallows its number, the amount swallows its number, the phone its digits
        let e = extract("demain à 15h je paie 23 euros 50 au 06 12 34 56 78", &ctx(Lang::Fr), None);
        let dims: Vec<_> = e.iter().map(|x| (x.dim, x.text.as_str())).collect();
        assert_eq!(
            dims,
            vec![(Dimension::Time, "demain à 15h"), (Dimension::AmountOfMoney, "23 euros 50"), (Dimension::PhoneNumber, "06 12 34 56 78")]
        );
        // "dans deux heures" (time) swallows "deux heures" (duration)
        let e = extract("dans deux heures", &ctx(Lang::Fr), None);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].dim, Dimension::Time);
    }

    #[test]
    fn overlap_policy_runs_before_dims_filter() {
        let c = ctx(Lang::En);
        assert!(extract("tomorrow at 3pm", &c, Some(&[Dimension::Number])).is_empty());
        let e = extract("4 people tomorrow at 8pm", &c, Some(&[Dimension::Number]));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].value, json!(4));
    }

    #[test]
    fn overlap_equal_length_priority() {
        // "15h30": time and duration readings have the same span; time wins
        let e = extract("15h30", &ctx(Lang::Fr), None);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].dim, Dimension::Time);
        // after a duration trigger only the duration reading exists
        let e = extract("ça dure 1h30", &ctx(Lang::Fr), None);
        assert_eq!(e[0].dim, Dimension::Duration);
    }

    #[test]
    fn no_match_inside_words() {
        let c = ctx(Lang::Fr);
        for s in ["lundi", "dans la maison", "un ami", "les ans", "3m", "3 mars"] {
            for e in extract(s, &c, None) {
                assert_ne!(e.dim, Dimension::Number, "{s}: {e:?}");
            }
        }
    }

    #[test]
    fn resolve_slot_times() {
        let c = ctx(Lang::Fr);
        assert_eq!(
            resolve_slot("date", "demain", &c),
            Some((Dimension::Time, json!({"type": "instant", "value": "2026-03-11T00:00:00+01:00", "grain": "day"})))
        );
        assert_eq!(
            resolve_slot("time", "sept heures", &c),
            Some((Dimension::Time, json!({"type": "instant", "value": "2026-03-11T07:00:00+01:00", "grain": "hour"})))
        );
        assert_eq!(
            resolve_slot("timeofday", "ce soir", &c),
            Some((
                Dimension::Time,
                json!({"type": "interval", "from": "2026-03-10T18:00:00+01:00", "to": "2026-03-11T00:00:00+01:00", "grain": "hour"})
            ))
        );
        assert_eq!(resolve_slot("time", "neuf heures du matin", &c).map(|x| x.1["value"].clone()), Some(json!("2026-03-10T09:00:00+01:00")));
        let en = ctx(Lang::En);
        assert_eq!(resolve_slot("time", "seven", &en).map(|x| x.1["value"].clone()), Some(json!("2026-03-10T19:00:00+01:00")));
        assert_eq!(resolve_slot("date", "the weather", &en), None);
        assert_eq!(resolve_slot("place_name", "paris", &en), None);
        assert_eq!(resolve_slot("time", "demain à 15h et après", &c), None);
        assert_eq!(resolve_slot("currency_name", "twenty dollars", &en), Some((Dimension::AmountOfMoney, json!({"amount": 20, "currency": "USD"}))));
    }

    #[test]
    fn context_errors_and_formats() {
        assert!(Context::from_request(Some("2026-03-10T09:00:00"), Some("Mars/Olympus"), Lang::En).unwrap_err().contains("time zone"));
        assert!(Context::from_request(Some("tomorrow"), None, Lang::En).unwrap_err().contains("reference_time"));
        let c = Context::from_request(Some("2026-03-10T08:00:00Z"), Some("Europe/Paris"), Lang::En).unwrap();
        assert_eq!(c.reference_time.to_rfc3339(), "2026-03-10T09:00:00+01:00");
        let c = Context::from_request(Some("2026-03-10T09:00:00"), None, Lang::En).unwrap();
        assert_eq!(c.reference_time.to_rfc3339(), "2026-03-10T09:00:00+00:00");
        assert!(Context::from_request(None, None, Lang::Fr).is_ok());
    }

    /// Families added for issue 16 (Duckling's corpora), one case each, and the guard after - / :.
    #[test]
    fn issue_16_families() {
        let (fr, en) = (ctx(Lang::Fr), ctx(Lang::En));
        let one = |text: &str, c: &Context, dim: Dimension| {
            let e = extract(text, c, Some(&[dim]));
            assert_eq!(e.len(), 1, "{text}: {e:?}");
            assert_eq!(e[0].text, text, "{text}: parsed whole");
            e[0].value.clone()
        };
        assert_eq!(one("vingt-et-un", &fr, Dimension::Number), json!(21));
        assert_eq!(one("100k", &en, Dimension::Number), json!(100000));
        assert_eq!(one("1.2M", &en, Dimension::Number), json!(1200000));
        assert_eq!(one("minus 5", &en, Dimension::Number), json!(-5));
        assert_eq!(one("EUR 20", &en, Dimension::AmountOfMoney), json!({"amount": 20, "currency": "EUR"}));
        assert_eq!(one("10 dinars", &en, Dimension::AmountOfMoney), json!({"amount": 10, "currency": null}));
        assert_eq!(one("2 degrees below zero", &en, Dimension::Temperature), json!({"value": -2, "unit": null}));
        assert_eq!(one("1/2 hour", &en, Dimension::Duration)["seconds"], json!(1800));
        assert_eq!(one("2 years and 3 months", &en, Dimension::Duration)["seconds"], json!(27 * 2592000)); // 27 months, as Duckling
        assert_eq!(one("alice arobase exemple.fr", &fr, Dimension::Email), json!("alice@exemple.fr"));
        // reference Tuesday 2026-03-10 09:00 Paris
        assert_eq!(one("le lendemain", &fr, Dimension::Time)["value"], json!("2026-03-11T00:00:00+01:00"));
        assert_eq!(one("mardi en huit", &fr, Dimension::Time)["value"], json!("2026-03-17T00:00:00+01:00"));
        assert_eq!(one("midi moins cinq", &fr, Dimension::Time)["value"], json!("2026-03-10T11:55:00+01:00"));
        assert_eq!(one("20 past 3pm", &en, Dimension::Time)["value"], json!("2026-03-10T15:20:00+01:00"));
        let next3 = one("the next 3 weeks", &en, Dimension::Time);
        assert_eq!((next3["from"].as_str(), next3["to"].as_str()), (Some("2026-03-16T00:00:00+01:00"), Some("2026-04-06T00:00:00+02:00")));
        // the guard after - / :
        assert!(extract("plus tard dans l'après-midi", &fr, Some(&[Dimension::Time])).iter().all(|e| e.text != "midi"));
        // not a spoken email: "at" as a preposition
        assert!(extract("look at example.com", &en, Some(&[Dimension::Email])).is_empty());
        // one sign only, no recursion
        let many = "minus ".repeat(20_000) + "5";
        assert!(extract(&many, &en, Some(&[Dimension::Number])).len() <= 1);
    }

    #[test]
    fn dimension_names_round_trip() {
        for d in Dimension::all() {
            assert_eq!(Dimension::parse(d.name()), Some(*d));
            assert_eq!(serde_json::to_value(d).unwrap(), json!(d.name()));
        }
        assert_eq!(Dimension::parse("amount-of-money"), Some(Dimension::AmountOfMoney));
        assert_eq!(Dimension::parse("distance"), None);
    }

    #[test]
    fn issue_16_duckling_buckets() {
        let fr = Context::from_request(Some("2026-03-10T09:00:00"), Some("Europe/Paris"), Lang::Fr).unwrap();
        let en = Context::from_request(Some("2026-03-10T09:00:00"), Some("Europe/Paris"), Lang::En).unwrap();
        let one = |text: &str, c: &Context, dim: Dimension| {
            let e = extract(text, c, Some(&[dim]));
            assert_eq!(e.len(), 1, "{text}: {e:?}");
            assert_eq!(e[0].text, text, "{text}: parsed whole");
            e[0].value.clone()
        };
        let itv = |v: Value| (v["from"].as_str().unwrap_or("").to_string(), v["to"].as_str().unwrap_or("").to_string());
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(itv(one("end of the month", &en, Dimension::Time)), pair("2026-03-21T00:00:00+01:00", "2026-04-01T00:00:00+02:00"));
        assert_eq!(itv(one("en début de semaine", &fr, Dimension::Time)), pair("2026-03-09T00:00:00+01:00", "2026-03-11T00:00:00+01:00"));
        assert_eq!(one("first tuesday of october", &en, Dimension::Time)["value"], json!("2026-10-06T00:00:00+02:00"));
        assert_eq!(one("third quarter", &en, Dimension::Time)["grain"], json!("quarter"));
        assert_eq!(one("christmas", &en, Dimension::Time)["value"], json!("2026-12-25T00:00:00+01:00"));
        assert_eq!(one("lundi de Pâques", &fr, Dimension::Time)["value"], json!("2026-04-06T00:00:00+02:00")); // Easter 2026 is April 5
        assert_eq!(one("4pm CET", &en, Dimension::Time)["value"], json!("2026-03-10T16:00:00+01:00"));
        assert_eq!(itv(one("tôt le matin", &fr, Dimension::Time)), pair("2026-03-10T07:00:00+01:00", "2026-03-10T09:00:00+01:00"));
        assert_eq!(one("after 5pm", &en, Dimension::Time)["direction"], json!("after"));
        assert_eq!(
            one("between 10 and 20 dollars", &en, Dimension::AmountOfMoney),
            json!({"type": "between", "from": 10, "to": 20, "currency": "USD"})
        );
        assert_eq!(one("a month and a half", &en, Dimension::Duration)["value"], json!(45));
        assert!(extract("at a few", &en, Some(&[Dimension::Time])).is_empty());
        assert!(extract("Martin Luther King' day", &en, Some(&[Dimension::Time])).is_empty());
    }
}
