//! Scores the rule extractor on Duckling's FR and EN corpora (`../shared/data/duckling/cases.jsonl`,
//! see its README). Shared by `tests/duckling_corpus.rs` and `examples/duckling_table.rs`.
//!
//! A main case passes when `extract(text, ctx, Some(&[dim]))` returns an entity of the case's
//! dimension that covers every letter and digit of the text (parsed whole) with the expected value.
//! Values are compared as the README describes, with these documented equivalences between the two
//! conventions: numbers to 1e-6; emails and URLs case-insensitively (the extractor lower-cases
//! hosts); a phone number by its digits, where Duckling's number without a country code may be the
//! extractor's E.164 form (`+1` / `+33` and the national digits without their leading 0); time
//! intervals of grain second/minute/hour whose `to` is the end as said (the extractor's rule)
//! instead of Duckling's start of the next grain; durations by their length in seconds (the unit
//! is notation: "1.5 hours" is 1.5 hour here, 90 minute in Duckling); an amount whose currency
//! Duckling leaves unnamed (`null`: "bucks", "dinars") with any currency.
//! A negative case passes when no entity of its dimension is found.

use parlance::entities::{extract, Context, Dimension, Lang};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub fn data_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/duckling/cases.jsonl")
}

pub struct Case {
    pub lang: Lang,
    pub locale: String,
    pub corpus: String,
    pub dim: Dimension,
    pub kind: String,
    pub text: String,
    pub expected: Value,
    pub reference_time: String,
}

/// The cases in the service's dimensions (`dim` not null); `None` when the file is absent.
pub fn load() -> Option<Vec<Case>> {
    let raw = std::fs::read_to_string(data_path()).ok()?;
    let mut out = Vec::new();
    for line in raw.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("cases.jsonl: one JSON object per line");
        let Some(dim) = v["dim"].as_str().and_then(Dimension::parse) else { continue };
        let lang = if v["lang"] == "fr" { Lang::Fr } else { Lang::En };
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        out.push(Case {
            lang,
            locale: s("locale"),
            corpus: s("corpus"),
            dim,
            kind: s("kind"),
            text: s("text"),
            expected: v["expected"].clone(),
            reference_time: s("reference_time"),
        });
    }
    Some(out)
}

/// The report bucket of a case: `main`, `holiday`, `open_interval`, `range`, `regional`, `latent`,
/// `negative`.
pub fn bucket(c: &Case) -> &'static str {
    match (c.corpus.as_str(), c.kind.as_str()) {
        ("negative", _) => "negative",
        ("latent", _) => "latent",
        _ if !matches!(c.locale.as_str(), "FR" | "EN" | "*") => "regional",
        (_, "holiday" | "holiday_interval") => "holiday",
        (_, "open_interval") => "open_interval",
        (_, k) if k.ends_with("_range") => "range",
        _ => "main",
    }
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn close(a: &Value, b: &Value) -> bool {
    match (num(a), num(b)) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-6 * x.abs().max(1.0),
        _ => a == b,
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_digit()).collect()
}

fn phone_eq(got: &str, want: &str) -> bool {
    let (g, w) = (digits(got), digits(want));
    if g == w {
        return true;
    }
    // Duckling keeps a national number as written; the extractor adds the country code
    !want.contains('+') && got.starts_with('+') && {
        let national = w.strip_prefix('0').unwrap_or(&w);
        g.len() > national.len() && g.len() <= national.len() + 3 && g.ends_with(national)
    }
}

fn grain_secs(g: &str) -> Option<i64> {
    Some(match g {
        "second" => 1,
        "minute" => 60,
        "hour" => 3600,
        _ => return None,
    })
}

fn time_eq(got: &Value, want: &Value) -> bool {
    if got["type"] != want["type"] || got["grain"] != want["grain"] {
        return false;
    }
    match want["type"].as_str() {
        Some("instant") => got["value"] == want["value"],
        Some("interval") => {
            if got["from"] != want["from"] {
                return false;
            }
            if got["to"] == want["to"] {
                return true;
            }
            // the extractor's `to` is the end as said; Duckling's the start of the next grain
            let parse = |v: &Value| v.as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
            match (parse(&got["to"]), parse(&want["to"]), want["grain"].as_str().and_then(grain_secs)) {
                (Some(g), Some(w), Some(step)) => (w - g).num_seconds() == step,
                _ => false,
            }
        }
        _ => got == want,
    }
}

