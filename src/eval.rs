//! `parlance eval`: scores a bundle on MASSIVE-format jsonl through the same pipeline the server uses.
//!
//! Slot F1 is span-level micro F1 as seqeval computes it: a predicted span counts only when its type
//! and both boundaries match a gold span. Exact match needs the intent and the whole set of spans.

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::pipeline::{ParseInput, Parser};

/// One labelled utterance.
#[derive(Debug, Clone)]
pub struct Example {
    pub locale: String,
    pub text: String,
    pub intent: String,
    /// (slot type, start, end) in chars of `text`.
    pub spans: Vec<(String, usize, usize)>,
}

#[derive(Deserialize)]
struct MassiveRow {
    #[serde(default)]
    locale: Option<String>,
    intent: String,
    utt: String,
    annot_utt: String,
}

/// `annot_utt` → (text, spans). Slots are `[type : value]`; removing the brackets gives the text.
pub fn parse_annotation(annot: &str) -> Result<(String, Vec<(String, usize, usize)>), String> {
    let mut text = String::new();
    let mut spans = Vec::new();
    let mut rest = annot;
    while let Some(open) = rest.find('[') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find(']').ok_or_else(|| format!("unclosed '[' in {annot:?}"))?;
        let inner = &after[..close];
        let (typ, value) = inner.split_once(" : ").ok_or_else(|| format!("slot without ' : ' in {annot:?}"))?;
        let start = text.chars().count();
        text.push_str(value);
        spans.push((typ.to_string(), start, text.chars().count()));
        rest = &after[close + 1..];
    }
    text.push_str(rest);
    Ok((text, spans))
}

/// Reads a MASSIVE jsonl file. Every malformed line is an error naming its line number.
pub fn read_massive(path: &Path) -> anyhow::Result<Vec<Example>> {
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let row: MassiveRow = serde_json::from_str(&line)
            .map_err(|e| anyhow::anyhow!("{}:{}: not a MASSIVE record: {e}", path.display(), i + 1))?;
        let (text, spans) =
            parse_annotation(&row.annot_utt).map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))?;
        if text != row.utt {
            anyhow::bail!("{}:{}: annot_utt does not give back utt", path.display(), i + 1);
        }
        out.push(Example { locale: row.locale.unwrap_or_else(|| "all".into()), text, intent: row.intent, spans });
    }
    Ok(out)
}

/// Counts for one group of examples (a locale, or everything).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scores {
    pub examples: usize,
    pub intent_accuracy: f64,
    pub slot_precision: f64,
    pub slot_recall: f64,
    pub slot_f1: f64,
    pub exact_match: f64,
    /// Expected calibration error of the intent confidence, 15 equal-width bins.
    pub ece: f64,
    pub language_accuracy: f64,
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
    /// (confidence, correct) per example, for calibration.
    conf: Vec<(f32, bool)>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IntentScores {
    pub support: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    #[serde(skip)]
    tp: usize,
    #[serde(skip)]
    predicted: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub overall: Scores,
    pub per_locale: BTreeMap<String, Scores>,
    pub per_intent: BTreeMap<String, IntentScores>,
    pub seconds: f64,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Expected calibration error over equal-width confidence bins.
pub fn expected_calibration_error(conf: &[(f32, bool)], bins: usize) -> f64 {
    if conf.is_empty() {
        return 0.0;
    }
    let mut sum_conf = vec![0.0f64; bins];
    let mut sum_ok = vec![0.0f64; bins];
    let mut count = vec![0usize; bins];
    for &(c, ok) in conf {
        let b = ((c as f64 * bins as f64) as usize).min(bins - 1);
        sum_conf[b] += c as f64;
        sum_ok[b] += ok as u8 as f64;
        count[b] += 1;
    }
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| (count[b] as f64 / conf.len() as f64) * ((sum_conf[b] - sum_ok[b]) / count[b] as f64).abs())
        .sum()
}

impl Scores {
    fn add(&mut self, ex: &Example, intent: &str, confidence: f32, lang_ok: bool, spans: &[(String, usize, usize)]) {
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
        t.lang_ok += lang_ok as usize;
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
        self.exact_match = ratio(t.exact, t.n);
        self.ece = expected_calibration_error(&t.conf, 15);
        self.language_accuracy = ratio(t.lang_ok, t.n);
        self
    }
}

