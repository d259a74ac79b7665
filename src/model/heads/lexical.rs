//! Lexical features of a trained bot, beside the sentence vector: word-bounded character 2–5-grams
//! and word 1–2-grams, TF-IDF with sublinear term frequency (1 + ln tf), each block L2-normalised
//! and scaled, as scikit-learn's `TfidfVectorizer(analyzer="char_wb" / "word", sublinear_tf=True)`.
//! `parlance train` fits the vocabulary and the idf (src/train/lexical.rs) and a weight row per
//! feature; at parse time the same code turns the text into its few non-zero features and adds
//! their rows to the intent logits (logits are linear: W·[v; x] = Wv·v + Wx·x).
//!
//! Rasa's lookup tables and regexes feed them as Rasa's RegexFeaturizer does: one more column per
//! table or `regex:` item, after the terms, worth `scale` when the message contains an element of
//! the table or matches one of the regex's patterns (the entity extractor's own matcher,
//! [`compile_list`]), else absent.
//!
//! Files of a bundle: `lexical.json` (settings, terms in order, pattern columns) and
//! `lexical.safetensors` (`idf` [terms], `weight` [terms + patterns, intents]).

use std::collections::HashMap;
use std::path::Path;

use ndarray::{Array1, Array2};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::model::heads::rasa_rules::{compile_list, NamedList};

pub const VOCAB_FILE: &str = "lexical.json";
pub const WEIGHTS_FILE: &str = "lexical.safetensors";

/// How text becomes terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexicalSettings {
    pub char_min: usize,
    pub char_max: usize,
    /// Word n-grams up to this length (1: words only).
    pub word_max: usize,
    /// Scale of each block after its L2 normalisation (the sentence vector has norm 1).
    pub scale: f32,
    /// Terms seen in fewer training examples are left out.
    pub min_df: usize,
}

impl Default for LexicalSettings {
    fn default() -> Self {
        LexicalSettings { char_min: 2, char_max: 5, word_max: 2, scale: 1.0, min_df: 1 }
    }
}

/// The words of a text for lexical features: lower case, `’` as `'`, runs of letters and digits,
/// and every other visible character that is not ASCII punctuation as a word of its own (emoji,
/// `%`, `€`, `$`, `&`, `+`, `#`, `@`).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = if c == '’' { '\'' } else { c };
        if c.is_alphanumeric() {
            cur.push(c);
            continue;
        }
        if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        let punctuation = c.is_ascii_punctuation() && !"%$&+#@".contains(c);
        if !c.is_whitespace() && !punctuation && !c.is_control() && c != '\u{FE0F}' {
            out.push(c.to_string());
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Every term of a text with its count: `c:` + character n-grams of each word padded with spaces
/// (a word shorter than n counted once whole), `w:` + word n-grams.
pub fn terms(text: &str, s: &LexicalSettings) -> HashMap<String, u32> {
    let ws = words(text);
    let mut out: HashMap<String, u32> = HashMap::new();
    for w in &ws {
        let padded: Vec<char> = format!(" {w} ").chars().collect();
        for n in s.char_min..=s.char_max {
            if padded.len() <= n {
                *out.entry(format!("c:{}", padded.iter().collect::<String>())).or_default() += 1;
                break;
            }
            for g in padded.windows(n) {
                *out.entry(format!("c:{}", g.iter().collect::<String>())).or_default() += 1;
            }
        }
    }
    for n in 1..=s.word_max {
        for g in ws.windows(n) {
            *out.entry(format!("w:{}", g.join(" "))).or_default() += 1;
        }
    }
    out
}

/// A pattern column: a Rasa lookup table or `regex:` item of the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternFeature {
    /// "lookup" or "regex".
    pub kind: String,
    /// The table's (or regex's) name: its entity in Rasa's files.
    pub name: String,
    /// The table's elements, or the regex's patterns.
    pub items: Vec<String>,
}

/// A fitted vocabulary: term → column, idf per column; then the pattern columns.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    pub settings: LexicalSettings,
    pub terms: Vec<String>,
    pub index: HashMap<String, usize>,
    pub idf: Vec<f32>,
    /// Columns `terms.len()..`, in this order.
    pub patterns: Vec<PatternFeature>,
    matchers: Vec<Vec<Regex>>,
}

