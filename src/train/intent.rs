//! The intent head of `parlance train`: a multinomial logistic regression on each example's
//! features (the pooled sentence vector, and the lexical features when on), each intent's name as
//! one more example, its temperature and fallback threshold chosen on held-out data (`--dev`, else
//! a held-out fifth of the training data, then refitted on all of it).

use std::collections::HashMap;

use ndarray::{Array2, Axis};
use tokenizers::Tokenizer;

use crate::model::heads::{f16_precision, nearest_mean_cosine, unit_means, Linear};
use crate::train::calibrate::{self, HeldRow, ThresholdChoice, ThresholdRule};
use crate::train::features::{self, Prepared};
use crate::train::logreg::{self, FitConfig, SparseRows};
use crate::train::oos::is_out_of_scope;
use crate::train::{HeldOut, TrainError};

/// How the intent head is fitted and its threshold chosen.
#[derive(Debug, Clone)]
pub struct IntentSetup {
    /// scikit-learn's C (loss = C × Σ cross-entropy + ‖W‖²/2).
    pub c: f32,
    /// Standardise the features for the fit (folded back into the weights).
    pub standardize: bool,
    pub max_iter: usize,
    /// Out-of-scope intents besides Rasa's names (`--out-of-scope-intent`).
    pub oos_names: Vec<String>,
    pub rule: ThresholdRule,
    /// Logit adjustment: `balance` × ln(the intent's share of the training examples) is taken from
    /// each intent's bias after the fit (0: none, 1: as if every intent had as many examples).
    pub balance: f32,
}

/// The default logit adjustment ([`IntentSetup::balance`]). The fitted bias follows the training
/// examples' counts more than it should: MASSIVE with 2 to 50 examples per intent drawn at random,
/// head accuracy 62.8 → 76.0 (en) and 57.6 → 70.5 (fr) at 0.75 (77.8 / 72.3 at 1); with the counts
/// following the test's own intent shares, 81.1 → 82.8 and 77.0 → 80.2 (1 gives 81.2 / 78.4); the
/// Rasa projects (5 folds) 90.5 → 92.3 (1: 89.5). docs/training-choices.md, "Intents with many
/// examples beside intents with few".
pub const BALANCE: f32 = 0.75;

impl Default for IntentSetup {
    fn default() -> Self {
        IntentSetup { c: 10.0, standardize: false, max_iter: 200, oos_names: Vec::new(), rule: calibrate::DEFAULT_RULE, balance: BALANCE }
    }
}

/// Held-out rows: logits, the gold intent's index when the model has it, and whether the row is
/// off-topic (an intent the model does not know, or an out-of-scope one).
#[derive(Debug, Clone)]
pub struct Held {
    pub logits: Array2<f32>,
    pub label: Vec<Option<usize>>,
    pub oos: Vec<bool>,
    /// Each row's cosine to the nearest intent's mean of the rows the head was fitted on (the
    /// off-topic gate's score), when measured.
    pub similarity: Option<Vec<f32>>,
}

/// The off-topic gate chosen with the threshold: the intents' means and the cosine floor.
#[derive(Debug, Clone)]
pub struct Gate {
    pub means: Array2<f32>,
    pub floor: f32,
}

/// The gate's candidate floors, as shares of the held-out in-scope rows they reject (0: no gate),
/// chosen with the threshold where off-topic rows are held out. MASSIVE with chit-chat as
/// off-topic: +10.9 to +11.2 Matthews points in en-US; on held-out intents no floor is chosen
/// (docs/training-choices.md, "3d").
const GATE_SHARES: [f32; 5] = [0.0, 0.01, 0.02, 0.03, 0.05];

/// A fitted intent head and what was chosen with it.
#[derive(Debug, Clone)]
pub struct IntentFit {
    pub head: Linear,
    /// The lexical features' weights [terms, intents], when they are on.
    pub lexical: Option<Array2<f32>>,
    pub temperature: f32,
    pub heldout: HeldOut,
    pub threshold: ThresholdChoice,
    /// The held-out rows the temperature and threshold were chosen on.
    pub held: Held,
    /// The off-topic gate, when one was chosen.
    pub gate: Option<Gate>,
    /// The out-of-scope intents' logit offset, added to the head's bias (0: none).
    pub offset: f32,
}

