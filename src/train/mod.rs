//! `parlance train`: a Rasa project (or a CSV table, or MASSIVE jsonl) → a served heads bundle, in Rust, on CPU.
//!
//! Every example is embedded once by a frozen pretrained encoder through ONNX Runtime; an intent
//! classifier (multinomial logistic regression, L2, L-BFGS) is fitted on the pooled vectors and a
//! slot tagger (the same, per word, on the first sub-token's vector) on the token vectors; the
//! intent temperature and a fallback threshold are chosen on dev (`--dev`, else a held-out fifth of
//! the training data); the bundle is written (docs/bundle.md, "Heads bundles").

pub mod adapt;
pub mod calibrate;
pub mod data;
pub mod features;
pub mod fit;
pub mod intent;
pub mod lexical;
pub mod logreg;
pub mod oos;
pub mod rasa_extras;
pub mod report;
pub mod write;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ndarray::Array2;
use rayon::prelude::*;
use tokenizers::Tokenizer;

use crate::model::heads::encoder::{read_encoder_dir, Encoder, EncoderInfo};
use crate::model::heads::stack::{self, Stack};
use crate::model::heads::{Heads, Linear};
use crate::model::manifest::EncoderRef;
use crate::model::SessionSettings;
use adapt::AdaptSettings;
use calibrate::{ThresholdChoice, ThresholdRule};
use features::{Features, Prepared};
use fit::{adapt_and_fit, Fitted, Labelled};
use intent::IntentSetup;
use logreg::FitConfig;

/// Scale of each lexical block against the sentence vector (norm 1): measured, docs/training-choices.md.
pub const LEXICAL_SCALE: f32 = 0.35;

/// A lexical column per Rasa lookup table and regex of the project (Rasa's RegexFeaturizer):
/// measured, docs/training-choices.md ("Pattern features").
pub const PATTERN_FEATURES: bool = true;

/// Longest input, in tokens (prefix included): utterances are short, and attention is quadratic.
pub const MAX_TOKENS: usize = 128;

pub use crate::train::oos::OUT_OF_SCOPE_NAMES;
pub use report::{Breakdown, HeldOut, TrainSummary};

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
    /// Written, but not put in place of the served bundle (over HTTP): why, in words.
    #[error("the trained bundle was not put in place: {0}")]
    NotReplaced(String),
    #[error("cannot start the training threads")]
    Threads(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("adapting the top encoder layer: {0}")]
    Adapt(String),
    #[error("cancelled")]
    Cancelled,
    #[error("stopped after {0:.0} s: over the training time limit (the server's --train-timeout; \"adapt\": false trains on the frozen encoder, several times faster)")]
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
    /// An intent that counts as out-of-scope besides Rasa's `out_of_scope` (and `oos`,
    /// `nlu_fallback`): answering it is a rejection in the threshold table and in `eval`.
    pub out_of_scope_intent: Option<String>,
    /// The fallback threshold, set by the owner instead of chosen on held-out data.
    pub fallback_threshold: Option<f32>,
    pub progress: bool,
    /// Lexical features (character 2–5-grams and word 1–2-grams, TF-IDF) beside the sentence
    /// vector in the intent head (docs/training-choices.md, "Issue 24").
    pub lexical: bool,
    /// Fine-tune the bot's own copy of the encoder's top layers before fitting the heads: those
    /// the encoder offers unless the ask names them. None (`--fast`): the frozen encoder.
    pub adapt: Option<adapt::AdaptAsk>,
    /// Set when another thread follows the run (and may stop it).
    pub watch: Option<std::sync::Arc<TrainWatch>>,
    /// Where lookup `.txt` files may be read from: inside the project folder from the command
    /// line, nowhere over HTTP.
    pub lookup_files: rasa_extras::LookupFiles,
}

fn secs(t: Instant) -> f64 {
    Duration::as_secs_f64(&t.elapsed())
}

/// The checks `train` makes before any work (data read, every intent with enough examples, dev
/// read, synonyms, lookups and regexes compiled), on their own: bad data is told at once. Returns
/// how much there is to embed (what the memory of a run grows with).
pub fn check_data(opts: &TrainOptions) -> Result<DataSize, TrainError> {
    let data = data::read(&opts.data)?;
    data::check_training_set(&data, &opts.data)?;
    let dev = if opts.dev.is_empty() { None } else { Some(data::read(&opts.dev)?) };
    let entity_names = entity_names(&data);
    rasa_extras::collect(&data.rasa_files, &entity_names, &opts.lookup_files)?;
    let all = data.examples.iter().chain(dev.iter().flat_map(|d| d.examples.iter()));
    let words = all.map(|s| s.example.text.split_whitespace().count()).sum();
    Ok(DataSize { examples: data.examples.len() + dev.map_or(0, |d| d.examples.len()), words })
}

