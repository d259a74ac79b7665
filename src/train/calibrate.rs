//! Confidence calibration (one temperature on the intent logits) and the choice of a fallback
//! threshold, both on held-out data.

use ndarray::{Array2, Axis};
use serde::Serialize;

use crate::decode::softmax;

/// Mean negative log-likelihood of `y` under `softmax(logits / t)`.
fn nll(logits: &Array2<f32>, y: &[usize], t: f32) -> f64 {
    let mut total = 0.0;
    for (row, &label) in logits.axis_iter(Axis(0)).zip(y) {
        let row: Vec<f32> = row.to_vec();
        total -= (softmax(&row, t)[label].max(1e-30) as f64).ln();
    }
    total / y.len().max(1) as f64
}

/// The temperature in [0.05, 20] that minimises the held-out NLL (golden-section search on ln t).
/// Rows whose label is `None` (not an intent of the model) are left out; without any row, 1.
/// When every held-out row is ranked right, the NLL falls all the way to the smallest temperature:
/// such data cannot set one (a small bot's few held-out examples do this), and 1 is kept.
pub fn fit_temperature(logits: &Array2<f32>, y: &[Option<usize>]) -> f32 {
    let all_right = y.iter().enumerate().all(|(i, label)| {
        label.is_none_or(|l| {
            let row = logits.row(i);
            row.iter().all(|&v| v <= row[l])
        })
    });
    if all_right {
        return 1.0;
    }
    let keep: Vec<usize> = (0..y.len()).filter(|&i| y[i].is_some()).collect();
    if keep.is_empty() {
        return 1.0;
    }
    let sub = logits.select(Axis(0), &keep);
    let labels: Vec<usize> = keep.iter().map(|&i| y[i].expect("kept")).collect();
    let f = |lt: f64| nll(&sub, &labels, lt.exp() as f32);
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (0.05f64.ln(), 20f64.ln());
    let mut c = b - phi * (b - a);
    let mut d = a + phi * (b - a);
    for _ in 0..40 {
        if f(c) < f(d) {
            b = d;
        } else {
            a = c;
        }
        c = b - phi * (b - a);
        d = a + phi * (b - a);
    }
    ((a + b) / 2.0).exp() as f32
}

/// One held-out answer: its top-1 confidence, its gold intent (None: off-topic) and the intent
/// answered (None: an out-of-scope intent, a rejection at any threshold).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeldRow {
    pub confidence: f32,
    pub gold: Option<usize>,
    pub answer: Option<usize>,
}

impl HeldRow {
    /// The answer once the fallback threshold `t` applies.
    fn at(&self, t: f32) -> Option<usize> {
        self.answer.filter(|_| self.confidence >= t)
    }
}

/// One row of the threshold table.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdRow {
    pub threshold: f32,
    /// In-scope examples whose intent is right and confident enough, over in-scope examples.
    pub in_scope_accuracy: f64,
    /// In-scope examples sent to fallback (or answered with an out-of-scope intent).
    pub in_scope_rejected: f64,
    /// Out-of-scope examples sent to fallback or answered with an out-of-scope intent (None: the
    /// held-out data has none).
    pub oos_recall: Option<f64>,
    /// Matthews correlation, off-topic as one class.
    pub mcc: f64,
}

/// The thresholds tried and the one chosen.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdChoice {
    pub chosen: f32,
    pub rule: String,
    /// The off-topic gate's floor chosen with the threshold, if any (`train::intent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_similarity: Option<f32>,
    pub table: Vec<ThresholdRow>,
}

/// How the fallback threshold is chosen when the held-out data has off-topic examples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdRule {
    /// The best Matthews correlation among thresholds that reject at most this share of in-scope
    /// examples (the default, 0.05: docs/training-choices.md).
    McCapped(f64),
    /// The best Matthews correlation.
    Mcc,
    /// The best accuracy over all examples, off-topic as one more class (Larson et al. 2019).
    Accuracy,
    /// The best mean of in-scope accuracy and off-topic recall (the rule before issue 24).
    MeanAccuracyRecall,
    /// A threshold set by the bot's owner.
    Fixed(f32),
}

/// The default rule with off-topic examples.
pub const DEFAULT_RULE: ThresholdRule = ThresholdRule::McCapped(0.05);

/// The table's thresholds: 0.00 to 0.99 by 0.01.
fn grid() -> impl Iterator<Item = f32> {
    (0..100).map(|i| i as f32 / 100.0)
}

/// The threshold table over `rows`.
pub fn threshold_table(rows: &[HeldRow]) -> Vec<ThresholdRow> {
    let in_scope = rows.iter().filter(|r| r.gold.is_some()).count();
    let oos = rows.len() - in_scope;
    let frac = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    grid()
        .map(|t| {
            let pairs: Vec<(Option<usize>, Option<usize>)> = rows.iter().map(|r| (r.gold, r.at(t))).collect();
            ThresholdRow {
                threshold: t,
                in_scope_accuracy: frac(pairs.iter().filter(|p| p.0.is_some() && p.0 == p.1).count(), in_scope),
                in_scope_rejected: frac(pairs.iter().filter(|p| p.0.is_some() && p.1.is_none()).count(), in_scope),
                oos_recall: (oos > 0).then(|| frac(pairs.iter().filter(|p| p.0.is_none() && p.1.is_none()).count(), oos)),
                mcc: crate::train::oos::matthews(&pairs),
            }
        })
        .collect()
}

