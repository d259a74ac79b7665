//! `parlance train`: a Rasa project (or MASSIVE jsonl) → a served heads bundle, in Rust, on CPU.
//!
//! Every example is embedded once by a frozen pretrained encoder through ONNX Runtime; an intent
//! classifier (multinomial logistic regression, L2, L-BFGS) is fitted on the pooled vectors and a
//! slot tagger (the same, per word, on the first sub-token's vector) on the token vectors; the
//! intent temperature and a fallback threshold are chosen on dev (`--dev`, else a held-out fifth of
//! the training data); the bundle is written (docs/bundle.md, "Heads bundles").

pub mod calibrate;
pub mod data;
pub mod features;
pub mod logreg;
pub mod rasa_extras;
pub mod report;
pub mod write;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ndarray::{Array2, Axis};
use rayon::prelude::*;
use serde::Serialize;
use tokenizers::Tokenizer;

use crate::model::Manifest;
use crate::model::heads::encoder::{read_encoder_dir, Encoder, EncoderInfo};
use crate::model::heads::{Heads, Linear};
use crate::model::manifest::EncoderRef;
use crate::model::SessionSettings;
use calibrate::ThresholdChoice;
use features::{Features, Prepared};
use logreg::FitConfig;

/// Longest input, in tokens (prefix included): utterances are short, and attention is quadratic.
pub const MAX_TOKENS: usize = 128;

/// Intent names taken as out-of-scope in dev data (besides intents the model does not know).
pub const OUT_OF_SCOPE_NAMES: [&str; 3] = ["oos", "out_of_scope", "nlu_fallback"];

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid training data:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
    #[error("encoder")]
    Encoder(#[from] crate::model::heads::encoder::EncoderError),
    #[error("the encoder's tokenizer cannot read {text:?}")]
    Tokenizer { text: String, source: crate::pipeline::TokenizerError },
    #[error("encoder run")]
    Run(#[from] crate::model::RunError),
    #[error("token rows")]
    TokenRows(#[from] ndarray::ShapeError),
    #[error("cannot write the bundle: {}", path.display())]
    Write { path: PathBuf, source: Box<dyn std::error::Error + Send + Sync> },
    /// Written, but the server could not load it (over HTTP).
    #[error("the trained bundle was not served")]
    NotServed(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cancelled")]
    Cancelled,
    #[error("stopped after {0:.0} s: over the training time limit")]
    TimedOut(f64),
}

/// A training run seen from another thread (the HTTP training job): its stage, how many
/// examples are embedded, and a way to stop it (cancel, or a deadline), checked between encoder
/// batches.
#[derive(Debug, Default)]
pub struct TrainWatch {
    pub stage: std::sync::Mutex<&'static str>,
    pub embedded: std::sync::atomic::AtomicU64,
    pub to_embed: std::sync::atomic::AtomicU64,
    pub cancel: std::sync::atomic::AtomicBool,
    pub started: std::sync::OnceLock<Instant>,
    pub limit: std::sync::OnceLock<Duration>,
}

impl TrainWatch {
    fn set_stage(&self, stage: &'static str) {
        *self.stage.lock().unwrap_or_else(|e| e.into_inner()) = stage;
    }

    /// Why the run must stop now, if it must.
    pub fn stopped(&self) -> Option<TrainError> {
        if self.cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Some(TrainError::Cancelled);
        }
        let (started, limit) = (self.started.get()?, self.limit.get()?);
        (started.elapsed() > *limit).then(|| TrainError::TimedOut(started.elapsed().as_secs_f64()))
    }
}

/// How to train.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub data: Vec<PathBuf>,
    pub dev: Vec<PathBuf>,
    pub out: PathBuf,
    pub name: Option<String>,
    pub version: String,
    /// The encoder folder (model.onnx, tokenizer.json, encoder.json).
    pub encoder: PathBuf,
    /// Inverse L2 strength of the intent head, in scikit-learn's terms (loss = C × Σ cross-entropy
    /// + ‖W‖²/2), on the encoder's pooled vectors as they are.
    pub c: f32,
    /// L2 penalty of the slot head (mean loss, standardised token vectors).
    pub slot_l2: f32,
    /// Each intent's name (`order_status` → "order status") as one more example of it for the
    /// intent head (not for the slot tagger, never held out): +0.8 / +1.1 points at 10 examples per
    /// intent on MASSIVE en / fr (docs/training-choices.md).
    pub intent_names: bool,
    /// The slot head reads a window of three tokens (the previous, its own, the next) instead of
    /// one: what sets a Rasa role ("from [Paris]" / "to [Paris]") is often the word before.
    pub slot_window: bool,
    /// Examples per encoder run.
    pub batch_size: usize,
    /// ONNX Runtime threads.
    pub threads: usize,
    pub progress: bool,
    /// Set when another thread follows the run (and may stop it).
    pub watch: Option<std::sync::Arc<TrainWatch>>,
}

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
    /// Synonyms, lookups and regexes kept for parse time, and what was left out.
    pub rasa_notes: Vec<String>,
    #[serde(skip)]
    pub manifest: Manifest,
}

