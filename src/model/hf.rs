//! A Hugging Face sequence-classification export read as an intent-only bundle: a manifest made
//! from its `config.json`.

use std::path::Path;

use serde::Deserialize;

use crate::model::files::{problem, read_text, Problem, HF_CONFIG_FILE, MAX_JSON_BYTES};
use crate::model::manifest::{default_alignment, BundleFormat, GraphInputs, GraphOutputs, Manifest};

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
pub fn read_hf_config(dir: &Path, problems: &mut Vec<Problem>) -> Option<Manifest> {
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
            _ => problems.push(problem(HF_CONFIG_FILE, format!("id2label key {id:?} is not an id in 0..{}", id2label.len()))),
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
        inputs: GraphInputs { input_ids: "input_ids".into(), attention_mask: "attention_mask".into(), token_type_ids: Some("token_type_ids".into()) },
        outputs: GraphOutputs { intent_logits: "logits".into(), slot_logits: None },
        intents,
        slot_labels: Vec::new(),
        slot_transitions: None,
        kind: None,
        encoder: None,
        heads: None,
        fallback_threshold: None,
        fallback_similarity: None,
        rasa: None,
        metrics: serde_json::Value::Null,
        format: BundleFormat::HuggingFace,
    };
    problems.extend(manifest.check().into_iter().map(|msg| problem(HF_CONFIG_FILE, msg)));
    Some(manifest)
}