/// Chooses a fallback threshold from held-out answers. Without off-topic examples: the highest
/// threshold that costs at most 1 point of in-scope accuracy (whatever `rule` says, unless it is
/// `Fixed`). With them: by `rule`.
pub fn choose_threshold(rows: &[HeldRow], rule: ThresholdRule) -> ThresholdChoice {
    let table = threshold_table(rows);
    let has_oos = rows.iter().any(|r| r.gold.is_none());
    let best = |score: &dyn Fn(&ThresholdRow) -> f64, keep: &dyn Fn(&ThresholdRow) -> bool| {
        // the lowest threshold among equals: rejects no more than needed
        table
            .iter()
            .filter(|r| keep(r))
            .fold(None::<&ThresholdRow>, |b, r| match b {
                Some(b) if score(b) >= score(r) - 1e-12 => Some(b),
                _ => Some(r),
            })
            .map_or(0.0, |r| r.threshold)
    };
    let (chosen, why) = match (rule, has_oos) {
        (ThresholdRule::Fixed(t), _) => (t, "set with --fallback-threshold".to_string()),
        (_, false) => (
            one_point_threshold(rows),
            "highest threshold expected to cost at most 1 point of in-scope accuracy (no out-of-scope examples held out)".to_string(),
        ),
        (ThresholdRule::McCapped(cap), true) => (
            best(&|r| r.mcc, &|r| r.in_scope_rejected <= cap + 1e-9),
            format!("best Matthews correlation rejecting at most {:.0} % of in-scope examples", cap * 100.0),
        ),
        (ThresholdRule::Mcc, true) => (best(&|r| r.mcc, &|_| true), "best Matthews correlation".to_string()),
        (ThresholdRule::Accuracy, true) => {
            let n = rows.len().max(1) as f64;
            let acc = |r: &ThresholdRow| accuracy_at(rows, r.threshold) / n;
            (best(&acc, &|_| true), "best accuracy over all examples, off-topic as one more class".to_string())
        }
        (ThresholdRule::MeanAccuracyRecall, true) => (
            best(&|r| (r.in_scope_accuracy + r.oos_recall.unwrap_or(0.0)) / 2.0, &|_| true),
            "maximises the mean of in-scope accuracy and out-of-scope recall".to_string(),
        ),
    };
    ThresholdChoice { chosen, rule: why, fallback_similarity: None, table }
}

/// The highest threshold of the grid expected to cost at most 1 point of in-scope accuracy. The
/// confidences of the rightly answered in-scope rows, c1 <= c2 <= ..., estimate the share of right
/// answers a threshold t rejects as their distribution interpolated between them (from 0 at
/// confidence 0), over n + 1 for n in-scope rows: (j + (t - cj) / (cj+1 - cj)) / (n + 1) when t
/// lies between the j-th and the next. With 99 rows or more that is the held-out cost to a row; with
/// fewer, where one row is more than a point, the threshold stays below the lowest right answer by
/// as much as the rows are few (a 4-intent bot with 8 held-out rows rejected 12–24 % of new
/// in-scope messages when the threshold sat at that answer: docs/training-choices.md).
fn one_point_threshold(rows: &[HeldRow]) -> f32 {
    let n = rows.iter().filter(|r| r.gold.is_some()).count();
    let mut right: Vec<f32> = rows.iter().filter(|r| r.gold.is_some() && r.answer == r.gold).map(|r| r.confidence).collect();
    right.sort_by(f32::total_cmp);
    let cost = |t: f32| {
        let j = right.partition_point(|&c| c < t);
        let below = if j == 0 { 0.0 } else { right[j - 1] };
        let part = match right.get(j) {
            Some(&above) if above > below => ((t - below) / (above - below)).clamp(0.0, 1.0),
            _ => 1.0,
        };
        (j as f64 + f64::from(part)) / (n + 1) as f64
    };
    grid().filter(|&t| cost(t) <= 0.01 + 1e-9).fold(0.0, f32::max)
}

