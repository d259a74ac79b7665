//! The model bundle: manifest, tokenizer and ONNX graph, checked against each other at load.
//!
//! The contract is docs/bundle.md. Loading never half-succeeds: every problem found is collected
//! with the file it concerns, and a bundle with any problem is refused as a whole.
//!
//! Two layouts load: a Parlance bundle (`parlance.json` beside the graph and tokenizer), and a
//! Hugging Face sequence-classification export (`config.json` with `id2label`, a graph whose
//! output is `logits`), which is served as an intent-only model with a manifest made from its
//! config.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use crate::decode::BioDecoder;
use crate::model::{Model, SessionSettings};

pub const MANIFEST_FILE: &str = "parlance.json";
pub const MODEL_FILE: &str = "model.onnx";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// A Hugging Face export's model config (transformers' `config.json`).
pub const HF_CONFIG_FILE: &str = "config.json";

/// Size limits of a bundle's files: a file over its limit is refused, never read whole.
pub const MAX_JSON_BYTES: u64 = 16 << 20;
pub const MAX_TOKENIZER_BYTES: u64 = 64 << 20;
pub const MAX_MODEL_BYTES: u64 = 4 << 30;

/// Reads a bundle file: a regular file only (a named pipe or a device could block a reload
/// forever or never end), at most `max` bytes. The file is opened without blocking and checked on
/// the open descriptor, so it cannot be swapped for a pipe between the check and the read.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot be read ({e})"))?;
    let meta = file.metadata().map_err(|e| format!("cannot be read ({e})"))?;
    if !meta.is_file() {
        return Err("is not a regular file".into());
    }
    if meta.len() > max {
        return Err(format!("is {} bytes; the limit is {max}", meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot be read ({e})"))?;
    if bytes.len() as u64 > max {
        return Err(format!("is over the limit of {max} bytes"));
    }
    Ok(bytes)
}

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

/// [`read_bounded`] as UTF-8 text.
pub fn read_text(path: &Path, max: u64) -> Result<String, String> {
    String::from_utf8(read_bounded(path, max)?).map_err(|_| "is not UTF-8".to_string())
}

/// JSON Schema of `parlance.json` (draft 2020-12); `parlance validate --schema` prints it.
pub const MANIFEST_SCHEMA: &str = include_str!("parlance.schema.json");

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GraphInputs {
    pub input_ids: String,
    pub attention_mask: String,
    /// BERT-style segment ids; fed as zeros when the graph has this input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type_ids: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GraphOutputs {
    pub intent_logits: String,
    /// Absent for an intent-only model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_logits: Option<String>,
}

/// Which layout a bundle was read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BundleFormat {
    /// `parlance.json` + graph + tokenizer.
    #[default]
    Parlance,
    /// A Hugging Face export: `config.json` + graph + tokenizer, intent only.
    HuggingFace,
}

fn default_alignment() -> String {
    "first_subtoken".into()
}
fn default_temperature() -> f32 {
    1.0
}
fn default_smoothing() -> f32 {
    1.0
}

/// `slot_transitions` in `parlance.json`: a prior on slot-tag bigrams for decoding (docs/bundle.md).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotTransitions {
    /// A file of the bundle holding `{"counts": {from: {to: n}}}`, e.g. `slot_transitions.json`.
    pub file: String,
    /// Multiplies `ln P(to | from)`; 0 turns the prior off (valid BIO is still enforced).
    pub weight: f32,
    /// Added to every count before the probabilities are estimated.
    #[serde(default = "default_smoothing")]
    pub smoothing: f32,
}