/// Each intent's name as an example of it: `_ / - + .` become spaces; names with no letter
/// (`intent_17` keeps "intent", `42` is left out) and out-of-scope intents are left out. The
/// prepared items have no word rows, so the slot tagger and the transition counts never see them.
pub fn intent_name_items(
    intents: &[String],
    tokenizer: &Tokenizer,
    lowercase: bool,
    labels: &[String],
    oos: &[String],
) -> Result<Vec<(usize, Prepared)>, TrainError> {
    let mut out = Vec::new();
    for (i, name) in intents.iter().enumerate() {
        let Some(text) = intent_name_text(name).filter(|_| !is_out_of_scope(name, oos)) else { continue };
        let ex = crate::data::Example { locale: String::new(), text, intent: name.clone(), spans: Vec::new() };
        let mut item = features::prepare(&ex, tokenizer, lowercase, labels)?;
        item.first_token.iter_mut().for_each(|t| *t = None);
        out.push((i, item));
    }
    Ok(out)
}

/// An intent's name as text (`faq/ask_refund` → "faq ask refund"); none for out-of-scope intents
/// and names without a letter. Its case is a naming convention, not how customers write:
/// `ORDER_STATUS`, `OrderStatus` and `order.status` all give "order status" (with upper-case or
/// camel-case names MASSIVE's intents lost up to 1.7 points at 10 examples per intent against
/// the same names in lower case: docs/training-choices.md, "Intent names in any case").
pub fn intent_name_text(name: &str) -> Option<String> {
    if is_out_of_scope(name, &[]) {
        return None;
    }
    let text = name.split(['_', '/', '-', '+', '.', ' ']).flat_map(camel_words).collect::<Vec<_>>().join(" ").to_lowercase();
    text.chars().any(char::is_alphabetic).then_some(text)
}

/// `OrderStatus` → Order, Status; `checkEMIOptions` → check, EMI, Options: a word starts at an
/// upper-case letter after a lower-case one, and at the last capital of a run of them followed by
/// a lower-case letter.
fn camel_words(part: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = part.char_indices().collect();
    let mut starts = vec![0];
    for i in 1..chars.len() {
        let (prev, cur) = (chars[i - 1].1, chars[i].1);
        let next_lower = chars.get(i + 1).is_some_and(|c| c.1.is_lowercase());
        if cur.is_uppercase() && (prev.is_lowercase() || (prev.is_uppercase() && next_lower)) {
            starts.push(chars[i].0);
        }
    }
    starts.push(part.len());
    starts.windows(2).map(|s| &part[s[0]..s[1]]).filter(|w| !w.is_empty()).collect()
}

/// The gold index (when the model has the intent) and the off-topic flag of each dev intent.
pub fn dev_labels<'a>(dev: impl Iterator<Item = &'a str>, intents: &[String], oos: &[String]) -> (Vec<Option<usize>>, Vec<bool>) {
    let index: HashMap<&str, usize> = intents.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    dev.map(|name| (index.get(name).copied(), !index.contains_key(name) || is_out_of_scope(name, oos))).unzip()
}

/// Training or dev rows: the dense features (sentence vectors), and the sparse lexical ones when on.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    pub dense: &'a Array2<f32>,
    pub sparse: Option<&'a SparseRows>,
}

impl Rows<'_> {
    fn select(&self, idx: &[usize]) -> (Array2<f32>, Option<SparseRows>) {
        let sp = self.sparse.map(|s| SparseRows { rows: idx.iter().map(|&i| s.rows[i].clone()).collect(), cols: s.cols });
        (self.dense.select(Axis(0), idx), sp)
    }
}

