//! Multinomial logistic regression with L2, fitted by L-BFGS on the full batch.
//!
//! Features may be standardised for the fit (better conditioned); the scaling is folded back into
//! the weights, so the result applies to raw encoder outputs. The loss is the mean cross-entropy
//! plus `l2 / 2 × ‖W‖²` (the bias is not penalised); loss and gradient are computed on row chunks
//! in parallel with rayon.

use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::model::heads::Linear;

/// How a classifier is fitted.
#[derive(Debug, Clone, Copy)]
pub struct FitConfig {
    pub l2: f32,
    /// Standardise the features for the fit (the scaling is folded back into the weights).
    pub standardize: bool,
    pub max_iter: usize,
    /// Stop when the loss improves by less than this, relatively, over one iteration.
    pub tol: f64,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig { l2: 1e-3, standardize: true, max_iter: 200, tol: 1e-6 }
    }
}

/// What a fit did.
#[derive(Debug, Clone, Copy)]
pub struct FitStats {
    pub iterations: usize,
    pub loss: f64,
}

const CHUNK: usize = 2048;
const MEMORY: usize = 10;

/// Column means and standard deviations (floored).
fn moments(x: &Array2<f32>) -> (Array1<f32>, Array1<f32>) {
    let mean = x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(x.ncols()));
    let var = x.var_axis(Axis(0), 0.0);
    (mean, var.mapv(|v| v.sqrt().max(1e-6)))
}

