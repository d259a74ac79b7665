//! `parlance eval`: scores a bundle on MASSIVE-format jsonl or Rasa NLU YAML through the same
//! pipeline the server uses.
//!
//! Slot F1 is span-level micro F1 as seqeval computes it: a predicted span counts only when its type
//! and both boundaries match a gold span. Exact match needs the intent and the whole set of spans.
//! Besides the scores, a [`Report`] holds the most confused intent pairs, a reliability table of the
//! intent confidence, the gold intents and slot types the model does not know (they count as
//! misses), and optionally the latency of single parses. `eval_report` renders it (text, Markdown,
//! SVG).

pub mod report;
pub mod sweep;

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use serde::Serialize;

use crate::pipeline::{ModelRef, ParseInput, Parser};
use crate::train::oos;

pub use crate::data::Example;

/// Counts for one group of examples (a locale, or everything).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scores {
    pub examples: usize,
    pub intent_accuracy: f64,
    pub slot_precision: f64,
    pub slot_recall: f64,
    pub slot_f1: f64,
    /// Gold slot spans and predicted ones: with no gold span, slot recall and F1 mean nothing (the
    /// reports print n/a), and with no predicted span, precision.
    pub slot_gold: usize,
    pub slot_predicted: usize,
    pub exact_match: f64,
    /// Expected calibration error of the intent confidence, 15 equal-width bins.
    pub ece: f64,
    /// Share of `language_examples` whose detected language is the locale's.
    pub language_accuracy: f64,
    /// Examples whose locale names a language of the model ("fr-FR", "en"); a Rasa file's locale
    /// (its file stem) usually names none, and then language accuracy is not measured.
    pub language_examples: usize,
    #[serde(skip)]
    tally: Tally,
}

#[derive(Debug, Clone, Default)]
struct Tally {
    n: usize,
    intent_ok: usize,
    exact: usize,
    tp: usize,
    pred: usize,
    gold: usize,
    lang_ok: usize,
    lang_n: usize,
    /// (confidence, correct) per example, for calibration.
    conf: Vec<(f32, bool)>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IntentScores {
    pub support: usize,
    /// Whether the model has this intent at all (a Rasa file may hold intents it never learnt).
    pub known: bool,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    #[serde(skip)]
    tp: usize,
    #[serde(skip)]
    predicted: usize,
}

/// A gold intent and what the model said instead.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfusedPair {
    pub gold: String,
    pub predicted: String,
    pub count: usize,
    /// `count` / the gold intent's support.
    pub share_of_gold: f64,
}

/// One equal-width bin of intent confidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    /// `None` for an empty bin.
    pub mean_confidence: Option<f64>,
    pub accuracy: Option<f64>,
    /// mean confidence − accuracy: positive is over-confident.
    pub gap: Option<f64>,
}

/// Gold labels the model cannot produce, with how often each occurs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UnknownLabels {
    /// Examples (for intents) or spans (for slot types) carrying one.
    pub count: usize,
    pub names: BTreeMap<String, usize>,
}

impl UnknownLabels {
    fn add(&mut self, name: &str) {
        self.count += 1;
        *self.names.entry(name.to_string()).or_default() += 1;
    }
}

/// Single-text `Parser::parse` calls, one at a time, in process: what a bot sees for one message
/// (tokenisation, queue, one model run, decoding, built-in entities), without HTTP.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    pub samples: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// How many confused pairs a report lists, and the bins of its reliability table.
pub const TOP_CONFUSED: usize = 10;
pub const RELIABILITY_BINS: usize = 10;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub model: ModelRef,
    /// The data files, as the caller names them (empty when the caller did not say).
    pub data: Vec<String>,
    pub overall: Scores,
    pub per_locale: BTreeMap<String, Scores>,
    pub per_intent: BTreeMap<String, IntentScores>,
    /// Gold → predicted counts, every pair seen (the diagonal included).
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
    /// The most frequent wrong (gold, predicted) pairs, most frequent first, at most `TOP_CONFUSED`.
    pub confused_pairs: Vec<ConfusedPair>,
    /// `RELIABILITY_BINS` equal-width bins of the intent confidence over every example.
    pub reliability: Vec<ReliabilityBin>,
    /// Gold intents the model does not know; their examples count as misses.
    pub unknown_intents: UnknownLabels,
    /// Gold slot types the model has no label for; their spans count as misses.
    pub unknown_slot_types: UnknownLabels,
    /// In-scope accuracy, rejections, off-topic recall and Matthews correlation ([`oos`]).
    pub off_topic: oos::OffTopic,
    /// The same at every fallback threshold, when the data holds off-topic messages ([`sweep`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_tradeoff: Option<sweep::Tradeoff>,
    /// `None` when not measured (`latency_samples` = 0).
    pub latency: Option<Latency>,
    /// Seconds of the accuracy pass.
    pub seconds: f64,
}

