//! Off-topic (out-of-scope) scoring, as bot owners compare platforms (used by `parlance train`'s threshold table and `parlance eval`): an answer is a *rejection*
//! when it is the fallback (`nlu_fallback`) or an out-of-scope intent (Rasa's `out_of_scope`,
//! `oos`, or the one a bundle names); a message is *off-topic* when its gold intent is one of
//! those or an intent the model does not know. Matthews correlation counts off-topic as one more
//! class (Gorodkin's multi-class R_K).

use std::collections::HashMap;

/// Intent names taken as out-of-scope everywhere (besides one a bundle names).
pub const OUT_OF_SCOPE_NAMES: [&str; 3] = ["oos", "out_of_scope", "nlu_fallback"];

/// Whether `name` is an out-of-scope intent: one of [`OUT_OF_SCOPE_NAMES`] (any case) or in `extra`.
pub fn is_out_of_scope(name: &str, extra: &[String]) -> bool {
    OUT_OF_SCOPE_NAMES.contains(&name.to_ascii_lowercase().as_str()) || extra.iter().any(|e| e == name)
}

/// Matthews correlation of (gold, predicted) class pairs, any number of classes (None is a class:
/// off-topic). 0 when either side has a single class.
pub fn matthews<T: std::hash::Hash + Eq + Clone>(pairs: &[(T, T)]) -> f64 {
    let mut index: HashMap<T, usize> = HashMap::new();
    for (g, p) in pairs {
        for c in [g, p] {
            let n = index.len();
            index.entry(c.clone()).or_insert(n);
        }
    }
    let k = index.len();
    let (mut gold, mut pred) = (vec![0f64; k], vec![0f64; k]);
    let mut right = 0f64;
    for (g, p) in pairs {
        let (gi, pi) = (index[g], index[p]);
        gold[gi] += 1.0;
        pred[pi] += 1.0;
        right += (gi == pi) as u8 as f64;
    }
    let s = pairs.len() as f64;
    let tp: f64 = gold.iter().zip(&pred).map(|(g, p)| g * p).sum();
    let num = right * s - tp;
    let den = ((s * s - pred.iter().map(|p| p * p).sum::<f64>()) * (s * s - gold.iter().map(|g| g * g).sum::<f64>())).sqrt();
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// Off-topic scores of a set of answers.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct OffTopic {
    /// Messages whose gold intent is one the model knows (and not out-of-scope).
    pub in_scope: usize,
    /// In-scope messages answered with their intent.
    pub in_scope_accuracy: f64,
    /// In-scope messages rejected.
    pub in_scope_rejected: f64,
    pub off_topic: usize,
    /// Off-topic messages rejected (None without off-topic messages).
    pub off_topic_recall: Option<f64>,
    /// Matthews correlation, off-topic counted as one class.
    pub mcc: f64,
    /// Answers that fell back (`nlu_fallback`), by `fallback_reason` (`parlance eval`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fallback_reasons: std::collections::BTreeMap<String, usize>,
}

/// Scores (gold class, answered class) pairs where None is off-topic / a rejection.
pub fn off_topic(pairs: &[(Option<String>, Option<String>)]) -> OffTopic {
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let in_scope: Vec<_> = pairs.iter().filter(|p| p.0.is_some()).collect();
    let off: Vec<_> = pairs.iter().filter(|p| p.0.is_none()).collect();
    OffTopic {
        in_scope: in_scope.len(),
        in_scope_accuracy: ratio(in_scope.iter().filter(|p| p.0 == p.1).count(), in_scope.len()),
        in_scope_rejected: ratio(in_scope.iter().filter(|p| p.1.is_none()).count(), in_scope.len()),
        off_topic: off.len(),
        off_topic_recall: (!off.is_empty()).then(|| ratio(off.iter().filter(|p| p.1.is_none()).count(), off.len())),
        mcc: matthews(pairs),
        fallback_reasons: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matthews_matches_the_binary_formula_and_counts_off_topic_as_a_class() {
        // binary: tp 3, tn 4, fp 1, fn 2 → (12 − 2) / √(4·6·5·5)
        let mut pairs = vec![(1, 1); 3];
        pairs.extend([(0, 0); 4]);
        pairs.push((0, 1));
        pairs.extend([(1, 0); 2]);
        let want = 10.0 / (4.0f64 * 6.0 * 5.0 * 5.0).sqrt();
        assert!((matthews(&pairs) - want).abs() < 1e-12);
        assert_eq!(matthews(&[(Some(1), Some(1)), (None, None), (Some(2), Some(2))]), 1.0);
        assert_eq!(matthews(&[(1, 0), (2, 0)]), 0.0);
        let s = |v: &str| Some(v.to_string());
        let t = off_topic(&[(s("a"), s("a")), (s("b"), None), (None, None), (None, s("a"))]);
        assert_eq!((t.in_scope, t.off_topic), (2, 2));
        assert_eq!((t.in_scope_accuracy, t.in_scope_rejected, t.off_topic_recall), (0.5, 0.5, Some(0.5)));
        assert!(is_out_of_scope("Out_Of_Scope", &[]) && is_out_of_scope("chitchat", &["chitchat".into()]));
        assert!(!is_out_of_scope("greet", &[]));
    }
}
