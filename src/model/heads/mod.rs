//! Trained bundles of kind `heads`: a frozen encoder named by content hash, plus small linear heads
//! (intent on the pooled vector, slots on each token) stored in safetensors (docs/bundle.md,
//! "Heads bundles"). `parlance train` writes them; the model layer runs the encoder session, then
//! [`Heads::apply`] on its outputs, and the usual decode path does the rest.

pub mod encoder;
pub mod rasa_rules;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array3};

use crate::model::manifest::{EncoderRef, Manifest};
use crate::model::session::ModelOutput;
use encoder::EncoderOutput;

pub const HEADS_FILE: &str = "heads.safetensors";
#[derive(Debug, thiserror::Error)]
pub enum HeadsError {
    #[error("{0}: {1}")]
    File(String, String),
}

/// The folders where a bundle's encoder may be, in the order they are tried: the path hint, then
/// every folder of `models/encoders/` (under the working directory) whose `encoder.json` records
/// the same hash.
pub fn encoder_candidates(bundle_dir: &Path, r: &EncoderRef) -> Vec<PathBuf> {
    let hint = PathBuf::from(&r.path);
    let mut out = vec![if hint.is_absolute() { hint } else { bundle_dir.join(hint) }];
    let mut local: Vec<PathBuf> = std::fs::read_dir("models/encoders")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    local.sort();
    out.extend(local.into_iter().filter(|d| recorded_hash(d).is_some_and(|h| h.eq_ignore_ascii_case(&r.sha256))));
    out
}

