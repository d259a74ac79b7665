//! The parse pipeline: text → words → language → tokens → batch queue → model → decoded result.
//!
//! Everything here is shared by the HTTP server, `parlance parse` and `parlance eval`, so that what
//! `eval` measures is what the server answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokenizers::Tokenizer;

use crate::batcher::{BatchSettings, Batcher, JobOutput};
use crate::entities;
use crate::bundle::{Bundle, BundleError, Manifest};
use crate::decode::{self, IntentScore};
use crate::lang::{self, DetectedLanguage};
use crate::model::{Model, SessionSettings};
use crate::text::{self, Word};

/// How many intents a ranking lists.
pub const RANKING_SIZE: usize = 10;

/// Input limits (documented in the README; enforced before any work is done).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Limits {
    /// Longest text accepted, in chars.
    pub max_text_chars: usize,
    /// Most texts in one batch request.
    pub max_batch_texts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_text_chars: 2000, max_batch_texts: 64 }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("text is empty")]
    EmptyText,
    #[error("text is {chars} characters long; the limit is {max}")]
    TextTooLong { chars: usize, max: usize },
    #[error("language {0:?} is not one this model serves ({1})")]
    UnsupportedLanguage(String, String),
    #[error("the parse queue is full; retry shortly")]
    Overloaded,
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("{0}")]
    InvalidTimeReference(String),
    #[error("unknown dimension {0:?}; known: number, ordinal, amount_of_money, percentage, duration, temperature, time, email, url, phone_number")]
    UnknownDimension(String),
}

/// One entity in a result. `source` is "model" for slots the model tagged, "rule" for built-ins,
/// "payload" for the entities of a Rasa button payload.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Entity {
    pub entity: String,
    /// The resolved value: the text itself for a model slot without a resolver, else typed JSON.
    pub value: serde_json::Value,
    pub text: String,
    /// First char (Unicode scalar value) of the entity in the request text.
    pub start: usize,
    /// One past its last char.
    pub end: usize,
    pub confidence: f32,
    /// "model", "rule" or "payload".
    #[schema(value_type = String)]
    pub source: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ModelRef {
    /// The name the model is served under (`/v1/models/{id}`); "default" for a lone model.
    pub id: String,
    /// The bundle's own name and version.
    pub name: String,
    pub version: String,
}

/// The intent a low-confidence or ambiguous parse gets, as Rasa's FallbackClassifier names it.
pub const FALLBACK_INTENT: &str = "nlu_fallback";

/// When a parse becomes `nlu_fallback`. Both are off (0) by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    /// Below this top-1 confidence the intent is `nlu_fallback`; its confidence is this threshold
    /// (as in Rasa).
    #[serde(default)]
    pub threshold: f32,
    /// Below this gap between the top-1 and top-2 confidences, likewise.
    #[serde(default)]
    pub ambiguity_margin: f32,
}

impl Fallback {
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [("fallback threshold", self.threshold), ("ambiguity margin", self.ambiguity_margin)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} {v} is outside 0..=1"));
            }
        }
        Ok(())
    }

    /// Why a ranking falls back, if it does.
    pub fn reason(&self, ranking: &[IntentScore]) -> Option<&'static str> {
        let top = ranking.first()?.confidence;
        let second = ranking.get(1).map_or(0.0, |s| s.confidence);
        if top < self.threshold {
            Some("low_confidence")
        } else if top - second < self.ambiguity_margin {
            Some("ambiguous")
        } else {
            None
        }
    }
}

/// Where the time of one parse went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    pub tokenize: Duration,
    pub queue: Duration,
    pub inference: Duration,
    pub batch_size: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ParseResult {
    pub text: String,
    pub language: DetectedLanguage,
    pub intent: IntentScore,
    /// Highest first. After a fallback, `nlu_fallback` comes first and the model's own ranking follows.
    pub intent_ranking: Vec<IntentScore>,
    /// Set when the intent is `nlu_fallback`: "low_confidence" or "ambiguous".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub fallback_reason: Option<&'static str>,
    pub entities: Vec<Entity>,
    pub model: ModelRef,
    #[serde(skip)]
    pub timings: Timings,
}

/// A text made ready for the model.
struct Prepared {
    text: String,
    words: Vec<Word>,
    /// Token index of each word's first sub-token; `None` when truncation cut the word.
    first_token: Vec<Option<usize>>,
    ids: Vec<i64>,
    language: DetectedLanguage,
    /// Built-in entities found by the rules, and the time context that resolves slots.
    rules: Vec<entities::RuleEntity>,
    context: entities::Context,
    tokenize: Duration,
}