/// The fitted head (and lexical weights) on rows, its bias adjusted by `balance` × ln(each
/// intent's share of the first `examples` rows: the examples, not the intent names).
fn fit_rows(x: Rows, y: &[usize], k: usize, cfg: &FitConfig, examples: usize, balance: f32) -> (Linear, Option<Array2<f32>>) {
    let (mut head, lex) = match x.sparse {
        Some(sp) => {
            let (head, lex, _) = logreg::fit_joint(x.dense, sp, y, k, cfg);
            (head, Some(lex))
        }
        None => (logreg::fit(x.dense, y, k, cfg).0, None),
    };
    if balance != 0.0 {
        let mut count = vec![0f32; k];
        y[..examples.min(y.len())].iter().for_each(|&c| count[c] += 1.0);
        let total: f32 = count.iter().sum::<f32>().max(1.0);
        head.bias.iter_mut().zip(&count).for_each(|(b, n)| *b -= balance * (n.max(1.0) / total).ln());
    }
    (head, lex)
}

/// Logits of rows under a fitted head (and lexical weights).
pub fn rows_logits(head: &Linear, lex: Option<&Array2<f32>>, x: Rows) -> Array2<f32> {
    match (lex, x.sparse) {
        (Some(l), Some(sp)) => logreg::joint_logits(head, l, x.dense, sp),
        _ => logreg::logits(head, x.dense),
    }
}

/// Fits the intent head on `x` (rows: the examples, then the intent names) with labels `y`;
/// `examples` rows are examples (the rest are never held out). With `dev` (rows, gold, off-topic
/// flags) the temperature and threshold are chosen there; else on a held-out fifth.
pub fn fit_intent(
    x: Rows,
    y: &[usize],
    examples: usize,
    dev: Option<(Rows, Vec<Option<usize>>, Vec<bool>)>,
    intents: &[String],
    setup: &IntentSetup,
) -> IntentFit {
    let (cfg, oos_classes) = (fit_config(x, y, setup), oos_classes(intents, setup));
    let (head, lexical, source, held) = match dev {
        Some((xd, label, oos)) => {
            let (head, lex) = fit_rows(x, y, intents.len(), &cfg, examples, setup.balance);
            let logits = rows_logits(&head, lex.as_ref(), xd);
            let similarity = Some(similarities(x.dense, y, &oos_classes, xd.dense));
            (head, lex, "dev", Held { logits, label, oos, similarity })
        }
        None => held_out_split(x, y, examples, intents, &cfg, &oos_classes, setup.balance),
    };
    let temperature = calibrate::fit_temperature(&held.logits, &held.label);
    let (offset, floor, threshold) = oos_offset(&held, &oos_classes, temperature, setup.rule);
    let gate = floor.map(|floor| Gate { means: stored_means(x.dense, y, &oos_classes), floor });
    let (mut head, mut held) = (head, held);
    if offset != 0.0 {
        // the offset becomes part of the head: served exactly as chosen
        for (j, _) in oos_classes.iter().enumerate().filter(|(_, o)| **o) {
            head.bias[j] += offset;
            held.logits.column_mut(j).mapv_inplace(|v| v + offset);
        }
    }
    let heldout = held_out_report(source, &held);
    IntentFit { head, lexical, temperature, heldout, threshold, held, gate, offset }
}

/// `fit`'s head fitted again on every row of `x`: new features for the same rows (the layers
/// adapted again on every example once the threshold was chosen). The out-of-scope offset is added
/// again and the gate's means are taken from `x`; the temperature, threshold, gate floor and
/// held-out report stay as chosen.
pub fn refit_on_all(fit: IntentFit, x: Rows, y: &[usize], examples: usize, intents: &[String], setup: &IntentSetup) -> IntentFit {
    let (cfg, oos_classes) = (fit_config(x, y, setup), oos_classes(intents, setup));
    let (mut head, lexical) = fit_rows(x, y, intents.len(), &cfg, examples, setup.balance);
    for (j, _) in oos_classes.iter().enumerate().filter(|(_, o)| **o) {
        head.bias[j] += fit.offset;
    }
    let gate = fit.gate.map(|g| Gate { means: stored_means(x.dense, y, &oos_classes), floor: g.floor });
    IntentFit { head, lexical, gate, ..fit }
}

