//! `parlance train --adapt`: the bot's own copy of the encoder's top layer, fine-tuned on its
//! examples with cross-entropy through a linear head (AdamW, candle's autodiff), then the intent
//! head fitted as always on the sentence vectors the adapted layer gives (docs/training-choices.md,
//! "Issue 24, item 3"). The layer reads the states the shared encoder already computed for each
//! example, so training never re-runs the encoder.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

use crate::model::heads::encoder::combine_parts;
use crate::model::heads::stack::Stack;
use crate::model::heads::top_layer::TopLayer;
use crate::train::TrainError;

/// How the layer is fine-tuned. The defaults are the study's best (3 epochs gave the gain of 10
/// in a third of the time).
#[derive(Debug, Clone)]
pub struct AdaptSettings {
    /// Passes over the examples (None: [`AdaptSettings::epochs_for`] chooses from the data's size).
    pub epochs: Option<usize>,
    /// AdamW learning rate of the layer (weight decay 0.01).
    pub lr: f64,
    /// AdamW learning rate of the temporary linear head.
    pub head_lr: f64,
    pub batch: usize,
    pub seed: u64,
    /// Rank of each weight matrix's stored change (0: the whole layer is stored).
    pub rank: usize,
    /// How many of the encoder's top layers (1, or what its `upper-layers.json` offers: 6 for
    /// e5-small, whose layers then run on the graph below them).
    pub layers: usize,
}

impl AdaptSettings {
    /// The stored rank unless asked: 8 for one layer (as accurate as the whole layer on MASSIVE),
    /// 32 for more (six layers at rank 32 kept +2.1 served points in English where rank 8 kept +1.5).
    pub fn default_rank(layers: usize) -> usize {
        if layers > 1 {
            32
        } else {
            8
        }
    }
}

/// The most example-layer passes a run makes when its epochs are not given: 3 epochs up to 6,666
/// training rows through six layers (40,000 through one), fewer above (a 10,000-example bot with
/// six layers trains 2 epochs: 7 minutes on 2 cores where 3 took 9.7, MASSIVE dev intent accuracy
/// 78.6 against 79.0, slot F1 71.4 against 69.3: docs/training-choices.md, "Training time of large
/// bots").
const EXAMPLE_LAYER_PASSES: usize = 120_000;

impl AdaptSettings {
    /// The epochs of a run on `examples` examples: as given, else 3, fewer for large bots (at
    /// least one).
    pub fn epochs_for(&self, examples: usize) -> usize {
        self.epochs.unwrap_or_else(|| (EXAMPLE_LAYER_PASSES / (examples * self.layers.max(1)).max(1)).clamp(1, 3))
    }
}

/// What a run asks of adaptation before the encoder is read. `parlance train`'s default (and a
/// training request's) takes the layers the encoder offers: six on e5-small (`upper-layers.json`),
/// its top layer where it offers only `top-layer.json`, the frozen encoder where it offers neither;
/// `--adapt` or an `--adapt-*` option requires them. `--fast` asks for none (no `AdaptAsk`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdaptAsk {
    /// Asked for by name: an encoder without the layers is an error, not the frozen path.
    pub required: bool,
    pub epochs: Option<usize>,
    /// The stored change's rank (default: [`AdaptSettings::default_rank`] of the layers).
    pub rank: Option<usize>,
    /// How many top layers (default: all the encoder offers).
    pub layers: Option<usize>,
}

impl AdaptAsk {
    /// The settings for the encoder in `encoder` (reading only its spec files): None when it
    /// offers no layers and none were required.
    pub fn resolve(&self, encoder: &std::path::Path) -> Result<Option<AdaptSettings>, String> {
        use crate::model::heads::stack::{offered_layers, offers, spec_file};
        let layers = match self.layers {
            Some(n) => n,
            None => offered_layers(encoder)?,
        };
        if layers == 0 || !offers(encoder, layers)? {
            let file = spec_file(layers.max(1));
            return match self.required {
                true => Err(format!("offers no top layers to adapt (no {file}; `make setup` writes e5-small's)")),
                false => Ok(None),
            };
        }
        let rank = self.rank.unwrap_or_else(|| AdaptSettings::default_rank(layers));
        Ok(Some(AdaptSettings { epochs: self.epochs, rank, layers, ..Default::default() }))
    }
}

