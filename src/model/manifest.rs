//! `parlance.json`, the bundle manifest: its types, its JSON Schema, and the rules a schema cannot
//! state (docs/bundle.md).

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::files::{MANIFEST_FILE, MODEL_FILE, TOKENIZER_FILE};

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

pub(crate) fn default_alignment() -> String {
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
pub struct TransitionFile {
    /// Free-form: what the counts were taken from.
    #[serde(default)]
    #[allow(dead_code)]
    source: Option<String>,
    pub counts: crate::decode::TransitionCounts,
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
    pub encoder: Option<EncoderRef>,
    /// The heads file of a heads bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heads: Option<HeadsRef>,
    /// The fallback threshold `parlance train` chose on dev; applied when serving sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_threshold: Option<f32>,
    /// With the bundle's threshold: a message whose sentence vector's cosine to the nearest
    /// intent's mean (heads tensor `intent.means`) is below this is off-topic, chosen by `parlance
    /// train` with the threshold on dev's off-topic examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_similarity: Option<f32>,
    /// Rasa synonyms, lookup tables and regexes the bundle applies at parse time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rasa: Option<HeadsRef>,
    /// Free-form: dev metrics as the bundle's author measured them.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metrics: serde_json::Value,
    /// How the bundle was read (not a manifest field: set by the loader).
    #[serde(default, skip_deserializing)]
    pub format: BundleFormat,
}

pub const KIND_HEADS: &str = "heads";

/// `encoder` in a heads bundle's manifest.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EncoderRef {
    pub name: String,
    /// sha256 of the encoder's model.onnx: the encoder is found by path, and must have this hash.
    pub sha256: String,
    /// Where the encoder folder is: relative to the bundle folder, or absolute. When it is not
    /// there, every folder of `models/encoders/` whose encoder.json records the same hash is tried.
    pub path: String,
    pub hidden_size: usize,
}

/// `heads` in a heads bundle's manifest.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeadsRef {
    /// The safetensors file of the bundle holding `intent.weight` [hidden, intents], `intent.bias`
    /// and, with slots, `slot.weight` [hidden, slot labels], `slot.bias`.
    pub file: String,
    /// The bot's own copy of the encoder's top layer (`parlance train --adapt`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapted: Option<TopLayerSpec>,
}

/// The weights of an encoder's top layer beside its model.onnx (`top-layer.json` names them).
pub const TOP_LAYER_WEIGHTS: &str = "top-layer.safetensors";
/// A bot's adapted top layer in its bundle.
pub const ADAPTED_FILE: &str = "adapted-layer.safetensors";

/// Which states the layer reads and which pooled output its states stand for; its sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopLayerSpec {
    /// The bundle file holding the layer (in a manifest) or, in `top-layer.json`, the weights file.
    #[serde(default = "default_file")]
    pub file: String,
    /// The encoder output the layer reads (e5-small: `hidden_states_11`).
    pub input: String,
    /// The pooled output the layer's states replace (e5-small: `last_hidden_state`).
    pub replaces: String,
    pub hidden: usize,
    pub ffn: usize,
    pub heads: usize,
    pub eps: f64,
    /// In a manifest, for a layer stored as its change from the encoder's own top layer
    /// (`parlance train --adapt`, rank > 0): the sha256 of that layer's weights file, which loading
    /// adds the change to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_sha256: Option<String>,
    /// How many of the encoder's top layers the bot has its own copy of (`--adapt-layers`; 1, the
    /// top one, unless said). Above 1, each layer's tensors are named `"j.NAME"` (j from 0, the
    /// lowest), and layer j's output stands for the encoder's `hidden_states_{k + 1 + j}` where
    /// `input` is `hidden_states_k` (the last one for `replaces`).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub layers: usize,
    /// The graph in the encoder folder that computes `input` alone (the encoder cut below the
    /// layers), run for the bot's rows instead of the whole encoder; the layers then give every
    /// pooled output and the slot head's token states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<String>,
    /// The sha256 of `graph`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_sha256: Option<String>,
}