fn secs(t: Instant) -> f64 {
    Duration::as_secs_f64(&t.elapsed())
}

fn argmax(row: ndarray::ArrayView1<f32>) -> usize {
    row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |m| m.0)
}

/// The checks `train` makes before any work (data read, every intent with enough examples, dev
/// read, synonyms, lookups and regexes compiled), on their own: bad data is told at once. Returns
/// how many examples (training and dev) there are.
pub fn check_data(opts: &TrainOptions) -> Result<usize, TrainError> {
    let data = data::read(&opts.data)?;
    data::check_training_set(&data, &opts.data)?;
    let dev = if opts.dev.is_empty() { 0 } else { data::read(&opts.dev)?.examples.len() };
    let entity_names = entity_names(&data);
    rasa_extras::collect(&data.rasa_files, &entity_names)?;
    Ok(data.examples.len() + dev)
}

/// The entities the examples annotate (roles and groups left out): the names lookups and regexes
/// must carry to be used.
fn entity_names(data: &data::Dataset) -> std::collections::BTreeSet<String> {
    let spans = data.examples.iter().flat_map(|s| s.example.spans.iter());
    spans.map(|sp| crate::entities::split_slot_type(&sp.0).0.to_string()).collect()
}

/// Trains and writes a bundle.
pub fn train(opts: &TrainOptions) -> Result<TrainSummary, TrainError> {
    let mut took = Breakdown::default();
    let t = Instant::now();
    let data = data::read(&opts.data)?;
    let intents = data::check_training_set(&data, &opts.data)?;
    let dev = if opts.dev.is_empty() { None } else { Some(data::read(&opts.dev)?) };
    let entity_names = entity_names(&data);
    let rasa = rasa_extras::collect(&data.rasa_files, &entity_names)?;
    took.read = secs(t);

    let t = Instant::now();
    let (info, tokenizer, mut encoder, max_length) = open_encoder(opts)?;
    took.encoder_load = secs(t);

    let t = Instant::now();
    let train_ex: Vec<&crate::data::Example> = data.examples.iter().map(|s| &s.example).collect();
    let labels = features::slot_labels(&train_ex);
    let prep = |exs: Vec<&crate::data::Example>| -> Result<Vec<Prepared>, TrainError> {
        exs.par_iter().map(|e| features::prepare(e, &tokenizer, info.lowercase, &labels)).collect()
    };
    let train_items = prep(train_ex)?;
    let names = if opts.intent_names { intent_name_items(&intents, &tokenizer, info.lowercase, &labels)? } else { Vec::new() };
    let embed_items: Vec<Prepared> = train_items.iter().cloned().chain(names.iter().map(|n| n.1.clone())).collect();
    let dev_items = match &dev {
        Some(d) => prep(d.examples.iter().map(|s| &s.example).collect())?,
        None => Vec::new(),
    };
    let (mut train_f, dev_f) = embed_sets(opts, &mut encoder, &embed_items, &dev_items)?;
    drop(embed_items);
    let watch = opts.watch.as_deref();
    took.embed = secs(t);

    let t = Instant::now();
    let (intent_head, temperature, heldout, threshold) = fit_intent(&data, &names, dev.as_ref(), &train_f, dev_f.as_ref(), &intents, opts.c);
    took.intent_fit = secs(t);

    let t = Instant::now();
    let slot = fit_slots(std::mem::take(&mut train_f.tokens), &train_f.token_labels, labels.len(), opts.slot_l2);
    took.slot_fit = secs(t);

    let t = Instant::now();
    stage(watch, "writing");
    let heads = Heads { intent: intent_head, slot };
    let counts = features::transition_counts(&train_items, &labels);
    let n_types = (labels.len() - 1) / 2;
    let (encoder_ref, name, description) = describe(opts, &info, data.examples.len(), intents.len(), n_types);
    let spec = write::BundleSpec {
        name,
        version: opts.version.clone(),
        description,
        languages: if data.languages.is_empty() { crate::lang::SUPPORTED.iter().map(|s| s.to_string()).collect() } else { data.languages.clone() },
        max_length,
        lowercase: info.lowercase,
        pad_id: encoder.pad_id,
        intents: intents.clone(),
        slot_labels: labels.clone(),
        temperature,
        fallback_threshold: threshold.chosen,
        encoder: encoder_ref,
        transitions: Some(&counts),
        rasa: rasa.to_json(),
        metrics: serde_json::json!({ "heldout": heldout, "fallback_threshold": threshold.chosen, "threshold_rule": threshold.rule }),
    };
    let manifest = write::write_bundle(&opts.out, spec, &heads)?;
    took.write = secs(t);
    Ok(TrainSummary {
        out: opts.out.clone(),
        examples: data.examples.len(),
        dev_examples: dev.as_ref().map_or(0, |d| d.examples.len()),
        intents: intents.len(),
        slot_types: n_types,
        temperature,
        heldout,
        threshold,
        seconds: took,
        rasa_notes: rasa.notes,
        manifest,
    })
}

