//! A bot's own copy of the encoder's top layer (`parlance train --adapt`, issue 24 item 3): a
//! post-LN transformer block (self-attention, feed-forward with exact GELU, two layer norms) that
//! re-runs the top layer on the shared encoder's states below it, one bot at a time. The shared
//! encoder still runs once for every bot in a batch; an adapted bot's rows then go through its own
//! layer before pooling. The same code trains the layer (`train::adapt`, candle's autodiff) and
//! serves it, so training and serving compute the same vector.
//!
//! An encoder that offers adaptation has `top-layer.json` (`"spec"`: a [`TopLayerSpec`]) and
//! `top-layer.safetensors` (its top layer's weights, f32, PyTorch `[out, in]` layout) beside
//! `model.onnx` (scripts/extract-top-layer.py writes them for e5-small). A bot stores its adapted
//! layer in `adapted-layer.safetensors` (f16) and the spec in its manifest: by default as its
//! change from the encoder's layer, each weight matrix's change as two low-rank factors
//! (`NAME.up` [out, r] and `NAME.down` [r, in]: W = W_encoder + up · down) and the vectors whole,
//! 0.12 MB for e5-small at rank 8; or (`--adapt-rank 0`) the whole layer, 3.5 MB.

use std::collections::HashMap;
use std::path::Path;

pub use crate::model::manifest::TopLayerSpec;
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Linear, VarBuilder};
use std::sync::Arc;

use ndarray::{s, Array1, Array2, ArrayView2, Axis};

use super::int8::Int8Linear;
use super::packed::PackedLinear;

pub const SPEC_FILE: &str = "top-layer.json";
pub use crate::model::manifest::{ADAPTED_FILE, TOP_LAYER_WEIGHTS as WEIGHTS_FILE};

/// The spec of an encoder folder's top layer, when it offers one.
pub fn of_encoder(dir: &Path) -> Result<Option<TopLayerSpec>, String> {
    spec_in(dir, SPEC_FILE)
}

pub(super) fn spec_in(dir: &Path, file: &str) -> Result<Option<TopLayerSpec>, String> {
    let path = dir.join(file);
    if !path.is_file() {
        return Ok(None);
    }
    let text = crate::model::files::read_text(&path, crate::model::files::MAX_JSON_BYTES)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let spec: TopLayerSpec =
        serde_json::from_value(v.get("spec").cloned().unwrap_or_default()).map_err(|e| format!("{}: \"spec\": {e}", path.display()))?;
    spec.check().map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(spec))
}

/// A matrix tensor as an ndarray (f32).
pub fn array2(t: &Tensor) -> Result<Array2<f32>, String> {
    let v = t.to_vec2::<f32>().map_err(err)?;
    let (m, n) = (v.len(), v.first().map_or(0, Vec::len));
    Array2::from_shape_vec((m, n), v.concat()).map_err(|e| e.to_string())
}

/// The layer's weights as candle modules (variables while training, constants once trained).
#[derive(Debug, Clone)]
struct Weights {
    q: Linear,
    k: Linear,
    v: Linear,
    ao: Linear,
    fi: Linear,
    fo: Linear,
    ln: [(Tensor, Tensor); 2],
}

/// A transformer block: its candle weights (to train, store and compare with) and, once trained,
/// the serial copy that serves it.
#[derive(Debug, Clone)]
pub struct TopLayer {
    /// None for a layer loaded to serve ([`TopLayer::for_serving`]): its serial copy is all it
    /// needs, and the f32 weights would be 4× that copy's memory where it runs in 8 bits.
    w: Option<Weights>,
    pub spec: TopLayerSpec,
    /// Set for a layer that is done training (loaded, or rounded at training's end): the serial
    /// copy that [`TopLayer::states`] runs.
    serial: Option<Arc<Serial>>,
    /// For a layer made of the encoder's layer and a change ([`TopLayer::with_change`]): the
    /// change, as stored (f16).
    change: Option<Arc<HashMap<String, Tensor>>>,
}

/// Why a layer stored as a change cannot load without the encoder's.
pub(super) const NO_BASE: &str = "the layer is stored as a change from the encoder's top layer, which was not given";

