//! Corpus test for the rule-based entity extractor (`parlance::entities`).
//!
//! Each line of `tests/data/entities_{fr,en}.jsonl` is a case: text, reference time, time zone and
//! the expected entities (dim, text, value). A case is exact when the set of extracted
//! (dim, text, value) equals the expected set. Prints precision/recall per dimension and language
//! (`cargo test --test entities_corpus -- --nocapture`), asserts ≥ 95 % exact cases per language and
//! that no match starts or ends inside a word.

use parlance::entities::{extract, Context, Dimension, Lang};
use serde_json::Value;
use std::collections::BTreeMap;

const FR: &str = include_str!("data/entities_fr.jsonl");
const EN: &str = include_str!("data/entities_en.jsonl");

/// JSON equality where numbers compare as f64 (tolerance 1e-9).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-9,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w))),
        _ => a == b,
    }
}

type Item = (String, String, Value);

#[derive(Default)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

struct Report {
    cases: usize,
    exact: usize,
    inside_word: Vec<String>,
    failures: Vec<String>,
    per_dim: BTreeMap<String, Counts>,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn run(data: &str, lang: Lang) -> Report {
    let mut r = Report { cases: 0, exact: 0, inside_word: vec![], failures: vec![], per_dim: BTreeMap::new() };
    for d in Dimension::all() {
        r.per_dim.insert(d.name().to_string(), Counts::default());
    }
    for (n, line) in data.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let text = case["text"].as_str().unwrap();
        let ctx = Context::from_request(case["reference_time"].as_str(), case["timezone"].as_str(), lang).unwrap();
        let got = extract(text, &ctx, None);
        let chars: Vec<char> = text.chars().collect();
        for e in &got {
            let bad_start = e.start > 0 && is_word_char(chars[e.start - 1]) && is_word_char(chars[e.start]);
            let bad_end = e.end < chars.len() && is_word_char(chars[e.end - 1]) && is_word_char(chars[e.end]);
            let text_ok = chars[e.start..e.end].iter().collect::<String>() == e.text;
            if bad_start || bad_end || !text_ok {
                r.inside_word.push(format!("{text:?}: {:?} {:?} [{}..{}]", e.dim, e.text, e.start, e.end));
            }
        }
        let got: Vec<Item> = got.into_iter().map(|e| (e.dim.name().to_string(), e.text, e.value)).collect();
        let exp: Vec<Item> = case["expected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x["dim"].as_str().unwrap().to_string(), x["text"].as_str().unwrap().to_string(), x["value"].clone()))
            .collect();
        let matches = |a: &Item, b: &Item| a.0 == b.0 && a.1 == b.1 && same(&a.2, &b.2);
        let mut used = vec![false; exp.len()];
        let mut all = got.len() == exp.len();
        for g in &got {
            match exp.iter().enumerate().position(|(k, x)| !used[k] && matches(g, x)) {
                Some(k) => {
                    used[k] = true;
                    r.per_dim.entry(g.0.clone()).or_default().tp += 1;
                }
                None => {
                    all = false;
                    r.per_dim.entry(g.0.clone()).or_default().fp += 1;
                }
            }
        }
        for (k, x) in exp.iter().enumerate() {
            if !used[k] {
                all = false;
                r.per_dim.entry(x.0.clone()).or_default().fn_ += 1;
            }
        }
        r.cases += 1;
        if all {
            r.exact += 1;
        } else {
            let fmt = |v: &[Item]| v.iter().map(|(d, t, v)| format!("{d} {t:?} {v}")).collect::<Vec<_>>().join(" | ");
            r.failures.push(format!("{text:?}\n    got: {}\n    exp: {}", fmt(&got), fmt(&exp)));
        }
    }
    r
}

fn print(name: &str, r: &Report) {
    use std::fmt::Write;
    // one println! per language so that parallel tests do not interleave their tables
    let mut o = String::new();
    let _ = writeln!(o, "== {name}: {}/{} exact = {:.1} %", r.exact, r.cases, 100.0 * r.exact as f64 / r.cases as f64);
    let _ = writeln!(o, "   {name} {:<16} {:>5} {:>5} {:>5} {:>9} {:>7}", "dimension", "tp", "fp", "fn", "precision", "recall");
    for (d, c) in &r.per_dim {
        let p = if c.tp + c.fp == 0 { 1.0 } else { c.tp as f64 / (c.tp + c.fp) as f64 };
        let rc = if c.tp + c.fn_ == 0 { 1.0 } else { c.tp as f64 / (c.tp + c.fn_) as f64 };
        let _ = writeln!(o, "   {name} {d:<16} {:>5} {:>5} {:>5} {:>8.1}% {:>6.1}%", c.tp, c.fp, c.fn_, 100.0 * p, 100.0 * rc);
    }
    for f in &r.failures {
        let _ = writeln!(o, "   FAIL {f}");
    }
    for f in &r.inside_word {
        let _ = writeln!(o, "   INSIDE-WORD {f}");
    }
    println!("{o}");
}

fn check(name: &str, data: &str, lang: Lang) {
    let r = run(data, lang);
    print(name, &r);
    assert!(r.cases >= 150, "{name}: only {} cases", r.cases);
    assert!(r.inside_word.is_empty(), "{name}: {} matches start or end inside a word", r.inside_word.len());
    let rate = r.exact as f64 / r.cases as f64;
    assert!(rate >= 0.95, "{name}: {:.1} % exact < 95 %", 100.0 * rate);
}

#[test]
fn corpus_fr() {
    check("fr", FR, Lang::Fr);
}

#[test]
fn corpus_en() {
    check("en", EN, Lang::En);
}
