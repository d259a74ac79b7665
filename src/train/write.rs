//! Writing a trained heads bundle: `parlance.json`, `heads.safetensors`, `slot_transitions.json`
//! (and `rasa.json` when the project has synonyms, lookups or regexes; `adapted-layer.safetensors`
//! when the bot has its own top encoder layer).

use std::path::Path;

use crate::model::heads::{Heads, HEADS_FILE};
use crate::model::manifest::{EncoderRef, HeadsRef, TopLayerSpec, ADAPTED_FILE, KIND_HEADS};
use crate::model::{GraphInputs, GraphOutputs, Manifest, SlotTransitions, MANIFEST_FILE};
use crate::train::TrainError;

pub const TRANSITIONS_FILE: &str = "slot_transitions.json";
/// Weight and smoothing of the slot-tag bigram prior (the default model's: docs/bundle.md).
const TRANSITION_WEIGHT: f32 = 0.2;
const TRANSITION_SMOOTHING: f32 = 0.1;

/// What goes into the manifest besides the heads themselves.
pub struct BundleSpec<'a> {
    pub name: String,
    pub version: String,
    pub description: String,
    pub languages: Vec<String>,
    pub max_length: usize,
    pub lowercase: bool,
    pub pad_id: i64,
    pub intents: Vec<String>,
    pub slot_labels: Vec<String>,
    pub temperature: f32,
    pub fallback_threshold: f32,
    /// The off-topic gate's floor (the heads then hold the intents' means).
    pub fallback_similarity: Option<f32>,
    pub encoder: EncoderRef,
    pub transitions: Option<&'a crate::decode::TransitionCounts>,
    pub rasa: Option<serde_json::Value>,
    pub metrics: serde_json::Value,
}

fn io(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> TrainError {
    TrainError::Write { path: path.to_path_buf(), source: e.into() }
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| io(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| io(path, e))
}

/// Writes the lexical features' files, or removes those of an earlier run when there are none.
pub fn write_lexical(out: &Path, lexical: Option<&crate::model::heads::lexical::Lexical>) -> Result<(), TrainError> {
    use crate::model::heads::lexical::{VOCAB_FILE, WEIGHTS_FILE};
    match lexical {
        Some(l) => l.save(out).map_err(|e| io(out, e)),
        None => {
            for f in [VOCAB_FILE, WEIGHTS_FILE] {
                let _ = std::fs::remove_file(out.join(f));
            }
            Ok(())
        }
    }
}

/// Writes the bundle into `out` (created if needed; files of the same names are replaced).
pub fn write_bundle(out: &Path, spec: BundleSpec, heads: &Heads) -> Result<Manifest, TrainError> {
    std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
    heads.save(&out.join(HEADS_FILE)).map_err(|e| io(&out.join(HEADS_FILE), e))?;
    let adapted_path = out.join(ADAPTED_FILE);
    let adapted = match &heads.top {
        Some(top) => {
            top.save_f16(&adapted_path).map_err(|e| io(&adapted_path, e))?;
            // written through a private temporary file (0600): readable like the other files
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&adapted_path, std::fs::Permissions::from_mode(0o644)).map_err(|e| io(&adapted_path, e))?;
            }
            let base_sha256 = top.spec.base_sha256.clone().filter(|_| top.is_change());
            Some(TopLayerSpec { file: ADAPTED_FILE.into(), base_sha256, ..top.spec.clone() })
        }
        None => {
            // an earlier run's adapted layer is not this bundle's
            if adapted_path.exists() {
                std::fs::remove_file(&adapted_path).map_err(|e| io(&adapted_path, e))?;
            }
            None
        }
    };
    let has_slots = spec.slot_labels.len() > 1;
    let slot_transitions = match (has_slots, spec.transitions) {
        (true, Some(counts)) => {
            let file = serde_json::json!({"source": "slot tag bigrams of the training data (parlance train)", "counts": counts});
            write_json(&out.join(TRANSITIONS_FILE), &file)?;
            Some(SlotTransitions { file: TRANSITIONS_FILE.into(), weight: TRANSITION_WEIGHT, smoothing: TRANSITION_SMOOTHING })
        }
        _ => None,
    };
    let rasa = match &spec.rasa {
        Some(v) => {
            write_json(&out.join(crate::train::rasa_extras::RASA_FILE), v)?;
            Some(HeadsRef { file: crate::train::rasa_extras::RASA_FILE.into(), adapted: None })
        }
        None => None,
    };
    let manifest = Manifest {
        format_version: 1,
        name: spec.name,
        version: spec.version,
        description: Some(spec.description),
        languages: spec.languages,
        license: None,
        max_length: spec.max_length,
        lowercase: spec.lowercase,
        pad_id: Some(spec.pad_id),
        slot_alignment: "first_subtoken".into(),
        intent_temperature: spec.temperature,
        inputs: GraphInputs { input_ids: "input_ids".into(), attention_mask: "attention_mask".into(), token_type_ids: None },
        outputs: GraphOutputs { intent_logits: "intent".into(), slot_logits: has_slots.then(|| "slot".into()) },
        intents: spec.intents,
        slot_labels: if has_slots { spec.slot_labels } else { Vec::new() },
        slot_transitions,
        kind: Some(KIND_HEADS.into()),
        encoder: Some(spec.encoder),
        heads: Some(HeadsRef { file: HEADS_FILE.into(), adapted }),
        fallback_threshold: Some(spec.fallback_threshold),
        fallback_similarity: spec.fallback_similarity,
        rasa,
        metrics: spec.metrics,
        format: Default::default(),
    };
    let path = out.join(MANIFEST_FILE);
    let mut value = serde_json::to_value(&manifest).map_err(|e| io(&path, e))?;
    // `format` is how a bundle was read, set by the loader; not a manifest field
    if let Some(map) = value.as_object_mut() {
        map.remove("format");
    }
    write_json(&path, &value)?;
    Ok(manifest)
}