/// A text as the model reads it: its words, the token ids (pre-tokenised on the normalised
/// words, with the tokenizer's special tokens), and each word's first token.
pub struct Encoded {
    pub words: Vec<Word>,
    pub ids: Vec<i64>,
    /// Token index of each word's first sub-token; `None` when truncation cut the word.
    pub first_token: Vec<Option<usize>>,
}

/// Text → ids, the one way: the service's parses and `parlance train`'s examples go through it.
pub fn encode(tokenizer: &Tokenizer, text: &str, lowercase: bool) -> Result<Encoded, tokenizers::Error> {
    let words = text::words(text, lowercase);
    let norms: Vec<&str> = words.iter().map(|w| w.norm.as_str()).collect();
    let enc = tokenizer.encode(&norms[..], true)?;
    let mut first_token = vec![None; words.len()];
    for (t, w) in enc.get_word_ids().iter().enumerate() {
        if let Some(w) = w {
            let slot = &mut first_token[*w as usize];
            if slot.is_none() {
                *slot = Some(t);
            }
        }
    }
    let ids = enc.get_ids().iter().map(|&i| i as i64).collect();
    Ok(Encoded { words, ids, first_token })
}

/// One request's text and options.
#[derive(Debug, Clone, Default)]
pub struct ParseInput {
    pub text: String,
    /// "fr"/"en" (or a tag such as "fr-FR"); detected when absent.
    pub lang: Option<String>,
    /// What relative dates resolve against: "2026-03-10T09:00:00" (local to `timezone`) or RFC 3339;
    /// default now.
    pub reference_time: Option<String>,
    /// IANA time zone, default UTC.
    pub timezone: Option<String>,
    /// Built-in dimensions wanted (names as `entities::Dimension::name`); `None` = all, empty = none.
    pub dimensions: Option<Vec<String>>,
    /// The language as already detected upstream (by language routing), so it is not done twice.
    pub detected: Option<DetectedLanguage>,
}

impl ParseInput {
    pub fn new(text: impl Into<String>) -> ParseInput {
        ParseInput { text: text.into(), ..Default::default() }
    }
}

/// The shared, read-only half of the pipeline plus a handle on the batch queue.
#[derive(Clone)]
pub struct Parser {
    /// The name this model is served under; labels its metrics.
    id: Arc<str>,
    manifest: Arc<Manifest>,
    /// Slot decoding (valid BIO, the bundle's tag-bigram prior), built once at load.
    bio: Arc<decode::BioDecoder>,
    tokenizer: Arc<Tokenizer>,
    /// The bundle's Rasa synonyms, lookups and regexes, if it has any.
    rasa: Option<Arc<crate::heads::rasa_rules::RasaRules>>,
    batcher: Batcher,
    limits: Arc<Limits>,
    fallback: Fallback,
}

impl Parser {
    /// Loads a bundle as "default" and starts `workers` inference workers on it.
    pub fn load(
        path: impl AsRef<std::path::Path>,
        session: &SessionSettings,
        batch: BatchSettings,
        workers: usize,
        limits: Limits,
    ) -> Result<Parser, BundleError> {
        Parser::load_as("default", path, session, batch, workers, limits)
    }

    /// Loads a bundle to be served under `id`, checks it, warms every session up with the largest
    /// batch, and starts `workers` inference workers on it.
    pub fn load_as(
        id: &str,
        path: impl AsRef<std::path::Path>,
        session: &SessionSettings,
        batch: BatchSettings,
        workers: usize,
        limits: Limits,
    ) -> Result<Parser, BundleError> {
        let path = path.as_ref();
        let bundle = Bundle::load(path, session)?;
        let mut models = vec![bundle.model];
        for slot in 1..workers.max(1) {
            let mut extra = Model::load_bundle(path, &bundle.manifest, session, slot).map_err(|p| BundleError {
                path: path.to_path_buf(),
                problems: p.into_iter().map(|(file, message)| crate::bundle::Problem { file, message }).collect(),
            })?;
            extra.pad_id = models[0].pad_id;
            models.push(extra);
        }
        // Run the largest batch the queue can form once per session, so ONNX Runtime's arena is
        // sized at start: steady-state memory is the idle memory, and the first full batch does
        // not pay for allocation.
        let n = batch.max_batch_size.max(1);
        let width = bundle.manifest.max_length.min((batch.max_batch_tokens / n).max(2));
        for m in &mut models {
            let filler = vec![vec![m.pad_id; width]; n];
            m.run(&filler).map_err(|e| BundleError {
                path: path.to_path_buf(),
                problems: vec![crate::bundle::Problem { file: crate::bundle::MODEL_FILE.into(), message: format!("warm-up batch failed: {e}") }],
            })?;
        }
        lang::warm_up();
        entities::warm_up();
        let batcher = Batcher::spawn(id, models, batch);
        Ok(Parser {
            id: id.into(),
            bio: bundle.decoder,
            manifest: bundle.manifest,
            tokenizer: bundle.tokenizer,
            rasa: bundle.rasa,
            batcher,
            limits: Arc::new(limits),
            fallback: Fallback::default(),
        })
    }