/// Mean cross-entropy + L2 and its gradient at `theta` (W row-major [d, k], then b [k]).
fn loss_grad(x: &Array2<f32>, y: &[usize], k: usize, l2: f32, theta: &[f32]) -> (f64, Vec<f32>) {
    let d = x.ncols();
    let w = ArrayView2::from_shape((d, k), &theta[..d * k]).expect("theta holds W");
    let b = ndarray::ArrayView1::from(&theta[d * k..]);
    let n = x.nrows();
    let starts: Vec<usize> = (0..n).step_by(CHUNK).collect();
    let (loss, gw, gb) = starts
        .par_iter()
        .map(|&s0| {
            let xc = x.slice(s![s0..(s0 + CHUNK).min(n), ..]);
            let mut z = xc.dot(&w) + b;
            let mut loss = 0.0f64;
            for (r, mut row) in z.axis_iter_mut(Axis(0)).enumerate() {
                let m = row.fold(f32::NEG_INFINITY, |a, &v| a.max(v));
                row.mapv_inplace(|v| (v - m).exp());
                let sum: f32 = row.sum();
                row.mapv_inplace(|v| v / sum);
                let t = y[s0 + r];
                loss -= (row[t].max(1e-30) as f64).ln();
                row[t] -= 1.0;
            }
            (loss, xc.t().dot(&z), z.sum_axis(Axis(0)))
        })
        .reduce(|| (0.0, Array2::zeros((d, k)), Array1::zeros(k)), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    let inv = 1.0 / n.max(1) as f32;
    let mut grad: Vec<f32> = Vec::with_capacity(theta.len());
    grad.extend(gw.iter().zip(w.iter()).map(|(g, wv)| g * inv + l2 * wv));
    grad.extend(gb.iter().map(|g| g * inv));
    let penalty: f64 = 0.5 * l2 as f64 * w.iter().map(|v| (*v as f64).powi(2)).sum::<f64>();
    (loss / n.max(1) as f64 + penalty, grad)
}

/// Vectors longer than this are reduced in parallel parts (the lexical features make theta long).
const PAR_LEN: usize = 1 << 16;

fn dot(a: &[f32], b: &[f32]) -> f64 {
    let part = |(a, b): (&[f32], &[f32])| a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>();
    if a.len() < PAR_LEN {
        return part((a, b));
    }
    a.par_chunks(PAR_LEN).zip(b.par_chunks(PAR_LEN)).map(part).sum()
}

fn dot64(a: &[f32], q: &[f64]) -> f64 {
    let part = |(a, q): (&[f32], &[f64])| a.iter().zip(q).map(|(x, y)| *x as f64 * y).sum::<f64>();
    if a.len() < PAR_LEN {
        return part((a, q));
    }
    a.par_chunks(PAR_LEN).zip(q.par_chunks(PAR_LEN)).map(part).sum()
}

/// q += c · v
fn axpy(q: &mut [f64], c: f64, v: &[f32]) {
    let part = |(q, v): (&mut [f64], &[f32])| q.iter_mut().zip(v).for_each(|(q, v)| *q += c * *v as f64);
    if q.len() < PAR_LEN {
        return part((q, v));
    }
    q.par_chunks_mut(PAR_LEN).zip(v.par_chunks(PAR_LEN)).for_each(part);
}

/// The L-BFGS direction: −H·g from the stored (s, y) pairs.
fn direction(g: &[f32], mem: &[(Vec<f32>, Vec<f32>, f64)]) -> Vec<f32> {
    let mut q: Vec<f64> = g.iter().map(|v| *v as f64).collect();
    let mut alphas = Vec::with_capacity(mem.len());
    for (sv, yv, rho) in mem.iter().rev() {
        let a = rho * dot64(sv, &q);
        axpy(&mut q, -a, yv);
        alphas.push(a);
    }
    if let Some((sv, yv, _)) = mem.last() {
        let gamma = dot(sv, yv) / dot(yv, yv).max(1e-30);
        q.iter_mut().for_each(|q| *q *= gamma);
    }
    for ((sv, yv, rho), a) in mem.iter().zip(alphas.into_iter().rev()) {
        let bta = rho * dot64(yv, &q);
        axpy(&mut q, a - bta, sv);
    }
    q.into_iter().map(|v| -v as f32).collect()
}

thread_local! {
    /// Asked between iterations: a training run's deadline or cancellation ([`stop_when`]).
    static STOP: std::cell::RefCell<Option<Box<dyn Fn() -> bool>>> = const { std::cell::RefCell::new(None) };
}

/// While the guard lives, every fit on this thread stops at its next iteration once `stop` says
/// so (the caller then reads why from its watch). Training runs install it, so DELETE and the
/// time limit reach a run that is fitting, not only one that is embedding.
pub fn stop_when(stop: impl Fn() -> bool + 'static) -> StopGuard {
    STOP.with(|s| *s.borrow_mut() = Some(Box::new(stop)));
    StopGuard(())
}

/// Removes the stop check of [`stop_when`] when dropped.
pub struct StopGuard(());

impl Drop for StopGuard {
    fn drop(&mut self) {
        STOP.with(|s| *s.borrow_mut() = None);
    }
}

fn must_stop() -> bool {
    STOP.with(|s| s.borrow().as_ref().is_some_and(|f| f()))
}

/// Minimises `f` from `theta` by L-BFGS with a backtracking (Armijo) line search.
fn lbfgs(mut theta: Vec<f32>, cfg: &FitConfig, f: impl Fn(&[f32]) -> (f64, Vec<f32>)) -> (Vec<f32>, FitStats) {
    let (mut loss, mut g) = f(&theta);
    let mut mem: Vec<(Vec<f32>, Vec<f32>, f64)> = Vec::new();
    let mut iterations = 0;
    for it in 0..cfg.max_iter {
        if must_stop() {
            break;
        }
        iterations = it + 1;
        let mut dir = direction(&g, &mem);
        let mut slope = dot(&g, &dir);
        if slope >= 0.0 {
            mem.clear();
            dir = g.iter().map(|v| -v).collect();
            slope = dot(&g, &dir);
        }
        let mut step = if mem.is_empty() { 1.0 / dot(&g, &g).sqrt().max(1e-12) } else { 1.0 };
        let (next, nloss, ng) = loop {
            let cand: Vec<f32> = theta.iter().zip(&dir).map(|(t, d)| t + (step as f32) * d).collect();
            let (l, gr) = f(&cand);
            if l <= loss + 1e-4 * step * slope || step < 1e-10 {
                break (cand, l, gr);
            }
            step *= 0.5;
        };
        let sv: Vec<f32> = next.iter().zip(&theta).map(|(a, b)| a - b).collect();
        let yv: Vec<f32> = ng.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&sv, &yv);
        if sy > 1e-12 {
            mem.push((sv, yv, 1.0 / sy));
            if mem.len() > MEMORY {
                mem.remove(0);
            }
        }
        let improved = (loss - nloss) / loss.abs().max(1e-12);
        theta = next;
        loss = nloss;
        g = ng;
        if improved.abs() < cfg.tol {
            break;
        }
    }
    (theta, FitStats { iterations, loss })
}