/// The fit's settings for the rows `x` (labels `y`).
fn fit_config(x: Rows, y: &[usize], setup: &IntentSetup) -> FitConfig {
    // scikit-learn's C as a penalty on the mean loss: λ = 1 / (C·n)
    let l2 = 1.0 / (setup.c.max(1e-6) * y.len() as f32);
    // the joint fit (lexical features on) is not standardised: the sparse columns stay sparse
    let standardize = setup.standardize && x.sparse.is_none();
    FitConfig { l2, standardize, max_iter: setup.max_iter, ..Default::default() }
}

/// Which intents are out of scope (Rasa's names and `setup.oos_names`).
fn oos_classes(intents: &[String], setup: &IntentSetup) -> Vec<bool> {
    intents.iter().map(|n| is_out_of_scope(n, &setup.oos_names)).collect()
}

/// The intents' unit means of the rows `x` (labels `y`; zeros for `skip`), rounded to f16 as a
/// bundle stores them: the gate serves these, and its floor is chosen on cosines to these.
fn stored_means(x: &Array2<f32>, y: &[usize], skip: &[bool]) -> Array2<f32> {
    f16_precision(unit_means(x.view(), y, skip.len(), skip))
}

/// Each of `q`'s rows' cosine to the nearest of the intents' means as stored ([`stored_means`]).
fn similarities(x: &Array2<f32>, y: &[usize], skip: &[bool], q: &Array2<f32>) -> Vec<f32> {
    let means = stored_means(x, y, skip);
    q.rows().into_iter().map(|r| nearest_mean_cosine(&means, r)).collect()
}

/// The gate's floor that rejects a share `q` of the held-out in-scope rows: None for 0, or where
/// fewer than 1 / `q` such rows were held out (the floor would be their lowest: too few to place it).
fn floor_at(held: &Held, q: f32) -> Option<f32> {
    let sims = held.similarity.as_ref()?;
    let mut ins: Vec<f32> = sims.iter().zip(&held.oos).filter(|(_, o)| !**o).map(|(s, _)| *s).collect();
    ins.sort_by(f32::total_cmp);
    let at = (q * ins.len() as f32) as usize;
    (q > 0.0 && at >= 1).then(|| ins[at.min(ins.len() - 1)])
}

/// The out-of-scope offsets tried, in units of the calibrated log-odds (× the temperature on the
/// raw logits): −10 to +3 by 0.25.
fn offsets() -> impl Iterator<Item = f32> {
    (-40..=12).map(|i| i as f32 / 4.0)
}