/// How much a run has to embed: examples (training and dev) and their words. A run's memory grows
/// with the words (each token's vectors are kept for the slot tagger), so the server bounds both
/// before it starts one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataSize {
    pub examples: usize,
    pub words: usize,
}

/// The entities the examples annotate (roles and groups left out): the names lookups and regexes
/// must carry to be used.
fn entity_names(data: &data::Dataset) -> std::collections::BTreeSet<String> {
    let spans = data.examples.iter().flat_map(|s| s.example.spans.iter());
    spans.map(|sp| crate::entities::split_slot_type(&sp.0).0.to_string()).collect()
}

/// Trains and writes a bundle. A watched run's deadline and cancellation reach the fitting loops
/// too (a fit stops at its next iteration; the run then returns why).
pub fn train(opts: &TrainOptions) -> Result<TrainSummary, TrainError> {
    let _stop = opts.watch.clone().map(|w| logreg::stop_when(move || w.stopped().is_some()));
    train_watched(opts)
}

fn train_watched(opts: &TrainOptions) -> Result<TrainSummary, TrainError> {
    let mut took = Breakdown::default();
    let t = Instant::now();
    let data = data::read(&opts.data)?;
    let (intents, data_notes) = data::check_training_set(&data, &opts.data)?;
    let dev = if opts.dev.is_empty() { None } else { Some(data::read(&opts.dev)?) };
    let rasa = rasa_extras::collect(&data.rasa_files, &entity_names(&data), &opts.lookup_files)?;
    took.read = secs(t);

    let t = Instant::now();
    let (base, (info, tokenizer, mut encoder, max_length)) = open_for_training(opts)?;
    took.encoder_load = secs(t);

    let t = Instant::now();
    let Sets { labels, train_items, names, embed_items, dev_items } = prepare_sets(opts, &data, dev.as_ref(), &tokenizer, &info, &intents)?;
    let (mut train_f, mut dev_f) = embed_sets(opts, &mut encoder, &embed_items, &dev_items, base.as_ref().map(|(b, _)| b.spec.input.as_str()))?;
    took.embed = secs(t);

    let items = (&embed_items[..], encoder.prefix_len());
    let labelled = Labelled { data: &data, dev: dev.as_ref(), names: &names, intents: &intents, rasa: &rasa };
    let Fitted { top, adapt_epochs, adapted_again, fit, lexical } =
        adapt_and_fit(opts, &labelled, (base.as_ref(), &info), (&mut train_f, dev_f.as_mut()), items, &mut took)?;
    drop(embed_items);
    let adapt_layers = base.as_ref().map(|(_, s)| s.layers);
    let intent::IntentFit { head: intent_head, temperature, heldout, threshold, gate, .. } = fit;

    let t = Instant::now();
    let slot = fit_slots(std::mem::take(&mut train_f.tokens), &train_f.token_labels, labels.len(), opts.slot_l2);
    took.slot_fit = secs(t);

    let t = Instant::now();
    next_stage(opts.watch.as_deref(), "writing")?; // unless a fit stopped early for the deadline or DELETE
    let (means, fallback_similarity) = gate.map(|g| (g.means, g.floor)).unzip();
    let heads = Heads { intent: intent_head, slot, top: top.map(std::sync::Arc::new), means };
    let (counts, n_types) = (features::transition_counts(&train_items, &labels), (labels.len() - 1) / 2);
    let (encoder_ref, name, description) = describe(opts, &info, data.examples.len(), intents.len(), n_types, adapt_layers);
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
        fallback_similarity,
        encoder: encoder_ref,
        transitions: Some(&counts),
        rasa: rasa.to_json(),
        metrics: bundle_metrics(&heldout, &threshold, &intents, &intent_setup(opts).oos_names),
    };
    let manifest = write::write_bundle(&opts.out, spec, &heads)?;
    write::write_lexical(&opts.out, lexical.as_ref())?;
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
        adapt_epochs,
        adapt_layers,
        adapted_again,
        frozen_because: frozen_because(opts, adapt_layers),
        rasa_notes: rasa.notes,
        data_notes,
        manifest,
    })
}

/// Why a run that would have adapted layers trained frozen: its encoder offers none.
fn frozen_because(opts: &TrainOptions, adapted_layers: Option<usize>) -> Option<String> {
    (opts.adapt.is_some() && adapted_layers.is_none())
        .then(|| "the encoder offers no top layers to adapt (no top-layer.json): trained on the frozen encoder, as --fast".to_string())
}

