//! The parse pipeline: text → words → language → tokens → batch queue → model → decoded result.
//!
//! Everything here is shared by the HTTP server, `parlance parse` and `parlance eval`, so that what
//! `eval` measures is what the server answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokenizers::Tokenizer;

pub mod encode;
pub mod input;
pub mod merge;
pub mod payload;
pub mod result;

use crate::batcher::{BatchSettings, Batcher, JobOutput};
use crate::decode::{self, IntentScore};
use crate::entities::{self, Entity};
use crate::lang::{self, DetectedLanguage};
use crate::model::{Bundle, BundleError, Manifest, Model, Problem, SessionSettings, MODEL_FILE};
use crate::text::{self, Word};

pub use encode::{encode, Encoded, TokenizerError};
use input::{dimensions, time_context};
pub use input::{Checked, Limits, ParseError, ParseInput};
pub use result::{Fallback, ModelRef, ParseResult, Timings, FALLBACK_INTENT, RANKING_SIZE};

/// Encoder slot of the latency lane's session (heads bundles share one encoder session per slot).
const LANE_SLOT: usize = usize::MAX;

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

/// A panic in preparing a text (a bug in a grammar or the tokenizer) fails that request only.
fn caught<T>(f: impl FnOnce() -> Result<T, ParseError>) -> Result<T, ParseError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(Err(ParseError::PreparationPanicked))
}

