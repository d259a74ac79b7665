//! The model bundle: manifest, tokenizer and ONNX graph, checked against each other at load.
//!
//! The contract is docs/bundle.md. Loading never half-succeeds: every problem found is collected
//! with the file it concerns, and a bundle with any problem is refused as a whole.
//!
//! Two layouts load: a Parlance bundle (`parlance.json` beside the graph and tokenizer), and a
//! Hugging Face sequence-classification export (`config.json` with `id2label`, a graph whose
//! output is `logits`), which is served as an intent-only model with a manifest made from its
//! config.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokenizers::Tokenizer;

use crate::decode::BioDecoder;
use crate::model::engine::Model;
use crate::model::files::{
    problem, read_bounded, read_text, Problem, HF_CONFIG_FILE, MANIFEST_FILE, MAX_JSON_BYTES, MAX_MODEL_BYTES, MAX_TOKENIZER_BYTES, MODEL_FILE,
    TOKENIZER_FILE,
};
use crate::model::hf::read_hf_config;
use crate::model::manifest::{schema_problems, BundleFormat, Manifest, TransitionFile};
use crate::model::session::SessionSettings;

/// The problem of a bundle file that is a pipe, a device or a folder.
const NOT_REGULAR: &str = "is not a regular file";

/// Notes a bundle file that is missing, not a regular file, or (the graph) over its size limit.
fn check_regular(dir: &Path, f: &str, problems: &mut Vec<Problem>) {
    match std::fs::metadata(dir.join(f)) {
        Err(_) => {
            let hint = if f == MANIFEST_FILE { " (or a Hugging Face config.json with id2label)" } else { "" };
            problems.push(problem(f, format!("missing{hint}")));
        }
        Ok(m) if !m.is_file() => problems.push(problem(f, NOT_REGULAR)),
        Ok(m) if f == MODEL_FILE && m.len() > MAX_MODEL_BYTES => {
            problems.push(problem(f, format!("is {} bytes; the limit is {MAX_MODEL_BYTES}", m.len())))
        }
        Ok(_) => {}
    }
}

/// A refused bundle: where it is and everything found wrong with it.
#[derive(Debug, Clone)]
pub struct BundleError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for BundleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid model bundle {}: ", self.path.display())?;
        let parts: Vec<String> = self.problems.iter().map(|p| p.to_string()).collect();
        write!(f, "{}", parts.join("; "))
    }
}

impl std::error::Error for BundleError {}

/// A loaded, checked bundle. The graph session is moved into the inference worker; the rest is
/// shared read-only with the request path.
pub struct Bundle {
    pub path: PathBuf,
    pub manifest: Arc<Manifest>,
    pub tokenizer: Arc<Tokenizer>,
    /// Slot decoding: valid BIO, plus the manifest's `slot_transitions` prior when it has one.
    pub decoder: Arc<BioDecoder>,
    /// Rasa synonyms, lookups and regexes applied at parse time (`rasa` in the manifest).
    pub rasa: Option<Arc<crate::model::heads::rasa_rules::RasaRules>>,
    /// A trained bot's lexical features (`lexical.json` + `lexical.safetensors`), added to its
    /// intent logits at parse time.
    pub lexical: Option<Arc<crate::model::heads::lexical::Lexical>>,
    pub model: Model,
}

/// Reads `parlance.json`: JSON syntax, then the schema, then the rules a schema cannot state.
fn read_manifest(dir: &Path, problems: &mut Vec<Problem>) -> Option<Manifest> {
    let text = match read_text(&dir.join(MANIFEST_FILE), MAX_JSON_BYTES) {
        Ok(t) => t,
        Err(e) => {
            problems.push(problem(MANIFEST_FILE, e));
            return None;
        }
    };
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(problem(MANIFEST_FILE, format!("not JSON: {e}")));
            return None;
        }
    };
    let violations = schema_problems(&value);
    if !violations.is_empty() {
        problems.extend(violations.into_iter().map(|m| problem(MANIFEST_FILE, m)));
        return None;
    }
    match serde_json::from_value::<Manifest>(value) {
        Ok(m) => {
            problems.extend(m.check().into_iter().map(|msg| problem(MANIFEST_FILE, msg)));
            Some(m)
        }
        Err(e) => {
            problems.push(problem(MANIFEST_FILE, format!("not a valid manifest: {e}")));
            None
        }
    }
}

/// Which layout a folder holds: a manifest wins; `config.json` alone means a Hugging Face export.
pub fn detect_format(dir: &Path) -> BundleFormat {
    if !dir.join(MANIFEST_FILE).is_file() && dir.join(HF_CONFIG_FILE).is_file() {
        BundleFormat::HuggingFace
    } else {
        BundleFormat::Parlance
    }
}

