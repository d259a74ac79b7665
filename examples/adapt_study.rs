//! Issue 24, item 3: does adapting the top encoder layers per bot pay? A measurement, not a feature.
//!
//! MASSIVE (`--locale`, en-US by default), `--per-intent` examples per intent drawn from train (one
//! draw per seed), scored on all of dev. For each draw:
//!   (a)  today's frozen head: `train::logreg::fit` (C = 10, as `parlance train`) on the pooled
//!        vectors of the int8 ONNX encoder (mean of layer 11 ++ mean of layer 12, L2-normalised);
//!   (a') the same head on the same pooling with the top `--layers` layers recomputed in candle
//!        from the f32 weights (the starting point of (b); isolates the int8-vs-f32 difference);
//!   (b)  those layers (attention + FFN + layer norms, 1.77 M parameters each) fine-tuned in candle
//!        on the cached states below them with AdamW, loss `ce` (pool → linear → cross-entropy) or
//!        `setfit` (cosine similarity of pairs vs same-intent, MSE); then scored by its own linear
//!        head (ce) and by today's logistic-regression head refitted on the adapted vectors;
//!   (c)  with `--rank R`: each fine-tuned layer cut to its rank-R change, f16, as the bundle stores it.
//!
//!   RAYON_NUM_THREADS=2 nice cargo run --release --example adapt_study
//!
//! One layer (the default) is the library's (`parlance::model::heads::top_layer`, what `parlance
//! train --adapt` trains), read from the encoder's `top-layer.safetensors` (`make setup` writes it).
//! `--layers K --deep DIR`: the top K layers, read from an encoder built with the states below them
//! as an extra output and each layer's weights in DIR/lN (docs/training-choices.md, "Adapting
//! more layers"):
//!
//!   .ort/encoder-venv/bin/python scripts/build-encoder.py --out /tmp/e5-deep --extra-layers 0,4,6,11
//!   for l in $(seq 1 12); do .ort/encoder-venv/bin/python scripts/extract-top-layer.py --layer $l --out /tmp/e5-deep/l$l; done
//!
//! The encoder pass is cached under `--cache` (the states below the layers per token, pooled vectors).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use clap::Parser;
use ndarray::{s, Array2, Axis};
use parlance::data::Example;
use parlance::model::heads::encoder::{read_encoder_dir, EncoderInfo};
use parlance::model::heads::top_layer::{self, TopLayer as Layer};
use parlance::model::{build_session, SessionSettings};
use parlance::train::adapt::Rng;
use parlance::train::logreg::{self, FitConfig};

#[derive(Parser, Debug, Clone)]
struct Args {
    #[arg(long, default_value = "/work/shared/data/massive")]
    data: PathBuf,
    #[arg(long, default_value = "models/encoders/e5-small-fren")]
    encoder: PathBuf,
    #[arg(long, default_value = "/tmp/i243/cache")]
    cache: PathBuf,
    #[arg(long, default_value_t = 10)]
    per_intent: usize,
    /// Also score each fine-tuned layer cut to its rank-R change from the encoder's, f16, as
    /// `parlance train --adapt` stores it (0: not scored).
    #[arg(long, default_value_t = 0)]
    rank: usize,
    /// Also score each head joined with `parlance train`'s lexical features (TF-IDF character and
    /// word n-grams, vocabulary of the drawn examples, scale 0.35): rows "+ lexical".
    #[arg(long)]
    lexical: bool,
    /// MASSIVE locale (en-US, fr-FR).
    #[arg(long, default_value = "en-US")]
    locale: String,
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    seeds: Vec<u64>,
    /// ce, setfit, or none (the frozen heads only).
    #[arg(long, value_delimiter = ',', default_value = "ce,setfit")]
    loss: Vec<String>,
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// AdamW learning rate of layer 12.
    #[arg(long, default_value_t = 5e-5)]
    lr: f64,
    /// AdamW learning rate of the linear head (ce).
    #[arg(long, default_value_t = 3e-3)]
    head_lr: f64,
    /// How many top layers to fine-tune (1 = layer 12 on hidden_states_11). K > 1 reads
    /// hidden_states_{12-K} from `--deep` (an encoder built with those extra outputs) and each
    /// layer's f32 weights from DEEP/lN/top-layer.safetensors (scripts/extract-top-layer.py --layer N).
    #[arg(long, default_value_t = 1)]
    layers: usize,
    #[arg(long)]
    deep: Option<PathBuf>,
    /// Where to write the adapted layer of the last run (its size is what a bot would store).
    #[arg(long, default_value = "/tmp/i243/adapted-layer12.safetensors")]
    save: PathBuf,
}

