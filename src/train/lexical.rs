//! Fitting the lexical features (src/model/heads/lexical.rs) in `parlance train`: the vocabulary
//! (every term of the training examples seen in at least `min_df` of them, or a hashed one) and
//! scikit-learn's smooth idf, ln((1 + n) / (1 + df)) + 1. Rasa synonyms feed them: each synonym's
//! text is one more document of the vocabulary (its terms get columns and an idf), so a message
//! that uses it has features the head can weigh once an example carries it.

use std::collections::{BTreeMap, HashMap};

use crate::model::heads::lexical::{terms, LexicalSettings, Vocabulary};
use crate::train::logreg::SparseRows;

/// Fits the vocabulary and idf on `texts` (the training examples) and `extra` (synonyms, lookup
/// values: they add terms, they are not examples).
pub fn fit_vocabulary(texts: &[&str], extra: &[&str], settings: &LexicalSettings) -> Vocabulary {
    let mut df: BTreeMap<String, usize> = BTreeMap::new();
    for t in texts.iter().chain(extra) {
        for term in terms(t, settings).into_keys() {
            *df.entry(term).or_default() += 1;
        }
    }
    let n = (texts.len() + extra.len()) as f32;
    let kept: Vec<(String, usize)> = df.into_iter().filter(|(_, d)| *d >= settings.min_df.max(1)).collect();
    let idf = kept.iter().map(|(_, d)| ((1.0 + n) / (1.0 + *d as f32)).ln() + 1.0).collect();
    Vocabulary::new(settings.clone(), kept.into_iter().map(|(t, _)| t).collect(), idf)
}

/// The features of `texts` as sparse rows.
pub fn featurize(vocab: &Vocabulary, texts: &[&str]) -> SparseRows {
    SparseRows { rows: texts.iter().map(|t| vocab.features(t)).collect(), cols: vocab.columns() }
}