impl Vocabulary {
    pub fn new(settings: LexicalSettings, terms: Vec<String>, idf: Vec<f32>) -> Vocabulary {
        let index = terms.iter().enumerate().map(|(i, t)| (t.clone(), i)).collect();
        Vocabulary { settings, terms, index, idf, patterns: Vec::new(), matchers: Vec::new() }
    }

    /// The same vocabulary with these pattern columns (compiled; a pattern that does not compile,
    /// or a kind other than "lookup" and "regex", is an error).
    pub fn with_patterns(mut self, patterns: Vec<PatternFeature>) -> Result<Vocabulary, String> {
        let compile = |p: &PatternFeature| match p.kind.as_str() {
            "lookup" | "regex" => compile_list(&p.kind, &NamedList { entity: p.name.clone(), items: p.items.clone() }),
            other => Err(format!("pattern {:?}: kind {other:?} is neither \"lookup\" nor \"regex\"", p.name)),
        };
        self.matchers = patterns.iter().map(compile).collect::<Result<_, _>>()?;
        self.patterns = patterns;
        Ok(self)
    }

    /// Columns: terms, then patterns.
    pub fn columns(&self) -> usize {
        self.terms.len() + self.patterns.len()
    }

    /// The text's non-zero features (column, value): sublinear tf × idf, each block (characters,
    /// words) L2-normalised then scaled. Sorted by column.
    pub fn features(&self, text: &str) -> Vec<(usize, f32)> {
        let mut blocks: [Vec<(usize, f32)>; 2] = [Vec::new(), Vec::new()];
        for (term, tf) in terms(text, &self.settings) {
            if let Some(&col) = self.index.get(&term) {
                let block = usize::from(term.starts_with("w:"));
                blocks[block].push((col, (1.0 + (tf as f32).ln()) * self.idf[col]));
            }
        }
        let mut out = Vec::new();
        for mut b in blocks {
            // in column order, so the norm is summed the same way every time (training, serving)
            b.sort_unstable_by_key(|f| f.0);
            let norm = b.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                b.iter_mut().for_each(|(_, v)| *v *= self.settings.scale / norm);
            }
            out.extend(b);
        }
        let on = self.matchers.iter().enumerate().filter(|(_, m)| m.iter().any(|re| re.is_match(text)));
        out.extend(on.map(|(i, _)| (self.terms.len() + i, self.settings.scale)));
        out.sort_unstable_by_key(|f| f.0);
        out
    }
}

/// A bundle's lexical head: the vocabulary and a weight row per term.
#[derive(Debug, Clone)]
pub struct Lexical {
    pub vocab: Vocabulary,
    /// [terms + patterns, intents]
    pub weight: Array2<f32>,
}

#[derive(Serialize, Deserialize)]
struct VocabFile {
    settings: LexicalSettings,
    /// Absent in bundles written before the pattern columns (and when a project has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    patterns: Vec<PatternFeature>,
    terms: Vec<String>,
}

impl Lexical {
    /// What the lexical features add to the intent logits of `text`.
    pub fn logits(&self, text: &str) -> Array1<f32> {
        let mut out = Array1::zeros(self.weight.ncols());
        for (col, v) in self.vocab.features(text) {
            out.scaled_add(v, &self.weight.row(col));
        }
        out
    }