impl Default for AdaptSettings {
    fn default() -> Self {
        AdaptSettings { epochs: None, lr: 5e-5, head_lr: 3e-3, batch: 16, seed: 0xADA7, rank: 8, layers: 1 }
    }
}

/// What the encoder gave for each example, as the adapted layers and the pooling need it.
pub struct AdaptInput {
    /// Each example's states of the layers' input output, prefix included: [tokens, hidden].
    pub kept: Vec<Array2<f32>>,
    /// The sentence vector's parts before normalisation, one per pool output, each [examples,
    /// hidden] (those the layers give are not read).
    pub parts: Vec<Array2<f32>>,
    /// For each pool output, the adapted layer whose states give it (None: the encoder's part).
    pub from: Vec<Option<usize>>,
    pub normalize: bool,
    /// First-token pooling instead of the mean.
    pub cls: bool,
}

/// × 20: the L2-normalised vector is small; a fixed scale instead of standardising.
const SCALE: f64 = 20.0;

fn err(e: candle_core::Error) -> TrainError {
    TrainError::Adapt(e.to_string())
}

/// SplitMix64: the batch order, reproducible from the seed (the studies in examples/ draw with it too).
pub struct Rng(pub u64);
impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, (self.next_u64() % (i as u64 + 1)) as usize);
        }
    }
}

/// A padded batch of examples' kept states [B, T, H] and its mask [B, T].
fn batch(input: &AdaptInput, items: &[usize]) -> Result<(Tensor, Tensor), TrainError> {
    let h = input.kept.first().map_or(1, |k| k.ncols());
    let t = items.iter().map(|&i| input.kept[i].nrows()).max().unwrap_or(1).max(1);
    let mut x = vec![0f32; items.len() * t * h];
    let mut m = vec![0f32; items.len() * t];
    for (r, &i) in items.iter().enumerate() {
        let k = &input.kept[i];
        for (j, v) in k.iter().enumerate() {
            x[r * t * h + j] = *v;
        }
        m[r * t..r * t + k.nrows()].iter_mut().for_each(|v| *v = 1.0);
    }
    let dev = Device::Cpu;
    Ok((Tensor::from_vec(x, (items.len(), t, h), &dev).map_err(err)?, Tensor::from_vec(m, (items.len(), t), &dev).map_err(err)?))
}

/// The sentence vectors of a batch, differentiable through the layers: the other parts are constants.
fn pooled_batch(stack: &Stack, input: &AdaptInput, items: &[usize]) -> candle_core::Result<Tensor> {
    let (x, mask) = batch(input, items).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let states = stack.forward(&x, &mask)?;
    let pool = |s: &Tensor| -> candle_core::Result<Tensor> {
        if input.cls {
            s.narrow(1, 0, 1)?.squeeze(1)
        } else {
            s.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?.broadcast_div(&mask.sum_keepdim(1)?)
        }
    };
    let dev = Device::Cpu;
    let mut parts = Vec::new();
    for (p, from) in input.from.iter().enumerate() {
        match from {
            Some(j) => parts.push(pool(&states[*j])?),
            None => {
                let part = &input.parts[p];
                let rows: Vec<f32> = items.iter().flat_map(|&i| part.row(i).to_vec()).collect();
                parts.push(Tensor::from_vec(rows, (items.len(), part.ncols()), &dev)?);
            }
        }
    }
    let v = Tensor::cat(&parts, 1)?;
    if input.normalize {
        v.broadcast_div(&v.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?)
    } else {
        Ok(v)
    }
}

