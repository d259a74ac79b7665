//! Examples → words → tokens, exactly as the serving pipeline cuts them, then one encoder pass over
//! every example (batched by length, a progress bar with ETA): the pooled vector of each example
//! and the vector of each word's first sub-token.

use std::collections::HashMap;

use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{s, Array2, ArrayView2};
use tokenizers::Tokenizer;

use crate::data::Example;
use crate::model::heads::encoder::Encoder;
use crate::train::TrainError;

/// One example made ready for the encoder.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub ids: Vec<i64>,
    /// Token index of each word's first sub-token (None: cut by truncation).
    pub first_token: Vec<Option<usize>>,
    /// BIO label index of each word.
    pub word_labels: Vec<usize>,
}

/// BIO labels ("O", then B-/I- of each type, types sorted) of a set of examples.
pub fn slot_labels(examples: &[&Example]) -> Vec<String> {
    let mut types: Vec<&str> = examples.iter().flat_map(|e| e.spans.iter().map(|s| s.0.as_str())).collect();
    types.sort_unstable();
    types.dedup();
    let mut labels = vec!["O".to_string()];
    for t in types {
        labels.push(format!("B-{t}"));
        labels.push(format!("I-{t}"));
    }
    labels
}

/// The label of each word: B- on the first word a span overlaps, I- on the next ones; spans of types
/// not in `index` are left out (O).
fn word_labels(ex: &Example, words: &[crate::text::Word], index: &HashMap<&str, usize>) -> Vec<usize> {
    let mut out = vec![0; words.len()];
    for (typ, start, end) in &ex.spans {
        let mut first = true;
        for (i, w) in words.iter().enumerate() {
            if w.start < *end && w.end > *start {
                let label = format!("{}-{typ}", if first { "B" } else { "I" });
                if let Some(&l) = index.get(label.as_str()) {
                    out[i] = l;
                }
                first = false;
            }
        }
    }
    out
}

/// Tokenises an example as `Parser::prepare` does (words, normalised, pre-tokenised encoding).
pub fn prepare(ex: &Example, tokenizer: &Tokenizer, lowercase: bool, labels: &[String]) -> Result<Prepared, TrainError> {
    let index: HashMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
    let crate::pipeline::Encoded { words, ids, first_token } =
        crate::pipeline::encode(tokenizer, &ex.text, lowercase).map_err(|source| TrainError::Tokenizer { text: ex.text.clone(), source })?;
    Ok(Prepared { ids, first_token, word_labels: word_labels(ex, &words, &index) })
}

/// What the encoder gave for a set of examples.
pub struct Features {
    /// [examples, hidden]
    pub pooled: Array2<f32>,
    /// [words, hidden]: the first sub-token of every word not cut by truncation, example by example.
    pub tokens: Array2<f32>,
    pub token_labels: Vec<usize>,
    /// The example each token row belongs to.
    pub token_example: Vec<usize>,
    /// The pooled vector's parts before normalisation (one per pool output, each [examples, hidden]).
    pub parts: Vec<Array2<f32>>,
    /// Each example's states of the output `embed` was asked to keep, prefix included ([tokens,
    /// hidden]); empty when none was.
    pub kept: Vec<Array2<f32>>,
}

/// A progress bar on stderr (hidden when `show` is false).
pub fn progress_bar(len: usize, what: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    let template = format!("{what:>10} {{bar:40}} {{pos}}/{{len}}  {{per_sec}}  eta {{eta}}");
    bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
    bar
}

