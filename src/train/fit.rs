//! The fitting stage of `parlance train`: the adapted layers (when the encoder offers them) and
//! the intent head with its lexical features, on the embedded examples.

use std::time::Instant;

use super::adapt::{self, AdaptSettings};
use super::features::{self, Features, Prepared};
use super::logreg::SparseRows;
use super::{data, intent, intent_labels, intent_setup, lexical, next_stage, rasa_extras, secs, stage};
use super::{Breakdown, TrainError, TrainOptions, TrainWatch, LEXICAL_SCALE, PATTERN_FEATURES};
use crate::model::heads::encoder::EncoderInfo;
use crate::model::heads::lexical::{Lexical, LexicalSettings, Vocabulary};
use crate::model::heads::stack::Stack;

/// What the adaptation and the intent head's fit give.
pub struct Fitted {
    pub top: Option<Stack>,
    pub adapt_epochs: Option<usize>,
    pub adapted_again: bool,
    pub fit: intent::IntentFit,
    pub lexical: Option<Lexical>,
}

/// The labelled data a run fits on: the examples, the dev set, the intent-name rows, the intents
/// and the Rasa project's extras.
pub struct Labelled<'a> {
    pub data: &'a data::Dataset,
    pub dev: Option<&'a data::Dataset>,
    pub names: &'a [(usize, Prepared)],
    pub intents: &'a [String],
    pub rasa: &'a rasa_extras::Gathered,
}

/// Adapts the layers (with `base`), fits the intent head and chooses its threshold; a bot of up to
/// [`ADAPT_AGAIN_UP_TO`] examples without `--dev` is then adapted again on every example and its
/// head fitted again on those vectors, the threshold kept.
pub fn adapt_and_fit(
    opts: &TrainOptions,
    l: &Labelled,
    (base, info): (Option<&(Stack, AdaptSettings)>, &EncoderInfo),
    (train_f, mut dev_f): (&mut Features, Option<&mut Features>),
    items: (&[Prepared], usize),
    took: &mut Breakdown,
) -> Result<Fitted, TrainError> {
    let Labelled { data, dev, names, intents, rasa } = *l;
    let t = Instant::now();
    let (y, split) = (intent_labels(data, names, intents), dev.is_none().then_some(data.examples.len()));
    let again = base.filter(|_| split.is_some_and(|n| n <= ADAPT_AGAIN_UP_TO));
    let adapted = base.map(|b| adapt_step(opts, b, info, (train_f, dev_f.as_deref_mut()), &y, split, intents.len(), items)).transpose()?;
    if again.is_none() {
        (train_f.kept, train_f.parts) = Default::default(); // no second pass: the states are not needed
    }
    let (top, adapt_epochs) = adapted.unzip();
    took.adapt = secs(t);
    let t = Instant::now();
    let lex = opts.lexical.then(|| lexical_rows(data, dev, names, intents, rasa)).transpose()?;
    let head = |train_f: &Features, dev: Option<(&data::Dataset, &Features)>, refit| {
        fit_intent_head(opts, &y, data.examples.len(), (train_f, dev), lex.as_ref(), intents, refit)
    };
    let fit = head(train_f, dev.zip(dev_f.as_deref()), None);
    took.intent_fit = secs(t);
    let Some(b) = again else {
        return Ok(Fitted { top, adapt_epochs, adapted_again: false, lexical: lexical_weights(lex, &fit), fit });
    };
    let t = Instant::now();
    let (layer, epochs) = adapt_step(opts, b, info, (train_f, None), &y, None, intents.len(), items)?;
    (train_f.kept, train_f.parts) = Default::default();
    took.adapt += secs(t);
    let t = Instant::now();
    let fit = head(train_f, None, Some(fit));
    took.intent_fit += secs(t);
    Ok(Fitted { top: Some(layer), adapt_epochs: Some(epochs), adapted_again: true, lexical: lexical_weights(lex, &fit), fit })
}

/// The bundle's lexical features: the vocabulary with the head's weights for it.
fn lexical_weights(lex: Option<LexicalRows>, fit: &intent::IntentFit) -> Option<Lexical> {
    lex.zip(fit.lexical.clone()).map(|(x, weight)| Lexical { vocab: x.0, weight })
}