/// A change is added to a layer of the same shape only.
pub(super) fn same_shape(spec: &TopLayerSpec, b: &TopLayerSpec) -> Result<(), String> {
    if (spec.hidden, spec.ffn, spec.heads) != (b.hidden, b.ffn, b.heads) {
        return Err(format!(
            "the layer is stored as a change from the encoder's top layer (hidden {}, ffn {}, heads {}), but its spec says hidden {}, ffn {}, heads {}",
            b.hidden, b.ffn, b.heads, spec.hidden, spec.ffn, spec.heads
        ));
    }
    Ok(())
}

/// Suffixes of a weight matrix's two low-rank factors in a stored change.
pub const UP: &str = ".up";
pub const DOWN: &str = ".down";

fn err(e: candle_core::Error) -> String {
    e.to_string()
}

impl TopLayer {
    /// The layer from a var builder (every tensor of [`TopLayerSpec::shapes`] must be there).
    pub fn new(vb: &VarBuilder, spec: &TopLayerSpec) -> candle_core::Result<TopLayer> {
        let (h, f) = (spec.hidden, spec.ffn);
        let lin = |i, o, n: &str| candle_nn::linear(i, o, vb.pp(n));
        let ln = |n: &str| -> candle_core::Result<(Tensor, Tensor)> { Ok((vb.pp(n).get(h, "weight")?, vb.pp(n).get(h, "bias")?)) };
        let w = Weights {
            q: lin(h, h, "q")?,
            k: lin(h, h, "k")?,
            v: lin(h, h, "v")?,
            ao: lin(h, h, "ao")?,
            fi: lin(h, f, "fi")?,
            fo: lin(f, h, "fo")?,
            ln: [ln("aln")?, ln("oln")?],
        };
        Ok(TopLayer { w: Some(w), spec: spec.clone(), serial: None, change: None })
    }

    /// Reads the weights from safetensors bytes (f32 or f16), every name and shape checked: the
    /// whole layer, or a change from `base` (the encoder's layer; needed then).
    pub fn from_bytes(bytes: &[u8], spec: &TopLayerSpec, base: Option<&TopLayer>) -> Result<TopLayer, String> {
        spec.check()?;
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(|e| format!("not safetensors: {e}"))?;
        if tensors.keys().any(|k| k.ends_with(UP)) {
            let base = base.ok_or(NO_BASE)?;
            same_shape(spec, &base.spec)?;
            return TopLayer::with_change(base, tensors);
        }
        TopLayer::whole_from(&tensors, spec)?.with_serial()
    }