const H: usize = 384;
const C: f32 = 10.0;

/// The encoder pass over every text: hidden_states_11 per token (prefix included) and the pooled
/// vector as `Encoder::run` makes it.
struct Cache {
    h11: Tensor,
    offsets: Vec<usize>,
    pooled: Array2<f32>,
}

impl Cache {
    fn item(&self, i: usize) -> Result<Tensor> {
        Ok(self.h11.narrow(0, self.offsets[i], self.offsets[i + 1] - self.offsets[i])?)
    }
}

fn prefix_ids(info: &EncoderInfo, tok: &tokenizers::Tokenizer) -> Result<Vec<i64>> {
    let prefix = info.query_prefix.clone().unwrap_or_default();
    if prefix.trim().is_empty() {
        return Ok(Vec::new());
    }
    let norm = parlance::text::normalize_word(prefix.trim(), info.lowercase);
    let enc = tok.encode(norm.as_str(), false).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(enc.get_ids().iter().map(|&i| i as i64).collect())
}

fn l2_normalise(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// Runs the int8 ONNX encoder on each text alone (no padding) and keeps hidden_states_11.
fn encode_all(args: &Args, texts: &[&Example]) -> Result<Cache> {
    let (info, tok) = read_encoder_dir(&encoder_dir(args), None)?;
    let settings = SessionSettings { intra_threads: 2, ..Default::default() };
    let mut session = build_session(&encoder_dir(args).join("model.onnx"), &settings).map_err(anyhow::Error::msg)?;
    let below = format!("hidden_states_{}", 12 - args.layers);
    let prefix = prefix_ids(&info, &tok)?;
    let (mut flat, mut offsets, mut pooled) = (Vec::new(), vec![0usize], Vec::new());
    for ex in texts {
        let p = parlance::train::features::prepare(ex, &tok, info.lowercase, &[])?;
        let ids: Vec<i64> = p.ids.iter().take(1).chain(&prefix).chain(p.ids.iter().skip(1)).copied().collect();
        let n = ids.len();
        let ids = Array2::from_shape_vec((1, n), ids)?;
        let mask = Array2::<i64>::ones((1, n));
        let out = session.run(ort::inputs![
            "input_ids" => ort::value::Tensor::from_array(ids)?,
            "attention_mask" => ort::value::Tensor::from_array(mask)?
        ])?;
        let h11 = out.get("hidden_states_11").context("no hidden_states_11")?.try_extract_array::<f32>()?.to_owned();
        let hb = out.get(below.as_str()).context("no such hidden states")?.try_extract_array::<f32>()?.to_owned();
        let h12 = out.get("last_hidden_state").context("no last_hidden_state")?.try_extract_array::<f32>()?.to_owned();
        let m11 = h11.slice(s![0, .., ..]).mean_axis(Axis(0)).context("empty")?;
        let m12 = h12.slice(s![0, .., ..]).mean_axis(Axis(0)).context("empty")?;
        pooled.extend(l2_normalise(m11.iter().chain(m12.iter()).copied().collect()));
        flat.extend(hb.iter().copied());
        offsets.push(offsets.last().unwrap() + n);
    }
    let h11 = Tensor::from_vec(flat, (*offsets.last().unwrap(), H), &Device::Cpu)?;
    Ok(Cache { h11, offsets, pooled: Array2::from_shape_vec((texts.len(), 2 * H), pooled)? })
}

fn cached_encode(args: &Args, texts: &[&Example]) -> Result<Cache> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    texts.iter().for_each(|e| e.text.hash(&mut h));
    std::fs::read(encoder_dir(args).join("encoder.json"))?.hash(&mut h);
    let path = args.cache.join(format!("h{}-{}-{:016x}.safetensors", 12 - args.layers, texts.len(), h.finish()));
    if let Ok(map) = candle_core::safetensors::load(&path, &Device::Cpu) {
        let offsets = map["offsets"].to_vec1::<u32>()?.into_iter().map(|o| o as usize).collect();
        let pooled = map["pooled"].to_vec2::<f32>()?.concat();
        return Ok(Cache { h11: map["h11"].clone(), offsets, pooled: Array2::from_shape_vec((texts.len(), 2 * H), pooled)? });
    }
    let t = Instant::now();
    let cache = encode_all(args, texts)?;
    eprintln!("encoded {} texts in {:.1} s", texts.len(), t.elapsed().as_secs_f64());
    std::fs::create_dir_all(&args.cache)?;
    let offsets: Vec<u32> = cache.offsets.iter().map(|&o| o as u32).collect();
    let pooled = Tensor::from_slice(cache.pooled.as_slice().context("layout")?, (texts.len(), 2 * H), &Device::Cpu)?;
    let map = HashMap::from([
        ("h11".to_string(), cache.h11.clone()),
        ("offsets".to_string(), Tensor::new(offsets, &Device::Cpu)?),
        ("pooled".to_string(), pooled),
    ]);
    candle_core::safetensors::save(&map, &path)?;
    Ok(cache)
}