/// Whether an extracted value is the expected one (see the module comment).
pub fn value_eq(dim: Dimension, got: &Value, want: &Value) -> bool {
    let text_ci = |v: &Value| v.as_str().map(str::to_lowercase);
    match dim {
        Dimension::Number | Dimension::Ordinal | Dimension::Percentage => close(got, want),
        Dimension::Email => text_ci(got).is_some() && text_ci(got) == text_ci(want),
        Dimension::Url => text_ci(got).is_some() && text_ci(got) == text_ci(&want["value"]),
        Dimension::PhoneNumber => matches!((got.as_str(), want.as_str()), (Some(g), Some(w)) if phone_eq(g, w)),
        Dimension::Time => time_eq(got, want),
        // the length; the unit is how it is written ("1.5 hours" is 1.5 hour here, 90 minute there)
        Dimension::Duration => got["seconds"].is_number() && close(&got["seconds"], &want["seconds"]),
        Dimension::AmountOfMoney | Dimension::Temperature => {
            let keys = ["type", "amount", "value", "from", "to", "currency", "unit"];
            keys.iter().all(|k| match (&got[*k], &want[*k]) {
                // Duckling names no currency ("bucks", "dinars"): any is accepted
                (g, Value::Null) if *k == "currency" => dim == Dimension::AmountOfMoney || g.is_null(),
                (g, w) => close(g, w),
            })
        }
    }
}

pub fn context(c: &Case) -> Context {
    Context::from_request(Some(&c.reference_time), Some("Etc/GMT+2"), c.lang).expect("the README's reference time and zone")
}

/// Whether a case passes, and what was found (for failure listings).
pub fn check(c: &Case) -> (bool, Vec<(String, Value)>) {
    let ctx = context(c);
    let got = extract(&c.text, &ctx, Some(&[c.dim]));
    let found = got.iter().map(|e| (e.text.clone(), e.value.clone())).collect();
    if c.corpus == "negative" {
        return (got.is_empty(), found);
    }
    let chars: Vec<char> = c.text.chars().collect();
    let whole = |s: usize, e: usize| chars[..s].iter().chain(&chars[e..]).all(|ch| !ch.is_alphanumeric());
    let ok = got.iter().any(|e| whole(e.start, e.end) && value_eq(c.dim, &e.value, &c.expected));
    (ok, found)
}

/// pass / total per (language, bucket, dimension).
pub type Table = BTreeMap<(&'static str, &'static str, &'static str), (usize, usize)>;

pub fn lang_name(l: Lang) -> &'static str {
    if l == Lang::Fr {
        "fr"
    } else {
        "en"
    }
}

/// Runs every case; returns the table and the failures (lang, bucket, dim, text, expected, found).
pub fn run(cases: &[Case]) -> (Table, Vec<String>) {
    let mut table = Table::new();
    let mut failures = Vec::new();
    for c in cases {
        let (ok, found) = check(c);
        let key = (lang_name(c.lang), bucket(c), c.dim.name());
        let slot = table.entry(key).or_default();
        slot.1 += 1;
        if ok {
            slot.0 += 1;
        } else {
            let found: Vec<String> = found.iter().map(|(t, v)| format!("{t:?}={v}")).collect();
            failures.push(format!("{}\t{}\t{}\t{:?}\twant {}\tgot [{}]", key.0, key.1, key.2, c.text, c.expected, found.join(", ")));
        }
    }
    (table, failures)
}

/// pass / total over a language and bucket, all dimensions.
pub fn total(table: &Table, lang: &str, bucket: &str) -> (usize, usize) {
    table.iter().filter(|((l, b, _), _)| *l == lang && *b == bucket).fold((0, 0), |acc, (_, v)| (acc.0 + v.0, acc.1 + v.1))
}

/// A Markdown table: one row per dimension, columns per language and bucket.
pub fn markdown(table: &Table) -> String {
    let mut out = String::from("| lang | bucket | dimension | pass | total | % |\n| --- | --- | --- | ---: | ---: | ---: |\n");
    let pct = |p: usize, t: usize| if t == 0 { 0.0 } else { 100.0 * p as f64 / t as f64 };
    for ((l, b, d), (p, t)) in table {
        out.push_str(&format!("| {l} | {b} | {d} | {p} | {t} | {:.1} |\n", pct(*p, *t)));
    }
    for l in ["fr", "en"] {
        for b in ["main", "holiday", "open_interval", "range", "negative", "regional", "latent"] {
            let (p, t) = total(table, l, b);
            if t > 0 {
                out.push_str(&format!("| {l} | {b} | **all** | {p} | {t} | {:.1} |\n", pct(p, t)));
            }
        }
    }
    out
}