    pub(super) fn whole_from(tensors: &HashMap<String, Tensor>, spec: &TopLayerSpec) -> Result<TopLayer, String> {
        let mut problems = Vec::new();
        let mut f32s = HashMap::new();
        for (name, shape) in spec.shapes() {
            match tensors.get(&name) {
                None => problems.push(format!("tensor {name:?} is missing")),
                Some(t) if t.dims() != shape.as_slice() => problems.push(format!("tensor {name:?} has shape {:?}, expected {shape:?}", t.dims())),
                Some(t) if !matches!(t.dtype(), DType::F32 | DType::F16) => {
                    problems.push(format!("tensor {name:?} is {:?}, expected F16 or F32", t.dtype()))
                }
                Some(t) => {
                    f32s.insert(name, t.to_dtype(DType::F32).map_err(err)?);
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        TopLayer::new(&VarBuilder::from_tensors(f32s, DType::F32, &Device::Cpu), spec).map_err(err)
    }

    /// `base` plus a change: each matrix's `NAME.up` · `NAME.down` added to it, each vector
    /// replaced (every name and shape checked); the layer keeps the change to store it.
    pub fn with_change(base: &TopLayer, change: HashMap<String, Tensor>) -> Result<TopLayer, String> {
        let spec = &base.spec;
        let before: HashMap<String, Tensor> = base.named_tensors().into_iter().collect();
        let mut problems = Vec::new();
        let mut f32s = HashMap::new();
        let get = |name: &str, problems: &mut Vec<String>| match change.get(name) {
            None => {
                problems.push(format!("tensor {name:?} is missing"));
                None
            }
            Some(t) if !matches!(t.dtype(), DType::F32 | DType::F16) => {
                problems.push(format!("tensor {name:?} is {:?}, expected F16 or F32", t.dtype()));
                None
            }
            Some(t) => t.to_dtype(DType::F32).ok(),
        };
        for (name, shape) in spec.shapes() {
            if let [out, inp] = shape[..] {
                let (Some(up), Some(down)) = (get(&format!("{name}{UP}"), &mut problems), get(&format!("{name}{DOWN}"), &mut problems)) else {
                    continue;
                };
                let r = up.dims().get(1).copied().unwrap_or(0);
                if up.dims() != [out, r] || down.dims() != [r, inp] || r == 0 {
                    problems.push(format!("{name}'s change has factors {:?} and {:?}, expected [{out}, r] and [r, {inp}]", up.dims(), down.dims()));
                    continue;
                }
                f32s.insert(name.clone(), (&before[&name] + up.matmul(&down).map_err(err)?).map_err(err)?);
            } else if let Some(t) = get(&name, &mut problems) {
                if t.dims() != shape.as_slice() {
                    problems.push(format!("tensor {name:?} has shape {:?}, expected {shape:?}", t.dims()));
                }
                f32s.insert(name, t);
            }
        }
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        let mut layer = TopLayer::new(&VarBuilder::from_tensors(f32s, DType::F32, &Device::Cpu), spec).map_err(err)?.with_serial()?;
        layer.change = Some(Arc::new(change));
        Ok(layer)
    }

    /// Reads a weights file (bounded like every model file); `base` as in [`TopLayer::from_bytes`].
    pub fn load(path: &Path, spec: &TopLayerSpec, base: Option<&TopLayer>) -> Result<TopLayer, String> {
        let bytes = crate::model::files::read_bounded(path, crate::model::files::MAX_MODEL_BYTES)?;
        TopLayer::from_bytes(&bytes, spec, base)
    }

    /// Whether the layer is stored as a change from the encoder's layer.
    pub fn is_change(&self) -> bool {
        self.change.is_some()
    }

    /// The candle weights; a layer loaded to serve has none (a program error to ask).
    fn weights(&self) -> &Weights {
        self.w.as_ref().expect("a layer loaded to serve keeps no candle weights: train and store from a layer that does")
    }

    /// The same layer without its candle weights, when it has its serial copy: what a served bot
    /// keeps (six 8-bit layers 11 MB where they held 53).
    pub fn for_serving(mut self) -> TopLayer {
        if self.serial.is_some() {
            self.w = None;
        }
        self
    }

    /// The weights by name, in the order of [`TopLayerSpec::shapes`].
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        let w = self.weights();
        for (n, l) in [("q", &w.q), ("k", &w.k), ("v", &w.v), ("ao", &w.ao), ("fi", &w.fi), ("fo", &w.fo)] {
            out.push((format!("{n}.weight"), l.weight().clone()));
            out.extend(l.bias().map(|b| (format!("{n}.bias"), b.clone())));
        }
        for (n, (w, b)) in ["aln", "oln"].iter().zip(&w.ln) {
            out.push((format!("{n}.weight"), w.clone()));
            out.push((format!("{n}.bias"), b.clone()));
        }
        out
    }

    /// The same weights rounded to f16 and back: what a bot stores and serves.
    pub fn rounded_to_f16(&self) -> Result<TopLayer, String> {
        let map = self
            .named_tensors()
            .into_iter()
            .map(|(n, t)| Ok((n, t.detach().to_dtype(DType::F16)?.to_dtype(DType::F32)?)))
            .collect::<candle_core::Result<HashMap<_, _>>>()
            .map_err(err)?;
        TopLayer::new(&VarBuilder::from_tensors(map, DType::F32, &Device::Cpu), &self.spec).map_err(err)?.with_serial()
    }

    /// What a bot stores: the change when the layer is one, else the whole layer.
    pub(super) fn stored(&self) -> Vec<(String, Tensor)> {
        match &self.change {
            Some(c) => c.iter().map(|(n, t)| (n.clone(), t.clone())).collect(),
            None => self.named_tensors().into_iter().map(|(n, t)| (n, t.detach())).collect(),
        }
    }

    /// Writes the weights as f16 safetensors: the change when the layer is one, else the whole layer.
    pub fn save_f16(&self, path: &Path) -> Result<(), String> {
        let map = match &self.change {
            Some(c) => c.iter().map(|(n, t)| Ok((n.clone(), t.to_dtype(DType::F16)?))).collect::<candle_core::Result<HashMap<_, _>>>(),
            None => self.named_tensors().into_iter().map(|(n, t)| Ok((n, t.detach().to_dtype(DType::F16)?))).collect(),
        };
        candle_core::safetensors::save(&map.map_err(err)?, path).map_err(err)
    }

    /// x [B, T, H], mask [B, T] (1 token, 0 padding) → the layer's states [B, T, H].
    pub fn forward(&self, x: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t, h) = x.dims3()?;
        let n = self.spec.heads;
        let hd = h / n;
        let heads = |y: Tensor| -> candle_core::Result<Tensor> { y.reshape((b, t, n, hd))?.transpose(1, 2)?.contiguous() };
        let w = self.w.as_ref().ok_or_else(|| candle_core::Error::Msg("a layer loaded to serve runs its serial copy only".into()))?;
        let (q, k, v) = (heads(w.q.forward(x)?)?, heads(w.k.forward(x)?)?, heads(w.v.forward(x)?)?);
        let bias = ((mask.ones_like()? - mask)? * -10000.0)?.reshape((b, 1, 1, t))?;
        let scores = (q.matmul(&k.t()?.contiguous()?)? / (hd as f64).sqrt())?.broadcast_add(&bias)?;
        let probs = softmax_last(&scores)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((b, t, h))?;
        let x1 = self.layer_norm(&(w.ao.forward(&ctx)? + x)?, &w.ln[0])?;
        let f = w.fo.forward(&w.fi.forward(&x1)?.gelu_erf()?)?;
        self.layer_norm(&(f + x1)?, &w.ln[1])
    }

    /// Layer normalisation from differentiable primitives.
    fn layer_norm(&self, x: &Tensor, (w, b): &(Tensor, Tensor)) -> candle_core::Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let xc = x.broadcast_sub(&mean)?;
        let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
        xc.broadcast_div(&(var + self.spec.eps)?.sqrt()?)?.broadcast_mul(w)?.broadcast_add(b)
    }

