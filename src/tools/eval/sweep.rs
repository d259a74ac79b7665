//! The off-topic trade-off on the evaluated data (`parlance eval`): in-scope accuracy, in-scope
//! rejections, off-topic recall and Matthews correlation at every fallback threshold of the grid,
//! the one served and the best one marked. Bot owners compare platforms this way, and published
//! studies report each platform at its best threshold on the test set: the best row here is that
//! number for Parlance (an oracle, not a threshold to serve; `parlance train` chooses without it).

use serde::Serialize;

use crate::pipeline::result::{ParseResult, FALLBACK_INTENT};
use crate::train::calibrate::ThresholdRow;
use crate::train::oos;

/// One parse as the trade-off sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The gold class (None: off-topic).
    pub gold: Option<String>,
    /// The model's top intent before any fallback, as a class (None: an out-of-scope intent).
    pub top: Option<String>,
    pub confidence: f32,
    /// Rejected whatever the threshold: the bundle's off-topic gate or the ambiguity margin.
    pub held: bool,
}

impl Scored {
    /// `class` maps an intent name to its class (None for an out-of-scope intent).
    pub fn new(gold: Option<String>, r: &ParseResult, class: impl Fn(&str) -> Option<String>) -> Scored {
        let top = r.intent_ranking.iter().find(|s| s.name != FALLBACK_INTENT);
        Scored {
            gold,
            top: top.and_then(|s| class(&s.name)),
            confidence: top.map_or(0.0, |s| s.confidence),
            held: r.fallback_reason.is_some_and(|why| why != "low_confidence"),
        }
    }

    fn at(&self, t: f32) -> Option<String> {
        if self.held || self.confidence < t {
            None
        } else {
            self.top.clone()
        }
    }
}

/// The trade-off over the grid 0.00–0.99, the served threshold's row, and the row with the best
/// Matthews correlation (the lowest threshold among equals).
#[derive(Debug, Clone, Serialize)]
pub struct Tradeoff {
    pub rows: Vec<ThresholdRow>,
    pub served: ThresholdRow,
    pub best: ThresholdRow,
}

fn row(scored: &[Scored], t: f32) -> ThresholdRow {
    let pairs: Vec<(Option<String>, Option<String>)> = scored.iter().map(|s| (s.gold.clone(), s.at(t))).collect();
    let o = oos::off_topic(&pairs);
    ThresholdRow {
        threshold: t,
        in_scope_accuracy: o.in_scope_accuracy,
        in_scope_rejected: o.in_scope_rejected,
        oos_recall: o.off_topic_recall,
        mcc: o.mcc,
    }
}

/// The trade-off of `scored`, served at threshold `served`.
pub fn tradeoff(scored: &[Scored], served: f32) -> Tradeoff {
    let rows: Vec<ThresholdRow> = (0..100).map(|i| row(scored, i as f32 / 100.0)).collect();
    let best = rows.iter().fold(&rows[0], |b, r| if r.mcc > b.mcc + 1e-12 { r } else { b }).clone();
    Tradeoff { served: row(scored, served), best, rows }
}

impl Tradeoff {
    /// The table as text: every tenth threshold, the served one and the best one, in order.
    pub fn lines(&self) -> Vec<String> {
        let mut picked: Vec<(&ThresholdRow, &str)> = self.rows.iter().step_by(10).map(|r| (r, "")).collect();
        picked.push((&self.served, " < served"));
        picked.push((&self.best, " < best Matthews correlation on this data (an oracle: studies report platforms so)"));
        picked.sort_by(|a, b| a.0.threshold.total_cmp(&b.0.threshold));
        let mut out = vec!["  threshold  in-scope acc  in-scope rejected  off-topic recall    MCC".to_string()];
        for (r, mark) in picked {
            let recall = r.oos_recall.map_or("n/a".to_string(), |v| format!("{v:.3}"));
            out.push(format!("  {:9.2}  {:12.3}  {:17.3}  {recall:>16}  {:5.3}{mark}", r.threshold, r.in_scope_accuracy, r.in_scope_rejected, r.mcc));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(gold: Option<&str>, top: Option<&str>, confidence: f32, held: bool) -> Scored {
        Scored { gold: gold.map(str::to_string), top: top.map(str::to_string), confidence, held }
    }

    #[test]
    fn the_trade_off_rejects_below_each_threshold_and_finds_the_best() {
        // two in-scope answers, right and confident; two off-topic messages, one at 0.3, one held
        // by the gate; an in-scope message the gate holds too
        let scored = [
            s(Some("a"), Some("a"), 0.9, false),
            s(Some("b"), Some("b"), 0.6, false),
            s(None, Some("a"), 0.3, false),
            s(None, Some("b"), 0.95, true),
            s(Some("a"), Some("a"), 0.8, true),
        ];
        let t = tradeoff(&scored, 0.1);
        assert_eq!(t.rows.len(), 100);
        let at = |x: f32| t.rows.iter().find(|r| (r.threshold - x).abs() < 1e-6).unwrap();
        assert_eq!((at(0.0).in_scope_accuracy, at(0.0).oos_recall), (2.0 / 3.0, Some(0.5)));
        assert_eq!((at(0.31).in_scope_accuracy, at(0.31).oos_recall), (2.0 / 3.0, Some(1.0)));
        assert_eq!(at(0.7).in_scope_rejected, 2.0 / 3.0);
        assert_eq!(t.served.threshold, 0.1);
        assert_eq!(t.served.oos_recall, Some(0.5));
        // the best: the lowest threshold that rejects the 0.3 message and keeps the 0.6 answer
        assert!((t.best.threshold - 0.31).abs() < 1e-6, "{}", t.best.threshold);
        let lines = t.lines();
        assert!(lines.iter().any(|l| l.contains("0.10") && l.ends_with("< served")), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("0.31") && l.contains("best Matthews")), "{lines:?}");
    }
}