/// The examples made ready for the encoder: slot labels, training items, intent-name items, both
/// together (what is embedded) and the dev items.
struct Sets {
    labels: Vec<String>,
    train_items: Vec<Prepared>,
    names: Vec<(usize, Prepared)>,
    embed_items: Vec<Prepared>,
    dev_items: Vec<Prepared>,
}

fn prepare_sets(
    opts: &TrainOptions,
    data: &data::Dataset,
    dev: Option<&data::Dataset>,
    tokenizer: &Tokenizer,
    info: &EncoderInfo,
    intents: &[String],
) -> Result<Sets, TrainError> {
    let train_ex: Vec<&crate::data::Example> = data.examples.iter().map(|s| &s.example).collect();
    let labels = features::slot_labels(&train_ex);
    let prep = |exs: Vec<&crate::data::Example>| -> Result<Vec<Prepared>, TrainError> {
        exs.par_iter().map(|e| features::prepare(e, tokenizer, info.lowercase, &labels)).collect()
    };
    let train_items = prep(train_ex)?;
    let oos = intent_setup(opts).oos_names;
    let names = if opts.intent_names { intent::intent_name_items(intents, tokenizer, info.lowercase, &labels, &oos)? } else { Vec::new() };
    let embed_items: Vec<Prepared> = train_items.iter().cloned().chain(names.iter().map(|n| n.1.clone())).collect();
    let dev_items = dev.map(|d| prep(d.examples.iter().map(|s| &s.example).collect())).transpose()?.unwrap_or_default();
    Ok(Sets { labels, train_items, names, embed_items, dev_items })
}

/// Embeds the training and dev examples, with a progress bar (or the watcher's counts).
fn embed_sets(
    opts: &TrainOptions,
    encoder: &mut Encoder,
    train: &[Prepared],
    dev: &[Prepared],
    keep: Option<&str>,
) -> Result<(Features, Option<Features>), TrainError> {
    let total = train.len() + dev.len();
    let bar = features::progress_bar(total, "embedding", opts.progress);
    let watch = opts.watch.as_deref();
    stage(watch, "embedding");
    watch.inspect(|w| w.to_embed.store(total as u64, std::sync::atomic::Ordering::Relaxed));
    let train_f = features::embed(encoder, train, opts.batch_size, &bar, watch, opts.slot_window, keep)?;
    let dev_f = (!dev.is_empty()).then(|| features::embed(encoder, dev, opts.batch_size, &bar, watch, false, keep)).transpose()?;
    stage(watch, "fitting");
    bar.finish_and_clear();
    Ok((train_f, dev_f))
}

