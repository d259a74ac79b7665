//! A bot's own copy of the encoder's top layers (`parlance train --adapt`, `--adapt-layers N`):
//! [`TopLayer`]s one above the other, each reading the states of the one below. One layer (the
//! default) reads the shared encoder's `hidden_states_11`; e5-small's top six
//! (`upper-layers.json` beside the encoder, scripts/extract-top-layer.py `--stack 6`) read
//! `hidden_states_6` from the graph below them (`lower-layers.onnx`), which an adapted bot's rows
//! run instead of the whole encoder: ONNX Runtime runs every node whatever output is fetched.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use ndarray::{Array2, ArrayView2};

use super::top_layer::{same_shape, spec_in, TopLayer, TopLayerSpec, NO_BASE, SPEC_FILE, UP};

fn err(e: candle_core::Error) -> String {
    e.to_string()
}

/// The spec file of an encoder folder's top `--adapt-layers` layers.
pub const STACK_SPEC_FILE: &str = "upper-layers.json";

/// The spec file that offers an encoder's top `layers` layers: `top-layer.json` for one,
/// `upper-layers.json` for more.
pub fn spec_file(layers: usize) -> &'static str {
    if layers == 1 {
        SPEC_FILE
    } else {
        STACK_SPEC_FILE
    }
}

/// How many top layers the encoder folder offers to adapt, reading only its spec files: those of
/// `upper-layers.json`, else 1 with `top-layer.json`, else 0.
pub fn offered_layers(dir: &Path) -> Result<usize, String> {
    if let Some(spec) = spec_in(dir, STACK_SPEC_FILE)? {
        return Ok(spec.layers);
    }
    Ok(usize::from(spec_in(dir, SPEC_FILE)?.is_some()))
}

/// Whether the encoder folder offers its top `layers` layers, reading only the spec file (as
/// [`encoder_stack`] checks it): false without it, an error when it offers another number.
pub fn offers(dir: &Path, layers: usize) -> Result<bool, String> {
    let file = spec_file(layers);
    match spec_in(dir, file)? {
        Some(spec) if spec.layers != layers => Err(format!("{file} offers {} layers, not {layers}", spec.layers)),
        found => Ok(found.is_some()),
    }
}

/// The encoder folder's own top layer (the base an adapted bot's change is added to) and the
/// sha256 of its weights file, when the folder offers one.
pub fn encoder_layer(dir: &Path) -> Result<Option<(TopLayer, String)>, String> {
    let Some((stack, sha)) = encoder_stack(dir, 1)? else { return Ok(None) };
    Ok(stack.layers.into_iter().next().map(|l| (l, sha)))
}

/// The encoder folder's own top `layers` layers (`top-layer.json` for one, `upper-layers.json`
/// for more: it must offer that many) and the sha256 of their weights file, when it offers them.
pub fn encoder_stack(dir: &Path, layers: usize) -> Result<Option<(Stack, String)>, String> {
    let file = spec_file(layers);
    let Some(spec) = spec_in(dir, file)? else { return Ok(None) };
    if spec.layers != layers {
        return Err(format!("{file} offers {} layers, not {layers}", spec.layers));
    }
    if spec.file.contains(['/', '\\']) {
        return Err(format!("{file}: file {:?} must be a file name in the encoder folder", spec.file));
    }
    if let (Some(g), Some(want)) = (&spec.graph, &spec.graph_sha256) {
        let got = crate::model::heads::encoder::file_sha256(&dir.join(g)).map_err(|e| e.to_string())?;
        if !got.eq_ignore_ascii_case(want) {
            return Err(format!("{file}: {g} has sha256 {got}, the spec says {want} (run `make setup` again)"));
        }
    }
    let path = dir.join(&spec.file);
    let sha = crate::model::heads::encoder::file_sha256(&path).map_err(|e| e.to_string())?;
    let bytes = crate::model::files::read_bounded(&path, crate::model::files::MAX_MODEL_BYTES)?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(|e| format!("{}: not safetensors: {e}", path.display()))?;
    // only its weights are read (to train from, or to add a change to): not packed for serving
    let layers = Stack::split(tensors, &spec)
        .into_iter()
        .map(|t| TopLayer::whole_from(&t, &spec))
        .collect::<Result<Vec<_>, String>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some((Stack { layers, spec }, sha)))
}

/// A bot's own copy of the encoder's top layers (`spec.layers` of them, lowest first): one for
/// `--adapt`, more for `--adapt-layers`. Each layer reads the one below's states; what each
/// gives stands for one of the encoder's outputs ([`TopLayerSpec::outputs`]).
#[derive(Debug, Clone)]
pub struct Stack {
    pub layers: Vec<TopLayer>,
    pub spec: TopLayerSpec,
}