/// Embeds the training and dev examples, with a progress bar (or the watcher's counts).
fn embed_sets(opts: &TrainOptions, encoder: &mut Encoder, train: &[Prepared], dev: &[Prepared]) -> Result<(Features, Option<Features>), TrainError> {
    let total = train.len() + dev.len();
    let bar = features::progress_bar(total, "embedding", opts.progress);
    let watch = opts.watch.as_deref();
    stage(watch, "embedding");
    watch.inspect(|w| w.to_embed.store(total as u64, std::sync::atomic::Ordering::Relaxed));
    let train_f = features::embed(encoder, train, opts.batch_size, &bar, watch, opts.slot_window)?;
    let dev_f = (!dev.is_empty()).then(|| features::embed(encoder, dev, opts.batch_size, &bar, watch, false)).transpose()?;
    stage(watch, "fitting");
    bar.finish_and_clear();
    Ok((train_f, dev_f))
}

/// Notes the stage for a watcher, if any.
fn stage(watch: Option<&TrainWatch>, name: &'static str) {
    if let Some(w) = watch {
        w.set_stage(name);
    }
}

/// The slot head: a per-token logistic regression over the BIO labels (none when no example
/// annotates an entity).
fn fit_slots(tokens: Array2<f32>, token_labels: &[usize], n_labels: usize, l2: f32) -> Option<Linear> {
    (n_labels > 1).then(|| {
        let slot_cfg = FitConfig { l2, max_iter: 100, ..Default::default() };
        logreg::fit_owned(tokens, token_labels, n_labels, &slot_cfg).0
    })
}

/// The encoder session for training (all `opts.threads`), its tokenizer truncated to the bundle's
/// max length, and that length.
fn open_encoder(opts: &TrainOptions) -> Result<(EncoderInfo, Tokenizer, Encoder, usize), TrainError> {
    let (info, mut tokenizer) = read_encoder_dir(&opts.encoder, None)?;
    let settings = SessionSettings { intra_threads: opts.threads.max(1), spinning: false, ..Default::default() };
    let encoder = Encoder::load(&opts.encoder, info.clone(), &tokenizer, &settings)?;
    let max_length = info.max_length.min(MAX_TOKENS).saturating_sub(encoder.prefix_len()).clamp(2, 4096);
    let trunc = tokenizers::TruncationParams { max_length, ..Default::default() };
    tokenizer
        .with_truncation(Some(trunc))
        .map_err(|e| TrainError::Tokenizer { text: String::new(), source: e.into() })?;
    Ok((info, tokenizer, encoder, max_length))
}

