//! The same step as examples/adapt_study.rs's `ce` loss, in burn (ndarray backend + autodiff):
//! a post-LN BERT layer (384 wide, 12 heads, FFN 1536, erf GELU) on [B, T, 384] inputs, masked
//! mean pool of input ++ output, L2, ×20, linear head, cross-entropy, AdamW (layer and head one lr).
//! Synthetic inputs of MASSIVE's shape (594 items, 7–19 tokens, batches of 16): it times an epoch
//! and checks that the loss falls; weights are random (no loading), so it says nothing on accuracy.
use std::time::Instant;

use burn::backend::{Autodiff, NdArray};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{activation, Distribution, ElementConversion, Int, Tensor, TensorData};

const H: usize = 384;
const HEADS: usize = 12;
const K: usize = 60;

#[derive(Module, Debug)]
struct Layer<B: Backend> {
    q: Linear<B>,
    k: Linear<B>,
    v: Linear<B>,
    ao: Linear<B>,
    fi: Linear<B>,
    fo: Linear<B>,
    aln: LayerNorm<B>,
    oln: LayerNorm<B>,
    head: Linear<B>,
}

impl<B: Backend> Layer<B> {
    fn new(d: &B::Device) -> Self {
        let lin = |i, o| LinearConfig::new(i, o).init(d);
        let ln = || LayerNormConfig::new(H).with_epsilon(1e-12).init(d);
        Layer { q: lin(H, H), k: lin(H, H), v: lin(H, H), ao: lin(H, H), fi: lin(H, 4 * H), fo: lin(4 * H, H), aln: ln(), oln: ln(), head: lin(2 * H, K) }
    }

    fn forward(&self, x: Tensor<B, 3>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
        let [b, t, _] = x.dims();
        let hd = H / HEADS;
        let heads = |y: Tensor<B, 3>| y.reshape([b, t, HEADS, hd]).swap_dims(1, 2);
        let (q, k, v) = (heads(self.q.forward(x.clone())), heads(self.k.forward(x.clone())), heads(self.v.forward(x.clone())));
        let bias = (mask.clone().neg() + 1.0).mul_scalar(-10000.0).reshape([b, 1, 1, t]);
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((hd as f64).sqrt()) + bias;
        let ctx = activation::softmax(scores, 3).matmul(v).swap_dims(1, 2).reshape([b, t, H]);
        let x1 = self.aln.forward(self.ao.forward(ctx) + x.clone());
        let h12 = self.oln.forward(self.fo.forward(activation::gelu(self.fi.forward(x1.clone()))) + x1);
        let m = mask.clone().reshape([b, t, 1]);
        let n = mask.sum_dim(1);
        let mean = |h: Tensor<B, 3>| (h * m.clone()).sum_dim(1).reshape([b, H]) / n.clone();
        let p = Tensor::cat(vec![mean(x), mean(h12)], 1);
        let norm = p.clone().powf_scalar(2.0).sum_dim(1).sqrt();
        self.head.forward((p / norm).mul_scalar(20.0))
    }
}

fn batch<B: Backend>(lens: &[usize], d: &B::Device) -> (Tensor<B, 3>, Tensor<B, 2>) {
    let t = *lens.iter().max().unwrap();
    let x = Tensor::random([lens.len(), t, H], Distribution::Normal(0.0, 1.0), d);
    let mask: Vec<f32> = lens.iter().flat_map(|&n| (0..t).map(move |i| if i < n { 1.0 } else { 0.0 })).collect();
    (x, Tensor::from_data(TensorData::new(mask, [lens.len(), t]), d))
}

fn run<B: AutodiffBackend>(d: B::Device, epochs: usize) {
    let mut model = Layer::<B>::new(&d);
    let mut optim = AdamWConfig::new().with_weight_decay(0.01).init();
    let lens: Vec<usize> = (0..594).map(|i| 7 + (i * 7919) % 13).collect();
    let labels: Vec<i64> = (0..594).map(|i| (i % K) as i64).collect();
    let data: Vec<_> = lens.chunks(16).zip(labels.chunks(16)).map(|(l, y)| {
        let (x, m) = batch::<B>(l, &d);
        (x, m, Tensor::<B, 1, Int>::from_data(TensorData::new(y.to_vec(), [y.len()]), &d))
    }).collect();
    let ce = CrossEntropyLossConfig::new().init(&d);
    for epoch in 0..epochs {
        let t = Instant::now();
        let mut total = 0.0f64;
        for (x, m, y) in &data {
            let loss = ce.forward(model.forward(x.clone(), m.clone()), y.clone());
            total += loss.clone().into_scalar().elem::<f64>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(5e-5, model, grads);
        }
        println!("burn epoch {epoch}: mean loss {:.4}, {:.1} s", total / data.len() as f64, t.elapsed().as_secs_f64());
    }
}

fn main() {
    let epochs = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    run::<Autodiff<NdArray>>(Default::default(), epochs);
}