    /// One item's states (its tokens, no padding: [tokens, hidden]) through the layer: on the
    /// calling thread ([`Serial`]) for a layer that is done training, through candle otherwise.
    pub fn states(&self, x: ArrayView2<f32>) -> Result<Array2<f32>, String> {
        if let Some(p) = &self.serial {
            return Ok(p.forward(x, self.spec.heads, self.spec.eps as f32));
        }
        let (t, h) = x.dim();
        let data: Vec<f32> = x.iter().copied().collect();
        let xt = Tensor::from_vec(data, (1, t, h), &Device::Cpu).map_err(err)?;
        let mask = Tensor::ones((1, t), DType::F32, &Device::Cpu).map_err(err)?;
        let out = self.forward(&xt, &mask).and_then(|y| y.flatten_all()?.to_vec1::<f32>()).map_err(err)?;
        Array2::from_shape_vec((t, h), out).map_err(|e| e.to_string())
    }

    /// Whether the served copy runs its products in 8 bits (a CPU with AVX-512 VNNI): it then
    /// computes candle's forward to 8-bit rounding rather than f32's.
    pub fn serves_int8(&self) -> bool {
        self.serial.as_ref().is_some_and(|s| matches!(s.lin[0], Product::Int8(_)))
    }

    /// The same layer with its [`Serial`] copy: what is served (and scored at training's end).
    pub(super) fn with_serial(mut self) -> Result<TopLayer, String> {
        let mat = |l: &Linear| -> Result<(Array2<f32>, Array1<f32>), String> {
            let w = array2(&l.weight().t().map_err(err)?)?;
            let o = w.ncols();
            let b = l.bias().map(|b| b.to_vec1::<f32>()).transpose().map_err(err)?.unwrap_or_else(|| vec![0.0; o]);
            Ok((w, Array1::from(b)))
        };
        let vec = |t: &Tensor| t.to_vec1::<f32>().map(Array1::from).map_err(err);
        let wt = self.weights();
        let linear = [&wt.q, &wt.k, &wt.v, &wt.ao, &wt.fi, &wt.fo].map(mat);
        let mut lin = Vec::new();
        for l in linear {
            lin.push(l?);
        }
        // q, k and v as one product [in, 3 × out]: one pass over the tokens instead of three
        let qkv: Vec<_> = lin.drain(..3).collect();
        let w = ndarray::concatenate(Axis(1), &[qkv[0].0.view(), qkv[1].0.view(), qkv[2].0.view()]).map_err(|e| e.to_string())?;
        let b = ndarray::concatenate(Axis(0), &[qkv[0].1.view(), qkv[1].1.view(), qkv[2].1.view()]).map_err(|e| e.to_string())?;
        lin.insert(0, (w, b));
        let lin = lin
            .into_iter()
            .map(|(w, b)| Int8Linear::new(&w, b.clone()).map_or_else(|| Product::F32(PackedLinear::new(&w, b)), Product::Int8))
            .collect();
        let ln = [(vec(&wt.ln[0].0)?, vec(&wt.ln[0].1)?), (vec(&wt.ln[1].0)?, vec(&wt.ln[1].1)?)];
        self.serial = Some(Arc::new(Serial { lin, ln }));
        Ok(self)
    }
}