    /// The same parser with a fallback policy.
    /// A threshold of 0 takes the bundle's own `fallback_threshold` when it has one.
    pub fn with_fallback(mut self, mut fallback: Fallback) -> Parser {
        if fallback.threshold == 0.0 {
            fallback.threshold = self.manifest.fallback_threshold.unwrap_or(0.0);
        }
        self.fallback = fallback;
        self
    }

    pub fn fallback(&self) -> &Fallback {
        &self.fallback
    }

    /// The name this model is served under.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn batcher(&self) -> &Batcher {
        &self.batcher
    }

    /// Checks what can be checked without tokenising: emptiness, length, language.
    pub fn check(&self, input: &ParseInput) -> Result<(), ParseError> {
        if input.text.trim().is_empty() {
            return Err(ParseError::EmptyText);
        }
        let chars = input.text.chars().count();
        if chars > self.limits.max_text_chars {
            return Err(ParseError::TextTooLong { chars, max: self.limits.max_text_chars });
        }
        if let Some(l) = &input.lang {
            let ok = lang::normalize_tag(l).is_some_and(|c| self.manifest.languages.contains(&c));
            if !ok {
                return Err(ParseError::UnsupportedLanguage(l.clone(), self.manifest.languages.join(", ")));
            }
        }
        dimensions(input)?;
        time_context(input, entities::Lang::En)?;
        Ok(())
    }

    /// Only called by `parse_checked`, after `check` has passed for every input.
    fn prepare(&self, mut input: ParseInput) -> Result<Prepared, ParseError> {
        let started = Instant::now();
        let language = match (input.lang.as_deref().and_then(lang::normalize_tag), input.detected.take()) {
            (Some(code), _) => DetectedLanguage { code, confidence: 1.0, source: "request" },
            (None, Some(detected)) => detected,
            (None, None) => lang::detect(&input.text),
        };
        let Encoded { words, ids, first_token } = encode(&self.tokenizer, &input.text, self.manifest.lowercase)
            .map_err(|e| ParseError::Inference(format!("tokenizer: {e}")))?;
        let rule_lang = if language.code == "fr" { entities::Lang::Fr } else { entities::Lang::En };
        let context = time_context(&input, rule_lang)?;
        let rules = match dimensions(&input)? {
            Some(d) if d.is_empty() => Vec::new(),
            d => entities::extract(&input.text, &context, d.as_deref()),
        };
        Ok(Prepared { text: input.text, words, first_token, ids, language, rules, context, tokenize: started.elapsed() })
    }

    /// Parses texts; each may be batched with other requests' texts. Results come back in order.
    /// Every input is checked before any is queued, so a bad one fails the call without side effects.
    pub async fn parse_many(&self, inputs: Vec<ParseInput>) -> Result<Vec<ParseResult>, ParseError> {
        for input in &inputs {
            self.check(input)?;
        }
        self.parse_checked(inputs).await
    }

    /// `parse_many` for inputs that have each passed `check` already (the registry checks a routed
    /// batch across all its models before queueing any).
    pub(crate) async fn parse_checked(&self, inputs: Vec<ParseInput>) -> Result<Vec<ParseResult>, ParseError> {
        // Tokenise on rayon's pool, in parallel, off the async workers.
        let this = self.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        rayon::spawn(move || {
            use rayon::prelude::*;
            // A panic here (a bug in a grammar or the tokenizer) fails this request only: uncaught in
            // a rayon task it would abort the whole process.
            let prepared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                inputs.into_par_iter().map(|i| this.prepare(i)).collect::<Result<Vec<Prepared>, ParseError>>()
            }))
            .unwrap_or_else(|_| Err(ParseError::Inference("text preparation panicked".into())));
            let _ = tx.send(prepared);
        });
        let prepared = rx.await.map_err(|_| ParseError::Inference("tokenizer task lost".into()))??;

        let mut pending = Vec::with_capacity(prepared.len());
        for p in &prepared {
            let rx = self.batcher.submit(p.ids.clone()).map_err(|_| ParseError::Overloaded)?;
            pending.push(rx);
        }
        let mut results = Vec::with_capacity(prepared.len());
        for (p, rx) in prepared.into_iter().zip(pending) {
            let out = rx
                .await
                .map_err(|_| ParseError::Inference("inference worker stopped".into()))?
                .map_err(ParseError::Inference)?;
            results.push(self.finish(p, out));
        }
        Ok(results)
    }

    pub async fn parse(&self, input: ParseInput) -> Result<ParseResult, ParseError> {
        let mut r = self.parse_many(vec![input]).await?;
        Ok(r.pop().expect("one input gives one result"))
    }

    /// Logits → intent, ranking and entities.
    fn finish(&self, p: Prepared, out: JobOutput) -> ParseResult {
        let m = &self.manifest;
        let metrics = &crate::metrics::METRICS;
        metrics.tokenize_seconds.with_label_values(&[&self.id]).observe(p.tokenize.as_secs_f64());
        metrics.queue_seconds.with_label_values(&[&self.id]).observe(out.queued.as_secs_f64());
        let probs = decode::softmax(&out.intent_logits, m.intent_temperature);
        let mut intent_ranking = decode::rank_intents(&probs, &m.intents, RANKING_SIZE);
        let fallback_reason = self.fallback.reason(&intent_ranking);
        if let Some(reason) = fallback_reason {
            metrics.fallbacks.with_label_values(&[&self.id, reason]).inc();
            let score = IntentScore { name: FALLBACK_INTENT.into(), confidence: self.fallback.threshold };
            intent_ranking.insert(0, score);
        }
        // label log-probabilities of each word's first token (None: the word was cut by truncation)
        let word_log_probs: Vec<Option<Vec<f32>>> = p
            .first_token
            .iter()
            .map(|t| {
                let row = out.slot_logits.row((*t)?);
                // an intent-only bundle has no slot labels: no tags
                let row = row.as_slice().filter(|r| !r.is_empty())?;
                Some(decode::log_softmax(row))
            })
            .collect();
        let present: Vec<&Vec<f32>> = word_log_probs.iter().flatten().collect();
        let mut path = self.bio.best_path(&present).into_iter();
        let tags: Vec<Option<(usize, f32)>> = word_log_probs
            .iter()
            .map(|lp| {
                let lp = lp.as_ref()?;
                let label = path.next()?;
                Some((label, lp[label].exp()))
            })
            .collect();
        let slots = decode::decode_bio(&tags, &m.slot_labels)
            .into_iter()
            .map(|span| {
                let (start, end) = decode::word_span(&p.words, span.first_word, span.last_word);
                let surface = text::char_slice(&p.text, start, end).to_string();
                Entity {
                    entity: span.entity,
                    value: serde_json::Value::String(surface.clone()),
                    text: surface,
                    start,
                    end,
                    confidence: span.confidence,
                    source: "model",
                }
            })
            .collect();
        let mut entities = crate::merge::merge(slots, p.rules, &p.context);
        if let Some(rules) = &self.rasa {
            rules.apply(&p.text, &mut entities);
        }
        ParseResult {
            text: p.text,
            language: p.language,
            intent: intent_ranking[0].clone(),
            intent_ranking,
            fallback_reason,
            entities,
            model: ModelRef { id: self.id.to_string(), name: m.name.clone(), version: m.version.clone() },
            timings: Timings {
                tokenize: p.tokenize,
                queue: out.queued,
                inference: out.inference,
                batch_size: out.batch_size,
            },
        }
    }
}

/// The wanted built-in dimensions of a request, checked.
fn dimensions(input: &ParseInput) -> Result<Option<Vec<entities::Dimension>>, ParseError> {
    input
        .dimensions
        .as_ref()
        .map(|names| {
            names
                .iter()
                .map(|n| entities::Dimension::parse(n).ok_or_else(|| ParseError::UnknownDimension(n.clone())))
                .collect()
        })
        .transpose()
}

/// The reference time and zone of a request, checked.
fn time_context(input: &ParseInput, lang: entities::Lang) -> Result<entities::Context, ParseError> {
    for (name, v) in [("reference_time", &input.reference_time), ("timezone", &input.timezone)] {
        if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(ParseError::InvalidTimeReference(format!("{name} is empty; leave it out for the default")));
        }
    }
    entities::Context::from_request(input.reference_time.as_deref(), input.timezone.as_deref(), lang)
        .map_err(ParseError::InvalidTimeReference)
}