/// Fine-tunes the top layer on the rows of `y` (all of them with `--dev`; with `split` = the
/// number of examples, only the rows the held-out split keeps, so that the threshold is chosen on
/// rows the layer has not seen), then replaces every example's sentence vector (training and dev)
/// with the one the adapted layer gives; the training rows' kept states are put back (for a second
/// pass; the caller drops them), the dev rows' dropped.
#[allow(clippy::too_many_arguments)]
fn adapt_step(
    opts: &TrainOptions,
    (base, settings): &(Stack, AdaptSettings),
    info: &EncoderInfo,
    (train_f, dev_f): (&mut Features, Option<&mut Features>),
    y: &[usize],
    split: Option<usize>,
    k: usize,
    (items, prefix): (&[Prepared], usize),
) -> Result<(Stack, usize), TrainError> {
    let watch = opts.watch.as_deref();
    next_stage(watch, "adapting")?;
    let held = split.map(|examples| intent::held_out_rows(y, examples, k));
    let rows: Vec<usize> = (0..y.len()).filter(|&i| !held.as_ref().is_some_and(|h| h[i])).collect();
    let outputs = base.spec.outputs();
    let from: Vec<Option<usize>> = info.pool_outputs.iter().map(|p| outputs.iter().position(|o| o == p)).collect();
    let input = |f: &mut Features| adapt::AdaptInput {
        kept: std::mem::take(&mut f.kept),
        parts: std::mem::take(&mut f.parts),
        from: from.clone(),
        normalize: info.normalize,
        cls: info.pooling == "cls",
    };
    let train_in = input(train_f);
    let stop = || watch.and_then(TrainWatch::stopped);
    let layer = adapt::fine_tune(base, &train_in, &rows, y, k, settings, &stop)?;
    train_f.pooled = adapt::pooled_all(&layer, &train_in)?;
    if base.spec.graph.is_some() {
        // no encoder token states on the graph below: the slot head reads the top layer's
        let top = adapt::top_states(&layer, &train_in.kept)?;
        train_f.tokens = features::token_rows(items, &top, prefix, opts.slot_window);
    }
    if let Some(d) = dev_f {
        let dev_in = input(d);
        d.pooled = adapt::pooled_all(&layer, &dev_in)?;
    }
    (train_f.kept, train_f.parts) = (train_in.kept, train_in.parts);
    stage(watch, "fitting");
    Ok((layer, settings.epochs_for(rows.len())))
}

/// Bots of up to this many examples trained without `--dev` have their layers adapted twice: on
/// the four fifths the held-out split keeps (the threshold is chosen on the fifth they did not
/// see), then on every example, and the head is fitted again on the second layers' vectors.
/// MASSIVE at 10 per intent (444 examples, 12 draws): served +0.3 points (9 draws of 12 up); the
/// Rasa projects 91.7 → 92.1 %; the adaptation takes 2.2 × as long, so it stops where a run would
/// pass ~2 minutes on 2 cores (1,000 examples: 74 → 166 s). docs/training-choices.md, "Adapted
/// again on every example".
pub const ADAPT_AGAIN_UP_TO: usize = 600;

/// The intent head (with its lexical features `lex` when on) on the rows of `y` (the examples' labels,
/// then the names'), chosen on the dev rows when there are; with `refit`, fitted again on new
/// vectors, keeping what `refit`'s held-out rows chose.
fn fit_intent_head(
    opts: &TrainOptions,
    y: &[usize],
    examples: usize,
    (train_f, dev): (&Features, Option<(&data::Dataset, &Features)>),
    lex: Option<&LexicalRows>,
    intents: &[String],
    refit: Option<intent::IntentFit>,
) -> intent::IntentFit {
    let setup = intent_setup(opts);
    let rows = intent::Rows { dense: &train_f.pooled, sparse: lex.map(|x| &x.1) };
    if let Some(fit) = refit {
        return intent::refit_on_all(fit, rows, y, examples, intents, &setup);
    }
    let dev_set = dev.map(|(d, f)| {
        let (label, oos) = intent::dev_labels(d.examples.iter().map(|s| s.example.intent.as_str()), intents, &setup.oos_names);
        (intent::Rows { dense: &f.pooled, sparse: lex.and_then(|x| x.2.as_ref()) }, label, oos)
    });
    intent::fit_intent(rows, y, examples, dev_set, intents, &setup)
}

/// The lexical vocabulary, the training rows' features and the dev rows'.
type LexicalRows = (Vocabulary, SparseRows, Option<SparseRows>);

/// Lexical features: the vocabulary (fitted on the examples, the intent names and the Rasa
/// synonyms) with a pattern column per Rasa lookup table and regex ([`PATTERN_FEATURES`]), the
/// training rows (examples then names, as the intent head's rows) and the dev rows.
fn lexical_rows(
    data: &data::Dataset,
    dev: Option<&data::Dataset>,
    names: &[(usize, Prepared)],
    intents: &[String],
    rasa: &rasa_extras::Gathered,
) -> Result<LexicalRows, TrainError> {
    let name_texts: Vec<String> = names.iter().filter_map(|n| intent::intent_name_text(&intents[n.0])).collect();
    let texts: Vec<&str> = data.examples.iter().map(|s| s.example.text.as_str()).chain(name_texts.iter().map(String::as_str)).collect();
    let synonyms: Vec<&str> = rasa.data.synonyms.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]).collect();
    let settings = LexicalSettings { scale: LEXICAL_SCALE, ..Default::default() };
    let patterns = if PATTERN_FEATURES { rasa.pattern_features.clone() } else { Vec::new() };
    let vocab = lexical::fit_vocabulary(&texts, &synonyms, &settings).with_patterns(patterns).map_err(|e| TrainError::Invalid(vec![e]))?;
    let train = lexical::featurize(&vocab, &texts);
    let dev = dev.map(|d| lexical::featurize(&vocab, &d.examples.iter().map(|s| s.example.text.as_str()).collect::<Vec<_>>()));
    Ok((vocab, train, dev))
}