/// One of the layer's products: 8-bit (0.33 ms a layer of 10 words on an AVX-512 VNNI core,
/// against 0.70 in f32; docs/training-choices.md) or f32.
#[derive(Debug)]
enum Product {
    Int8(Int8Linear),
    F32(PackedLinear),
}

impl Product {
    fn apply(&self, x: ArrayView2<f32>) -> Array2<f32> {
        match self {
            Product::Int8(l) => l.apply(x),
            Product::F32(l) => l.apply(x),
        }
    }
}

/// A finished layer's weights, ready for a text's few tokens (its products in 8 bits where the
/// CPU has AVX-512 VNNI, [`Int8Linear`], else f32 weights packed once, [`PackedLinear`]), run on
/// the calling thread.
///
/// candle splits every matrix product over `RAYON_NUM_THREADS` (all cores) of rayon's pool: at
/// parse time that is a hop to other threads for each of a layer's products, beside the other
/// inference workers, and the products of one 10-word text are too small to gain from it
/// (`cargo bench --bench heads`, 2 cores: candle 1.45 ms a layer, candle on one thread 1.32 ms;
/// this, docs/training-choices.md). A test holds it to candle's forward.
#[derive(Debug)]
struct Serial {
    /// q, k and v side by side ([in, 3 × hidden]), ao, fi, fo
    lin: Vec<Product>,
    ln: [(Array1<f32>, Array1<f32>); 2],
}

impl Serial {
    fn forward(&self, x: ArrayView2<f32>, heads: usize, eps: f32) -> Array2<f32> {
        let lin = |i: usize, a: ArrayView2<f32>| self.lin[i].apply(a);
        let (t, h) = x.dim();
        let qkv = lin(0, x);
        let (q, k, v) = (qkv.slice(s![.., ..h]), qkv.slice(s![.., h..2 * h]), qkv.slice(s![.., 2 * h..]));
        let hd = h / heads;
        let scale = 1.0 / (hd as f32).sqrt();
        let mut ctx = Array2::<f32>::zeros((t, h));
        for n in 0..heads {
            let cols = s![.., n * hd..(n + 1) * hd];
            let mut scores = q.slice(cols).dot(&k.slice(cols).t()) * scale;
            for mut row in scores.rows_mut() {
                let max = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                row.mapv_inplace(|v| (v - max).exp());
                let sum = row.sum();
                row.mapv_inplace(|v| v / sum);
            }
            ctx.slice_mut(cols).assign(&scores.dot(&v.slice(cols)));
        }
        let x1 = self.layer_norm(lin(1, ctx.view()) + x, 0, eps);
        let mut f = lin(2, x1.view());
        gelu(f.as_slice_mut().expect("a new array is contiguous"));
        self.layer_norm(lin(3, f.view()) + x1, 1, eps)
    }