/// Fits a `k`-class classifier on rows `x` with labels `y` (each < `k`).
pub fn fit(x: &Array2<f32>, y: &[usize], k: usize, cfg: &FitConfig) -> (Linear, FitStats) {
    fit_owned(x.clone(), y, k, cfg)
}

/// [`fit`] on rows it may overwrite: they are standardised in place, so a large feature matrix
/// (the slot tagger's token windows) is not copied.
pub fn fit_owned(mut z: Array2<f32>, y: &[usize], k: usize, cfg: &FitConfig) -> (Linear, FitStats) {
    let d = z.ncols();
    let (mean, std) = if cfg.standardize { moments(&z) } else { (Array1::zeros(d), Array1::ones(d)) };
    if cfg.standardize {
        z -= &mean;
        z /= &std;
    }
    let (theta, stats) = lbfgs(vec![0.0; d * k + k], cfg, |t| loss_grad(&z, y, k, cfg.l2, t));
    let w = Array2::from_shape_vec((d, k), theta[..d * k].to_vec()).expect("d × k weights");
    let b = Array1::from(theta[d * k..].to_vec());
    // x·(W/σ) + b − (μ/σ)·W gives the same logits on raw rows as z·W + b on standardised ones.
    let weight = &w / &std.view().insert_axis(Axis(1));
    let bias = &b - &(&mean / &std).dot(&w);
    (Linear { weight, bias }, stats)
}

/// Sparse rows (column, value), sorted by column: the lexical features of each example.
#[derive(Debug, Clone, Default)]
pub struct SparseRows {
    pub rows: Vec<Vec<(usize, f32)>>,
    pub cols: usize,
}

/// Rows per parallel part of the joint gradient (sparse rows are cheap: small parts share the work).
const JOINT_CHUNK: usize = 256;