/// The slot decoder a manifest asks for: with its `slot_transitions` prior (read from the bundle's
/// file and checked against the labels) or without.
fn read_decoder(dir: &Path, m: &Manifest, problems: &mut Vec<Problem>) -> Option<BioDecoder> {
    let Some(t) = &m.slot_transitions else { return Some(BioDecoder::new(&m.slot_labels)) };
    let text = match read_text(&dir.join(&t.file), MAX_JSON_BYTES) {
        Ok(text) => text,
        Err(e) => {
            problems.push(problem(&t.file, format!("{e}; parlance.json slot_transitions names it")));
            return None;
        }
    };
    let file: TransitionFile = match serde_json::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            problems.push(problem(&t.file, format!("not a slot transition file: {e}")));
            return None;
        }
    };
    match BioDecoder::with_prior(&m.slot_labels, &file.counts, t.weight, t.smoothing) {
        Ok(d) => Some(d),
        Err(found) => {
            problems.extend(found.into_iter().map(|msg| problem(&t.file, msg)));
            None
        }
    }
}

/// Reads and checks the manifest, tokenizer and slot decoder; returns what could be read and every
/// problem.
fn read_parts(dir: &Path) -> (Option<Manifest>, Option<Tokenizer>, Option<BioDecoder>, Vec<Problem>) {
    let mut problems = Vec::new();
    if !dir.is_dir() {
        problems.push(problem(&dir.display().to_string(), "is not a directory"));
        return (None, None, None, problems);
    }
    let format = detect_format(dir);
    let description = match format {
        BundleFormat::Parlance => MANIFEST_FILE,
        BundleFormat::HuggingFace => HF_CONFIG_FILE,
    };
    check_regular(dir, description, &mut problems);
    if problems.iter().any(|p| p.message == NOT_REGULAR) {
        return (None, None, None, problems);
    }
    let manifest = match format {
        BundleFormat::Parlance => read_manifest(dir, &mut problems),
        BundleFormat::HuggingFace => read_hf_config(dir, &mut problems),
    };
    let heads = manifest.as_ref().filter(|m| m.is_heads());
    let own_files = match heads {
        Some(m) => m.heads.iter().map(|h| h.file.as_str()).chain(m.rasa.iter().map(|r| r.file.as_str())).collect(),
        None => vec![MODEL_FILE, TOKENIZER_FILE],
    };
    for f in own_files {
        check_regular(dir, f, &mut problems);
    }
    if problems.iter().any(|p| p.message == NOT_REGULAR) {
        return (None, None, None, problems);
    }
    let tokenizer = if let Some(m) = heads {
        crate::model::heads::encoder_tokenizer(dir, m).map_err(|msg| problems.push(problem(MANIFEST_FILE, msg))).ok()
    } else if dir.join(TOKENIZER_FILE).is_file() {
        match read_bounded(&dir.join(TOKENIZER_FILE), MAX_TOKENIZER_BYTES) {
            Ok(bytes) => match Tokenizer::from_bytes(&bytes) {
                Ok(t) => Some(t),
                Err(e) => {
                    problems.push(problem(TOKENIZER_FILE, format!("does not load: {e}")));
                    None
                }
            },
            Err(e) => {
                problems.push(problem(TOKENIZER_FILE, e));
                None
            }
        }
    } else {
        None
    };
    if let (Some(m), Some(t)) = (&manifest, &tokenizer) {
        // Ids the graph never saw would index past its embedding table at run time.
        if let Some(pid) = m.pad_id {
            if pid < 0 || pid as usize >= t.get_vocab_size(true) {
                problems.push(problem(description, format!("pad_id {pid} is not in the tokenizer's vocabulary")));
            }
        }
    }
    // the transition file is read against labels that passed their own checks
    let manifest_ok = !problems.iter().any(|p| p.file == description);
    let decoder = manifest.as_ref().filter(|_| manifest_ok).and_then(|m| read_decoder(dir, m, &mut problems));
    (manifest, tokenizer, decoder, problems)
}

