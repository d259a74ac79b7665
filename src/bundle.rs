//! The model bundle: manifest, tokenizer and ONNX graph, checked against each other at load.
//!
//! The contract is docs/bundle.md. Loading never half-succeeds: every problem found is collected
//! with the file it concerns, and a bundle with any problem is refused as a whole.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use crate::model::{Model, SessionSettings};

pub const MANIFEST_FILE: &str = "parlance.json";
pub const MODEL_FILE: &str = "model.onnx";
pub const TOKENIZER_FILE: &str = "tokenizer.json";

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GraphInputs {
    pub input_ids: String,
    pub attention_mask: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GraphOutputs {
    pub intent_logits: String,
    pub slot_logits: String,
}

fn default_alignment() -> String {
    "first_subtoken".into()
}
fn default_temperature() -> f32 {
    1.0
}

/// `parlance.json`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Manifest {
    pub format_version: u32,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: Option<String>,
    pub languages: Vec<String>,
    #[serde(default)]
    pub license: Option<String>,
    pub max_length: usize,
    #[serde(default)]
    pub lowercase: bool,
    #[serde(default)]
    pub pad_id: Option<i64>,
    #[serde(default = "default_alignment")]
    pub slot_alignment: String,
    #[serde(default = "default_temperature")]
    pub intent_temperature: f32,
    pub inputs: GraphInputs,
    pub outputs: GraphOutputs,
    pub intents: Vec<String>,
    pub slot_labels: Vec<String>,
    /// Free-form: dev metrics as the bundle's author measured them.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metrics: serde_json::Value,
}

/// One thing wrong with a bundle, and the file it is wrong in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// A refused bundle: where it is and everything found wrong with it.
#[derive(Debug, Clone)]
pub struct BundleError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
    pub model: Model,
}

impl Manifest {
    /// Checks the manifest on its own (labels, limits, names).
    pub fn check(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.format_version != 1 {
            out.push(format!("format_version is {}, this Parlance reads 1", self.format_version));
        }
        if self.name.trim().is_empty() {
            out.push("name is empty".into());
        }
        if self.languages.is_empty() {
            out.push("languages is empty".into());
        }
        if !(2..=4096).contains(&self.max_length) {
            out.push(format!("max_length {} is outside 2..=4096", self.max_length));
        }
        if !(self.intent_temperature.is_finite() && self.intent_temperature > 0.0) {
            out.push(format!("intent_temperature {} must be a positive number", self.intent_temperature));
        }
        if self.slot_alignment != "first_subtoken" {
            out.push(format!("slot_alignment {:?} is not supported (only \"first_subtoken\")", self.slot_alignment));
        }
        if self.intents.is_empty() {
            out.push("intents is empty".into());
        }
        if let Some(d) = first_duplicate(&self.intents) {
            out.push(format!("intent label {d:?} appears twice"));
        }
        if self.slot_labels.first().map(String::as_str) != Some("O") {
            out.push("slot_labels must start with \"O\"".into());
        }
        if let Some(d) = first_duplicate(&self.slot_labels) {
            out.push(format!("slot label {d:?} appears twice"));
        }
        for l in self.slot_labels.iter().skip(1) {
            let ok = (l.starts_with("B-") || l.starts_with("I-")) && l.len() > 2;
            if !ok {
                out.push(format!("slot label {l:?} is not of the form B-type or I-type"));
            }
        }
        out
    }

    /// Slot types (without B-/I-), each once, in label order.
    pub fn slot_types(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.slot_labels
            .iter()
            .filter_map(|l| l.get(2..).filter(|_| l != "O"))
            .filter(|t| seen.insert(t.to_string()))
            .map(str::to_string)
            .collect()
    }
}

fn first_duplicate(items: &[String]) -> Option<&str> {
    let mut seen = HashSet::new();
    items.iter().find(|i| !seen.insert(i.as_str())).map(String::as_str)
}

fn problem(file: &str, message: impl Into<String>) -> Problem {
    Problem { file: file.into(), message: message.into() }
}

/// Reads and checks the manifest and tokenizer; returns what could be read and every problem.
fn read_parts(dir: &Path) -> (Option<Manifest>, Option<Tokenizer>, Vec<Problem>) {
    let mut problems = Vec::new();
    if !dir.is_dir() {
        problems.push(problem(&dir.display().to_string(), "is not a directory"));
        return (None, None, problems);
    }
    for f in [MANIFEST_FILE, MODEL_FILE, TOKENIZER_FILE] {
        if !dir.join(f).is_file() {
            problems.push(problem(f, "missing"));
        }
    }
    let manifest = std::fs::read_to_string(dir.join(MANIFEST_FILE))
        .ok()
        .and_then(|s| match serde_json::from_str::<Manifest>(&s) {
            Ok(m) => Some(m),
            Err(e) => {
                problems.push(problem(MANIFEST_FILE, format!("not a valid manifest: {e}")));
                None
            }
        });
    if let Some(m) = &manifest {
        problems.extend(m.check().into_iter().map(|msg| problem(MANIFEST_FILE, msg)));
    }
    let tokenizer = if dir.join(TOKENIZER_FILE).is_file() {
        match Tokenizer::from_file(dir.join(TOKENIZER_FILE)) {
            Ok(t) => Some(t),
            Err(e) => {
                problems.push(problem(TOKENIZER_FILE, format!("does not load: {e}")));
                None
            }
        }
    } else {
        None
    };
    (manifest, tokenizer, problems)
}

impl Bundle {
    /// Loads a bundle, checks every part against the others and warms the graph up once.
    pub fn load(dir: impl AsRef<Path>, settings: &SessionSettings) -> Result<Bundle, BundleError> {
        let dir = dir.as_ref().to_path_buf();
        let fail = |problems| BundleError { path: dir.clone(), problems };
        let (manifest, tokenizer, mut problems) = read_parts(&dir);
        let model = if dir.join(MODEL_FILE).is_file() {
            match &manifest {
                Some(m) => match Model::load(&dir.join(MODEL_FILE), m, settings) {
                    Ok(model) => Some(model),
                    Err(found) => {
                        problems.extend(found.into_iter().map(|msg| problem(MODEL_FILE, msg)));
                        None
                    }
                },
                None => None,
            }
        } else {
            None
        };
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        let (Some(manifest), Some(mut tokenizer), Some(mut model)) = (manifest, tokenizer, model) else {
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
        if let Err(msg) = model.run(&[ids]) {
            return Err(fail(vec![problem(MODEL_FILE, format!("warm-up run failed: {msg}"))]));
        }
        Ok(Bundle { path: dir, manifest: Arc::new(manifest), tokenizer: Arc::new(tokenizer), model })
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
