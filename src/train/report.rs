//! What a `parlance train` run did ([`TrainSummary`], printed with `--json`) and the text it
//! prints: what was trained, the time breakdown, held-out accuracy, the temperature and the
//! fallback threshold table.

use std::fmt::Write;
use std::path::PathBuf;

use serde::Serialize;

use crate::model::Manifest;
use crate::train::calibrate::ThresholdChoice;

/// Accuracy of the intent head on held-out data, before fallback.
#[derive(Debug, Clone, Serialize)]
pub struct HeldOut {
    /// "dev" (`--dev`) or "held-out split" (a fifth of the training data, head refitted on all).
    pub source: String,
    pub examples: usize,
    pub in_scope: usize,
    pub intent_accuracy: f64,
}

/// Where the time went, in seconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Breakdown {
    pub read: f64,
    pub encoder_load: f64,
    pub embed: f64,
    /// Fine-tuning the top layer (`--adapt`), then re-pooling every example through it.
    pub adapt: f64,
    pub intent_fit: f64,
    pub slot_fit: f64,
    pub write: f64,
}

/// What a training run did.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    pub out: PathBuf,
    pub examples: usize,
    pub dev_examples: usize,
    pub intents: usize,
    pub slot_types: usize,
    pub temperature: f32,
    pub heldout: HeldOut,
    pub threshold: ThresholdChoice,
    pub seconds: Breakdown,
    /// The epochs the adapted layers were trained (as `--adapt-epochs`, or chosen from the data's
    /// size); absent without `--adapt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapt_epochs: Option<usize>,
    /// How many of the encoder's top layers were adapted (absent: the frozen encoder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapt_layers: Option<usize>,
    /// The layers were adapted twice: on the examples the held-out split keeps, to choose the
    /// threshold, then on every example (small bots without `--dev`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub adapted_again: bool,
    /// Why a run that would have adapted layers trained on the frozen encoder (one that offers none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frozen_because: Option<String>,
    /// Synonyms, lookups and regexes kept for parse time, and what was left out.
    pub rasa_notes: Vec<String>,
    /// What the training data holds that the owner should know (one-example intents, duplicates,
    /// unbalanced intents, one-word messages, emoji).
    pub data_notes: Vec<String>,
    #[serde(skip)]
    pub manifest: Manifest,
}

pub fn summary_text(s: &TrainSummary, total_seconds: f64) -> String {
    let mut out = String::new();
    let t = &s.seconds;
    let _ = writeln!(
        out,
        "trained {} ({} intents, {} slot types) on {} examples in {total_seconds:.1} s",
        s.out.display(),
        s.intents,
        s.slot_types,
        s.examples
    );
    let adapt = match (s.adapt_epochs, s.adapt_layers) {
        (Some(n), Some(layers)) => {
            let which = if layers == 1 { "top layer".to_string() } else { format!("top {layers} layers") };
            let again = if s.adapted_again { "; twice: on four fifths of the examples for the threshold, then on all" } else { "" };
            format!(", {which} adapted {:.1} s ({n} epoch{}{again})", t.adapt, if n == 1 { "" } else { "s" })
        }
        _ => ", frozen encoder".to_string(),
    };
    let _ = writeln!(
        out,
        "  read {:.1} s, encoder load {:.1} s, embedding {:.1} s{adapt}, intent head {:.1} s, slot head {:.1} s, write {:.1} s",
        t.read, t.encoder_load, t.embed, t.intent_fit, t.slot_fit, t.write
    );
    let h = &s.heldout;
    let _ = writeln!(
        out,
        "  intent accuracy on the {} ({} examples, {} in scope): {:.3} (before fallback)",
        h.source, h.examples, h.in_scope, h.intent_accuracy
    );
    let _ = writeln!(out, "  intent temperature: {:.3}", s.temperature);
    let _ = writeln!(out, "  fallback threshold: {:.2} ({})", s.threshold.chosen, s.threshold.rule);
    if let Some(f) = s.threshold.fallback_similarity {
        let _ = writeln!(out, "    (every row with the off-topic gate: a message at cosine below {f:.3} to every intent's mean is rejected)");
    }
    let _ = writeln!(out, "    threshold  in-scope acc  in-scope rejected  oos recall    MCC");
    let chosen = |t: f32| (t - s.threshold.chosen).abs() < 1e-6;
    for r in s.threshold.table.iter().enumerate().filter(|(i, r)| i % 10 == 0 || chosen(r.threshold)).map(|(_, r)| r) {
        let oos = r.oos_recall.map_or("n/a".to_string(), |v| format!("{v:.3}"));
        let mark = if chosen(r.threshold) { " <" } else { "" };
        let _ = writeln!(out, "    {:9.2}  {:12.3}  {:17.3}  {oos:>10}  {:5.3}{mark}", r.threshold, r.in_scope_accuracy, r.in_scope_rejected, r.mcc);
    }
    let no_off_topic = s.threshold.table.first().is_some_and(|r| r.oos_recall.is_none());
    if no_off_topic && !s.threshold.rule.contains("--fallback-threshold") {
        let _ = writeln!(
            out,
            "  note: no off-topic example was held out, so the threshold is set to cost about 1 point of in-scope accuracy and rejects few off-topic messages (13-15 % of MASSIVE's held-out intents); where much of the traffic is off-topic, label a sample of it (off-topic as out_of_scope) and pass it as --dev, or choose --fallback-threshold from `parlance eval`'s trade-off on it"
        );
    }
    if let Some(why) = &s.frozen_because {
        let _ = writeln!(out, "  note: {why}");
    }
    for n in &s.data_notes {
        let _ = writeln!(out, "  data: {n}");
    }
    for n in &s.rasa_notes {
        let _ = writeln!(out, "  note: {n}");
    }
    out
}