impl Bundle {
    /// Loads a bundle, checks every part against the others and warms the graph up once.
    pub fn load(dir: impl AsRef<Path>, settings: &SessionSettings) -> Result<Bundle, BundleError> {
        let dir = dir.as_ref().to_path_buf();
        let fail = |problems| BundleError { path: dir.clone(), problems };
        let (manifest, tokenizer, decoder, mut problems) = read_parts(&dir);
        let rasa = match manifest.as_ref().and_then(|m| m.rasa.as_ref()) {
            Some(r) if dir.join(&r.file).is_file() => match crate::model::heads::rasa_rules::RasaRules::load(&dir.join(&r.file)) {
                Ok(rules) => Some(Arc::new(rules)),
                Err(found) => {
                    problems.extend(found.into_iter().map(|msg| problem(&r.file, msg)));
                    None
                }
            },
            _ => None,
        };
        let lexical = match manifest.as_ref().filter(|m| m.is_heads()) {
            Some(m) => crate::model::heads::lexical::Lexical::load(&dir, m.intents.len()).unwrap_or_else(|e| {
                problems.push(problem(crate::model::heads::lexical::VOCAB_FILE, e));
                None
            }),
            None => None,
        };
        let loadable = |m: &Manifest| if m.is_heads() { problems.is_empty() } else { dir.join(MODEL_FILE).is_file() };
        let model = match manifest.as_ref().filter(|m| loadable(m)) {
            Some(m) => match Model::load_bundle(&dir, m, settings, 0) {
                Ok(model) => Some(model),
                Err(found) => {
                    problems.extend(found.into_iter().map(|(file, msg)| problem(&file, msg)));
                    None
                }
            },
            None => None,
        };
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        let (Some(manifest), Some(mut tokenizer), Some(decoder), Some(mut model)) = (manifest, tokenizer, decoder, model) else {
            return Err(fail(vec![problem(&dir.display().to_string(), "incomplete bundle")]));
        };
        if let Some(pid) = manifest.pad_id {
            model.pad_id = pid;
        } else if let Some(p) = tokenizer.get_padding() {
            model.pad_id = p.pad_id as i64;
        }
        // Truncation keeps the special tokens; padding is done by the batcher, per batch.
        let trunc = tokenizers::TruncationParams { max_length: manifest.max_length, ..Default::default() };
        if let Err(e) = tokenizer.with_truncation(Some(trunc)) {
            return Err(fail(vec![problem(TOKENIZER_FILE, format!("cannot truncate: {e}"))]));
        }
        tokenizer.with_padding(None);
        // One real run: catches graphs whose declared shapes are dynamic but whose outputs are not
        // the size the labels say.
        let ids = match tokenizer.encode(&["warm", "up"][..], true) {
            Ok(enc) => enc.get_ids().iter().map(|&i| i as i64).collect::<Vec<_>>(),
            Err(e) => return Err(fail(vec![problem(TOKENIZER_FILE, format!("cannot encode: {e}"))])),
        };
        if let Err(e) = model.run(&[ids]) {
            return Err(fail(vec![problem(MODEL_FILE, format!("warm-up run failed: {}", crate::errors::chain(&e)))]));
        }
        let tokenizer = match manifest.encoder.as_ref().filter(|_| manifest.is_heads()) {
            Some(e) => crate::model::heads::encoder::share_tokenizer(&e.sha256, manifest.max_length, tokenizer),
            None => Arc::new(tokenizer),
        };
        Ok(Bundle { path: dir, manifest: Arc::new(manifest), tokenizer, decoder: Arc::new(decoder), rasa, lexical: lexical.map(Arc::new), model })
    }

    /// Every problem with a bundle, without keeping it (for `parlance validate`).
    pub fn validate(dir: impl AsRef<Path>) -> Vec<Problem> {
        match Bundle::load(dir, &SessionSettings::default()) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        serde_json::from_value(serde_json::json!({
            "format_version": 1, "name": "t", "version": "1", "languages": ["en"], "max_length": 16,
            "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"},
            "outputs": {"intent_logits": "intent_logits", "slot_logits": "slot_logits"},
            "intents": ["a", "b"], "slot_labels": ["O", "B-x", "I-x"]
        }))
        .unwrap()
    }

    #[test]
    fn good_manifest_has_no_problems() {
        assert!(manifest().check().is_empty());
        assert_eq!(manifest().slot_types(), ["x"]);
    }

    #[test]
    fn manifest_problems_are_all_reported() {
        let mut m = manifest();
        m.intents = vec!["a".into(), "a".into()];
        m.slot_labels = vec!["B-x".into(), "weird".into()];
        m.max_length = 1;
        let p = m.check();
        assert!(p.iter().any(|s| s.contains("\"a\" appears twice")), "{p:?}");
        assert!(p.iter().any(|s| s.contains("start with \"O\"")), "{p:?}");
        assert!(p.iter().any(|s| s.contains("\"weird\"")), "{p:?}");
        assert!(p.iter().any(|s| s.contains("max_length 1")), "{p:?}");
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = Bundle::validate(dir.path());
        let files: Vec<&str> = p.iter().map(|p| p.file.as_str()).collect();
        assert!(files.contains(&MANIFEST_FILE) && files.contains(&MODEL_FILE) && files.contains(&TOKENIZER_FILE));
    }
}