/// A padded batch of cached items: hidden_states_11 [B, T, H] and mask [B, T].
fn batch(cache: &Cache, items: &[usize]) -> Result<(Tensor, Tensor)> {
    let t = items.iter().map(|&i| cache.offsets[i + 1] - cache.offsets[i]).max().unwrap_or(1);
    let (mut xs, mut ms) = (Vec::new(), Vec::new());
    for &i in items {
        let x = cache.item(i)?;
        let n = x.dim(0)?;
        xs.push(x.pad_with_zeros(0, 0, t - n)?);
        ms.push(Tensor::cat(&[Tensor::ones(n, DType::F32, &Device::Cpu)?, Tensor::zeros(t - n, DType::F32, &Device::Cpu)?], 0)?);
    }
    Ok((Tensor::stack(&xs, 0)?, Tensor::stack(&ms, 0)?))
}

/// The encoder the texts are run through: `--deep` when given.
fn encoder_dir(args: &Args) -> PathBuf {
    args.deep.clone().unwrap_or_else(|| args.encoder.clone())
}

/// The fine-tuned layers, lowest first (one: layer 12).
#[derive(Clone)]
struct Stack(Vec<Layer>);

impl Stack {
    /// The states below the top layer and the top layer's own.
    fn forward(&self, x: &Tensor, mask: &Tensor) -> Result<(Tensor, Tensor)> {
        let (mut below, mut top) = (x.clone(), x.clone());
        for l in &self.0 {
            below = top;
            top = l.forward(&below, mask)?;
        }
        Ok((below, top))
    }
}

/// mean(layer 11) ++ mean(layer 12), masked, L2-normalised: the serving path's sentence vector.
fn pool(layer: &Stack, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let (x, h12) = layer.forward(x, mask)?;
    let m = mask.unsqueeze(2)?;
    let n = mask.sum_keepdim(1)?;
    let mean = |h: &Tensor| -> Result<Tensor> { Ok(h.broadcast_mul(&m)?.sum(1)?.broadcast_div(&n)?) };
    let p = Tensor::cat(&[mean(&x)?, mean(&h12)?], 1)?;
    Ok(p.broadcast_div(&p.sqr()?.sum_keepdim(1)?.sqrt()?)?)
}

fn pool_all(layer: &Stack, cache: &Cache, items: &[usize]) -> Result<Array2<f32>> {
    let mut rows = Vec::new();
    for chunk in items.chunks(64) {
        let (x, m) = batch(cache, chunk)?;
        rows.extend(pool(layer, &x, &m)?.detach().flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(Array2::from_shape_vec((items.len(), 2 * H), rows)?)
}

fn rows(a: &Array2<f32>, items: &[usize]) -> Array2<f32> {
    a.select(Axis(0), items)
}

fn accuracy(logits: &Array2<f32>, gold: &[usize]) -> f64 {
    let hits =
        logits.axis_iter(Axis(0)).zip(gold).filter(|(r, &g)| r.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|m| m.0) == Some(g)).count();
    100.0 * hits as f64 / gold.len().max(1) as f64
}

/// Today's intent head (`parlance train`: C = 10, λ = 1 / (C·n), no standardisation).
fn logreg_acc(train: &Array2<f32>, y: &[usize], dev: &Array2<f32>, gold: &[usize], k: usize) -> (f64, f64) {
    let t = Instant::now();
    let cfg = FitConfig { l2: 1.0 / (C * y.len() as f32), standardize: false, ..Default::default() };
    let (head, _) = logreg::fit(train, y, k, &cfg);
    let secs = t.elapsed().as_secs_f64();
    (accuracy(&logreg::logits(&head, dev), gold), secs)
}

/// The same head joined with the lexical features of `texts` (train rows) and `dev_texts`, as
/// `parlance train` fits it by default (one joint logistic regression, not standardised).
fn lexical_acc(train: &Array2<f32>, texts: &[&str], y: &[usize], dev: &Array2<f32>, dev_texts: &[&str], gold: &[usize], k: usize) -> f64 {
    let settings = parlance::model::heads::lexical::LexicalSettings { scale: 0.35, ..Default::default() };
    let vocab = parlance::train::lexical::fit_vocabulary(texts, &[], &settings);
    let (sp, sd) = (parlance::train::lexical::featurize(&vocab, texts), parlance::train::lexical::featurize(&vocab, dev_texts));
    let cfg = FitConfig { l2: 1.0 / (C * y.len() as f32), standardize: false, ..Default::default() };
    let (head, lex, _) = logreg::fit_joint(train, &sp, y, k, &cfg);
    accuracy(&logreg::joint_logits(&head, &lex, dev, &sd), gold)
}

/// One draw: `per` examples of each intent (all of an intent with fewer).
fn draw(train: &[Example], intents: &[String], per: usize, seed: u64) -> Vec<usize> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for name in intents {
        let mut idx: Vec<usize> = (0..train.len()).filter(|&i| &train[i].intent == name).collect();
        rng.shuffle(&mut idx);
        out.extend(idx.into_iter().take(per));
    }
    out
}