/// How `evaluate_with` runs.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Texts sent to the pipeline at once in the accuracy pass.
    pub chunk: usize,
    /// Examples timed one at a time after the accuracy pass (0: no latency measurement).
    pub latency_samples: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions { chunk: 64, latency_samples: 200 }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Expected calibration error over equal-width confidence bins: the reliability table's gaps,
/// weighted by the share of examples in each bin.
pub fn expected_calibration_error(conf: &[(f32, bool)], bins: usize) -> f64 {
    let n = conf.len().max(1) as f64;
    reliability_table(conf, bins).iter().filter_map(|b| b.gap.map(|g| b.count as f64 / n * g.abs())).sum()
}

/// Reliability table over equal-width confidence bins (bin = ⌊confidence × bins⌋, 1.0 in the
/// last). Empty bins are kept.
pub fn reliability_table(conf: &[(f32, bool)], bins: usize) -> Vec<ReliabilityBin> {
    let bins = bins.max(1);
    let mut sum_conf = vec![0.0f64; bins];
    let mut ok = vec![0usize; bins];
    let mut count = vec![0usize; bins];
    for &(c, right) in conf {
        let b = ((c as f64 * bins as f64) as usize).min(bins - 1);
        sum_conf[b] += c as f64;
        ok[b] += right as usize;
        count[b] += 1;
    }
    (0..bins)
        .map(|b| {
            let (mean, acc) = if count[b] == 0 { (None, None) } else { (Some(sum_conf[b] / count[b] as f64), Some(ok[b] as f64 / count[b] as f64)) };
            ReliabilityBin {
                lower: b as f64 / bins as f64,
                upper: (b + 1) as f64 / bins as f64,
                count: count[b],
                mean_confidence: mean,
                accuracy: acc,
                gap: mean.zip(acc).map(|(m, a)| m - a),
            }
        })
        .collect()
}

/// The `top` most frequent off-diagonal cells of a gold → predicted confusion table.
pub fn top_confusions(
    confusion: &BTreeMap<String, BTreeMap<String, usize>>,
    support: &BTreeMap<String, IntentScores>,
    top: usize,
) -> Vec<ConfusedPair> {
    let mut pairs: Vec<ConfusedPair> = confusion
        .iter()
        .flat_map(|(gold, row)| {
            row.iter().filter(move |(pred, _)| *pred != gold).map(move |(pred, &count)| ConfusedPair {
                gold: gold.clone(),
                predicted: pred.clone(),
                count,
                share_of_gold: ratio(count, support.get(gold).map_or(0, |s| s.support)),
            })
        })
        .collect();
    pairs.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.gold.cmp(&b.gold)).then_with(|| a.predicted.cmp(&b.predicted)));
    pairs.truncate(top);
    pairs
}

/// An example with the roles and groups taken off its slot types (`city#role=to` → `city`).
fn without_roles(ex: &Example) -> Example {
    let spans = ex.spans.iter().map(|(t, a, b)| (crate::entities::split_slot_type(t).0.to_string(), *a, *b)).collect();
    Example { spans, ..ex.clone() }
}

/// Whether `locale` ("fr-FR", "en", "fr_CA") names one of `languages` ("fr", "en").
fn locale_language<'a>(locale: &str, languages: &'a [String]) -> Option<&'a str> {
    let primary = locale.split(['-', '_']).next()?.to_ascii_lowercase();
    languages.iter().find(|l| l.eq_ignore_ascii_case(&primary)).map(|l| l.as_str())
}