/// Each intent's name as an example of it: `_ / - + .` become spaces; names with no letter
/// (`intent_17` keeps "intent", `42` is left out) and out-of-scope intents are left out. The
/// prepared items have no word rows, so the slot tagger and the transition counts never see them.
fn intent_name_items(intents: &[String], tokenizer: &Tokenizer, lowercase: bool, labels: &[String]) -> Result<Vec<(usize, Prepared)>, TrainError> {
    let mut out = Vec::new();
    for (i, name) in intents.iter().enumerate() {
        let Some(text) = intent_name_text(name) else { continue };
        let ex = crate::data::Example { locale: String::new(), text, intent: name.clone(), spans: Vec::new() };
        let mut item = features::prepare(&ex, tokenizer, lowercase, labels)?;
        item.first_token.iter_mut().for_each(|t| *t = None);
        out.push((i, item));
    }
    Ok(out)
}

/// An intent's name as text (`faq/ask_refund` → "faq ask refund"); none for out-of-scope intents
/// and names without a letter.
fn intent_name_text(name: &str) -> Option<String> {
    if OUT_OF_SCOPE_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        return None;
    }
    let text = name.split(['_', '/', '-', '+', '.']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
    text.chars().any(char::is_alphabetic).then_some(text)
}

/// The intent head, its temperature, its held-out accuracy and the fallback threshold: on `--dev`
/// when given, else on a held-out fifth of the training data (then refitted on all of it).
/// `names` (intent, item) are the rows of `train_f.pooled` after the examples': trained on, never
/// held out.
fn fit_intent(
    data: &data::Dataset,
    names: &[(usize, Prepared)],
    dev: Option<&data::Dataset>,
    train_f: &Features,
    dev_f: Option<&Features>,
    intents: &[String],
    c: f32,
) -> (Linear, f32, HeldOut, ThresholdChoice) {
    let index: HashMap<&str, usize> = intents.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let y: Vec<usize> = data.examples.iter().map(|s| index[s.example.intent.as_str()]).chain(names.iter().map(|n| n.0)).collect();
    // scikit-learn's C as a penalty on the mean loss: λ = 1 / (C·n)
    let l2 = 1.0 / (c.max(1e-6) * y.len() as f32);
    let cfg = FitConfig { l2, standardize: false, ..Default::default() };
    let (head, source, calib) = match (dev, dev_f) {
        (Some(d), Some(f)) => {
            let (head, _) = logreg::fit(&train_f.pooled, &y, intents.len(), &cfg);
            let gold: Vec<Option<usize>> = d.examples.iter().map(|s| index.get(s.example.intent.as_str()).copied()).collect();
            let oos = d.examples.iter().map(|s| out_of_scope(&s.example.intent, &index)).collect();
            let logits = logreg::logits(&head, &f.pooled);
            (head, "dev", (logits, gold, oos))
        }
        _ => held_out_split(train_f, &y, data.examples.len(), intents, &cfg),
    };
    let temperature = calibrate::fit_temperature(&calib.0, &calib.1);
    let heldout = held_out_report(source, &calib.0, &calib.1, &calib.2);
    let threshold = calibrate::choose_threshold(&confidence_rows(&calib.0, &calib.1, &calib.2, temperature));
    (head, temperature, heldout, threshold)
}

/// The encoder reference, the bundle name and its description.
fn describe(opts: &TrainOptions, info: &EncoderInfo, examples: usize, intents: usize, slot_types: usize) -> (EncoderRef, String, String) {
    let encoder_ref = EncoderRef {
        name: info.name.clone(),
        sha256: info.model_sha256.to_ascii_lowercase(),
        path: std::fs::canonicalize(&opts.encoder).unwrap_or_else(|_| opts.encoder.clone()).display().to_string(),
        hidden_size: info.hidden_size,
    };
    let name = opts.name.clone().unwrap_or_else(|| {
        opts.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "bot".into())
    });
    // the names of the data, not where they were (a training request's are in a work folder)
    let files: Vec<String> = opts.data.iter().map(|p| p.file_name().unwrap_or(p.as_os_str()).to_string_lossy().into_owned()).collect();
    let description = format!(
        "Trained by `parlance train` on {examples} examples ({}): {intents} intents, {slot_types} slot types; linear heads on the frozen encoder {}.",
        files.join(", "),
        info.name
    );
    (encoder_ref, name, description)
}