/// Runs every example through `parser` (`chunk` at a time, so they batch as server traffic would).
pub async fn evaluate(parser: &Parser, examples: &[Example], chunk: usize, mut progress: impl FnMut(usize)) -> anyhow::Result<Report> {
    let started = std::time::Instant::now();
    let mut overall = Scores::default();
    let mut per_locale: BTreeMap<String, Scores> = BTreeMap::new();
    let mut per_intent: BTreeMap<String, IntentScores> = BTreeMap::new();
    for part in examples.chunks(chunk.max(1)) {
        let inputs = part.iter().map(|e| ParseInput::new(e.text.clone())).collect();
        let results = parser.parse_many(inputs).await.map_err(|e| anyhow::anyhow!("parse failed: {e}"))?;
        for (ex, r) in part.iter().zip(results) {
            let spans: Vec<(String, usize, usize)> =
                r.entities.iter().filter(|e| e.source == "model").map(|e| (e.entity.clone(), e.start, e.end)).collect();
            let lang_ok = ex.locale.get(..2).is_some_and(|l| l.eq_ignore_ascii_case(&r.language.code));
            for s in [&mut overall, per_locale.entry(ex.locale.clone()).or_default()] {
                s.add(ex, &r.intent.name, r.intent.confidence, lang_ok, &spans);
            }
            let gold = per_intent.entry(ex.intent.clone()).or_default();
            gold.support += 1;
            gold.tp += (r.intent.name == ex.intent) as usize;
            per_intent.entry(r.intent.name.clone()).or_default().predicted += 1;
        }
        progress(part.len());
    }
    for s in per_intent.values_mut() {
        s.precision = ratio(s.tp, s.predicted);
        s.recall = ratio(s.tp, s.support);
        s.f1 = if s.precision + s.recall > 0.0 { 2.0 * s.precision * s.recall / (s.precision + s.recall) } else { 0.0 };
    }
    per_intent.retain(|_, s| s.support > 0);
    Ok(Report {
        overall: overall.finish(),
        per_locale: per_locale.into_iter().map(|(k, v)| (k, v.finish())).collect(),
        per_intent,
        seconds: started.elapsed().as_secs_f64(),
    })
}

impl Report {
    /// Plain-text report for a terminal.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let row = |name: &str, m: &Scores| {
            format!(
                "{name:<10} {:>6} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7.2} {:>6.2}\n",
                m.examples,
                100.0 * m.intent_accuracy,
                100.0 * m.slot_precision,
                100.0 * m.slot_recall,
                100.0 * m.slot_f1,
                100.0 * m.exact_match,
                100.0 * m.ece,
                100.0 * m.language_accuracy
            )
        };
        s.push_str("locale        n   intent   slot P   slot R  slot F1    exact  ECE %  lang\n");
        for (loc, m) in &self.per_locale {
            s.push_str(&row(loc, m));
        }
        if self.per_locale.len() > 1 {
            s.push_str(&row("all", &self.overall));
        }
        s.push_str("\nintent                       support  precision  recall     F1\n");
        for (name, m) in &self.per_intent {
            s.push_str(&format!(
                "{name:<28} {:>7} {:>10.2} {:>7.2} {:>6.2}\n",
                m.support,
                100.0 * m.precision,
                100.0 * m.recall,
                100.0 * m.f1
            ));
        }
        s.push_str(&format!(
            "\n{} examples in {:.1} s ({:.0} utterances/s)\n",
            self.overall.examples,
            self.seconds,
            self.overall.examples as f64 / self.seconds.max(1e-9)
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_gives_char_spans() {
        let (t, s) = parse_annotation("réveille-moi à [time : neuf heures] le [date : vendredi]").unwrap();
        assert_eq!(t, "réveille-moi à neuf heures le vendredi");
        assert_eq!(s, vec![("time".into(), 15, 26), ("date".into(), 30, 38)]);
        assert!(parse_annotation("bad [time : x").is_err());
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
        s.add(&ex, "alarm_set", 0.9, true, &[("time".into(), 11, 15), ("date".into(), 16, 25)]);
        let s = s.finish();
        assert_eq!((s.slot_precision, s.slot_recall, s.exact_match), (0.5, 0.5, 0.0));
        assert_eq!(s.intent_accuracy, 1.0);
    }
}