/// With off-topic rows held out and the capped rule, chosen with the threshold on the held-out
/// rows: the off-topic gate's floor (a message whose cosine to the nearest intent's mean is below
/// it is rejected; [`GATE_SHARES`]) and, with a trained out-of-scope intent, a logit offset for the
/// out-of-scope classes. A large off-topic class takes in-scope messages that no threshold gives
/// back (MASSIVE, 10 per intent and 150 off-topic examples: 40 % of in-scope messages;
/// docs/training-choices.md). The pair that keeps the cap with the best Matthews correlation is
/// chosen (no gate, then the smallest offset, among equals), else the one that rejects least.
/// Returns (raw logit offset, gate floor, threshold choice with them).
fn oos_offset(held: &Held, oos_classes: &[bool], t: f32, rule: ThresholdRule) -> (f32, Option<f32>, ThresholdChoice) {
    let choose = |d: f32, floor: Option<f32>| {
        let mut shifted = held.clone();
        for (j, _) in oos_classes.iter().enumerate().filter(|(_, o)| **o) {
            shifted.logits.column_mut(j).mapv_inplace(|v| v + d * t);
        }
        let mut rows = held_rows(&shifted, oos_classes, t);
        if let (Some(f), Some(sims)) = (floor, &held.similarity) {
            // below the floor: rejected at any threshold
            rows.iter_mut().zip(sims).filter(|(_, s)| **s < f).for_each(|(r, _)| r.confidence = -1.0);
        }
        calibrate::choose_threshold(&rows, rule)
    };
    let gated = |floor: Option<f32>, mut c: ThresholdChoice, share: f32| {
        if let Some(f) = floor {
            let share = share * 100.0;
            c.rule = format!(
                "{}, and an off-topic gate (cosine to the nearest intent's mean below {f:.3}: {share:.0} % of held-out in-scope rows)",
                c.rule
            );
        }
        c.fallback_similarity = floor;
        c
    };
    let cap = match rule {
        ThresholdRule::McCapped(cap) if held.oos.contains(&true) => cap,
        // without off-topic rows the threshold may cost 1 point of in-scope accuracy: a gate on
        // top of it cost 1.9 (MASSIVE en, 30 per intent; docs/training-choices.md, "3d")
        _ => return (0.0, None, choose(0.0, None)),
    };
    // (within the cap, MCC or −rejected, −share, −|offset|): the larger is better
    let score = |q: f32, d: f32, c: &ThresholdChoice| {
        let row = c.table.iter().find(|r| (r.threshold - c.chosen).abs() < 1e-6);
        let (rejected, mcc) = row.map_or((1.0, -1.0), |r| (r.in_scope_rejected, r.mcc));
        let ok = rejected <= cap + 1e-9;
        (ok, if ok { mcc } else { -rejected }, -q, -d.abs())
    };
    let offsets: Vec<f32> = if oos_classes.contains(&true) { offsets().collect() } else { vec![0.0] };
    let mut best = (0.0, 0.0, None, choose(0.0, None));
    let mut best_score = score(0.0, 0.0, &best.3);
    for q in GATE_SHARES.into_iter().filter(|&q| q == 0.0 || held.similarity.is_some()) {
        let floor = floor_at(held, q);
        for &d in &offsets {
            let c = choose(d, floor);
            let s = score(q, d, &c);
            if s.partial_cmp(&best_score) == Some(std::cmp::Ordering::Greater) {
                best_score = s;
                best = (q, d, floor, c);
            }
        }
    }
    let (q, d, floor, mut choice) = best;
    if d != 0.0 {
        choice.rule = format!("{}, out-of-scope intent's log-odds offset {d:+.2} chosen with it", choice.rule);
    }
    (d * t, floor, gated(floor, choice, q))
}

/// Without `--dev`: every fifth example of each intent (from the third on) is held out, the head
/// fitted on the rest scores it, then the head is refitted on everything. Rows from `examples` on
/// (the intent names) are always kept.
fn held_out_split(
    x: Rows,
    y: &[usize],
    examples: usize,
    intents: &[String],
    cfg: &FitConfig,
    oos_classes: &[bool],
    balance: f32,
) -> (Linear, Option<Array2<f32>>, &'static str, Held) {
    let is_held = held_out_rows(y, examples, intents.len());
    let (held, kept): (Vec<usize>, Vec<usize>) = (0..y.len()).partition(|&i| is_held[i]);
    let (sub, sub_sp) = x.select(&kept);
    let sub_y: Vec<usize> = kept.iter().map(|&i| y[i]).collect();
    // `kept` is in order: its examples come before the intent names
    let kept_examples = kept.iter().filter(|&&i| i < examples).count();
    let (head, lex) = fit_rows(Rows { dense: &sub, sparse: sub_sp.as_ref() }, &sub_y, intents.len(), cfg, kept_examples, balance);
    let (hx, hsp) = x.select(&held);
    let logits = rows_logits(&head, lex.as_ref(), Rows { dense: &hx, sparse: hsp.as_ref() });
    let label = held.iter().map(|&i| Some(y[i])).collect();
    let flags = held.iter().map(|&i| oos_classes[y[i]]).collect();
    // the held rows' distance to the means of the rows fitted without them, as for the head
    let similarity = Some(similarities(&sub, &sub_y, oos_classes, &hx));
    let (full, full_lex) = fit_rows(x, y, intents.len(), cfg, examples, balance);
    (full, full_lex, "held-out split", Held { logits, label, oos: flags, similarity })
}

/// Which rows the held-out split holds out: every fifth example of each intent, from the third on
/// (never the rows from `examples` on). `--adapt` trains the top layer on the other rows only, so
/// that the threshold is chosen on rows the layer has not seen.
pub fn held_out_rows(y: &[usize], examples: usize, k: usize) -> Vec<bool> {
    let mut seen = vec![0usize; k];
    y.iter()
        .enumerate()
        .map(|(i, &label)| {
            let held = i < examples && seen[label] % 5 == 2;
            seen[label] += 1;
            held
        })
        .collect()
}