/// Examples answered right at threshold `t` (an off-topic one is right when rejected).
fn accuracy_at(rows: &[HeldRow], t: f32) -> f64 {
    rows.iter().filter(|r| r.gold == r.at(t)).count() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_softens_overconfident_logits() {
        // right 60 % of the time but with large margins: the fitted temperature (≈ 12.3) is > 1
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for i in 0..100 {
            rows.extend_from_slice(&[5.0f32, 0.0]);
            y.push(Some(if i % 5 < 3 { 0 } else { 1 }));
        }
        let logits = Array2::from_shape_vec((100, 2), rows).unwrap();
        let t = fit_temperature(&logits, &y);
        assert!(t > 5.0, "{t}");
        let p = softmax(&[5.0, 0.0], t)[0];
        assert!((p - 0.6).abs() < 0.02, "{p}");
    }

    #[test]
    fn a_held_out_set_ranked_all_right_keeps_temperature_one() {
        // every row right: the NLL keeps falling as t shrinks, so no temperature is fitted
        let logits = Array2::from_shape_vec((3, 2), vec![3.0f32, 1.0, 0.0, 2.0, 4.0, 0.5]).unwrap();
        assert_eq!(fit_temperature(&logits, &[Some(0), Some(1), Some(0)]), 1.0);
        // one wrong row is enough to fit one
        assert_ne!(fit_temperature(&logits, &[Some(0), Some(1), Some(1)]), 1.0);
    }

    #[test]
    fn threshold_with_and_without_out_of_scope() {
        let row = |confidence: f32, gold: Option<usize>, answer: Option<usize>| HeldRow { confidence, gold, answer };
        let mut rows: Vec<HeldRow> = (0..90).map(|i| row(0.5 + i as f32 / 200.0, Some(0), Some(0))).collect();
        rows.extend((0..10).map(|i| row(0.2 + i as f32 / 100.0, Some(0), Some(1))));
        let c = choose_threshold(&rows, DEFAULT_RULE);
        assert!(c.chosen >= 0.25 && c.chosen <= 0.5, "{c:?}");
        rows.extend((0..50).map(|i| row(0.1 + i as f32 / 200.0, None, Some(1))));
        for rule in [ThresholdRule::Mcc, ThresholdRule::Accuracy, ThresholdRule::MeanAccuracyRecall] {
            let c = choose_threshold(&rows, rule);
            assert!(c.chosen >= 0.35 && c.chosen <= 0.5, "{rule:?} {:?}", c.chosen);
        }
        // the wrong in-scope answers (0.20–0.29) are rejections too: the cap stops at 5 % of them
        assert_eq!(choose_threshold(&rows, DEFAULT_RULE).chosen, 0.25);
        assert_eq!(choose_threshold(&rows, ThresholdRule::Fixed(0.7)).chosen, 0.7);
        // in-scope rows spread low: the capped rule keeps 95 % of them, the others reject more
        let mut spread: Vec<HeldRow> = (0..100).map(|i| row(0.05 + i as f32 / 110.0, Some(0), Some(0))).collect();
        spread.extend((0..100).map(|i| row(0.02 + i as f32 / 400.0, None, Some(0))));
        let capped = choose_threshold(&spread, DEFAULT_RULE);
        let row_at = |c: &ThresholdChoice| c.table.iter().find(|r| (r.threshold - c.chosen).abs() < 1e-6).unwrap().clone();
        assert!(row_at(&capped).in_scope_rejected <= 0.05, "{:?}", row_at(&capped));
        assert!(row_at(&choose_threshold(&spread, ThresholdRule::Mcc)).in_scope_rejected > 0.05);
    }

    #[test]
    fn few_held_out_rows_keep_the_threshold_below_their_lowest_right_answer() {
        let row = |confidence: f32, gold: usize, answer: usize| HeldRow { confidence, gold: Some(gold), answer: Some(answer) };
        // 8 rows, all right, 0.60–0.95: one row is 12 points, so the threshold may not reach 0.60
        // (there it rejected 12–24 % of a small bot's new messages); it stays at 9 % of it
        let few: Vec<HeldRow> = (0..8).map(|i| row(0.6 + i as f32 * 0.05, 0, 0)).collect();
        let c = choose_threshold(&few, DEFAULT_RULE);
        assert_eq!(c.chosen, 0.05, "{c:?}");
        // wrong answers below them count among the rows (n = 10) but are no cost: 0.06
        let mut with_wrong = few.clone();
        with_wrong.extend([row(0.3, 0, 1), row(0.35, 0, 1)]);
        assert_eq!(choose_threshold(&with_wrong, DEFAULT_RULE).chosen, 0.06);
        // many rows: the held-out cost to a row (1 % of 1,000 rows from 0.500 up is 0.50; of
        // 1,000 rows from 0.001 up by 0.001, 0.01)
        let many: Vec<HeldRow> = (0..1000).map(|i| row(0.5 + i as f32 / 2000.0, 0, 0)).collect();
        assert_eq!(choose_threshold(&many, DEFAULT_RULE).chosen, 0.5);
        let spread: Vec<HeldRow> = (0..1000).map(|i| row(0.001 * (i + 1) as f32, 0, 0)).collect();
        assert_eq!(choose_threshold(&spread, DEFAULT_RULE).chosen, 0.01);
    }

    #[test]
    fn an_out_of_scope_intent_counts_as_a_rejection() {
        // the model answers the trained out-of-scope intent (None) confidently: rejected at any threshold
        let rows = [
            HeldRow { confidence: 0.99, gold: None, answer: None },
            HeldRow { confidence: 0.9, gold: Some(0), answer: Some(0) },
            HeldRow { confidence: 0.9, gold: Some(1), answer: None },
        ];
        let t = &threshold_table(&rows)[0];
        assert_eq!(t.oos_recall, Some(1.0));
        assert_eq!((t.in_scope_accuracy, t.in_scope_rejected), (0.5, 0.5));
    }
}