    fn layer_norm(&self, mut x: Array2<f32>, which: usize, eps: f32) -> Array2<f32> {
        let (w, b) = &self.ln[which];
        for mut row in x.rows_mut() {
            let mean = row.mean().unwrap_or(0.0);
            row.mapv_inplace(|v| v - mean);
            let var = row.mapv(|v| v * v).mean().unwrap_or(0.0);
            let inv = 1.0 / (var + eps).sqrt();
            row.zip_mut_with(w, |v, g| *v *= inv * g);
            row += b;
        }
        x
    }
}

/// GELU with the exact erf, in place: x · (1 + erf(x / √2)) / 2, erf from Abramowitz & Stegun
/// 7.1.28 (a polynomial, its reciprocal and four squarings, |error| ≤ 3e-7: a loop the compiler
/// vectorises, where libm's scalar `erff` took as long as the layer's 8-bit products).
fn gelu(v: &mut [f32]) {
    const A: [f32; 6] = [0.070_523_08, 0.042_282_01, 0.009_270_527, 0.000_152_014_3, 0.000_276_567_2, 0.000_043_063_8];
    for x in v.iter_mut() {
        let z = (*x * std::f32::consts::FRAC_1_SQRT_2).abs();
        let p = 1.0 + z * (A[0] + z * (A[1] + z * (A[2] + z * (A[3] + z * (A[4] + z * A[5])))));
        let p4 = (p * p) * (p * p);
        let p16 = (p4 * p4) * (p4 * p4);
        let erf = (1.0 - 1.0 / p16).copysign(*x);
        *x *= 0.5 * (1.0 + erf);
    }
}