impl Scores {
    /// `lang_ok`: `None` when the example's locale names no language of the model.
    fn add(&mut self, ex: &Example, intent: &str, confidence: f32, lang_ok: Option<bool>, spans: &[(String, usize, usize)]) {
        let t = &mut self.tally;
        t.n += 1;
        let intent_ok = intent == ex.intent;
        t.intent_ok += intent_ok as usize;
        let gold: HashSet<_> = ex.spans.iter().collect();
        let pred: HashSet<_> = spans.iter().collect();
        let tp = pred.intersection(&gold).count();
        t.tp += tp;
        t.pred += pred.len();
        t.gold += gold.len();
        t.exact += (intent_ok && gold == pred) as usize;
        t.lang_ok += (lang_ok == Some(true)) as usize;
        t.lang_n += lang_ok.is_some() as usize;
        t.conf.push((confidence, intent_ok));
    }

    fn finish(mut self) -> Scores {
        let t = &self.tally;
        self.examples = t.n;
        self.intent_accuracy = ratio(t.intent_ok, t.n);
        self.slot_precision = ratio(t.tp, t.pred);
        self.slot_recall = ratio(t.tp, t.gold);
        let (p, r) = (self.slot_precision, self.slot_recall);
        self.slot_f1 = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
        self.slot_gold = t.gold;
        self.slot_predicted = t.pred;
        self.exact_match = ratio(t.exact, t.n);
        self.ece = expected_calibration_error(&t.conf, 15);
        self.language_accuracy = ratio(t.lang_ok, t.lang_n);
        self.language_examples = t.lang_n;
        self
    }
}

/// The accuracy pass (`opts.chunk` texts at a time, batched as server traffic would be), then,
/// when `opts.latency_samples` > 0, single-text parses timed one at a time ([`measure_latency`]).
/// `progress` gets the number of examples done after each chunk.
pub async fn evaluate_with(parser: &Parser, examples: &[Example], opts: &EvalOptions, mut progress: impl FnMut(usize)) -> anyhow::Result<Report> {
    anyhow::ensure!(!examples.is_empty(), "no examples to evaluate");
    let manifest = parser.manifest();
    let known_intents: HashSet<&str> = manifest.intents.iter().map(|s| s.as_str()).collect();
    let known_types: HashSet<&str> = manifest.slot_labels.iter().filter_map(|l| l.strip_prefix("B-").or_else(|| l.strip_prefix("I-"))).collect();
    // a model that knows no role or group is scored on the gold entities alone
    let roles = known_types.iter().any(|t| crate::entities::split_slot_type(t) != (*t, None, None));
    let started = Instant::now();
    let mut overall = Scores::default();
    let mut per_locale: BTreeMap<String, Scores> = BTreeMap::new();
    let mut per_intent: BTreeMap<String, IntentScores> = BTreeMap::new();
    let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut unknown_intents = UnknownLabels::default();
    let mut unknown_slot_types = UnknownLabels::default();
    let oos_names = bundle_oos_names(&manifest.metrics);
    let class = |name: &str| (known_intents.contains(name) && !oos::is_out_of_scope(name, &oos_names)).then(|| name.to_string());
    let mut answers: Vec<(Option<String>, Option<String>)> = Vec::with_capacity(examples.len());
    let mut fallback_reasons = BTreeMap::new();
    let mut scored = Vec::with_capacity(examples.len());
    for part in examples.chunks(opts.chunk.max(1)) {
        let inputs = part.iter().map(|e| ParseInput::new(e.text.clone())).collect();
        let results = parser.parse_many(inputs).await.map_err(|e| anyhow::anyhow!("parse failed: {e}"))?;
        for (ex, r) in part.iter().zip(results) {
            let plain;
            let ex = if roles || !ex.spans.iter().any(|s| s.0.contains('#')) {
                ex
            } else {
                plain = without_roles(ex);
                &plain
            };
            let spans: Vec<(String, usize, usize)> =
                r.entities.iter().filter(|e| e.source == "model").map(|e| (e.slot_type(), e.start, e.end)).collect();
            let lang_ok = locale_language(&ex.locale, &manifest.languages).map(|l| l.eq_ignore_ascii_case(&r.language.code));
            for s in [&mut overall, per_locale.entry(ex.locale.clone()).or_default()] {
                s.add(ex, &r.intent.name, r.intent.confidence, lang_ok, &spans);
            }
            answers.push((class(&ex.intent), class(&r.intent.name)));
            scored.push(sweep::Scored::new(class(&ex.intent), &r, class));
            r.fallback_reason.into_iter().for_each(|why| *fallback_reasons.entry(why.to_string()).or_default() += 1);
            let gold = per_intent.entry(ex.intent.clone()).or_default();
            gold.support += 1;
            gold.tp += (r.intent.name == ex.intent) as usize;
            per_intent.entry(r.intent.name.clone()).or_default().predicted += 1;
            *confusion.entry(ex.intent.clone()).or_default().entry(r.intent.name.clone()).or_default() += 1;
            if !known_intents.contains(ex.intent.as_str()) {
                unknown_intents.add(&ex.intent);
            }
            ex.spans.iter().filter(|s| !known_types.contains(s.0.as_str())).for_each(|s| unknown_slot_types.add(&s.0));
        }
        progress(part.len());
    }
    let seconds = started.elapsed().as_secs_f64();
    finish_per_intent(&mut per_intent, &known_intents);
    let reliability = reliability_table(&overall.tally.conf, RELIABILITY_BINS);
    let confused_pairs = top_confusions(&confusion, &per_intent, TOP_CONFUSED);
    let latency = measure_latency(parser, examples, opts.latency_samples).await?;
    Ok(Report {
        model: ModelRef { id: parser.id().to_string(), name: manifest.name.clone(), version: manifest.version.clone() },
        data: Vec::new(),
        overall: overall.finish(),
        per_locale: per_locale.into_iter().map(|(k, v)| (k, v.finish())).collect(),
        per_intent,
        confusion,
        confused_pairs,
        reliability,
        unknown_intents,
        unknown_slot_types,
        threshold_tradeoff: scored.iter().any(|s| s.gold.is_none()).then(|| sweep::tradeoff(&scored, parser.fallback().threshold)),
        off_topic: oos::OffTopic { fallback_reasons, ..oos::off_topic(&answers) },
        latency,
        seconds,
    })
}

