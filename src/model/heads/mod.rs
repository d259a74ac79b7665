//! Trained bundles of kind `heads`: a frozen encoder named by content hash, plus small linear heads
//! (intent on the pooled vector, slots on each token) stored in safetensors (docs/bundle.md,
//! "Heads bundles"). `parlance train` writes them; the model layer runs the encoder session, then
//! [`Heads::apply`] on its outputs, and the usual decode path does the rest.

pub mod encoder;
mod int8;
pub mod lexical;
mod packed;
pub mod rasa_rules;
pub mod stack;
pub mod top_layer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::{Array1, Array2, Array3};

use crate::model::manifest::{EncoderRef, Manifest};
use crate::model::session::{ModelOutput, RowOutput, RunError};
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
    let mut local: Vec<PathBuf> =
        std::fs::read_dir("models/encoders").map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
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
            r.name,
            r.sha256,
            tried[0].display()
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
    /// The bot's own top encoder layer(s) (`parlance train --adapt [--adapt-layers N]`): the intent
    /// head reads the pooled vector with their states in place of the shared encoder's. The slot
    /// head reads the shared encoder's tokens, or, for layers on the graph below them (no encoder
    /// tokens in that run), the top layer's.
    pub top: Option<Arc<stack::Stack>>,
    /// Each intent's mean direction of its training vectors ([intents, pooled], unit rows, zeros for
    /// out-of-scope intents): a message whose sentence vector is far from all of them is off-topic
    /// (the bundle's `fallback_similarity`). Tensor `intent.means`, stored as f16 (f32 read too):
    /// training rounds them with [`f16_precision`], so that it scores with what is served.
    pub means: Option<Array2<f32>>,
}

/// Each class's mean of `x`'s rows (labels `y`), as a unit vector; a class in `skip` or without
/// rows gets zeros (never the nearest).
pub fn unit_means(x: ndarray::ArrayView2<f32>, y: &[usize], k: usize, skip: &[bool]) -> Array2<f32> {
    let mut m = Array2::<f32>::zeros((k, x.ncols()));
    for (row, &c) in x.rows().into_iter().zip(y) {
        if !skip.get(c).copied().unwrap_or(false) {
            m.row_mut(c).scaled_add(1.0, &row);
        }
    }
    for mut r in m.rows_mut() {
        let n = r.dot(&r).sqrt();
        if n > 0.0 {
            r /= n;
        }
    }
    m
}

/// `a` rounded to f16 precision: the intents' means as the bundle stores them (half the bytes of
/// f32; a cosine moves by ~1e-4).
pub fn f16_precision(mut a: Array2<f32>) -> Array2<f32> {
    a.mapv_inplace(|v| half::f16::from_f32(v).to_f32());
    a
}

/// The cosine between `v` and the nearest of `means`' unit rows.
pub fn nearest_mean_cosine(means: &Array2<f32>, v: ndarray::ArrayView1<f32>) -> f32 {
    let n = v.dot(&v).sqrt().max(1e-12);
    means.dot(&v).fold(f32::MIN, |a, &b| a.max(b)) / n
}