struct Trained {
    layer: Stack,
    vars: VarMap,
    head_acc: Option<f64>,
    secs: f64,
}

/// The encoder's top layers (`top-layer.json`, written by `make setup`; DEEP/lN for `--deep`) as
/// trainable variables.
fn load_layer(args: &Args) -> Result<(Stack, VarMap)> {
    let dirs: Vec<PathBuf> = match &args.deep {
        Some(d) => (13 - args.layers..=12).map(|n| d.join(format!("l{n}"))).collect(),
        None if args.layers == 1 => vec![args.encoder.clone()],
        None => anyhow::bail!("--layers above 1 needs --deep"),
    };
    let mut vars = VarMap::new();
    let mut layers = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let spec = top_layer::of_encoder(dir).map_err(anyhow::Error::msg)?.context("no top layer there (make setup)")?;
        let base = Layer::load(&dir.join(&spec.file), &spec, None).map_err(anyhow::Error::msg)?;
        layers.push(Layer::new(&VarBuilder::from_varmap(&vars, DType::F32, &Device::Cpu).pp(format!("l{i}")), &spec)?);
        for (name, t) in base.named_tensors() {
            vars.set_one(format!("l{i}.{name}"), &t)?;
        }
    }
    Ok((Stack(layers), vars))
}

/// Batches of whole intents, 2 examples each where an intent has them (SetFit-style positives).
fn pair_batches(items: &[usize], y: &[usize], size: usize, rng: &mut Rng) -> Vec<Vec<usize>> {
    let mut by: HashMap<usize, Vec<usize>> = HashMap::new();
    items.iter().zip(y).for_each(|(&i, &c)| by.entry(c).or_default().push(i));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut keys: Vec<usize> = by.keys().copied().collect();
    keys.sort_unstable();
    for c in keys {
        let mut v = by[&c].clone();
        rng.shuffle(&mut v);
        groups.extend(v.chunks(2).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut groups);
    groups.chunks(size / 2).map(|g| g.concat()).collect()
}

fn setfit_loss(p: &Tensor, labels: &[usize]) -> Result<Tensor> {
    let n = labels.len();
    let sim = p.matmul(&p.t()?)?;
    let target: Vec<f32> = (0..n * n).map(|i| f32::from(labels[i / n] == labels[i % n])).collect();
    let off: Vec<f32> = (0..n * n).map(|i| f32::from(i / n != i % n)).collect();
    let dev = Device::Cpu;
    let diff = ((sim - Tensor::from_vec(target, (n, n), &dev)?)?.sqr()? * Tensor::from_vec(off, (n, n), &dev)?)?;
    Ok((diff.sum_all()? / (n * (n - 1)).max(1) as f64)?)
}

/// Fine-tunes layer 12 on the draw (`items`, labels `y`), with a linear head for `ce`.
#[allow(clippy::too_many_arguments)] // the study's inputs and knobs, as the sweep passes them
fn fine_tune(
    args: &Args,
    cache: &Cache,
    items: &[usize],
    y: &[usize],
    k: usize,
    loss: &str,
    seed: u64,
    dev: (&[usize], &[usize]),
) -> Result<Trained> {
    let (layer, vars) = load_layer(args)?;
    let head_vars = VarMap::new();
    // zeros, as `parlance train --adapt` starts it: the same draw gives the same numbers
    let hv = VarBuilder::from_varmap(&head_vars, DType::F32, &Device::Cpu).pp("head");
    let zeros = candle_nn::Init::Const(0.0);
    let head = candle_nn::Linear::new(hv.get_with_hints((k, 2 * H), "weight", zeros)?, Some(hv.get_with_hints(k, "bias", zeros)?));
    let mut opt = AdamW::new(vars.all_vars(), ParamsAdamW { lr: args.lr, weight_decay: 0.01, ..Default::default() })?;
    let mut head_opt = AdamW::new(head_vars.all_vars(), ParamsAdamW { lr: args.head_lr, weight_decay: 0.0, ..Default::default() })?;
    let label_of: HashMap<usize, usize> = items.iter().copied().zip(y.iter().copied()).collect();
    let mut rng = Rng(seed ^ 0xADA7);
    let t = Instant::now();
    for epoch in 0..args.epochs {
        let batches = if loss == "setfit" {
            pair_batches(items, y, args.batch, &mut rng)
        } else {
            let mut order = items.to_vec();
            rng.shuffle(&mut order);
            order.chunks(args.batch).map(<[usize]>::to_vec).collect()
        };
        let mut total = 0.0;
        for b in &batches {
            let (x, m) = batch(cache, b)?;
            let p = pool(&layer, &x, &m)?;
            let labels: Vec<usize> = b.iter().map(|i| label_of[i]).collect();
            let l = if loss == "setfit" {
                setfit_loss(&p, &labels)?
            } else {
                // × 20: the L2-normalised vector is small; a fixed scale instead of standardising
                let logits = head.forward(&(p * 20.0)?)?;
                let target = Tensor::new(labels.iter().map(|&c| c as u32).collect::<Vec<_>>(), &Device::Cpu)?;
                candle_nn::loss::cross_entropy(&logits, &target)?
            };
            total += l.to_scalar::<f32>()?;
            let grads = l.backward()?;
            opt.step(&grads)?;
            if loss != "setfit" {
                head_opt.step(&grads)?;
            }
        }
        eprintln!("  {loss} epoch {epoch}: mean loss {:.4} ({:.1} s)", total / batches.len() as f32, t.elapsed().as_secs_f64());
    }
    let secs = t.elapsed().as_secs_f64();
    let head_acc = if loss == "setfit" {
        None
    } else {
        let p = pool_all(&layer, cache, dev.0)?;
        let pt = Tensor::from_slice(p.as_slice().context("layout")?, p.dim(), &Device::Cpu)?;
        let logits = head.forward(&(pt * 20.0)?)?.to_vec2::<f32>()?;
        let logits = Array2::from_shape_vec((dev.0.len(), k), logits.concat())?;
        Some(accuracy(&logits, dev.1))
    };
    Ok(Trained { layer, vars, head_acc, secs })
}

fn main() -> Result<()> {
    let args = Args::parse();
    let read = |f: &str| parlance::data::massive::read_massive(&args.data.join(f));
    let (train, dev) = (read(&format!("{}.train.jsonl", args.locale))?, read(&format!("{}.dev.jsonl", args.locale))?);
    let mut intents: Vec<String> = train.iter().map(|e| e.intent.clone()).collect();
    intents.sort_unstable();
    intents.dedup();
    let index: HashMap<&str, usize> = intents.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let draws: Vec<Vec<usize>> = args.seeds.iter().map(|&s| draw(&train, &intents, args.per_intent, s)).collect();
    let mut union: Vec<usize> = draws.concat();
    union.sort_unstable();
    union.dedup();
    // cache rows: the union of the draws, then dev
    let texts: Vec<&Example> = union.iter().map(|&i| &train[i]).chain(dev.iter()).collect();
    let cache = cached_encode(&args, &texts)?;
    let row_of: HashMap<usize, usize> = union.iter().enumerate().map(|(r, &i)| (i, r)).collect();
    let dev_rows: Vec<usize> = (union.len()..texts.len()).collect();
    let gold: Vec<usize> = dev.iter().map(|e| index[e.intent.as_str()]).collect();
    parity(&args, &cache, &dev_rows[..64])?;
    println!("seed\texamples\tmethod\tdev_acc\ttrain_s");
    for (d, &seed) in draws.iter().zip(&args.seeds) {
        let items: Vec<usize> = d.iter().map(|i| row_of[i]).collect();
        let y: Vec<usize> = d.iter().map(|&i| index[train[i].intent.as_str()]).collect();
        let (acc, s) = logreg_acc(&rows(&cache.pooled, &items), &y, &rows(&cache.pooled, &dev_rows), &gold, intents.len());
        println!("{seed}\t{}\t(a) frozen int8 + logreg\t{acc:.2}\t{s:.1}", items.len());
        let item_texts: Vec<&str> = items.iter().map(|&i| texts[i].text.as_str()).collect();
        let dev_texts: Vec<&str> = dev_rows.iter().map(|&i| texts[i].text.as_str()).collect();
        if args.lexical {
            let acc = lexical_acc(&rows(&cache.pooled, &items), &item_texts, &y, &rows(&cache.pooled, &dev_rows), &dev_texts, &gold, intents.len());
            println!("{seed}\t{}\t(a) frozen int8 + logreg + lexical\t{acc:.2}\t0", items.len());
        }
        let (base, _) = load_layer(&args)?;
        let (tr, dv) = (pool_all(&base, &cache, &items)?, pool_all(&base, &cache, &dev_rows)?);
        let (acc, s) = logreg_acc(&tr, &y, &dv, &gold, intents.len());
        println!("{seed}\t{}\t(a') frozen, top layers in candle f32 + logreg\t{acc:.2}\t{s:.1}", items.len());
        for loss in args.loss.iter().filter(|l| *l != "none") {
            let t = fine_tune(&args, &cache, &items, &y, intents.len(), loss, seed, (&dev_rows, &gold))?;
            if let Some(a) = t.head_acc {
                println!("{seed}\t{}\t(b) {loss} top layers + own linear head\t{a:.2}\t{:.1}", items.len(), t.secs);
            }
            let (tr, dv) = (pool_all(&t.layer, &cache, &items)?, pool_all(&t.layer, &cache, &dev_rows)?);
            let (acc, s) = logreg_acc(&tr, &y, &dv, &gold, intents.len());
            println!("{seed}\t{}\t(b) {loss} top layers + logreg refit\t{acc:.2}\t{:.1}", items.len(), t.secs + s);
            if args.lexical {
                let acc = lexical_acc(&tr, &item_texts, &y, &dv, &dev_texts, &gold, intents.len());
                println!("{seed}\t{}\t(b) {loss} top layers + logreg refit + lexical\t{acc:.2}\t{:.1}", items.len(), t.secs);
            }
            if args.rank > 0 {
                let (base, _) = load_layer(&args)?;
                let cut = base.0.iter().zip(&t.layer.0).map(|(b, l)| parlance::train::adapt::low_rank_change(b, l, args.rank));
                let cut = Stack(cut.collect::<Result<_, String>>().map_err(anyhow::Error::msg)?);
                let (tr, dv) = (pool_all(&cut, &cache, &items)?, pool_all(&cut, &cache, &dev_rows)?);
                let (acc, _) = logreg_acc(&tr, &y, &dv, &gold, intents.len());
                println!("{seed}\t{}\t(c) {loss} top layers cut to rank {} + logreg refit\t{acc:.2}\t{:.1}", items.len(), args.rank, t.secs);
            }
            t.vars.save(&args.save)?;
        }
    }
    let size = std::fs::metadata(&args.save).map(|m| m.len()).unwrap_or(0);
    println!("adapted layers as f32 safetensors: {size} bytes ({})", args.save.display());
    Ok(())
}

/// How far candle's f32 layer 12 on the int8 graph's hidden_states_11 is from the graph's own
/// pooled vector (int8 layer 12): cosine of the pooled vectors.
fn parity(args: &Args, cache: &Cache, items: &[usize]) -> Result<()> {
    let (layer, _) = load_layer(args)?;
    let p = pool_all(&layer, cache, items)?;
    let q = rows(&cache.pooled, items);
    let cos: Vec<f32> = p.axis_iter(Axis(0)).zip(q.axis_iter(Axis(0))).map(|(a, b)| a.dot(&b)).collect();
    let min = cos.iter().copied().fold(f32::MAX, f32::min);
    eprintln!(
        "parity over {} dev rows: pooled cosine f32-candle vs int8-onnx mean {:.5}, min {min:.5}",
        cos.len(),
        cos.iter().sum::<f32>() / cos.len() as f32
    );
    Ok(())
}