/// Mean cross-entropy + L2 and its gradient for dense rows `x` joined with sparse rows `sp`:
/// theta = [W (d × k), V (cols × k), b (k)]. Row parts in parallel, as `loss_grad`.
fn joint_loss_grad(x: &Array2<f32>, sp: &SparseRows, y: &[usize], k: usize, l2: f32, theta: &[f32]) -> (f64, Vec<f32>) {
    let (d, v) = (x.ncols(), sp.cols);
    let w = ArrayView2::from_shape((d, k), &theta[..d * k]).expect("theta holds W");
    let vw = ArrayView2::from_shape((v, k), &theta[d * k..(d + v) * k]).expect("theta holds V");
    let b = ndarray::ArrayView1::from(&theta[(d + v) * k..]);
    let n = x.nrows();
    let starts: Vec<usize> = (0..n).step_by(JOINT_CHUNK).collect();
    let part = |&s0: &usize| {
        let xc = x.slice(s![s0..(s0 + JOINT_CHUNK).min(n), ..]);
        let mut z = xc.dot(&w) + b;
        let mut loss = 0.0f64;
        for (r, mut row) in z.axis_iter_mut(Axis(0)).enumerate() {
            for &(c, val) in &sp.rows[s0 + r] {
                row.scaled_add(val, &vw.row(c));
            }
            let m = row.fold(f32::NEG_INFINITY, |a, &v| a.max(v));
            row.mapv_inplace(|v| (v - m).exp());
            let sum: f32 = row.sum();
            row.mapv_inplace(|v| v / sum);
            loss -= (row[y[s0 + r]].max(1e-30) as f64).ln();
            row[y[s0 + r]] -= 1.0;
        }
        // the sparse gradient as (column, row of z) pairs: summed below without a cols × k array per part
        let mut gv: Vec<(usize, f32, usize)> = Vec::new();
        for r in 0..z.nrows() {
            gv.extend(sp.rows[s0 + r].iter().map(|&(c, val)| (c, val, r)));
        }
        let gw = xc.t().dot(&z);
        (loss, gw, z, gv)
    };
    let parts: Vec<(f64, Array2<f32>, Array2<f32>, Vec<(usize, f32, usize)>)> = starts.par_iter().map(part).collect();
    let inv = 1.0 / n.max(1) as f32;
    let mut gwsum = Array2::<f32>::zeros((d, k));
    let mut gb = Array1::<f32>::zeros(k);
    let mut gv = Array2::<f32>::zeros((v, k));
    let mut loss = 0.0f64;
    for (l, gw, z, pairs) in &parts {
        loss += l;
        gwsum += gw;
        gb += &z.sum_axis(Axis(0));
        for &(c, val, r) in pairs {
            gv.row_mut(c).scaled_add(val, &z.row(r));
        }
    }
    let mut grad: Vec<f32> = Vec::with_capacity(theta.len());
    grad.extend(gwsum.iter().zip(w.iter()).map(|(g, wv)| g * inv + l2 * wv));
    grad.extend(gv.iter().zip(vw.iter()).map(|(g, wv)| g * inv + l2 * wv));
    grad.extend(gb.iter().map(|g| g * inv));
    let sq = |a: ArrayView2<f32>| a.iter().map(|v| (*v as f64).powi(2)).sum::<f64>();
    (loss / n.max(1) as f64 + 0.5 * l2 as f64 * (sq(w) + sq(vw)), grad)
}

/// Fits a `k`-class classifier on dense rows `x` joined with sparse rows `sp` (not standardised):
/// the dense layer (with the bias) and the sparse columns' weights [cols, k].
pub fn fit_joint(x: &Array2<f32>, sp: &SparseRows, y: &[usize], k: usize, cfg: &FitConfig) -> (Linear, Array2<f32>, FitStats) {
    let (d, v) = (x.ncols(), sp.cols);
    let (theta, stats) = lbfgs(vec![0.0; (d + v) * k + k], cfg, |t| joint_loss_grad(x, sp, y, k, cfg.l2, t));
    let weight = Array2::from_shape_vec((d, k), theta[..d * k].to_vec()).expect("d × k weights");
    let lexical = Array2::from_shape_vec((v, k), theta[d * k..(d + v) * k].to_vec()).expect("cols × k weights");
    let bias = Array1::from(theta[(d + v) * k..].to_vec());
    (Linear { weight, bias }, lexical, stats)
}

/// Logits of dense rows joined with sparse rows.
pub fn joint_logits(layer: &Linear, lexical: &Array2<f32>, x: &Array2<f32>, sp: &SparseRows) -> Array2<f32> {
    let mut z = logits(layer, x);
    for (r, mut row) in z.axis_iter_mut(Axis(0)).enumerate() {
        for &(c, val) in &sp.rows[r] {
            row.scaled_add(val, &lexical.row(c));
        }
    }
    z
}