/// Fine-tunes a copy of `base` on the examples `rows` (labels `y`, indexed like `input`, `k`
/// intents); returns the layer rounded to f16, as the bot stores and serves it. `stop` is asked
/// between batches.
pub fn fine_tune(
    base: &Stack,
    input: &AdaptInput,
    rows: &[usize],
    y: &[usize],
    k: usize,
    settings: &AdaptSettings,
    stop: &dyn Fn() -> Option<TrainError>,
) -> Result<Stack, TrainError> {
    let dev = Device::Cpu;
    let mut vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&vars, DType::F32, &dev);
    let n = base.layers.len();
    let layers = (0..n)
        .map(|j| TopLayer::new(&if n == 1 { vb.clone() } else { vb.pp(j.to_string()) }, &base.spec))
        .collect::<candle_core::Result<Vec<_>>>()
        .map_err(err)?;
    let layer = Stack { layers, spec: base.spec.clone() };
    for (name, t) in base.named_tensors() {
        vars.set_one(&name, &t).map_err(err)?;
    }
    let head_vars = VarMap::new();
    let width = input.from.len() * base.spec.hidden;
    // zeros, not a random start: the same data gives the same bot
    let hv = VarBuilder::from_varmap(&head_vars, DType::F32, &dev);
    let zeros = candle_nn::Init::Const(0.0);
    let head =
        candle_nn::Linear::new(hv.get_with_hints((k, width), "weight", zeros).map_err(err)?, Some(hv.get_with_hints(k, "bias", zeros).map_err(err)?));
    let mut opt = AdamW::new(vars.all_vars(), ParamsAdamW { lr: settings.lr, weight_decay: 0.01, ..Default::default() }).map_err(err)?;
    let mut head_opt =
        AdamW::new(head_vars.all_vars(), ParamsAdamW { lr: settings.head_lr, weight_decay: 0.0, ..Default::default() }).map_err(err)?;
    let mut rng = Rng(settings.seed);
    for _ in 0..settings.epochs_for(rows.len()) {
        for b in &epoch_batches(rows, input, settings.batch.max(1), rows.len() >= BUCKET_FROM, &mut rng) {
            if let Some(e) = stop() {
                return Err(e);
            }
            let p = pooled_batch(&layer, input, b).map_err(err)?;
            let logits = head.forward(&(p * SCALE).map_err(err)?).map_err(err)?;
            let target = Tensor::new(b.iter().map(|&i| y[i] as u32).collect::<Vec<_>>(), &dev).map_err(err)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &target).map_err(err)?;
            let grads = loss.backward().map_err(err)?;
            opt.step(&grads).map_err(err)?;
            head_opt.step(&grads).map_err(err)?;
        }
    }
    let mut done = Vec::with_capacity(n);
    for (b, tuned) in base.layers.iter().zip(&layer.layers) {
        done.push(match settings.rank {
            0 => tuned.rounded_to_f16().map_err(TrainError::Adapt)?,
            rank => low_rank_change(b, tuned, rank).map_err(TrainError::Adapt)?,
        });
    }
    Ok(Stack { layers: done, spec: base.spec.clone() })
}

/// Batches per window of this many batches are drawn from examples of similar length.
const BUCKET_WINDOW: usize = 8;

/// From this many training rows, an epoch's batches are drawn by length (below, where a run takes
/// a minute or less, the random batches the few-shot studies measured).
const BUCKET_FROM: usize = 2_000;