/// Softmax over the last axis, from differentiable primitives (max subtracted).
fn softmax_last(x: &Tensor) -> candle_core::Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn tiny_spec() -> TopLayerSpec {
        TopLayerSpec {
            file: ADAPTED_FILE.into(),
            input: "h".into(),
            replaces: "h".into(),
            hidden: 8,
            ffn: 16,
            heads: 2,
            eps: 1e-12,
            base_sha256: None,
            layers: 1,
            graph: None,
            graph_sha256: None,
        }
    }

    /// Deterministic small weights.
    pub fn tiny_layer(spec: &TopLayerSpec) -> TopLayer {
        let mut map = HashMap::new();
        for (i, (name, shape)) in spec.shapes().into_iter().enumerate() {
            let n: usize = shape.iter().product();
            let v: Vec<f32> = (0..n)
                .map(|j| {
                    (((i * 31 + j * 17) % 29) as f32 - 14.0) / 40.0 + if name.starts_with("aln.w") || name.starts_with("oln.w") { 1.0 } else { 0.0 }
                })
                .collect();
            map.insert(name, Tensor::from_vec(v, shape, &Device::Cpu).unwrap());
        }
        TopLayer::new(&VarBuilder::from_tensors(map, DType::F32, &Device::Cpu), spec).unwrap()
    }

    fn item(t: usize, h: usize, seed: usize) -> Array2<f32> {
        Array2::from_shape_fn((t, h), |(i, j)| (((i * 13 + j * 7 + seed * 5) % 19) as f32 - 9.0) / 9.0)
    }

    /// Padding does not leak: each row of a padded batch is what the item gives alone.
    #[test]
    fn a_padded_batch_gives_each_item_what_it_gives_alone() {
        let spec = tiny_spec();
        let layer = tiny_layer(&spec);
        let (a, b) = (item(3, 8, 1), item(5, 8, 2));
        let mut x = vec![0f32; 2 * 5 * 8];
        x[..24].copy_from_slice(a.as_slice().unwrap());
        x[40..].copy_from_slice(b.as_slice().unwrap());
        let xt = Tensor::from_vec(x, (2, 5, 8), &Device::Cpu).unwrap();
        let mask = Tensor::from_vec(vec![1f32, 1., 1., 0., 0., 1., 1., 1., 1., 1.], (2, 5), &Device::Cpu).unwrap();
        let batched = layer.forward(&xt, &mask).unwrap().to_vec3::<f32>().unwrap();
        for (r, one) in [(0, layer.states(a.view()).unwrap()), (1, layer.states(b.view()).unwrap())] {
            for (t, row) in one.outer_iter().enumerate() {
                for (d, v) in row.iter().enumerate() {
                    assert!((batched[r][t][d] - v).abs() < 1e-4, "row {r} token {t}");
                }
            }
        }
        // layer norm: each output token has mean ≈ bias mean and is not the input
        assert_ne!(layer.states(a.view()).unwrap(), a);
    }

    /// The vectorised GELU is the exact one (libm's erf) to 1e-6 everywhere it matters.
    #[test]
    fn gelu_is_the_exact_one() {
        let xs: Vec<f32> = (-1200..=1200).map(|i| i as f32 / 100.0).collect();
        let mut got = xs.clone();
        gelu(&mut got);
        for (x, g) in xs.iter().zip(got) {
            let want = 0.5 * x * (1.0 + candle_core::cpu::erf::erf_f32(x * std::f32::consts::FRAC_1_SQRT_2));
            assert!((g - want).abs() <= 1e-6 * (1.0 + x.abs()), "gelu({x}) = {g}, exact {want}");
        }
    }

    /// What a bot stores (f16) loads back to the layer it served at training's end (f16-rounded).
    #[test]
    fn the_stored_layer_loads_back_as_trained() {
        let spec = tiny_spec();
        let layer = tiny_layer(&spec).rounded_to_f16().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ADAPTED_FILE);
        layer.save_f16(&path).unwrap();
        let back = TopLayer::load(&path, &spec, None).unwrap();
        let x = item(4, 8, 3);
        assert_eq!(layer.states(x.view()).unwrap(), back.states(x.view()).unwrap());
        // the serial copy served computes what candle's forward (the one trained) computes: to
        // f32 rounding, or to 8-bit rounding where its products run in 8 bits
        let tolerance = if back.serves_int8() { 2e-2 } else { 1e-4 };
        let xt = Tensor::from_vec(x.iter().copied().collect::<Vec<_>>(), (1, 4, 8), &Device::Cpu).unwrap();
        let candle = back.forward(&xt, &Tensor::ones((1, 4), DType::F32, &Device::Cpu).unwrap()).unwrap().to_vec3::<f32>().unwrap();
        let serial = back.states(x.view()).unwrap();
        assert!(back.serial.is_some() && tiny_layer(&spec).serial.is_none());
        // served, it keeps its serial copy only: the same states, and candle's forward refused
        let served = back.clone().for_serving();
        assert_eq!(served.states(x.view()).unwrap(), serial);
        assert!(served.w.is_none() && served.forward(&xt, &Tensor::ones((1, 4), DType::F32, &Device::Cpu).unwrap()).is_err());
        // a layer still training (no serial copy) keeps its weights
        assert!(tiny_layer(&spec).for_serving().w.is_some());
        for (t, row) in serial.outer_iter().enumerate() {
            for (d, v) in row.iter().enumerate() {
                assert!((candle[0][t][d] - v).abs() < tolerance, "token {t} dim {d}: {} vs {v}", candle[0][t][d]);
            }
        }
        // a file for another shape is refused, naming the tensor
        let other = TopLayerSpec { ffn: 24, ..spec.clone() };
        let e = TopLayer::load(&path, &other, None).unwrap_err();
        assert!(e.contains("fi.weight") && e.contains("expected [24, 8]"), "{e}");
        assert!(TopLayerSpec { heads: 3, ..spec }.check().is_err());
    }
}