/// The model hash an encoder folder's `encoder.json` records.
fn recorded_hash(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(encoder::ENCODER_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    encoder::EncoderInfo::from_json(&v).ok().map(|i| i.model_sha256)
}

/// The encoder folder a bundle names: the first candidate holding an encoder.json.
pub fn resolve_encoder(bundle_dir: &Path, r: &EncoderRef) -> Result<PathBuf, String> {
    let tried = encoder_candidates(bundle_dir, r);
    tried.iter().find(|d| d.join(encoder::ENCODER_FILE).is_file()).cloned().ok_or_else(|| {
        format!(
            "encoder {:?} (sha256 {}) not found at {} nor in models/encoders/ (build it, or fix encoder.path)",
            r.name, r.sha256, tried[0].display()
        )
    })
}

/// A linear layer: `x @ weight + bias`.
#[derive(Debug, Clone)]
pub struct Linear {
    /// [inputs, outputs]
    pub weight: Array2<f32>,
    pub bias: Array1<f32>,
}

/// The heads of a trained bundle.
#[derive(Debug, Clone)]
pub struct Heads {
    pub intent: Linear,
    pub slot: Option<Linear>,
}

fn tensor_bytes(a: &[f32]) -> Vec<u8> {
    a.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Heads {
    /// Writes the heads as safetensors (f32, little-endian).
    pub fn save(&self, path: &Path) -> Result<(), HeadsError> {
        use safetensors::tensor::{Dtype, TensorView};
        let err = |m: String| HeadsError::File(path.display().to_string(), m);
        let mut parts: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        let mut push = |name: &str, l: &Linear| {
            let w = l.weight.as_standard_layout();
            parts.push((format!("{name}.weight"), w.shape().to_vec(), tensor_bytes(w.as_slice().expect("standard layout"))));
            parts.push((format!("{name}.bias"), vec![l.bias.len()], tensor_bytes(&l.bias.to_vec())));
        };
        push("intent", &self.intent);
        if let Some(s) = &self.slot {
            push("slot", s);
        }
        let views: Vec<(String, TensorView)> = parts
            .iter()
            .map(|(n, shape, data)| TensorView::new(Dtype::F32, shape.clone(), data).map(|v| (n.clone(), v)))
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?;
        let meta = HashMap::from([("format".to_string(), "parlance-heads".to_string())]);
        safetensors::serialize_to_file(views, Some(meta), path).map_err(|e| err(e.to_string()))?;
        // the crate writes through a private temporary file (0600): readable like the other files
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).map_err(|e| err(e.to_string()))?;
        }
        Ok(())
    }

    /// Reads heads and checks their shapes: `hidden` inputs, `intents` and `slot_labels` outputs
    /// (no slot head when `slot_labels` is 0).
    pub fn load(path: &Path, hidden: usize, intents: usize, slot_labels: usize) -> Result<Heads, Vec<String>> {
        let bytes = crate::model::files::read_bounded(path, crate::model::files::MAX_MODEL_BYTES).map_err(|e| vec![e])?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| vec![format!("not safetensors: {e}")])?;
        let mut problems = Vec::new();
        let mut linear = |name: &str, outputs: usize| -> Option<Linear> {
            let w = read_tensor(&st, &format!("{name}.weight"), &[hidden, outputs], &mut problems)?;
            let b = read_tensor(&st, &format!("{name}.bias"), &[outputs], &mut problems)?;
            Some(Linear { weight: Array2::from_shape_vec((hidden, outputs), w).ok()?, bias: Array1::from(b) })
        };
        let intent = linear("intent", intents);
        let slot = if slot_labels > 0 { linear("slot", slot_labels) } else { None };
        match (intent, problems.is_empty()) {
            (Some(intent), true) if slot_labels == 0 || slot.is_some() => Ok(Heads { intent, slot }),
            _ => Err(problems),
        }
    }

    /// One row of an encoder batch through these heads: intent logits from its pooled vector, slot
    /// logits from its first `len` token vectors. What a bot's job gets back when the encoder batch
    /// was shared with other bots' jobs.
    pub fn apply_row(&self, out: &EncoderOutput, row: usize, len: usize) -> (Vec<f32>, Array2<f32>) {
        let intent = out.pooled.row(row).dot(&self.intent.weight) + &self.intent.bias;
        let tokens = out.hidden.slice(ndarray::s![row, ..len, ..]);
        let slots = match &self.slot {
            Some(s) => tokens.dot(&s.weight) + &s.bias,
            None => Array2::zeros((len, 0)),
        };
        (intent.to_vec(), slots)
    }

    /// Intent logits from the pooled vectors, slot logits from every token's vector.
    pub fn apply(&self, out: &EncoderOutput) -> ModelOutput {
        let intent_logits = out.pooled.dot(&self.intent.weight) + &self.intent.bias;
        let (b, t, d) = out.hidden.dim();
        let slot_logits = match &self.slot {
            Some(s) => {
                let flat = out.hidden.view().into_shape_with_order((b * t, d)).expect("contiguous hidden states");
                let logits = flat.dot(&s.weight) + &s.bias;
                let k = s.bias.len();
                logits.into_shape_with_order((b, t, k)).expect("same element count")
            }
            None => Array3::zeros((b, t, 0)),
        };
        ModelOutput { intent_logits, slot_logits }
    }
}

fn read_tensor(st: &safetensors::SafeTensors, name: &str, shape: &[usize], problems: &mut Vec<String>) -> Option<Vec<f32>> {
    let t = match st.tensor(name) {
        Ok(t) => t,
        Err(_) => {
            problems.push(format!("tensor {name:?} is missing"));
            return None;
        }
    };
    if t.dtype() != safetensors::Dtype::F32 {
        problems.push(format!("tensor {name:?} is {:?}, expected F32", t.dtype()));
        return None;
    }
    if t.shape() != shape {
        problems.push(format!("tensor {name:?} has shape {:?}, expected {shape:?}", t.shape()));
        return None;
    }
    Some(t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// The tokenizer of the encoder a heads bundle names (its hash checked).
pub fn encoder_tokenizer(bundle_dir: &Path, m: &Manifest) -> Result<tokenizers::Tokenizer, String> {
    let r = m.encoder.as_ref().ok_or("kind \"heads\" needs `encoder`")?;
    let dir = resolve_encoder(bundle_dir, r)?;
    let (_, tokenizer) =
        encoder::read_encoder_dir(&dir, Some((&r.sha256, crate::model::files::MANIFEST_FILE))).map_err(|e| e.to_string())?;
    Ok(tokenizer)
}