fn tensor_bytes(a: &[f32]) -> Vec<u8> {
    a.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Heads {
    /// Writes the heads as safetensors (little-endian; f32, the intents' means f16).
    pub fn save(&self, path: &Path) -> Result<(), HeadsError> {
        use safetensors::tensor::{Dtype, TensorView};
        let err = |m: String| HeadsError::File(path.display().to_string(), m);
        let mut parts: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        let mut push = |name: &str, l: &Linear| {
            let w = l.weight.as_standard_layout();
            parts.push((format!("{name}.weight"), Dtype::F32, w.shape().to_vec(), tensor_bytes(w.as_slice().expect("standard layout"))));
            parts.push((format!("{name}.bias"), Dtype::F32, vec![l.bias.len()], tensor_bytes(&l.bias.to_vec())));
        };
        push("intent", &self.intent);
        if let Some(s) = &self.slot {
            push("slot", s);
        }
        if let Some(m) = &self.means {
            let m = m.as_standard_layout();
            let bytes = m.iter().flat_map(|&x| half::f16::from_f32(x).to_le_bytes()).collect();
            parts.push(("intent.means".into(), Dtype::F16, m.shape().to_vec(), bytes));
        }
        let views: Vec<(String, TensorView)> = parts
            .iter()
            .map(|(n, dtype, shape, data)| TensorView::new(*dtype, shape.clone(), data).map(|v| (n.clone(), v)))
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

    /// Reads heads and checks their shapes: `pooled` inputs to the intent head, `hidden` (or a
    /// window of 3 × `hidden`) to the slot head, `intents` and `slot_labels` outputs (no slot head
    /// when `slot_labels` is 0).
    pub fn load(path: &Path, hidden: usize, pooled: usize, intents: usize, slot_labels: usize) -> Result<Heads, Vec<String>> {
        let bytes = crate::model::files::read_bounded(path, crate::model::files::MAX_MODEL_BYTES).map_err(|e| vec![e])?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| vec![format!("not safetensors: {e}")])?;
        let mut problems = Vec::new();
        let mut linear = |name: &str, inputs: usize, outputs: usize| -> Option<Linear> {
            let w = read_tensor(&st, &format!("{name}.weight"), &[inputs, outputs], false, &mut problems)?;
            let b = read_tensor(&st, &format!("{name}.bias"), &[outputs], false, &mut problems)?;
            Some(Linear { weight: Array2::from_shape_vec((inputs, outputs), w).ok()?, bias: Array1::from(b) })
        };
        let intent = linear("intent", pooled, intents);
        // a slot head reads one token ([hidden, labels]) or a window of three ([3 × hidden, labels])
        let window = st.tensor("slot.weight").is_ok_and(|t| t.shape().first() == Some(&(3 * hidden)));
        let slot_inputs = if window { 3 * hidden } else { hidden };
        let slot = if slot_labels > 0 { linear("slot", slot_inputs, slot_labels) } else { None };
        let means = match st.tensor("intent.means") {
            Ok(_) => read_tensor(&st, "intent.means", &[intents, pooled], true, &mut problems)
                .and_then(|v| Array2::from_shape_vec((intents, pooled), v).ok()),
            Err(_) => None,
        };
        match (intent, problems.is_empty()) {
            (Some(intent), true) if slot_labels == 0 || slot.is_some() => Ok(Heads { intent, slot, top: None, means }),
            _ => Err(problems),
        }
    }

    /// One row of an encoder batch through these heads: intent logits from its pooled vector, slot
    /// logits from its first `len` token vectors. What a bot's job gets back when the encoder batch
    /// was shared with other bots' jobs.
    pub fn apply_row(&self, out: &EncoderOutput, row: usize, len: usize) -> Result<RowOutput, RunError> {
        let adapted = self.top.as_ref().map(|top| self.adapted(top, out, row, len)).transpose()?;
        let pooled = adapted.as_ref().map_or(out.pooled.row(row), |a| a.0.view());
        let intent = pooled.dot(&self.intent.weight) + &self.intent.bias;
        let tokens = match adapted.as_ref().and_then(|a| a.1.as_ref()) {
            Some(t) => t.view(),
            None => out.hidden.slice(ndarray::s![row, ..len, ..]),
        };
        let slots = match &self.slot {
            Some(s) => slot_logits(s, tokens),
            None => Array2::zeros((len, 0)),
        };
        Ok(RowOutput { intent_logits: intent.to_vec(), slot_logits: slots, similarity: self.similarity(pooled) })
    }

    /// The cosine between a sentence vector and the nearest intent's mean, when the bundle has them.
    pub fn similarity(&self, pooled: ndarray::ArrayView1<f32>) -> Option<f32> {
        self.means.as_ref().map(|m| nearest_mean_cosine(m, pooled))
    }

    /// Row `row`'s sentence vector through the bot's own layers; and, for layers on the graph
    /// below them (no encoder token states in the run), the token states the slot head reads
    /// ([len, hidden]: the top layer's, the prefix left out).
    fn adapted(&self, top: &stack::Stack, out: &EncoderOutput, row: usize, len: usize) -> Result<(Array1<f32>, Option<Array2<f32>>), RunError> {
        let spec = &top.spec;
        let x = out
            .kept_row(&spec.input, row, len)
            .ok_or_else(|| RunError::Output(format!("the encoder batch kept no {:?} for an adapted bot", spec.input)))?;
        if x.nrows() == 0 {
            return Err(RunError::Output("an adapted bot's row has no tokens".into()));
        }
        let states = top.states(x).map_err(|e| RunError::Output(format!("adapted layers: {e}")))?;
        let given: Vec<(String, ndarray::ArrayView2<f32>)> = spec.outputs().into_iter().zip(states.iter().map(|s| s.view())).collect();
        let pooled = out.pooled_from(row, &given).ok_or_else(|| {
            RunError::Output(format!("the adapted layers give {:?}, which with the run's do not make every pooled output", spec.outputs()))
        })?;
        let tokens = spec.graph.is_some().then(|| states.last().map(|s| out.without_prefix(s.view()))).flatten();
        Ok((pooled, tokens))
    }

    /// The encoder output an adapted bot's layer reads, if it has one.
    pub fn reads(&self) -> Option<&str> {
        self.top.as_ref().map(|t| t.spec.input.as_str())
    }

    /// Intent logits from the pooled vectors, slot logits from every token's vector (padding rows
    /// are zeros, so a window head reads zeros past an item's end, as `apply_row` does).
    pub fn apply(&self, out: &EncoderOutput) -> Result<ModelOutput, RunError> {
        let mut intent_logits = out.pooled.dot(&self.intent.weight) + &self.intent.bias;
        let mut similarity: Option<Vec<f32>> = self.means.as_ref().map(|_| vec![0.0; out.pooled.nrows()]);
        let (b, t, _) = out.hidden.dim();
        let mut slot_out = self.slot.as_ref().map(|s| Array3::zeros((b, t, s.bias.len())));
        for r in 0..out.pooled.nrows() {
            // each row's sentence vector once: the adapted layers', else the encoder's
            let adapted = self.top.as_ref().map(|top| self.adapted(top, out, r, out.lens[r])).transpose()?;
            if let Some((a, _)) = &adapted {
                intent_logits.row_mut(r).assign(&(a.dot(&self.intent.weight) + &self.intent.bias));
            }
            if let (Some(s), Some(v)) = (similarity.as_mut(), self.similarity(adapted.as_ref().map_or(out.pooled.row(r), |a| a.0.view()))) {
                s[r] = v;
            }
            if let (Some(s), Some(logits)) = (&self.slot, slot_out.as_mut()) {
                // the token states: the adapted top layer's on the graph below it (padding rows
                // zeros, as the encoder's), else the encoder's
                let own = adapted.and_then(|a| a.1).map(|own| {
                    let mut padded = Array2::zeros((t, own.ncols()));
                    padded.slice_mut(ndarray::s![..own.nrows().min(t), ..]).assign(&own.slice(ndarray::s![..own.nrows().min(t), ..]));
                    padded
                });
                let tokens = own.as_ref().map_or_else(|| out.hidden.slice(ndarray::s![r, .., ..]), |o| o.view());
                logits.slice_mut(ndarray::s![r, .., ..]).assign(&slot_logits(s, tokens));
            }
        }
        let slot_logits = slot_out.unwrap_or_else(|| Array3::zeros((b, t, 0)));
        Ok(ModelOutput { intent_logits, slot_logits, similarity })
    }
}

/// The slot logits of one item's token vectors [tokens, hidden]. A window head ([3 × hidden,
/// labels]) reads, for token t, [h(t − 1), h(t), h(t + 1)], zeros past either end
/// (`train::features::window_row` builds the same rows for training).
pub fn slot_logits(s: &Linear, tokens: ndarray::ArrayView2<f32>) -> Array2<f32> {
    let h = tokens.ncols();
    if s.weight.nrows() != 3 * h {
        return tokens.dot(&s.weight) + &s.bias;
    }
    let part = |k: usize| s.weight.slice(ndarray::s![k * h..(k + 1) * h, ..]);
    let mut out = tokens.dot(&part(1)) + &s.bias;
    let n = tokens.nrows();
    if n > 1 {
        let prev = tokens.slice(ndarray::s![..n - 1, ..]).dot(&part(0));
        let next = tokens.slice(ndarray::s![1.., ..]).dot(&part(2));
        let mut later = out.slice_mut(ndarray::s![1.., ..]);
        later += &prev;
        let mut earlier = out.slice_mut(ndarray::s![..n - 1, ..]);
        earlier += &next;
    }
    out
}

/// A tensor's values as f32, from f32 (or f16 where `f16_ok`: the intents' means).
fn read_tensor(st: &safetensors::SafeTensors, name: &str, shape: &[usize], f16_ok: bool, problems: &mut Vec<String>) -> Option<Vec<f32>> {
    let t = match st.tensor(name) {
        Ok(t) => t,
        Err(_) => {
            problems.push(format!("tensor {name:?} is missing"));
            return None;
        }
    };
    let f16 = f16_ok && t.dtype() == safetensors::Dtype::F16;
    if t.dtype() != safetensors::Dtype::F32 && !f16 {
        let want = if f16_ok { "F16 or F32" } else { "F32" };
        problems.push(format!("tensor {name:?} is {:?}, expected {want}", t.dtype()));
        return None;
    }
    if t.shape() != shape {
        problems.push(format!("tensor {name:?} has shape {:?}, expected {shape:?}", t.shape()));
        return None;
    }
    if f16 {
        return Some(t.data().chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect());
    }
    Some(t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// The tokenizer of the encoder a heads bundle names (its hash checked).
pub fn encoder_tokenizer(bundle_dir: &Path, m: &Manifest) -> Result<tokenizers::Tokenizer, String> {
    let r = m.encoder.as_ref().ok_or("kind \"heads\" needs `encoder`")?;
    let dir = resolve_encoder(bundle_dir, r)?;
    let (_, tokenizer) =
        encoder::read_encoder_dir(&dir, Some((&r.sha256, crate::model::files::MANIFEST_FILE))).map_err(|e| crate::errors::chain(&e))?;
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array};

    /// The intents' means are stored as f16 (half the bytes) and read back as the rounded values
    /// training scored with; bundles written with f32 means still load; any other type is refused.
    #[test]
    fn the_intents_means_are_stored_in_f16_and_f32_ones_still_load() {
        let (h, k) = (64, 5);
        let f = |i: usize| ((i * 7919) % 23) as f32 / 11.0 - 1.0;
        let means = unit_means(Array2::from_shape_fn((k, h), |(i, j)| f(i * h + j)).view(), &[0, 1, 2, 3, 4], k, &[false; 5]);
        let intent = Linear { weight: Array2::from_shape_fn((h, k), |(i, j)| f(i + j)), bias: Array1::zeros(k) };
        let dir = tempfile::tempdir().unwrap();
        let (with, without) = (dir.path().join("with.safetensors"), dir.path().join("without.safetensors"));
        let heads = Heads { intent: intent.clone(), slot: None, top: None, means: Some(means.clone()) };
        heads.save(&with).unwrap();
        Heads { means: None, ..heads.clone() }.save(&without).unwrap();
        let grown = std::fs::metadata(&with).unwrap().len() - std::fs::metadata(&without).unwrap().len();
        assert!(grown < (k * h * 2 + 200) as u64, "{grown} bytes for {k} x {h} means: not f16");
        let back = Heads::load(&with, h, h, k, 0).unwrap().means.unwrap();
        assert_eq!(back, f16_precision(means.clone()));
        assert!(back != means, "rounding changed nothing: the test proves nothing");
        assert!((&back - &means).iter().all(|d| d.abs() < 1e-3));
        // an f32 tensor (bundles before f16) loads as it is; an i32 one is refused by name
        use safetensors::tensor::{Dtype, TensorView};
        let w = intent.weight.as_standard_layout();
        let write = |dtype, data: &[u8], path: &std::path::Path| {
            let (wb, b) = (tensor_bytes(w.as_slice().unwrap()), tensor_bytes(&intent.bias.to_vec()));
            let views = [
                ("intent.weight", TensorView::new(Dtype::F32, vec![h, k], &wb[..]).unwrap()),
                ("intent.bias", TensorView::new(Dtype::F32, vec![k], &b[..]).unwrap()),
                ("intent.means", TensorView::new(dtype, vec![k, h], data).unwrap()),
            ];
            std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
        };
        let old = dir.path().join("old.safetensors");
        write(Dtype::F32, &tensor_bytes(means.as_slice().unwrap()), &old);
        assert_eq!(Heads::load(&old, h, h, k, 0).unwrap().means.unwrap(), means);
        write(Dtype::I32, &tensor_bytes(means.as_slice().unwrap()), &old);
        let problems = Heads::load(&old, h, h, k, 0).unwrap_err();
        assert!(problems.iter().any(|p| p.contains("intent.means") && p.contains("F16 or F32")), "{problems:?}");
    }

    /// A window slot head reads [h(t − 1), h(t), h(t + 1)] with zeros past an item's end: the
    /// batched `apply` (padding rows are zeros), `apply_row` and the training rows agree; so do the
    /// two on the off-topic gate's cosine.
    #[test]
    fn a_window_slot_head_reads_its_neighbours_the_same_way_everywhere() {
        let (h, k) = (4, 3);
        let f = |i: usize| ((i * 7919) % 23) as f32 / 11.0 - 1.0;
        let weight = Array::from_shape_fn((3 * h, k), |(i, j)| f(i * k + j + 5));
        let slot = Linear { weight, bias: Array1::from(vec![0.1, -0.2, 0.3]) };
        let means = unit_means(Array2::from_shape_fn((2, h), |(i, j)| f(i * 3 + j)).view(), &[0, 1], 2, &[false, false]);
        let intent = Linear { weight: Array2::zeros((h, 2)), bias: Array1::zeros(2) };
        let heads = Heads { intent, slot: Some(slot.clone()), top: None, means: Some(means) };
        // two items of 3 and 5 tokens, padded to 5 with zeros
        let mut hidden = Array3::<f32>::zeros((2, 5, h));
        for (r, len) in [(0, 3), (1, 5)] {
            for t in 0..len {
                for d in 0..h {
                    hidden[[r, t, d]] = f(r * 100 + t * 10 + d);
                }
            }
        }
        let pooled = Array2::from_shape_fn((2, h), |(r, d)| f(r * 7 + d + 1));
        let out = EncoderOutput::new(hidden.clone(), pooled.clone());
        let batched = heads.apply(&out).unwrap();
        for (r, len) in [(0, 3), (1, 5)] {
            let one = heads.apply_row(&out, r, len).unwrap();
            // the off-topic gate's cosine: the same both ways, and what the means give
            let want = nearest_mean_cosine(heads.means.as_ref().unwrap(), pooled.row(r));
            assert_eq!((one.similarity, batched.similarity.as_ref().map(|s| s[r])), (Some(want), Some(want)));
            let row = one.slot_logits;
            assert_eq!(row.dim(), (len, k));
            for t in 0..len {
                let mut x = Vec::new();
                crate::train::features::window_row(hidden.slice(s![r, .., ..]), t, len, &mut x);
                let want = Array1::from(x).dot(&slot.weight) + &slot.bias;
                for j in 0..k {
                    assert!((row[[t, j]] - want[j]).abs() < 1e-5, "row {r} token {t}");
                    assert!((batched.slot_logits[[r, t, j]] - want[j]).abs() < 1e-5, "batched row {r} token {t}");
                }
            }
        }
        // a one-token head ([hidden, labels]) is read as before
        let one = Linear { weight: slot.weight.slice(s![h..2 * h, ..]).to_owned(), bias: slot.bias.clone() };
        let tokens = hidden.slice(s![1, .., ..]);
        assert_eq!(slot_logits(&one, tokens), tokens.dot(&one.weight) + &one.bias);
    }
}
