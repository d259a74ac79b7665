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

/// One row of the threshold table.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdRow {
    pub threshold: f32,
    /// In-scope examples whose intent is right and confident enough, over in-scope examples.
    pub in_scope_accuracy: f64,
    /// In-scope examples sent to fallback.
    pub in_scope_rejected: f64,
    /// Out-of-scope examples sent to fallback (None: the held-out data has none).
    pub oos_recall: Option<f64>,
}

/// The thresholds tried and the one chosen.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdChoice {
    pub chosen: f32,
    pub rule: String,
    pub table: Vec<ThresholdRow>,
}

/// Chooses a fallback threshold from held-out (top-1 confidence, right?, out-of-scope?) triples.
/// With out-of-scope examples: the threshold that maximises the mean of in-scope accuracy and
/// out-of-scope recall. Without: the highest one that costs at most 1 point of in-scope accuracy.
pub fn choose_threshold(rows: &[(f32, bool, bool)]) -> ThresholdChoice {
    let in_scope: Vec<&(f32, bool, bool)> = rows.iter().filter(|r| !r.2).collect();
    let oos: Vec<&(f32, bool, bool)> = rows.iter().filter(|r| r.2).collect();
    let frac = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let table: Vec<ThresholdRow> = (0..20)
        .map(|i| i as f32 * 0.05)
        .map(|t| ThresholdRow {
            threshold: t,
            in_scope_accuracy: frac(in_scope.iter().filter(|r| r.1 && r.0 >= t).count(), in_scope.len()),
            in_scope_rejected: frac(in_scope.iter().filter(|r| r.0 < t).count(), in_scope.len()),
            oos_recall: (!oos.is_empty()).then(|| frac(oos.iter().filter(|r| r.0 < t).count(), oos.len())),
        })
        .collect();
    let base = table[0].in_scope_accuracy;
    let (chosen, rule) = if oos.is_empty() {
        let t = table.iter().filter(|r| r.in_scope_accuracy >= base - 0.01).map(|r| r.threshold).fold(0.0, f32::max);
        (t, "highest threshold costing at most 1 point of in-scope accuracy (no out-of-scope examples held out)".to_string())
    } else {
        let score = |r: &ThresholdRow| (r.in_scope_accuracy + r.oos_recall.unwrap_or(0.0)) / 2.0;
        let best = table.iter().max_by(|a, b| score(a).total_cmp(&score(b))).expect("table is not empty");
        (best.threshold, "maximises the mean of in-scope accuracy and out-of-scope recall".to_string())
    };
    ThresholdChoice { chosen, rule, table }
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
        let mut rows: Vec<(f32, bool, bool)> = (0..90).map(|i| (0.5 + i as f32 / 200.0, true, false)).collect();
        rows.extend((0..10).map(|i| (0.2 + i as f32 / 100.0, false, false)));
        let c = choose_threshold(&rows);
        assert!(c.chosen >= 0.25 && c.chosen <= 0.5, "{c:?}");
        rows.extend((0..50).map(|i| (0.1 + i as f32 / 200.0, false, true)));
        let c = choose_threshold(&rows);
        assert!(c.chosen >= 0.35, "{c:?}");
    }
}