fn argmax(row: ndarray::ArrayView1<f32>) -> usize {
    row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |m| m.0)
}

fn held_out_report(source: &str, held: &Held) -> HeldOut {
    let in_scope: Vec<usize> = (0..held.label.len()).filter(|&i| !held.oos[i]).collect();
    let right = in_scope.iter().filter(|&&i| held.label[i] == Some(argmax(held.logits.row(i)))).count();
    HeldOut {
        source: source.into(),
        examples: held.label.len(),
        in_scope: in_scope.len(),
        intent_accuracy: right as f64 / in_scope.len().max(1) as f64,
    }
}

/// Each held-out row's answer at temperature `t`: an out-of-scope class answered is a rejection.
pub fn held_rows(held: &Held, oos_classes: &[bool], t: f32) -> Vec<HeldRow> {
    held.logits
        .axis_iter(Axis(0))
        .enumerate()
        .map(|(i, row)| {
            let p = crate::decode::softmax(&row.to_vec(), t);
            let top = argmax(row);
            HeldRow { confidence: p[top], gold: held.label[i].filter(|_| !held.oos[i]), answer: (!oos_classes[top]).then_some(top) }
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
        // the name's case is a convention: upper case, camel case and dots give the same words
        assert_eq!(intent_name_text("ORDER_STATUS").as_deref(), Some("order status"));
        assert_eq!(intent_name_text("OrderStatus").as_deref(), Some("order status"));
        assert_eq!(intent_name_text("Order.Status").as_deref(), Some("order status"));
        assert_eq!(intent_name_text("checkEMIOptions").as_deref(), Some("check emi options"));
        assert_eq!(intent_name_text("100_NIGHT_TRIAL_OFFER").as_deref(), Some("100 night trial offer"));
        assert_eq!(intent_name_text("Default Welcome Intent").as_deref(), Some("default welcome intent"));
        assert_eq!(intent_name_text("où_est_ma_commande").as_deref(), Some("où est ma commande"));
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-encoder");
        let tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
        let intents: Vec<String> = ["order_status", "out_of_scope", "17", "greet", "chitchat"].map(String::from).to_vec();
        let labels = vec!["O".to_string(), "B-item".into(), "I-item".into()];
        let items = intent_name_items(&intents, &tokenizer, false, &labels, &["chitchat".into()]).unwrap();
        assert_eq!(items.iter().map(|i| i.0).collect::<Vec<_>>(), [0, 3]);
        for (_, item) in &items {
            assert!(!item.ids.is_empty());
            // no word rows: the slot tagger and the transition counts never see a name
            assert!(item.first_token.iter().all(Option::is_none));
            let counts = features::transition_counts(std::slice::from_ref(item), &labels);
            assert!(counts.is_empty());
        }
    }

    #[test]
    fn dev_rows_of_unknown_and_out_of_scope_intents_are_off_topic() {
        let intents: Vec<String> = ["greet", "out_of_scope", "chitchat"].map(String::from).to_vec();
        let (label, oos) = dev_labels(["greet", "out_of_scope", "weather", "chitchat"].into_iter(), &intents, &["chitchat".into()]);
        assert_eq!(label, [Some(0), Some(1), None, Some(2)]);
        assert_eq!(oos, [false, true, true, true]);
        let held = Held {
            logits: Array2::from_shape_vec((2, 3), vec![0.0, 5.0, 0.0, 3.0, 0.0, 0.0]).unwrap(),
            label: vec![Some(1), Some(0)],
            oos: vec![true, false],
            similarity: None,
        };
        let rows = held_rows(&held, &[false, true, true], 1.0);
        assert_eq!((rows[0].gold, rows[0].answer), (None, None));
        assert_eq!((rows[1].gold, rows[1].answer), (Some(0), Some(0)));
    }

    #[test]
    fn a_large_off_topic_class_is_offset_back_under_the_cap() {
        // 100 in-scope rows of intents 0/1, of which 30 have the out-of-scope class (2) just above
        // their own logit; 20 off-topic rows with class 2 well above the rest
        let (mut rows, mut label, mut oos) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..100 {
            let gold = i % 2;
            let mut r = [0.0f32; 3];
            r[gold] = 2.0;
            r[2] = if i % 10 < 3 { 2.5 } else { 0.0 };
            rows.extend(r);
            label.push(Some(gold));
            oos.push(false);
        }
        for _ in 0..20 {
            rows.extend([0.0, 0.0, 4.0]);
            label.push(None);
            oos.push(true);
        }
        let held = Held { logits: Array2::from_shape_vec((120, 3), rows).unwrap(), label, oos, similarity: None };
        let classes = [false, false, true];
        let rejected = |h: &Held| held_rows(h, &classes, 1.0).iter().filter(|r| r.gold.is_some() && r.answer.is_none()).count();
        assert_eq!(rejected(&held), 30);
        let (offset, floor, choice) = oos_offset(&held, &classes, 1.0, ThresholdRule::McCapped(0.05));
        assert_eq!(floor, None, "no similarities measured: no gate");
        assert!((-2.0..=-0.5).contains(&offset), "{offset}");
        assert!(choice.rule.contains("offset"), "{}", choice.rule);
        let mut shifted = held.clone();
        shifted.logits.column_mut(2).mapv_inplace(|v| v + offset);
        let answers = held_rows(&shifted, &classes, 1.0);
        assert!(rejected(&shifted) <= 5);
        // every off-topic row is still answered with the out-of-scope intent
        assert!(answers.iter().filter(|r| r.gold.is_none()).all(|r| r.answer.is_none()));
        // an owner's fixed threshold, or no out-of-scope class: no offset
        assert_eq!(oos_offset(&held, &classes, 1.0, ThresholdRule::Fixed(0.3)).0, 0.0);
        assert_eq!(oos_offset(&held, &[false; 3], 1.0, ThresholdRule::McCapped(0.05)).0, 0.0);
    }

    /// The bias is lowered by `balance` × ln(each intent's share of the examples), the intent
    /// names (rows from `examples` on) not counted; the weights are the fit's own.
    #[test]
    fn the_bias_is_adjusted_by_the_examples_shares() {
        // intent 0: 8 examples, intent 1: 2, then one name row each
        let x = Array2::from_shape_fn((12, 2), |(i, j)| if (i < 8 || i == 10) == (j == 0) { 1.0 } else { 0.1 * (i % 3) as f32 });
        let y = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1];
        let cfg = FitConfig { l2: 1e-2, standardize: false, ..Default::default() };
        let rows = Rows { dense: &x, sparse: None };
        let (plain, _) = fit_rows(rows, &y, 2, &cfg, 10, 0.0);
        let (adjusted, _) = fit_rows(rows, &y, 2, &cfg, 10, 0.75);
        assert_eq!(plain.weight, adjusted.weight);
        let shift = |c: usize| adjusted.bias[c] - plain.bias[c];
        assert!((shift(0) + 0.75 * 0.8f32.ln()).abs() < 1e-5, "{}", shift(0));
        assert!((shift(1) + 0.75 * 0.2f32.ln()).abs() < 1e-5, "{}", shift(1));
        // the smaller intent gains on the larger by 0.75 × ln 4
        assert!((shift(1) - shift(0) - 0.75 * 4f32.ln()).abs() < 1e-5);
    }

    /// The head fitted again on new vectors of the same rows (layers adapted again on every
    /// example): the new rows' head with the out-of-scope offset added again and the gate's means
    /// taken from the new rows; what the held-out rows chose (temperature, threshold, floor) stays.
    #[test]
    fn a_head_refitted_on_all_rows_keeps_what_the_held_out_rows_chose() {
        let intents: Vec<String> = ["order", "refund", "out_of_scope"].map(String::from).to_vec();
        let (n, k) = (30, 3);
        let y: Vec<usize> = (0..n).map(|i| i % k).collect();
        let first = Array2::from_shape_fn((n, 3), |(i, j)| if y[i] == j { 1.0 } else { 0.05 * (i % 4) as f32 });
        let setup = IntentSetup::default();
        let fit = fit_intent(Rows { dense: &first, sparse: None }, &y, n, None, &intents, &setup);
        let mut fit = IntentFit { offset: -1.5, gate: Some(Gate { means: Array2::zeros((k, 3)), floor: 0.42 }), ..fit };
        fit.temperature = 0.9;
        let chosen = fit.threshold.chosen;
        // the second vectors: the same intents, another direction each
        let second = Array2::from_shape_fn((n, 3), |(i, j)| if (y[i] + 1) % k == j { 2.0 } else { 0.1 * (i % 3) as f32 });
        let refit = refit_on_all(fit, Rows { dense: &second, sparse: None }, &y, n, &intents, &setup);
        let (alone, _) =
            fit_rows(Rows { dense: &second, sparse: None }, &y, k, &fit_config(Rows { dense: &second, sparse: None }, &y, &setup), n, setup.balance);
        assert_eq!(refit.head.weight, alone.weight);
        assert_eq!(refit.head.bias[0], alone.bias[0]);
        assert!((refit.head.bias[2] - (alone.bias[2] - 1.5)).abs() < 1e-6, "the out-of-scope offset is kept");
        assert_eq!((refit.temperature, refit.threshold.chosen, refit.offset), (0.9, chosen, -1.5));
        let gate = refit.gate.expect("the gate stays");
        assert_eq!(gate.floor, 0.42);
        assert_eq!(gate.means, stored_means(&second, &y, &[false, false, true]), "the means are the new vectors'");
        // each intent's new mean points where its new vectors do
        assert!(gate.means[[0, 1]] > 0.9 && gate.means[[2, 0]] == 0.0, "{:?}", gate.means);
    }

    /// Held-out rows whose off-topic messages the head answers confidently but whose sentence
    /// vectors are far from every intent: the gate is chosen and rejects them; off-topic messages
    /// as near as the in-scope ones get no gate, nor do held-out rows without off-topic ones; a
    /// share is tried only with enough in-scope rows to place it.
    #[test]
    fn the_off_topic_gate_is_chosen_where_it_separates() {
        let held = |n_in: usize, n_off: usize, off_similarity: f32| {
            let (mut rows, mut label, mut oos, mut sims) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for i in 0..n_in + n_off {
                let off = i >= n_in;
                let gold = i % 2;
                rows.extend(if gold == 0 { [3.0, 0.0] } else { [0.0, 3.0] });
                label.push((!off).then_some(gold));
                oos.push(off);
                sims.push(if off { off_similarity } else { 0.8 + (i % 10) as f32 / 100.0 });
            }
            Held { logits: Array2::from_shape_vec((n_in + n_off, 2), rows).unwrap(), label, oos, similarity: Some(sims) }
        };
        let rule = ThresholdRule::McCapped(0.05);
        let (offset, floor, choice) = oos_offset(&held(200, 40, 0.3), &[false, false], 1.0, rule);
        assert_eq!(offset, 0.0);
        let floor = floor.expect("a gate");
        assert!((0.3..=0.8).contains(&floor), "{floor}");
        assert!(choice.rule.contains("off-topic gate"), "{}", choice.rule);
        assert_eq!(choice.fallback_similarity, Some(floor), "the summary names it");
        // as near as the in-scope rows: nothing to gain, no gate
        assert_eq!(oos_offset(&held(200, 40, 0.85), &[false, false], 1.0, rule).1, None);
        // no off-topic rows: nothing to choose a gate on
        assert_eq!(oos_offset(&held(200, 0, 0.0), &[false, false], 1.0, rule).1, None);
        // 60 in-scope rows: 1 % cannot be placed (it would be their lowest), 2 % and up can
        let (_, floor, _) = oos_offset(&held(60, 40, 0.3), &[false, false], 1.0, rule);
        assert!(floor.is_some_and(|f| f >= 0.8), "{floor:?}");
        // an owner's fixed threshold: no gate
        assert_eq!(oos_offset(&held(200, 40, 0.3), &[false, false], 1.0, ThresholdRule::Fixed(0.3)).1, None);
    }
}