/// A text's words and tokens, before its language and rule entities ([`Parser::annotate`]).
struct Tokenized {
    checked: Checked,
    words: Vec<Word>,
    first_token: Vec<Option<usize>>,
    ids: Vec<i64>,
    spent: Duration,
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
    rasa: Option<Arc<crate::model::heads::rasa_rules::RasaRules>>,
    /// A trained bot's lexical features: their rows are added to the intent logits.
    lexical: Option<Arc<crate::model::heads::lexical::Lexical>>,
    batcher: Batcher,
    /// A trained bot's heads: its jobs carry them to the queue it shares with every bot on its
    /// encoder (one encoder batch for all, then each job's heads on its row).
    heads: Option<Arc<crate::model::heads::Heads>>,
    limits: Arc<Limits>,
    fallback: Fallback,
    /// Whether a lone text's language and rule entities are found while the graph runs: only when
    /// that run leaves a core free (docs/performance.md, "Where a c=1 request's time goes").
    annotate_during_graph: bool,
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
                problems: p.into_iter().map(|(file, message)| Problem { file, message }).collect(),
            })?;
            extra.pad_id = models[0].pad_id;
            models.push(extra);
        }
        // Run the largest batch the queue can form once per session, so ONNX Runtime's arena is
        // sized at start: steady-state memory is the idle memory, and the first full batch does
        // not pay for allocation.
        let n = batch.max_batch_size.max(1);
        let width = bundle.manifest.max_length.min((batch.max_batch_tokens / n).max(2));
        // The latency lane (crate::layout): a wider session for worker 0, run while the others idle.
        let mut wide = match session.lane() {
            Some(lane) => {
                let mut m = Model::load_bundle(path, &bundle.manifest, &lane, LANE_SLOT).map_err(|p| BundleError {
                    path: path.to_path_buf(),
                    problems: p.into_iter().map(|(file, message)| Problem { file, message }).collect(),
                })?;
                m.pad_id = models[0].pad_id;
                Some(m)
            }
            None => None,
        };
        for m in models.iter_mut().chain(wide.iter_mut()) {
            m.warm_up(n, width).map_err(|e| BundleError {
                path: path.to_path_buf(),
                problems: vec![Problem { file: MODEL_FILE.into(), message: format!("warm-up batch failed: {}", crate::errors::chain(&e)) }],
            })?;
        }
        lang::warm_up();
        entities::warm_up();
        let heads = models[0].heads();
        let lone_threads = session.lane().map_or(session.intra_threads, |lane| lane.intra_threads);
        let annotate_during_graph = lone_threads < crate::layout::usable_cores();
        let shared = models.iter().map(Model::encoder_only).collect::<Option<Vec<_>>>().filter(|_| batch.share_encoder_queue);
        let batcher = match shared {
            Some(encoders) => {
                // every bot on this encoder (same sessions) shares one queue
                let wide = wide.as_ref().and_then(Model::encoder_only);
                let key = encoders.iter().chain(wide.iter()).map(|(k, _)| format!("{k:x}")).collect::<Vec<_>>().join(",");
                let name = format!("encoder:{}", bundle.manifest.encoder.as_ref().map_or("?", |e| e.name.as_str()));
                let sessions = || (encoders.into_iter().map(|(_, m)| m).collect(), wide.map(|(_, m)| m));
                Batcher::shared(&key, &name, sessions, batch)
            }
            None => Batcher::spawn_with_lane(id, models, wide, batch),
        };
        Ok(Parser {
            id: id.into(),
            bio: bundle.decoder,
            manifest: bundle.manifest,
            tokenizer: bundle.tokenizer,
            rasa: bundle.rasa,
            lexical: bundle.lexical,
            batcher,
            heads,
            limits: Arc::new(limits),
            fallback: Fallback::default(),
            annotate_during_graph,
        })
    }

    /// The same parser with a fallback policy.
    /// A threshold of 0 takes the bundle's own `fallback_threshold` when it has one, and with it
    /// the bundle's off-topic gate (`fallback_similarity`), chosen together at training.
    pub fn with_fallback(mut self, mut fallback: Fallback) -> Parser {
        if fallback.threshold == 0.0 {
            fallback.threshold = self.manifest.fallback_threshold.unwrap_or(0.0);
            fallback.similarity = self.manifest.fallback_similarity;
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

    /// The text is not empty and within `--max-text-chars` (what every text passes, a Rasa button
    /// payload included, before any work on it).
    pub fn check_text(&self, text: &str) -> Result<(), ParseError> {
        if text.trim().is_empty() {
            return Err(ParseError::EmptyText);
        }
        let chars = text.chars().count();
        if chars > self.limits.max_text_chars {
            return Err(ParseError::TextTooLong { chars, max: self.limits.max_text_chars });
        }
        Ok(())
    }

    /// Checks what can be checked without tokenising (emptiness, length, language, dimensions, time
    /// reference), once: what the checks computed goes on with the input.
    pub fn check(&self, input: ParseInput) -> Result<Checked, ParseError> {
        self.check_text(&input.text)?;
        if let Some(l) = &input.lang {
            let ok = lang::normalize_tag(l).is_some_and(|c| self.manifest.languages.contains(&c));
            if !ok {
                return Err(ParseError::UnsupportedLanguage(l.clone(), self.manifest.languages.join(", ")));
            }
        }
        let dimensions = dimensions(&input)?;
        let context = time_context(&input, entities::Lang::En)?;
        Ok(Checked { input, dimensions, context })
    }

    /// Only called by `parse_checked`, after `check` has passed for every input.
    fn prepare(&self, checked: Checked) -> Result<Prepared, ParseError> {
        Ok(self.annotate(self.tokenize(checked)?))
    }

    /// What the model needs: the words and their token ids.
    fn tokenize(&self, checked: Checked) -> Result<Tokenized, ParseError> {
        let started = Instant::now();
        let Encoded { words, ids, first_token } =
            encode(&self.tokenizer, &checked.input.text, self.manifest.lowercase).map_err(ParseError::Tokenizer)?;
        Ok(Tokenized { checked, words, ids, first_token, spent: started.elapsed() })
    }

    /// What the model does not need, so that it can run while the graph does: the language and the
    /// built-in entities found by the rules.
    fn annotate(&self, t: Tokenized) -> Prepared {
        let started = Instant::now();
        let Tokenized { checked: Checked { mut input, dimensions, mut context }, words, ids, first_token, spent } = t;
        let language = input.language();
        context.lang = if language.code == "fr" { entities::Lang::Fr } else { entities::Lang::En };
        let rules = match dimensions {
            Some(d) if d.is_empty() => Vec::new(),
            d => entities::extract(&input.text, &context, d.as_deref()),
        };
        Prepared { text: input.text, words, first_token, ids, language, rules, context, tokenize: spent + started.elapsed() }
    }

    /// Parses texts; each may be batched with other requests' texts. Results come back in order.
    /// Every input is checked before any is queued, so a bad one fails the call without side effects.
    pub async fn parse_many(&self, inputs: Vec<ParseInput>) -> Result<Vec<ParseResult>, ParseError> {
        let checked = inputs.into_iter().map(|i| self.check(i)).collect::<Result<Vec<_>, _>>()?;
        self.parse_checked(checked).await
    }

    /// `parse_many` for inputs that have each passed `check` already (the registry checks a routed
    /// batch across all its models before queueing any).
    pub(crate) async fn parse_checked(&self, inputs: Vec<Checked>) -> Result<Vec<ParseResult>, ParseError> {
        if inputs.len() == 1 && self.batcher.queue_depth() == 0 {
            return self.parse_lone(inputs.into_iter().next().expect("one input")).await;
        }
        let prepared = self.prepare_on_rayon(inputs).await?;
        let mut pending = Vec::with_capacity(prepared.len());
        for p in &prepared {
            let rx = self.batcher.submit_with(p.ids.clone(), self.heads.clone()).map_err(|_| ParseError::Overloaded)?;
            pending.push(rx);
        }
        let mut results = Vec::with_capacity(prepared.len());
        for (p, rx) in prepared.into_iter().zip(pending) {
            let out = rx.await.map_err(|_| ParseError::WorkerStopped)?.map_err(ParseError::Inference)?;
            results.push(self.finish(p, out));
        }
        Ok(results)
    }

    /// A lone text on an idle queue, prepared here on the calling thread (~0.2 ms served), which
    /// saves the hop to rayon and back (two thread wake-ups) on the single-request path. Where the
    /// graph's run leaves a core free, only the tokens come before it: the language and the rules'
    /// entities are found while it runs. Where it takes every core (the latency lane on ≤ 8 cores),
    /// they come first, so that they do not slow the run down.
    async fn parse_lone(&self, checked: Checked) -> Result<Vec<ParseResult>, ParseError> {
        let tokenized = caught(|| self.tokenize(checked))?;
        let (rx, prepared) = if self.annotate_during_graph {
            let rx = self.batcher.submit_with(tokenized.ids.clone(), self.heads.clone()).map_err(|_| ParseError::Overloaded)?;
            (rx, caught(|| Ok(self.annotate(tokenized)))?)
        } else {
            let prepared = caught(|| Ok(self.annotate(tokenized)))?;
            (self.batcher.submit_with(prepared.ids.clone(), self.heads.clone()).map_err(|_| ParseError::Overloaded)?, prepared)
        };
        let out = rx.await.map_err(|_| ParseError::WorkerStopped)?.map_err(ParseError::Inference)?;
        Ok(vec![self.finish(prepared, out)])
    }

    /// Tokenises on rayon's pool, in parallel, off the async workers.
    async fn prepare_on_rayon(&self, inputs: Vec<Checked>) -> Result<Vec<Prepared>, ParseError> {
        let this = self.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        rayon::spawn(move || {
            use rayon::prelude::*;
            // A panic here (a bug in a grammar or the tokenizer) fails this request only: uncaught in
            // a rayon task it would abort the whole process.
            let prepared = caught(|| inputs.into_par_iter().map(|i| this.prepare(i)).collect::<Result<Vec<Prepared>, ParseError>>());
            let _ = tx.send(prepared);
        });
        // the task's sender goes without an answer only when the task itself failed
        rx.await.map_err(|_| ParseError::PreparationPanicked)?
    }

    pub async fn parse(&self, input: ParseInput) -> Result<ParseResult, ParseError> {
        let mut r = self.parse_many(vec![input]).await?;
        Ok(r.pop().expect("one input gives one result"))
    }

    /// [`parse`](Self::parse), but a Rasa button payload (`/intent{...}`, see [`payload`]) for an
    /// intent of this model (or a Rasa default intent) is answered as Rasa answers it, without the
    /// model. The text passes the length check first, and a payload with more than
    /// [`payload::MAX_ENTITY_VALUES`] entity values is refused.
    pub async fn parse_or_payload(&self, mut input: ParseInput) -> Result<ParseResult, ParseError> {
        self.check_text(&input.text)?;
        let known = |intent: &str| self.manifest.intents.iter().any(|i| i == intent);
        match payload::parse(&input.text, known) {
            Some(Ok(found)) => {
                let language = input.language();
                Ok(found.into_result(input.text, language, self.model_ref()))
            }
            Some(Err(values)) => Err(ParseError::PayloadTooLarge { values, max: payload::MAX_ENTITY_VALUES }),
            None => self.parse(input).await,
        }
    }

    /// This model, as a result names it.
    fn model_ref(&self) -> ModelRef {
        ModelRef { id: self.id.to_string(), name: self.manifest.name.clone(), version: self.manifest.version.clone() }
    }

    /// Logits → intent, ranking and entities.
    fn finish(&self, p: Prepared, mut out: JobOutput) -> ParseResult {
        let m = &self.manifest;
        let metrics = &crate::metrics::METRICS;
        metrics.tokenize_seconds.with_label_values(&[&self.id]).observe(p.tokenize.as_secs_f64());
        metrics.queue_seconds.with_label_values(&[&self.id]).observe(out.queued.as_secs_f64());
        if let Some(lex) = &self.lexical {
            out.intent_logits.iter_mut().zip(lex.logits(&p.text)).for_each(|(z, l)| *z += l);
        }
        let probs = decode::softmax(&out.intent_logits, m.intent_temperature);
        let mut intent_ranking = decode::rank_intents(&probs, &m.intents, RANKING_SIZE);
        let fallback_reason = self.fallback.reason(&intent_ranking, out.similarity);
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
                let (entity, role, group) = crate::entities::split_slot_type(&span.entity);
                Entity {
                    entity: entity.to_string(),
                    value: serde_json::Value::String(surface.clone()),
                    text: surface,
                    start,
                    end,
                    confidence: span.confidence,
                    source: "model",
                    role: role.map(str::to_string),
                    group: group.map(str::to_string),
                }
            })
            .collect();
        let mut entities = merge::merge(slots, p.rules, &p.context);
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
            model: self.model_ref(),
            timings: Timings { tokenize: p.tokenize, queue: out.queued, inference: out.inference, batch_size: out.batch_size },
        }
    }
}