/// Hashing instead of a vocabulary (measured against it): `buckets` columns, a term's column is
/// its FNV-1a hash modulo `buckets`, idf of the bucket.
pub fn fit_hashed(texts: &[&str], settings: &LexicalSettings, buckets: usize) -> (Vocabulary, impl Fn(&str) -> Vec<(usize, f32)>) {
    let hash = move |t: &str| t.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3)) as usize % buckets;
    let mut df = vec![0usize; buckets];
    for t in texts {
        let cols: std::collections::BTreeSet<usize> = terms(t, settings).keys().map(|k| hash(k)).collect();
        cols.into_iter().for_each(|c| df[c] += 1);
    }
    let n = texts.len() as f32;
    let idf: Vec<f32> = df.iter().map(|d| ((1.0 + n) / (1.0 + *d as f32)).ln() + 1.0).collect();
    let vocab = Vocabulary::new(settings.clone(), Vec::new(), idf.clone());
    let s = settings.clone();
    let features = move |text: &str| {
        let mut blocks: [HashMap<usize, f32>; 2] = [HashMap::new(), HashMap::new()];
        for (term, tf) in terms(text, &s) {
            let c = hash(&term);
            *blocks[usize::from(term.starts_with("w:"))].entry(c).or_default() += (1.0 + (tf as f32).ln()) * idf[c];
        }
        let mut out: Vec<(usize, f32)> = Vec::new();
        for b in blocks {
            let norm = b.values().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            out.extend(b.into_iter().map(|(c, v)| (c, v * s.scale / norm)));
        }
        out.sort_unstable_by_key(|f| f.0);
        out
    };
    (vocab, features)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_and_idf_as_scikit_learn() {
        let s = LexicalSettings { char_min: 2, char_max: 2, word_max: 1, scale: 1.0, min_df: 1 };
        let v = fit_vocabulary(&["ab", "ab cd"], &[], &s);
        let idf = |t: &str| v.idf[v.index[t]];
        // "w:ab" in both documents: ln(3/3) + 1; "w:cd" in one: ln(3/2) + 1
        assert!((idf("w:ab") - 1.0).abs() < 1e-6);
        assert!((idf("w:cd") - (1.5f32.ln() + 1.0)).abs() < 1e-6);
        let f = v.features("cd cd");
        // words block: only "w:cd", tf 2 → one value, normalised to 1
        assert!(f.iter().any(|&(c, x)| c == v.index["w:cd"] && (x - 1.0).abs() < 1e-6), "{f:?}");
        let min2 = fit_vocabulary(&["ab", "ab cd"], &[], &LexicalSettings { min_df: 2, ..s.clone() });
        assert!(min2.index.contains_key("w:ab") && !min2.index.contains_key("w:cd"));
        let (_, hashed) = fit_hashed(&["ab", "ab cd"], &s, 64);
        let norm: f32 = hashed("ab cd").iter().map(|x| x.1 * x.1).sum();
        assert!((norm - 2.0).abs() < 1e-4, "two blocks of norm 1: {norm}");
    }

    /// The features a bundle applies at parse time (written, read back, `Lexical::logits` on the
    /// text) are the ones the head was trained on (`featurize` rows times the trained weights),
    /// pattern columns (a lookup table, a regex) included.
    #[test]
    fn training_and_serving_features_agree() {
        use crate::model::heads::lexical::{Lexical, PatternFeature};
        use crate::train::logreg::{fit_joint, FitConfig};
        let texts = ["where is my order", "0% EMI?", "refund?", "EMI", "track order 12345 📦", "je veux être remboursé", "Où est ma commande ?"];
        let y = [0, 1, 2, 1, 0, 2, 0];
        let settings = LexicalSettings { scale: 0.5, ..Default::default() };
        let pattern = |kind: &str, name: &str, items: &[&str]| PatternFeature {
            kind: kind.into(),
            name: name.into(),
            items: items.iter().map(|s| s.to_string()).collect(),
        };
        let patterns = vec![pattern("lookup", "product", &["EMI", "gift card"]), pattern("regex", "order_id", &[r"\b\d{5}\b"])];
        let vocab = fit_vocabulary(&texts, &["reimbursement", "refund"], &settings).with_patterns(patterns.clone()).unwrap();
        let rows = featurize(&vocab, &texts);
        let x = ndarray::Array2::<f32>::zeros((texts.len(), 2));
        let (_, weight, _) = fit_joint(&x, &rows, &y, 3, &FitConfig { l2: 1e-2, standardize: false, max_iter: 50, tol: 1e-9 });
        let dir = tempfile::tempdir().unwrap();
        crate::train::write::write_lexical(dir.path(), Some(&Lexical { vocab: vocab.clone(), weight: weight.clone() })).unwrap();
        let served = Lexical::load(dir.path(), 3).unwrap().expect("written");
        assert_eq!((&served.vocab.terms, &served.vocab.patterns), (&vocab.terms, &patterns));
        assert_eq!(weight.nrows(), vocab.terms.len() + 2);
        // "0% EMI?" has the lookup's column; "track order 12345" the regex's; "EMIs" neither (word-bounded)
        let (lookup_col, regex_col) = (vocab.terms.len(), vocab.terms.len() + 1);
        assert!(rows.rows[1].contains(&(lookup_col, 0.5)) && !rows.rows[1].iter().any(|f| f.0 == regex_col), "{:?}", rows.rows[1]);
        assert!(rows.rows[4].contains(&(regex_col, 0.5)), "{:?}", rows.rows[4]);
        assert!(!vocab.features("EMIs please").iter().any(|f| f.0 >= lookup_col));
        let unseen = ["EMI refund?", "where is it", "📦", "a Gift Card for order 54321"];
        for (i, t) in texts.iter().chain(&unseen).enumerate() {
            let trained: Vec<(usize, f32)> = if i < texts.len() { rows.rows[i].clone() } else { featurize(&vocab, &[t]).rows[0].clone() };
            assert_eq!(served.vocab.features(t), trained, "{t}");
            let mut want = ndarray::Array1::<f32>::zeros(3);
            trained.iter().for_each(|&(c, v)| want.scaled_add(v, &weight.row(c)));
            let got = served.logits(t);
            assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6), "{t}: {got} vs {want}");
        }
        // the lexical head alone tells the short messages apart
        let argmax = |v: ndarray::Array1<f32>| v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(argmax(served.logits("EMI")), 1);
        assert_eq!(argmax(served.logits("refund?")), 2);
        // removed again when a later run has none
        crate::train::write::write_lexical(dir.path(), None).unwrap();
        assert!(Lexical::load(dir.path(), 3).unwrap().is_none());
    }
}