/// Precision, recall and F1 of each intent; intents never gold are dropped.
fn finish_per_intent(per_intent: &mut BTreeMap<String, IntentScores>, known_intents: &HashSet<&str>) {
    for (name, s) in per_intent.iter_mut() {
        s.known = known_intents.contains(name.as_str());
        s.precision = ratio(s.tp, s.predicted);
        s.recall = ratio(s.tp, s.support);
        s.f1 = if s.precision + s.recall > 0.0 { 2.0 * s.precision * s.recall / (s.precision + s.recall) } else { 0.0 };
    }
    per_intent.retain(|_, s| s.support > 0);
}

/// The out-of-scope intents a trained bundle names (`metrics.out_of_scope_intents`).
fn bundle_oos_names(metrics: &serde_json::Value) -> Vec<String> {
    let names = metrics.get("out_of_scope_intents").and_then(|v| v.as_array());
    names.into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
}

/// Times `Parser::parse` on up to `samples` examples, one at a time (each waits for the previous),
/// spread evenly over `examples` so every locale is represented. `None` when `samples` is 0.
pub async fn measure_latency(parser: &Parser, examples: &[Example], samples: usize) -> anyhow::Result<Option<Latency>> {
    let n = samples.min(examples.len());
    if n == 0 {
        return Ok(None);
    }
    let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    for i in 0..n {
        let ex = &examples[i * examples.len() / n];
        let t = Instant::now();
        parser.parse(ParseInput::new(ex.text.clone())).await.map_err(|e| anyhow::anyhow!("parse failed on {:?}: {e}", ex.text))?;
        hist.saturating_record((t.elapsed().as_micros() as u64).max(1));
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(Some(Latency {
        samples: n,
        mean_ms: hist.mean() / 1000.0,
        p50_ms: ms(hist.value_at_quantile(0.50)),
        p90_ms: ms(hist.value_at_quantile(0.90)),
        p99_ms: ms(hist.value_at_quantile(0.99)),
        max_ms: ms(hist.max()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_gives_char_spans() {
        let (t, s) = crate::data::massive::parse_annotation("réveille-moi à [time : neuf heures] le [date : vendredi]").unwrap();
        assert_eq!(t, "réveille-moi à neuf heures le vendredi");
        assert_eq!(s, vec![("time".into(), 15, 26), ("date".into(), 30, 38)]);
        assert!(crate::data::massive::parse_annotation("bad [time : x").is_err());
    }

    #[test]
    fn ece_of_perfect_calibration_is_zero() {
        let conf = vec![(1.0, true), (1.0, true), (0.5, true), (0.5, false)];
        assert!(expected_calibration_error(&conf, 15) < 1e-9);
        let over = vec![(0.9, false), (0.9, false)];
        assert!((expected_calibration_error(&over, 15) - 0.9).abs() < 1e-6);
    }

    #[test]
    fn scores_count_spans_as_seqeval() {
        let ex = Example {
            locale: "en-US".into(),
            text: "wake me at nine on friday".into(),
            intent: "alarm_set".into(),
            spans: vec![("time".into(), 11, 15), ("date".into(), 19, 25)],
        };
        let mut s = Scores::default();
        // one span right, one with a wrong boundary
        s.add(&ex, "alarm_set", 0.9, Some(true), &[("time".into(), 11, 15), ("date".into(), 16, 25)]);
        let s = s.finish();
        assert_eq!((s.slot_precision, s.slot_recall, s.exact_match), (0.5, 0.5, 0.0));
        assert_eq!(s.intent_accuracy, 1.0);
    }

    #[test]
    fn reliability_bins_count_every_example() {
        let conf = vec![(0.05, false), (0.95, true), (1.0, true), (0.91, false), (0.5, true)];
        let t = reliability_table(&conf, 10);
        assert_eq!(t.len(), 10);
        assert_eq!(t.iter().map(|b| b.count).sum::<usize>(), conf.len());
        assert_eq!(t[9].count, 3); // 0.91, 0.95 and 1.0 (the top edge goes in the last bin)
        assert!((t[9].accuracy.unwrap() - 2.0 / 3.0).abs() < 1e-9);
        assert!((t[9].gap.unwrap() - ((0.91 + 0.95 + 1.0) / 3.0 - 2.0 / 3.0)).abs() < 1e-6);
        assert_eq!((t[3].count, t[3].accuracy), (0, None));
        assert_eq!((t[0].lower, t[0].upper), (0.0, 0.1));
    }

    #[test]
    fn top_confusions_sorted_with_shares() {
        let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        let mut put = |g: &str, p: &str, n: usize| {
            confusion.entry(g.into()).or_default().insert(p.into(), n);
        };
        put("a", "a", 6);
        put("a", "b", 3);
        put("a", "c", 1);
        put("b", "a", 3);
        put("b", "b", 1);
        let mut support = BTreeMap::new();
        support.insert("a".to_string(), IntentScores { support: 10, ..Default::default() });
        support.insert("b".to_string(), IntentScores { support: 4, ..Default::default() });
        let top = top_confusions(&confusion, &support, 2);
        assert_eq!(top.len(), 2);
        assert_eq!((top[0].gold.as_str(), top[0].predicted.as_str(), top[0].count), ("a", "b", 3));
        assert_eq!((top[1].gold.as_str(), top[1].predicted.as_str(), top[1].count), ("b", "a", 3));
        assert!((top[0].share_of_gold - 0.3).abs() < 1e-9 && (top[1].share_of_gold - 0.75).abs() < 1e-9);
    }

    #[test]
    fn locales_that_name_a_language() {
        let langs = vec!["fr".to_string(), "en".to_string()];
        assert_eq!(locale_language("fr-FR", &langs), Some("fr"));
        assert_eq!(locale_language("en_US", &langs), Some("en"));
        assert_eq!(locale_language("EN", &langs), Some("en"));
        assert_eq!(locale_language("nlu", &langs), None);
        assert_eq!(locale_language("all", &langs), None);
        assert_eq!(locale_language("de-DE", &langs), None);
    }
}