/// One epoch's batches: the examples shuffled and cut into batches; with `by_length`, each window
/// of `BUCKET_WINDOW` batches' worth is sorted by length before it is cut, and the batches are
/// shuffled. A batch is padded to its longest example, so batches of similar lengths compute less
/// padding: a 10,000-example bot with six layers trained 834 → 584 s (docs/training-choices.md,
/// "Training time of large bots").
fn epoch_batches(rows: &[usize], input: &AdaptInput, size: usize, by_length: bool, rng: &mut Rng) -> Vec<Vec<usize>> {
    let mut order = rows.to_vec();
    rng.shuffle(&mut order);
    if !by_length {
        return order.chunks(size).map(<[usize]>::to_vec).collect();
    }
    let mut batches = Vec::with_capacity(order.len().div_ceil(size));
    for window in order.chunks_mut(size * BUCKET_WINDOW) {
        window.sort_by_key(|&i| input.kept[i].nrows());
        batches.extend(window.chunks(size).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut batches);
    batches
}

/// The tuned layer as `base` plus a change: each weight matrix's change cut to its best rank-`rank`
/// approximation (subspace iteration) as two factors, the vectors (biases, layer norms) whole, all
/// rounded to f16: what the bot stores, and the layer that gives back (trained vectors then match
/// the served ones).
pub fn low_rank_change(base: &TopLayer, tuned: &TopLayer, rank: usize) -> Result<TopLayer, String> {
    use crate::model::heads::top_layer::{array2, DOWN, UP};
    let e = |e: candle_core::Error| e.to_string();
    let before: std::collections::HashMap<String, Tensor> = base.named_tensors().into_iter().collect();
    let f16 = |a: Array2<f32>| Tensor::from_vec(a.iter().copied().collect::<Vec<f32>>(), a.dim(), &Device::Cpu)?.to_dtype(DType::F16);
    let mut change = std::collections::HashMap::new();
    for (name, t) in tuned.named_tensors() {
        let t = t.detach();
        if t.rank() != 2 {
            change.insert(name, t.to_dtype(DType::F16).map_err(e)?);
            continue;
        }
        let (u, v) = truncate(&(array2(&t)? - array2(&before[&name])?), rank);
        change.insert(format!("{name}{UP}"), f16(u).map_err(e)?);
        change.insert(format!("{name}{DOWN}"), f16(v.reversed_axes()).map_err(e)?);
    }
    TopLayer::with_change(base, change)
}

/// `d` ≈ u vᵀ with u orthonormal (m × r), v = dᵀ u (n × r): subspace iteration from a seeded
/// start (six rounds; the best rank-r approximation when the spectrum has a gap).
fn truncate(d: &Array2<f32>, r: usize) -> (Array2<f32>, Array2<f32>) {
    let mut rng = Rng(0x5EED);
    let r = r.min(d.nrows()).min(d.ncols()).max(1);
    let omega = Array2::from_shape_fn((d.ncols(), r), |_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5);
    let mut y = orth(d.dot(&omega));
    for _ in 0..6 {
        let z = orth(d.t().dot(&y));
        y = orth(d.dot(&z));
    }
    let v = d.t().dot(&y);
    (y, v)
}

/// Orthonormal columns (modified Gram-Schmidt).
fn orth(mut a: Array2<f32>) -> Array2<f32> {
    for j in 0..a.ncols() {
        for i in 0..j {
            let p = a.column(i).dot(&a.column(j));
            let ci = a.column(i).to_owned();
            a.column_mut(j).scaled_add(-p, &ci);
        }
        let n = a.column(j).dot(&a.column(j)).sqrt().max(1e-20);
        a.column_mut(j).mapv_inplace(|x| x / n);
    }
    a
}

/// Every example's sentence vector through the layers, each example alone as at parse time.
pub fn pooled_all(stack: &Stack, input: &AdaptInput) -> Result<Array2<f32>, TrainError> {
    let rows: Vec<Array1<f32>> = (0..input.kept.len())
        .into_par_iter()
        .map(|i| {
            let states = stack.states(input.kept[i].view()).map_err(TrainError::Adapt)?;
            let own = |s: &Array2<f32>| {
                if input.cls {
                    s.row(0).to_owned()
                } else {
                    s.mean_axis(ndarray::Axis(0)).unwrap_or_else(|| Array1::zeros(s.ncols()))
                }
            };
            let parts: Vec<Array1<f32>> =
                input.from.iter().enumerate().map(|(p, from)| from.map_or_else(|| input.parts[p].row(i).to_owned(), |j| own(&states[j]))).collect();
            Ok(combine_parts(&parts, input.normalize))
        })
        .collect::<Result<_, TrainError>>()?;
    let width = input.from.len() * stack.spec.hidden;
    let mut out = Array2::zeros((rows.len(), width));
    for (i, r) in rows.iter().enumerate() {
        out.row_mut(i).assign(r);
    }
    Ok(out)
}

/// Every example's states out of the top layer ([prefix + tokens, hidden]), each alone as at
/// parse time: the token states of a bot whose layers run on the graph below them.
pub fn top_states(stack: &Stack, kept: &[Array2<f32>]) -> Result<Vec<Array2<f32>>, TrainError> {
    kept.par_iter().map(|x| stack.states(x.view()).map_err(TrainError::Adapt)?.pop().ok_or_else(|| TrainError::Adapt("no layers".into()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::heads::top_layer::tests::{tiny_layer, tiny_spec};
    use crate::model::heads::top_layer::TopLayerSpec;

    /// Two intents whose examples differ only in their kept states: fine-tuning moves the layer,
    /// and `pooled_all` (each example alone, as served) matches the batched pooling it trained on.
    #[test]
    fn fine_tuning_moves_the_layer_and_pooling_matches_the_served_path() {
        let spec = tiny_spec();
        let base = Stack::one(tiny_layer(&spec));
        let n = 12;
        let kept: Vec<Array2<f32>> = (0..n)
            .map(|i| {
                Array2::from_shape_fn((3 + i % 3, 8), |(t, d)| ((i % 2) as f32 - 0.5) * ((t + d) % 3) as f32 + 0.1 * ((i * 7 + t * 3 + d) % 5) as f32)
            })
            .collect();
        let other = Array2::from_shape_fn((n, 8), |(i, d)| ((i + d) % 4) as f32 / 4.0);
        let input = AdaptInput { kept, parts: vec![other, Array2::zeros((n, 8))], from: vec![None, Some(0)], normalize: true, cls: false };
        let y: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let rows: Vec<usize> = (0..n).collect();
        let before = pooled_all(&base, &input).unwrap();
        let settings = AdaptSettings { epochs: Some(5), lr: 1e-2, ..Default::default() };
        let tuned = fine_tune(&base, &input, &rows, &y, 2, &settings, &|| None).unwrap();
        let after = pooled_all(&tuned, &input).unwrap();
        assert!((&before - &after).iter().any(|d| d.abs() > 1e-3), "the layer moved");
        let batched = pooled_batch(&tuned, &input, &rows).unwrap().to_vec2::<f32>().unwrap();
        // to f32 rounding, or to 8-bit rounding where the served layer runs in 8 bits
        let tolerance = if tuned.serves_int8() { 1e-2 } else { 1e-4 };
        for i in 0..n {
            for d in 0..16 {
                assert!((batched[i][d] - after[[i, d]]).abs() < tolerance, "example {i}: {} vs {}", batched[i][d], after[[i, d]]);
            }
        }
        // a stop asked for ends the run with its reason
        let stopped = fine_tune(&base, &input, &rows, &y, 2, &settings, &|| Some(TrainError::Cancelled));
        assert!(matches!(stopped, Err(TrainError::Cancelled)));
    }

    /// The change of a matrix of rank r comes back whole at rank r; at a lower rank the best
    /// approximation (a rank-1 part twice as large as the other is what rank 1 keeps).
    #[test]
    fn truncation_keeps_the_largest_part_of_the_change() {
        let (a, b) = (Array1::from_shape_fn(6, |i| (i as f32 - 2.5) / 3.0), Array1::from_shape_fn(5, |j| ((j * 3 % 5) as f32 - 2.0) / 2.0));
        let (c, d) = (Array1::from_shape_fn(6, |i| ((i * 5 % 6) as f32 - 2.5) / 3.0), Array1::from_shape_fn(5, |j| (j as f32 - 2.0) / 2.0));
        let outer = |x: &Array1<f32>, y: &Array1<f32>| x.view().insert_axis(ndarray::Axis(1)).dot(&y.view().insert_axis(ndarray::Axis(0)));
        let d2 = outer(&a, &b) * 2.0 + outer(&c, &d) * 0.5;
        let (u, v) = truncate(&d2, 2);
        assert!((&d2 - &u.dot(&v.t())).iter().all(|x| x.abs() < 1e-4), "rank 2 is exact");
        let (u1, v1) = truncate(&d2, 1);
        let err1 = (&d2 - &u1.dot(&v1.t())).iter().map(|x| x * x).sum::<f32>();
        // no rank-1 matrix is nearer than the best one; the 2ab part alone is a rank-1 candidate
        let other = (&d2 - &(outer(&a, &b) * 2.0)).iter().map(|x| x * x).sum::<f32>();
        assert!(err1 <= other + 1e-4, "{err1} vs {other}");
    }

    /// A layer stored as a change loads back (with the encoder's layer) to the layer trained:
    /// the same states, and without that layer it is refused.
    #[test]
    fn a_low_rank_change_loads_back_as_trained() {
        let spec = tiny_spec();
        let base = Stack::one(tiny_layer(&spec));
        let n = 8;
        let kept: Vec<Array2<f32>> = (0..n).map(|i| Array2::from_shape_fn((3, 8), |(t, d)| ((i * 5 + t * 3 + d) % 7) as f32 / 7.0 - 0.4)).collect();
        let input = AdaptInput { kept, parts: vec![Array2::zeros((n, 8))], from: vec![Some(0)], normalize: true, cls: false };
        let y: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let rows: Vec<usize> = (0..n).collect();
        let settings = AdaptSettings { epochs: Some(3), lr: 1e-2, rank: 2, ..Default::default() };
        let tuned = fine_tune(&base, &input, &rows, &y, 2, &settings, &|| None).unwrap();
        assert!(tuned.is_change());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layer.safetensors");
        tuned.save_f16(&path).unwrap();
        let back = Stack::load(&path, &spec, Some(&base)).unwrap();
        let x = input.kept[0].view();
        assert_eq!(tuned.states(x).unwrap(), back.states(x).unwrap());
        assert_ne!(base.layers[0].rounded_to_f16().unwrap().states(x).unwrap(), back.states(x).unwrap()[0], "the change is not nothing");
        let e = Stack::load(&path, &spec, None).unwrap_err();
        assert!(e.contains("change from the encoder's top layer"), "{e}");
    }

    /// Two layers, both pooled outputs from them and nothing from the encoder (a bot on the graph
    /// below its layers): training moves both, the batched pooling it trained on is what each
    /// example gives alone, the stored changes load back with the encoder's layers (names
    /// "0.*", "1.*"), and a base with another layer count is refused.
    #[test]
    fn a_stack_of_two_trains_stores_and_loads_back() {
        let spec = TopLayerSpec { input: "hidden_states_1".into(), replaces: "last_hidden_state".into(), layers: 2, ..tiny_spec() };
        assert_eq!(spec.outputs(), ["hidden_states_2", "last_hidden_state"]);
        let second = {
            // a different second layer: the first's weights scaled
            let l = tiny_layer(&spec);
            let map: std::collections::HashMap<String, Tensor> =
                l.named_tensors().into_iter().map(|(n, t)| (n.clone(), if n.ends_with("bias") { t } else { (t * 0.9).unwrap() })).collect();
            TopLayer::new(&VarBuilder::from_tensors(map, DType::F32, &Device::Cpu), &spec).unwrap()
        };
        let base = Stack { layers: vec![tiny_layer(&spec), second], spec: spec.clone() };
        let n = 10;
        let kept: Vec<Array2<f32>> = (0..n)
            .map(|i| {
                Array2::from_shape_fn((2 + i % 3, 8), |(t, d)| ((i % 2) as f32 - 0.5) * ((t + d) % 3) as f32 + 0.1 * ((i * 3 + t + d) % 5) as f32)
            })
            .collect();
        let input = AdaptInput { kept, parts: Vec::new(), from: vec![Some(0), Some(1)], normalize: true, cls: false };
        let y: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let rows: Vec<usize> = (0..n).collect();
        let settings = AdaptSettings { epochs: Some(4), lr: 1e-2, rank: 2, ..Default::default() };
        let tuned = fine_tune(&base, &input, &rows, &y, 2, &settings, &|| None).unwrap();
        assert!(tuned.is_change() && tuned.layers.len() == 2);
        let x = input.kept[1].view();
        let (before, after) = (base.states(x).unwrap(), tuned.states(x).unwrap());
        for j in 0..2 {
            assert!((&before[j] - &after[j]).iter().any(|d| d.abs() > 1e-3), "layer {j} moved");
        }
        let alone = pooled_all(&tuned, &input).unwrap();
        let batched = pooled_batch(&tuned, &input, &rows).unwrap().to_vec2::<f32>().unwrap();
        let tolerance = if tuned.serves_int8() { 2e-2 } else { 1e-4 };
        for i in 0..n {
            for d in 0..16 {
                assert!((batched[i][d] - alone[[i, d]]).abs() < tolerance, "example {i}: {} vs {}", batched[i][d], alone[[i, d]]);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layers.safetensors");
        tuned.save_f16(&path).unwrap();
        let names = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
        assert!(names.contains_key("0.q.weight.up") && names.contains_key("1.oln.bias"), "{:?}", names.keys().collect::<Vec<_>>());
        let back = Stack::load(&path, &spec, Some(&base)).unwrap();
        assert_eq!(tuned.states(x).unwrap(), back.states(x).unwrap());
        let one = Stack::one(tiny_layer(&tiny_spec()));
        let e = Stack::load(&path, &spec, Some(&one)).unwrap_err();
        assert!(e.contains("offers 1 layers, the bot has 2"), "{e}");
    }

    /// An epoch's batches hold every row once, at most `size` each; by length, drawn in windows of
    /// similar lengths (less padding than the random batches), and two epochs draw different ones.
    #[test]
    fn batches_of_similar_lengths_cover_every_row_once() {
        let lens = [9, 2, 7, 3, 3, 12, 5, 1, 8, 4, 6, 2, 10, 11, 3, 7, 5, 9, 1, 2];
        let kept: Vec<Array2<f32>> = lens.iter().map(|&t| Array2::zeros((t, 4))).collect();
        let input = AdaptInput { kept, parts: Vec::new(), from: Vec::new(), normalize: false, cls: false };
        let rows: Vec<usize> = (0..lens.len()).filter(|i| i % 7 != 3).collect();
        let mut rng = Rng(7);
        let first = epoch_batches(&rows, &input, 2, true, &mut rng);
        let mut seen: Vec<usize> = first.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, rows);
        assert!(first.iter().all(|b| !b.is_empty() && b.len() <= 2));
        // padded tokens: at most the arrival order's (here the whole set fits in one window)
        let padded = |batches: &[Vec<usize>]| batches.iter().map(|b| b.len() * b.iter().map(|&i| lens[i]).max().unwrap()).sum::<usize>();
        let mut arrival = rows.clone();
        Rng(7).shuffle(&mut arrival);
        let unsorted = epoch_batches(&rows, &input, 2, false, &mut Rng(7));
        assert_eq!(unsorted, arrival.chunks(2).map(<[usize]>::to_vec).collect::<Vec<_>>(), "random batches: the shuffled order, cut");
        assert!(padded(&first) < padded(&unsorted), "{} vs {}", padded(&first), padded(&unsorted));
        assert_ne!(first, epoch_batches(&rows, &input, 2, true, &mut rng));
    }

    /// Epochs as given; else 3, and fewer once the layers would see more than 120,000
    /// example-layers.
    #[test]
    fn epochs_shrink_for_large_bots_unless_given() {
        let six = AdaptSettings { layers: 6, ..Default::default() };
        assert_eq!(six.epochs_for(800), 3);
        assert_eq!(six.epochs_for(6_666), 3);
        assert_eq!(six.epochs_for(8_000), 2);
        assert_eq!(six.epochs_for(100_000), 1);
        assert_eq!(AdaptSettings::default().epochs_for(8_000), 3);
        assert_eq!(AdaptSettings { epochs: Some(3), ..six }.epochs_for(8_000), 3);
    }

    /// With no options a run adapts every layer the encoder offers (the fixture: two, at rank 32);
    /// named layers must be offered; an encoder that offers none trains frozen unless they were
    /// asked for.
    #[test]
    fn the_default_adapts_what_the_encoder_offers() {
        let tiny = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-encoder");
        let got = AdaptAsk::default().resolve(&tiny).unwrap().unwrap();
        assert_eq!((got.layers, got.rank, got.epochs), (2, 32, None));
        let one = AdaptAsk { required: true, layers: Some(1), epochs: Some(2), ..Default::default() }.resolve(&tiny).unwrap().unwrap();
        assert_eq!((one.layers, one.rank, one.epochs), (1, 8, Some(2)));
        let three = AdaptAsk { required: true, layers: Some(3), ..Default::default() }.resolve(&tiny);
        assert!(three.unwrap_err().contains("offers 2 layers, not 3"));
        let plain = tempfile::tempdir().unwrap();
        assert_eq!(AdaptAsk::default().resolve(plain.path()).unwrap().map(|s| s.layers), None);
        let required = AdaptAsk { required: true, ..Default::default() }.resolve(plain.path());
        assert!(required.unwrap_err().contains("top-layer.json"));
    }
}