/// Runs every example through the encoder, `batch` at a time, shortest first; keeps each
/// example's states of output `keep` when asked (what `--adapt` trains the top layer on).
pub fn embed(
    encoder: &mut Encoder,
    items: &[Prepared],
    batch: usize,
    bar: &ProgressBar,
    watch: Option<&crate::train::TrainWatch>,
    window: bool,
    keep: Option<&str>,
) -> Result<Features, TrainError> {
    let hidden = encoder.info.hidden_size;
    let width = if window { 3 * hidden } else { hidden };
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].ids.len());
    let mut pooled = Array2::<f32>::zeros((items.len(), encoder.info.pooled_size()));
    let mut rows: Vec<Vec<f32>> = vec![Vec::new(); items.len()];
    let mut parts = vec![Array2::<f32>::zeros((items.len(), hidden)); encoder.info.pool_outputs.len()];
    let mut kept = vec![Array2::<f32>::zeros((0, hidden)); if keep.is_some() { items.len() } else { 0 }];
    for chunk in order.chunks(batch.max(1)) {
        let ids: Vec<Vec<i64>> = chunk.iter().map(|&i| items[i].ids.clone()).collect();
        let out = encoder.run_keeping(&ids, keep)?;
        for (r, &i) in chunk.iter().enumerate() {
            pooled.row_mut(i).assign(&out.pooled.row(r));
            for (all, part) in parts.iter_mut().zip(&out.parts) {
                all.row_mut(i).assign(&part.row(r));
            }
            if let Some(k) = keep.and_then(|name| out.kept_row(name, r, items[i].ids.len())) {
                kept[i] = k.to_owned();
            }
            if encoder.only.is_none() {
                item_rows(&items[i], out.hidden.slice(s![r, .., ..]), window, &mut rows[i]);
            }
        }
        bar.inc(chunk.len() as u64);
        if let Some(w) = watch {
            w.embedded.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            if let Some(stop) = w.stopped() {
                return Err(stop);
            }
        }
    }
    bar.finish_and_clear();
    let mut token_labels = Vec::new();
    let mut token_example = Vec::new();
    for (i, p) in items.iter().enumerate() {
        for (w, t) in p.first_token.iter().enumerate() {
            if t.is_some() {
                token_labels.push(p.word_labels[w]);
                token_example.push(i);
            }
        }
    }
    // on the graph below adapted layers there are no token states yet: `token_rows` makes them
    // from the layers' once trained
    let tokens = if encoder.only.is_some() { Array2::zeros((0, width)) } else { flatten(rows, width)? };
    Ok(Features { pooled, tokens, token_labels, token_example, parts, kept })
}

/// One allocation of the final size (a collect that grows by doubling held up to twice the rows).
fn flatten(rows: Vec<Vec<f32>>, width: usize) -> Result<Array2<f32>, TrainError> {
    let mut flat: Vec<f32> = Vec::with_capacity(rows.iter().map(Vec::len).sum());
    for r in rows {
        flat.extend_from_slice(&r);
    }
    let n = flat.len() / width.max(1);
    Ok(Array2::from_shape_vec((n, width), flat)?)
}

/// The slot head's rows of one item from its token states ([tokens, hidden], token t of its ids
/// at row t): the first sub-token of each word, or its window.
fn item_rows(item: &Prepared, hidden: ArrayView2<f32>, window: bool, out: &mut Vec<f32>) {
    let width = if window { 3 * hidden.ncols() } else { hidden.ncols() };
    out.reserve_exact(item.first_token.iter().flatten().count() * width);
    for t in item.first_token.iter().flatten() {
        if window {
            window_row(hidden, *t, item.ids.len(), out);
        } else {
            out.extend(hidden.row(*t).iter());
        }
    }
}

/// The slot head's rows of every item (as `embed` makes them) from each item's states out of an
/// adapted top layer ([prefix + tokens, hidden], the query prefix's `prefix` tokens after the first).
pub fn token_rows(items: &[Prepared], states: &[Array2<f32>], prefix: usize, window: bool) -> Array2<f32> {
    let hidden = states.first().map_or(0, |s| s.ncols());
    let rows: Vec<Vec<f32>> = items
        .iter()
        .zip(states)
        .map(|(item, s)| {
            let own = crate::model::heads::encoder::without_prefix(s.view(), prefix);
            let mut r = Vec::new();
            item_rows(item, own.view(), window, &mut r);
            r
        })
        .collect();
    flatten(rows, if window { 3 * hidden } else { hidden }).expect("rows of one width")
}

/// The window row of token `t` (the item has `len` tokens, `hidden` holds its token states):
/// [h(t − 1), h(t), h(t + 1)], zeros past either end, as `model::heads::slot_logits` reads it at
/// parse time.
pub fn window_row(hidden: ArrayView2<f32>, t: usize, len: usize, out: &mut Vec<f32>) {
    let d = hidden.ncols();
    for n in [t.checked_sub(1), Some(t), Some(t + 1).filter(|&n| n < len)] {
        match n {
            Some(n) => out.extend(hidden.row(n).iter()),
            None => out.extend(std::iter::repeat_n(0.0, d)),
        }
    }
}

/// Tag-bigram counts of the training words, for the decoder's transition prior.
pub fn transition_counts(items: &[Prepared], labels: &[String]) -> crate::decode::TransitionCounts {
    let mut counts = crate::decode::TransitionCounts::new();
    for p in items {
        let mut from = crate::decode::START.to_string();
        for (w, t) in p.first_token.iter().enumerate() {
            if t.is_none() {
                continue;
            }
            let to = labels[p.word_labels[w]].clone();
            *counts.entry(from).or_default().entry(to.clone()).or_default() += 1;
            from = to;
        }
    }
    counts
}