/// The file `SlotTransitions::file` names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransitionFile {
    /// Free-form: what the counts were taken from.
    #[serde(default)]
    #[allow(dead_code)]
    source: Option<String>,
    counts: crate::decode::TransitionCounts,
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
    /// BIO labels, "O" first; empty for an intent-only model.
    #[serde(default)]
    pub slot_labels: Vec<String>,
    /// Optional prior on slot-tag bigrams used when decoding slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_transitions: Option<SlotTransitions>,
    /// "heads" for a trained bundle whose logits are linear heads on a shared encoder
    /// (docs/bundle.md, "Heads bundles"); absent for a bundle with its own whole graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The encoder a heads bundle runs on, by content hash and path hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder: Option<crate::heads::EncoderRef>,
    /// The heads file of a heads bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heads: Option<crate::heads::HeadsRef>,
    /// The fallback threshold `parlance train` chose on dev; applied when serving sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_threshold: Option<f32>,
    /// Rasa synonyms, lookup tables and regexes the bundle applies at parse time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rasa: Option<crate::heads::HeadsRef>,
    /// Free-form: dev metrics as the bundle's author measured them.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metrics: serde_json::Value,
    /// How the bundle was read (not a manifest field: set by the loader).
    #[serde(default, skip_deserializing)]
    pub format: BundleFormat,
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
    /// Slot decoding: valid BIO, plus the manifest's `slot_transitions` prior when it has one.
    pub decoder: Arc<BioDecoder>,
    /// Rasa synonyms, lookups and regexes applied at parse time (`rasa` in the manifest).
    pub rasa: Option<Arc<crate::heads::rasa_rules::RasaRules>>,
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
        match (&self.outputs.slot_logits, self.slot_labels.len()) {
            (Some(_), _) if self.slot_labels.first().map(String::as_str) != Some("O") => {
                out.push("slot_labels must start with \"O\"".into())
            }
            (None, n) if n > 1 => out.push(format!(
                "slot_labels lists {n} labels but outputs.slot_logits names no graph output for them"
            )),
            _ => {}
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
        out.extend(self.check_heads());
        if let Some(t) = &self.slot_transitions {
            if !self.has_slots() {
                out.push("slot_transitions is set but the model has no slot_logits".into());
            }
            if !(t.weight.is_finite() && t.weight >= 0.0) {
                out.push(format!("slot_transitions.weight {} must be a number >= 0", t.weight));
            }
            if !(t.smoothing.is_finite() && t.smoothing > 0.0) {
                out.push(format!("slot_transitions.smoothing {} must be a positive number", t.smoothing));
            }
            // a file of the bundle itself: no paths out of the folder
            let plain = Path::new(&t.file).file_name().is_some_and(|n| n == t.file.as_str());
            if !plain || t.file == MANIFEST_FILE || t.file == MODEL_FILE || t.file == TOKENIZER_FILE {
                out.push(format!("slot_transitions.file {:?} must name a file of its own in the bundle folder", t.file));
            }
        }
        out
    }

    /// Whether the bundle is linear heads on a shared encoder (`kind: "heads"`).
    pub fn is_heads(&self) -> bool {
        self.kind.as_deref() == Some(crate::heads::KIND_HEADS)
    }

    /// Whether the model tags slots (else it is intent-only).
    pub fn has_slots(&self) -> bool {
        self.outputs.slot_logits.is_some()
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

impl Manifest {
    /// The rules of `kind`, `encoder`, `heads`, `fallback_threshold` and `rasa`.
    fn check_heads(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.kind.as_deref() {
            None => {
                if self.encoder.is_some() || self.heads.is_some() {
                    out.push("encoder and heads are only for kind \"heads\"".into());
                }
            }
            Some(crate::heads::KIND_HEADS) => {
                if self.encoder.is_none() || self.heads.is_none() {
                    out.push("kind \"heads\" needs both `encoder` and `heads`".into());
                }
            }
            Some(other) => out.push(format!("kind {other:?} is not known (only \"heads\")")),
        }
        let own = |f: &str| Path::new(f).file_name().is_some_and(|n| n == f) && ![MANIFEST_FILE, MODEL_FILE, TOKENIZER_FILE].contains(&f);
        for (what, r) in [("heads.file", &self.heads), ("rasa.file", &self.rasa)] {
            if let Some(r) = r.as_ref().filter(|r| !own(&r.file)) {
                out.push(format!("{what} {:?} must name a file of its own in the bundle folder", r.file));
            }
        }
        if let Some(t) = self.fallback_threshold.filter(|t| !(0.0..=1.0).contains(t)) {
            out.push(format!("fallback_threshold {t} is outside 0..=1"));
        }
        out
    }
}

fn first_duplicate(items: &[String]) -> Option<&str> {
    let mut seen = HashSet::new();
    items.iter().find(|i| !seen.insert(i.as_str())).map(String::as_str)
}

fn problem(file: &str, message: impl Into<String>) -> Problem {
    Problem { file: file.into(), message: message.into() }
}

/// The manifest checked against `MANIFEST_SCHEMA`: one message per violation, with its JSON path.
pub fn schema_problems(manifest: &serde_json::Value) -> Vec<String> {
    static VALIDATOR: std::sync::LazyLock<jsonschema::Validator> = std::sync::LazyLock::new(|| {
        let schema: serde_json::Value = serde_json::from_str(MANIFEST_SCHEMA).expect("the bundled schema is JSON");
        jsonschema::validator_for(&schema).expect("the bundled schema is valid")
    });
    VALIDATOR
        .iter_errors(manifest)
        .map(|e| {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() { "(top level)".to_string() } else { at };
            format!("schema: at {at}: {e}")
        })
        .collect()
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

/// The parts of transformers' `config.json` that serving needs.
#[derive(Deserialize)]
struct HfConfig {
    id2label: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    max_position_embeddings: Option<usize>,
    #[serde(default)]
    pad_token_id: Option<i64>,
    #[serde(default)]
    transformers_version: Option<String>,
    #[serde(default, rename = "_name_or_path")]
    name_or_path: Option<String>,
}

/// Longest input a Hugging Face export is fed: its position table, less RoBERTa's two reserved
/// positions, and at most 512 (longer texts are not what intent classifiers are trained on).
fn hf_max_length(config: &HfConfig) -> usize {
    let reserved = match config.model_type.as_deref() {
        Some("roberta" | "xlm-roberta" | "camembert") => 2,
        _ => 0,
    };
    config.max_position_embeddings.map(|p| p.saturating_sub(reserved)).unwrap_or(512).clamp(2, 512)
}

/// A manifest for a Hugging Face sequence-classification export: labels from `id2label` (in id
/// order), the graph names optimum uses, no slots.
fn read_hf_config(dir: &Path, problems: &mut Vec<Problem>) -> Option<Manifest> {
    let text = match read_text(&dir.join(HF_CONFIG_FILE), MAX_JSON_BYTES) {
        Ok(t) => t,
        Err(e) => {
            problems.push(problem(HF_CONFIG_FILE, e));
            return None;
        }
    };
    let config: HfConfig = match serde_json::from_str(&text) {
        Ok(c) => c,
        Err(e) => {
            problems.push(problem(HF_CONFIG_FILE, format!("not a transformers config: {e}")));
            return None;
        }
    };
    let Some(id2label) = config.id2label.as_ref().filter(|m| !m.is_empty()) else {
        problems.push(problem(HF_CONFIG_FILE, "has no id2label: not a sequence-classification export"));
        return None;
    };
    let mut intents = vec![String::new(); id2label.len()];
    for (id, label) in id2label {
        match id.parse::<usize>() {
            Ok(i) if i < intents.len() => intents[i] = label.clone(),
            _ => problems.push(problem(
                HF_CONFIG_FILE,
                format!("id2label key {id:?} is not an id in 0..{}", id2label.len()),
            )),
        }
    }
    let folder = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "hf-export".into());
    let manifest = Manifest {
        format_version: 1,
        name,
        version: config.transformers_version.as_ref().map(|v| format!("hf-{v}")).unwrap_or_else(|| "hf".into()),
        description: Some(format!(
            "Hugging Face sequence-classification export{} (intent only, no manifest)",
            config.name_or_path.as_ref().filter(|n| !n.is_empty()).map(|n| format!(" of {n}")).unwrap_or_default()
        )),
        languages: crate::lang::SUPPORTED.iter().map(|l| l.to_string()).collect(),
        license: None,
        max_length: hf_max_length(&config),
        lowercase: false, // the tokenizer's own normaliser does what the model was trained with
        pad_id: config.pad_token_id,
        slot_alignment: default_alignment(),
        intent_temperature: 1.0,
        inputs: GraphInputs {
            input_ids: "input_ids".into(),
            attention_mask: "attention_mask".into(),
            token_type_ids: Some("token_type_ids".into()),
        },
        outputs: GraphOutputs { intent_logits: "logits".into(), slot_logits: None },
        intents,
        slot_labels: Vec::new(),
        slot_transitions: None,
        kind: None,
        encoder: None,
        heads: None,
        fallback_threshold: None,
        rasa: None,
        metrics: serde_json::Value::Null,
        format: BundleFormat::HuggingFace,
    };
    problems.extend(manifest.check().into_iter().map(|msg| problem(HF_CONFIG_FILE, msg)));
    Some(manifest)
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
        crate::heads::encoder_tokenizer(dir, m).map_err(|msg| problems.push(problem(MANIFEST_FILE, msg))).ok()
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
            Some(r) if dir.join(&r.file).is_file() => match crate::heads::rasa_rules::RasaRules::load(&dir.join(&r.file)) {
                Ok(rules) => Some(Arc::new(rules)),
                Err(found) => {
                    problems.extend(found.into_iter().map(|msg| problem(&r.file, msg)));
                    None
                }
            },
            _ => None,
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
        if let Err(msg) = model.run(&[ids]) {
            return Err(fail(vec![problem(MODEL_FILE, format!("warm-up run failed: {msg}"))]));
        }
        let tokenizer = match manifest.encoder.as_ref().filter(|_| manifest.is_heads()) {
            Some(e) => crate::heads::encoder::share_tokenizer(&e.sha256, manifest.max_length, tokenizer),
            None => Arc::new(tokenizer),
        };
        Ok(Bundle { path: dir, manifest: Arc::new(manifest), tokenizer, decoder: Arc::new(decoder), rasa, model })
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