impl Stack {
    /// The stack's tensors by layer, their names without the layer's `"j."` (a one-layer stack's
    /// names have none).
    fn split(tensors: HashMap<String, Tensor>, spec: &TopLayerSpec) -> Vec<HashMap<String, Tensor>> {
        let mut out = vec![HashMap::new(); spec.layers];
        for (name, t) in tensors {
            if spec.layers == 1 {
                out[0].insert(name, t);
            } else if let Some((j, rest)) = name.split_once('.').and_then(|(j, r)| Some((j.parse::<usize>().ok()?, r))) {
                if j < spec.layers {
                    out[j].insert(rest.to_string(), t);
                }
            }
        }
        out
    }

    fn prefix(&self, j: usize) -> String {
        if self.spec.layers == 1 {
            String::new()
        } else {
            format!("{j}.")
        }
    }

    /// Reads the weights from safetensors bytes (f32 or f16), every name and shape checked: the
    /// whole layers, or changes from `base` (the encoder's layers; needed then).
    pub fn from_bytes(bytes: &[u8], spec: &TopLayerSpec, base: Option<&Stack>) -> Result<Stack, String> {
        spec.check()?;
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(|e| format!("not safetensors: {e}"))?;
        if let Some(b) = base.filter(|b| b.layers.len() != spec.layers) {
            return Err(format!("the encoder offers {} layers, the bot has {}", b.layers.len(), spec.layers));
        }
        let mut layers = Vec::new();
        for (j, t) in Stack::split(tensors, spec).into_iter().enumerate() {
            let at = |e: String| if spec.layers == 1 { e } else { format!("layer {j}: {e}") };
            let layer = if t.keys().any(|k| k.ends_with(UP)) {
                let base = base.ok_or(NO_BASE)?;
                same_shape(spec, &base.spec)?;
                TopLayer::with_change(&base.layers[j], t).map_err(at)?
            } else {
                TopLayer::whole_from(&t, spec).and_then(TopLayer::with_serial).map_err(at)?
            };
            layers.push(layer);
        }
        Ok(Stack { layers, spec: spec.clone() })
    }

    /// Reads a weights file (bounded like every model file); `base` as in [`Stack::from_bytes`].
    pub fn load(path: &Path, spec: &TopLayerSpec, base: Option<&Stack>) -> Result<Stack, String> {
        let bytes = crate::model::files::read_bounded(path, crate::model::files::MAX_MODEL_BYTES)?;
        Stack::from_bytes(&bytes, spec, base)
    }

    /// The same layers without their candle weights ([`TopLayer::for_serving`]): what a served
    /// bot keeps.
    pub fn for_serving(self) -> Stack {
        Stack { layers: self.layers.into_iter().map(TopLayer::for_serving).collect(), spec: self.spec }
    }

    /// One layer as a stack.
    pub fn one(layer: TopLayer) -> Stack {
        Stack { spec: layer.spec.clone(), layers: vec![layer] }
    }

    /// The layers' weights by name (`"j.NAME"` above one layer).
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (j, l) in self.layers.iter().enumerate() {
            let p = self.prefix(j);
            out.extend(l.named_tensors().into_iter().map(|(n, t)| (format!("{p}{n}"), t)));
        }
        out
    }

    pub fn is_change(&self) -> bool {
        self.layers.iter().all(TopLayer::is_change)
    }

    pub fn serves_int8(&self) -> bool {
        self.layers.iter().all(TopLayer::serves_int8)
    }

    /// Writes the weights as f16 safetensors: each layer's change when it is one, else the whole layer.
    pub fn save_f16(&self, path: &Path) -> Result<(), String> {
        let mut map = HashMap::new();
        for (j, l) in self.layers.iter().enumerate() {
            let p = self.prefix(j);
            for (n, t) in l.stored() {
                map.insert(format!("{p}{n}"), t.to_dtype(DType::F16).map_err(err)?);
            }
        }
        candle_core::safetensors::save(&map, path).map_err(err)
    }

    /// x [B, T, H], mask [B, T] → each layer's states [B, T, H], lowest first.
    pub fn forward(&self, x: &Tensor, mask: &Tensor) -> candle_core::Result<Vec<Tensor>> {
        let mut out: Vec<Tensor> = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let y = l.forward(out.last().unwrap_or(x), mask)?;
            out.push(y);
        }
        Ok(out)
    }

    /// One item's states ([tokens, hidden], no padding) through every layer: each layer's output,
    /// lowest first.
    pub fn states(&self, x: ArrayView2<f32>) -> Result<Vec<Array2<f32>>, String> {
        let mut out: Vec<Array2<f32>> = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let y = l.states(out.last().map_or(x, |p| p.view()))?;
            out.push(y);
        }
        Ok(out)
    }
}