fn out_of_scope(intent: &str, index: &HashMap<&str, usize>) -> bool {
    !index.contains_key(intent) || OUT_OF_SCOPE_NAMES.contains(&intent.to_ascii_lowercase().as_str())
}

/// Held-out logits, gold labels and out-of-scope flags.
type Calibration = (Array2<f32>, Vec<Option<usize>>, Vec<bool>);

/// Without `--dev`: every fifth example of each intent (from the third on) is held out, the head
/// fitted on the rest scores it, then the head is refitted on everything. Rows from `examples` on
/// (the intent names) are always kept.
fn held_out_split(f: &Features, y: &[usize], examples: usize, intents: &[String], cfg: &FitConfig) -> (Linear, &'static str, Calibration) {
    let mut seen = vec![0usize; intents.len()];
    let mut held = Vec::new();
    let mut kept = Vec::new();
    for (i, &label) in y.iter().enumerate() {
        if i < examples && seen[label] % 5 == 2 { held.push(i) } else { kept.push(i) }
        seen[label] += 1;
    }
    let sub = f.pooled.select(Axis(0), &kept);
    let sub_y: Vec<usize> = kept.iter().map(|&i| y[i]).collect();
    let (head, _) = logreg::fit(&sub, &sub_y, intents.len(), cfg);
    let logits = logreg::logits(&head, &f.pooled.select(Axis(0), &held));
    let gold = held.iter().map(|&i| Some(y[i])).collect();
    let oos = held.iter().map(|&i| OUT_OF_SCOPE_NAMES.contains(&intents[y[i]].as_str())).collect();
    let (full, _) = logreg::fit(&f.pooled, y, intents.len(), cfg);
    (full, "held-out split", (logits, gold, oos))
}

fn held_out_report(source: &str, logits: &Array2<f32>, gold: &[Option<usize>], oos: &[bool]) -> HeldOut {
    let in_scope: Vec<usize> = (0..gold.len()).filter(|&i| !oos[i]).collect();
    let right = in_scope.iter().filter(|&&i| gold[i] == Some(argmax(logits.row(i)))).count();
    HeldOut {
        source: source.into(),
        examples: gold.len(),
        in_scope: in_scope.len(),
        intent_accuracy: right as f64 / in_scope.len().max(1) as f64,
    }
}

/// (top-1 confidence, right, out-of-scope) of each held-out row at temperature `t`.
fn confidence_rows(logits: &Array2<f32>, gold: &[Option<usize>], oos: &[bool], t: f32) -> Vec<(f32, bool, bool)> {
    logits
        .axis_iter(Axis(0))
        .enumerate()
        .map(|(i, row)| {
            let p = crate::decode::softmax(&row.to_vec(), t);
            let top = argmax(row);
            (p[top], gold[i] == Some(top) && !oos[i], oos[i])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intent_names_become_examples_without_word_rows() {
        assert_eq!(intent_name_text("order_status").as_deref(), Some("order status"));
        assert_eq!(intent_name_text("faq/ask_refund").as_deref(), Some("faq ask refund"));
        assert_eq!(intent_name_text("greet+ask.time").as_deref(), Some("greet ask time"));
        assert_eq!(intent_name_text("oos"), None);
        assert_eq!(intent_name_text("nlu_fallback"), None);
        assert_eq!(intent_name_text("42_7"), None);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-encoder");
        let tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
        let intents: Vec<String> = ["order_status", "out_of_scope", "17", "greet"].map(String::from).to_vec();
        let labels = vec!["O".to_string(), "B-item".into(), "I-item".into()];
        let items = intent_name_items(&intents, &tokenizer, false, &labels).unwrap();
        assert_eq!(items.iter().map(|i| i.0).collect::<Vec<_>>(), [0, 3]);
        for (_, item) in &items {
            assert!(!item.ids.is_empty());
            // no word rows: the slot tagger and the transition counts never see a name
            assert!(item.first_token.iter().all(Option::is_none));
            let counts = features::transition_counts(std::slice::from_ref(item), &labels);
            assert!(counts.is_empty());
        }
    }
}