fn default_file() -> String {
    TOP_LAYER_WEIGHTS.into()
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

impl TopLayerSpec {
    pub fn check(&self) -> Result<(), String> {
        if self.hidden == 0 || self.heads == 0 || !self.hidden.is_multiple_of(self.heads) || self.ffn == 0 {
            return Err(format!("hidden {} must be a positive multiple of heads {}, ffn {} positive", self.hidden, self.heads, self.ffn));
        }
        if !(self.eps > 0.0 && self.eps < 1.0) {
            return Err(format!("eps {} is not in (0, 1)", self.eps));
        }
        if !(1..=64).contains(&self.layers) {
            return Err(format!("layers {} is not in 1..=64", self.layers));
        }
        if self.layers > 1 && self.input_layer().is_none() {
            return Err(format!("input {:?} must be hidden_states_K when there are {} layers", self.input, self.layers));
        }
        if let Some(g) = &self.graph {
            if g.is_empty() || g.contains(['/', '\\']) || g.starts_with('.') {
                return Err(format!("graph {g:?} must be a file name in the encoder folder"));
            }
            if self.graph_sha256.is_none() {
                return Err(format!("graph {g:?} comes without its graph_sha256"));
            }
        }
        Ok(())
    }

    /// K of an input named `hidden_states_K`.
    pub fn input_layer(&self) -> Option<usize> {
        self.input.strip_prefix("hidden_states_")?.parse().ok()
    }

    /// What each layer's output stands for, lowest first: `hidden_states_{K + 1 + j}` below the
    /// last, `replaces` for the last.
    pub fn outputs(&self) -> Vec<String> {
        let k = self.input_layer().unwrap_or(0);
        (0..self.layers).map(|j| if j + 1 == self.layers { self.replaces.clone() } else { format!("hidden_states_{}", k + 1 + j) }).collect()
    }

    /// Weight names and shapes (`[out, in]` for matrices).
    pub fn shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (h, f) = (self.hidden, self.ffn);
        let mut out = Vec::new();
        for (n, o, i) in [("q", h, h), ("k", h, h), ("v", h, h), ("ao", h, h), ("fi", f, h), ("fo", h, f)] {
            out.push((format!("{n}.weight"), vec![o, i]));
            out.push((format!("{n}.bias"), vec![o]));
        }
        for n in ["aln", "oln"] {
            out.push((format!("{n}.weight"), vec![h]));
            out.push((format!("{n}.bias"), vec![h]));
        }
        out
    }
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
            (Some(_), _) if self.slot_labels.first().map(String::as_str) != Some("O") => out.push("slot_labels must start with \"O\"".into()),
            (None, n) if n > 1 => out.push(format!("slot_labels lists {n} labels but outputs.slot_logits names no graph output for them")),
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
        self.kind.as_deref() == Some(KIND_HEADS)
    }

    /// Whether the model tags slots (else it is intent-only).
    pub fn has_slots(&self) -> bool {
        self.outputs.slot_logits.is_some()
    }

    /// Slot types (without B-/I-), each once, in label order.
    pub fn slot_types(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.slot_labels.iter().filter_map(|l| l.get(2..).filter(|_| l != "O")).filter(|t| seen.insert(t.to_string())).map(str::to_string).collect()
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
            Some(KIND_HEADS) => {
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
        if let Some(s) = self.fallback_similarity {
            if !(-1.0..=1.0).contains(&s) {
                out.push(format!("fallback_similarity {s} is outside -1..=1"));
            }
            if self.kind.as_deref() != Some(KIND_HEADS) {
                out.push("fallback_similarity is only for kind \"heads\" (its heads file holds the intents' means)".into());
            }
        }
        out
    }
}

fn first_duplicate(items: &[String]) -> Option<&str> {
    let mut seen = HashSet::new();
    items.iter().find(|i| !seen.insert(i.as_str())).map(String::as_str)
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