    /// Writes `lexical.json` and `lexical.safetensors` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        use safetensors::tensor::{Dtype, TensorView};
        let v = &self.vocab;
        let file = VocabFile { settings: v.settings.clone(), patterns: v.patterns.clone(), terms: v.terms.clone() };
        let text = serde_json::to_string(&file).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(VOCAB_FILE), text + "\n").map_err(|e| format!("{VOCAB_FILE}: {e}"))?;
        let bytes = |a: &[f32]| a.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let w = self.weight.as_standard_layout();
        let (idf, weight) = (bytes(&self.vocab.idf), bytes(w.as_slice().expect("standard layout")));
        let views = vec![
            ("idf".to_string(), TensorView::new(Dtype::F32, vec![self.vocab.idf.len()], &idf).map_err(|e| e.to_string())?),
            ("weight".to_string(), TensorView::new(Dtype::F32, w.shape().to_vec(), &weight).map_err(|e| e.to_string())?),
        ];
        let path = dir.join(WEIGHTS_FILE);
        safetensors::serialize_to_file(views, None, &path).map_err(|e| format!("{WEIGHTS_FILE}: {e}"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Reads a bundle's lexical head (`intents` columns), if it has one.
    pub fn load(dir: &Path, intents: usize) -> Result<Option<Lexical>, String> {
        if !dir.join(VOCAB_FILE).is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(dir.join(VOCAB_FILE)).map_err(|e| format!("{VOCAB_FILE}: {e}"))?;
        let file: VocabFile = serde_json::from_str(&text).map_err(|e| format!("{VOCAB_FILE}: {e}"))?;
        let bytes = crate::model::files::read_bounded(&dir.join(WEIGHTS_FILE), crate::model::files::MAX_MODEL_BYTES)?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| format!("{WEIGHTS_FILE}: {e}"))?;
        let (n, cols) = (file.terms.len(), file.terms.len() + file.patterns.len());
        let read = |name: &str, len: usize| -> Result<Vec<f32>, String> {
            let t = st.tensor(name).map_err(|e| format!("{WEIGHTS_FILE}: {name}: {e}"))?;
            let v: Vec<f32> = t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            (v.len() == len).then_some(v).ok_or_else(|| format!("{WEIGHTS_FILE}: {name} has {} values, expected {len}", t.data().len() / 4))
        };
        let idf = read("idf", n)?;
        let weight = Array2::from_shape_vec((cols, intents), read("weight", cols * intents)?).map_err(|e| e.to_string())?;
        let vocab = Vocabulary::new(file.settings, file.terms, idf).with_patterns(file.patterns).map_err(|e| format!("{VOCAB_FILE}: {e}"))?;
        Ok(Some(Lexical { vocab, weight }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_terms_are_word_bounded() {
        assert_eq!(words("0% EMI?"), ["0", "%", "emi"]);
        assert_eq!(words("L’avion 👍️ ok"), ["l", "avion", "👍", "ok"]);
        let t = terms("Hi hi", &LexicalSettings::default());
        // " hi " gives " h", "hi", "i " (2), " hi", "hi " (3), " hi " (4, whole), twice each
        assert_eq!(t["c: h"], 2);
        assert_eq!(t["c: hi "], 2);
        assert!(!t.contains_key("c: hi  "));
        assert_eq!(t["w:hi"], 2);
        assert_eq!(t["w:hi hi"], 1);
    }

    /// A bundle written before the pattern columns (no `patterns` in `lexical.json`, weight
    /// [terms, intents]) still loads, with no pattern column.
    #[test]
    fn a_bundle_without_pattern_columns_loads() {
        let dir = tempfile::tempdir().unwrap();
        let vocab = Vocabulary::new(LexicalSettings::default(), vec!["w:hi".into(), "w:bye".into()], vec![1.0, 1.5]);
        Lexical { vocab, weight: Array2::from_shape_vec((2, 3), vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0]).unwrap() }.save(dir.path()).unwrap();
        let old = r#"{"settings":{"char_min":2,"char_max":5,"word_max":2,"scale":1.0,"min_df":1},"terms":["w:hi","w:bye"]}"#;
        std::fs::write(dir.path().join(VOCAB_FILE), old).unwrap();
        let lex = Lexical::load(dir.path(), 3).unwrap().expect("loads");
        assert!(lex.vocab.patterns.is_empty());
        assert_eq!(lex.vocab.columns(), 2);
        assert_eq!(lex.logits("bye").to_vec(), [0.0, 1.0, 0.0]);
        // a pattern column more than the weight rows is refused, not read past
        let new = old.replace(r#""terms""#, r#""patterns":[{"kind":"lookup","name":"x","items":["hi"]}],"terms""#);
        std::fs::write(dir.path().join(VOCAB_FILE), new).unwrap();
        let e = Lexical::load(dir.path(), 3).unwrap_err();
        assert!(e.contains("weight has 6 values, expected 9"), "{e}");
    }
}