/// Why the run must stop, if it must; else notes the next stage for the watcher.
fn next_stage(watch: Option<&TrainWatch>, name: &'static str) -> Result<(), TrainError> {
    if let Some(stop) = watch.and_then(TrainWatch::stopped) {
        return Err(stop);
    }
    stage(watch, name);
    Ok(())
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

/// The layers to adapt (with `--adapt`) and the encoder session the examples run on: the graph
/// below the layers when they run on one, else the whole encoder.
#[allow(clippy::type_complexity)]
fn open_for_training(opts: &TrainOptions) -> Result<(Option<(Stack, AdaptSettings)>, (EncoderInfo, Tokenizer, Encoder, usize)), TrainError> {
    let base = base_top_layer(opts)?;
    let lower = base.as_ref().and_then(|(b, _)| b.spec.graph.as_deref().map(|g| (g, b.spec.input.as_str())));
    let opened = open_encoder(opts, lower)?;
    if let Some((b, _)) = &base {
        check_base(opts, b, &opened.0)?;
    }
    Ok((base, opened))
}

/// The encoder session for training (all `opts.threads`; with `lower`, the graph below adapted
/// layers), its tokenizer truncated to the bundle's max length, and that length.
fn open_encoder(opts: &TrainOptions, lower: Option<(&str, &str)>) -> Result<(EncoderInfo, Tokenizer, Encoder, usize), TrainError> {
    let (info, mut tokenizer) = read_encoder_dir(&opts.encoder, None)?;
    let settings = SessionSettings { intra_threads: opts.threads.max(1), spinning: false, ..Default::default() };
    let encoder = Encoder::load_graph(&opts.encoder, lower, info.clone(), &tokenizer, &settings)?;
    let max_length = info.max_length.min(MAX_TOKENS).saturating_sub(encoder.prefix_len()).clamp(2, 4096);
    let trunc = tokenizers::TruncationParams { max_length, ..Default::default() };
    tokenizer.with_truncation(Some(trunc)).map_err(|e| TrainError::Tokenizer { text: String::new(), source: e.into() })?;
    Ok((info, tokenizer, encoder, max_length))
}

/// The manifest's `metrics`: held-out accuracy, the threshold and its rule, the out-of-scope
/// intents (`parlance eval` counts answers naming them as rejections).
fn bundle_metrics(heldout: &HeldOut, threshold: &ThresholdChoice, intents: &[String], oos: &[String]) -> serde_json::Value {
    let out_of_scope: Vec<&String> = intents.iter().filter(|n| crate::train::oos::is_out_of_scope(n, oos)).collect();
    serde_json::json!({
        "heldout": heldout, "fallback_threshold": threshold.chosen, "threshold_rule": threshold.rule,
        "out_of_scope_intents": out_of_scope,
    })
}

/// The intent of every row of the intent head: the examples', then the intent names'.
fn intent_labels(data: &data::Dataset, names: &[(usize, Prepared)], intents: &[String]) -> Vec<usize> {
    let index: HashMap<&str, usize> = intents.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    data.examples.iter().map(|s| index[s.example.intent.as_str()]).chain(names.iter().map(|n| n.0)).collect()
}

/// The encoder's top layer(s) to adapt and how, unless `--fast`: those it offers, or those
/// `--adapt` and its options ask for ([`adapt::AdaptAsk::resolve`]).
fn base_top_layer(opts: &TrainOptions) -> Result<Option<(Stack, AdaptSettings)>, TrainError> {
    let dir = &opts.encoder;
    let why = |m: String| TrainError::Adapt(format!("encoder {}: {m}", dir.display()));
    let Some(ask) = &opts.adapt else { return Ok(None) };
    let Some(settings) = ask.resolve(dir).map_err(why)? else { return Ok(None) };
    let file = stack::spec_file(settings.layers);
    let (mut stack, sha) = stack::encoder_stack(dir, settings.layers).map_err(why)?.ok_or_else(|| why(format!("{file} is gone")))?;
    // layers stored as a change name the weights they change
    stack.spec.base_sha256 = Some(sha);
    Ok(Some((stack, settings)))
}

/// The layers fit the encoder: its width, and the pooled outputs they replace (all of them for
/// layers on the graph below them).
fn check_base(opts: &TrainOptions, base: &Stack, info: &EncoderInfo) -> Result<(), TrainError> {
    let spec = &base.spec;
    let outputs = spec.outputs();
    let replaced = info.pool_outputs.iter().filter(|p| outputs.contains(p)).count();
    if spec.hidden != info.hidden_size || replaced == 0 || (spec.graph.is_some() && replaced != info.pool_outputs.len()) {
        return Err(TrainError::Adapt(format!(
            "encoder {}: its {} layers (giving {outputs:?}) do not match encoder.json (hidden {}, pooled outputs {:?})",
            opts.encoder.display(),
            spec.layers,
            info.hidden_size,
            info.pool_outputs
        )));
    }
    Ok(())
}

/// The intent head's settings from the options.
fn intent_setup(opts: &TrainOptions) -> IntentSetup {
    IntentSetup {
        c: opts.c,
        oos_names: opts.out_of_scope_intent.iter().cloned().collect(),
        rule: opts.fallback_threshold.map_or(calibrate::DEFAULT_RULE, ThresholdRule::Fixed),
        ..Default::default()
    }
}

/// The encoder reference, the bundle name and its description.
fn describe(
    opts: &TrainOptions,
    info: &EncoderInfo,
    examples: usize,
    intents: usize,
    slot_types: usize,
    adapted: Option<usize>,
) -> (EncoderRef, String, String) {
    let encoder_ref = EncoderRef {
        name: info.name.clone(),
        sha256: info.model_sha256.to_ascii_lowercase(),
        path: std::fs::canonicalize(&opts.encoder).unwrap_or_else(|_| opts.encoder.clone()).display().to_string(),
        hidden_size: info.hidden_size,
    };
    let name = opts.name.clone().unwrap_or_else(|| opts.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "bot".into()));
    // the names of the data, not where they were (a training request's are in a work folder)
    let files: Vec<String> = opts.data.iter().map(|p| p.file_name().unwrap_or(p.as_os_str()).to_string_lossy().into_owned()).collect();
    let on = match adapted {
        Some(layers) if layers > 1 => "its own top layers adapted, linear heads on them",
        Some(_) => "its own top layer adapted, linear heads on the encoder",
        None => "linear heads on the frozen encoder",
    };
    let description = format!(
        "Trained by `parlance train` on {examples} examples ({}): {intents} intents, {slot_types} slot types; {on} {}.",
        files.join(", "),
        info.name
    );
    (encoder_ref, name, description)
}