/// Logits of rows under a fitted layer.
pub fn logits(layer: &Linear, x: &Array2<f32>) -> Array2<f32> {
    x.dot(&layer.weight) + &layer.bias
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_classes_are_learnt_and_the_gradient_is_right() {
        // three classes on three axes, with an offset and a scale the standardisation must undo
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for i in 0..60 {
            let c = i % 3;
            let mut r = [5.0f32, -3.0, 10.0];
            r[c] += 2.0 + (i as f32 * 0.37).sin() * 0.3;
            rows.extend_from_slice(&r);
            y.push(c);
        }
        let x = Array2::from_shape_vec((60, 3), rows).unwrap();
        let (layer, stats) = fit(&x, &y, 3, &FitConfig { l2: 1e-4, standardize: true, max_iter: 100, tol: 1e-9 });
        let pred: Vec<usize> =
            logits(&layer, &x).axis_iter(Axis(0)).map(|r| r.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0).collect();
        assert_eq!(pred, y, "{stats:?}");
        // finite differences against the analytic gradient
        let theta: Vec<f32> = (0..12).map(|i| (i as f32 * 0.1).cos() * 0.2).collect();
        let (_, g) = loss_grad(&x, &y, 3, 0.01, &theta);
        for i in [0, 4, 9, 11] {
            let mut t = theta.clone();
            t[i] += 1e-2;
            let up = loss_grad(&x, &y, 3, 0.01, &t).0;
            t[i] -= 2e-2;
            let down = loss_grad(&x, &y, 3, 0.01, &t).0;
            let numeric = (up - down) / 2e-2;
            assert!((numeric - g[i] as f64).abs() < 1e-2 * (1.0 + numeric.abs()), "{i}: {numeric} vs {}", g[i]);
        }
    }

    #[test]
    fn the_joint_dense_and_sparse_gradient_is_right_and_sparse_columns_are_learnt() {
        // the dense column says nothing; sparse column c marks class c
        let x = Array2::from_shape_vec((30, 1), (0..30).map(|i| (i as f32 * 0.7).sin()).collect()).unwrap();
        let y: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let sp = SparseRows { rows: y.iter().map(|&c| vec![(c, 1.0), (3, 0.5)]).collect(), cols: 4 };
        let k = 3;
        let theta: Vec<f32> = (0..(1 + 4) * k + k).map(|i| (i as f32 * 0.3).cos() * 0.2).collect();
        let (_, g) = joint_loss_grad(&x, &sp, &y, k, 0.01, &theta);
        for i in [0, 2, 4, 9, 14, 16] {
            let mut t = theta.clone();
            t[i] += 1e-2;
            let up = joint_loss_grad(&x, &sp, &y, k, 0.01, &t).0;
            t[i] -= 2e-2;
            let down = joint_loss_grad(&x, &sp, &y, k, 0.01, &t).0;
            let numeric = (up - down) / 2e-2;
            assert!((numeric - g[i] as f64).abs() < 1e-2 * (1.0 + numeric.abs()), "{i}: {numeric} vs {}", g[i]);
        }
        let (layer, lex, _) = fit_joint(&x, &sp, &y, k, &FitConfig { l2: 1e-3, standardize: false, max_iter: 100, tol: 1e-9 });
        let z = joint_logits(&layer, &lex, &x, &sp);
        let pred: Vec<usize> = z.axis_iter(Axis(0)).map(|r| r.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0).collect();
        assert_eq!(pred, y);
    }
}

#[cfg(test)]
mod stop_tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A fit stops at its next iteration once the stop check says so, and only while the guard lives.
    #[test]
    fn a_fit_stops_when_asked() {
        let x = Array2::from_shape_fn((40, 4), |(i, j)| ((i * 7 + j * 3) % 11) as f32);
        let y: Vec<usize> = (0..40).map(|i| i % 4).collect();
        let cfg = FitConfig { l2: 1e-6, standardize: true, max_iter: 500, tol: 0.0 };
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let guard = stop_when(move || counter.fetch_add(1, Ordering::Relaxed) >= 3);
        let (_, stats) = fit(&x, &y, 4, &cfg);
        assert_eq!(stats.iterations, 3, "three iterations ran, then the fit stopped");
        drop(guard);
        let (_, stats) = fit(&x, &y, 4, &cfg);
        assert!(stats.iterations > 3, "no guard, no stop: {stats:?}");
    }
}
