//! Off-topic scores measured beside the top probability: the energy of the logits and the
//! Mahalanobis distance to the intents' means (plain and relative), from the training vectors.

use ndarray::{Array1, Array2, Axis};
use parlance::train::calibrate::HeldRow;

/// Energy score (Liu et al. 2020): log-sum-exp of a row's logits; higher = more in scope.
pub fn energy(logits: &Array2<f32>) -> Array1<f32> {
    logits.map_axis(Axis(1), |r| {
        let m = r.fold(f32::MIN, |a, &b| a.max(b));
        m + r.iter().map(|&v| (v - m).exp()).sum::<f32>().ln()
    })
}

/// A whitening map fitted on training vectors: `W` with `W Σ Wᵀ = I` for the shrunk covariance
/// `Σ = (1 − α) S + α (tr S / d) I` (the sample covariance `S` of the rows around `centres[y]`).
struct Whitening(Array2<f64>);

impl Whitening {
    fn fit(x: &Array2<f32>, y: &[usize], centres: &Array2<f64>, alpha: f64) -> Whitening {
        let d = x.ncols();
        let mut r = x.mapv(f64::from);
        for (mut row, &c) in r.axis_iter_mut(Axis(0)).zip(y) {
            row -= &centres.row(c);
        }
        let s = r.t().dot(&r) / x.nrows().max(1) as f64;
        let mean_var = s.diag().sum() / d as f64;
        let mut sigma = s * (1.0 - alpha);
        for i in 0..d {
            sigma[[i, i]] += alpha * mean_var;
        }
        Whitening(inverse_lower(&cholesky(&sigma)))
    }

    /// Squared distances of every row of `x` to every centre, in the whitened space.
    fn distances(&self, x: &Array2<f32>, centres: &Array2<f64>) -> Array2<f64> {
        let z = x.mapv(f64::from).dot(&self.0.t());
        let m = centres.dot(&self.0.t());
        let zz = z.map_axis(Axis(1), |r| r.dot(&r));
        let mm = m.map_axis(Axis(1), |r| r.dot(&r));
        let mut out = z.dot(&m.t()) * -2.0;
        for ((i, k), v) in out.indexed_iter_mut() {
            *v += zz[i] + mm[k];
        }
        out
    }
}

fn cholesky(a: &Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for j in 0..n {
        let s: f64 = (0..j).map(|k| l[[j, k]] * l[[j, k]]).sum();
        let d = (a[[j, j]] - s).max(1e-12).sqrt();
        l[[j, j]] = d;
        for i in j + 1..n {
            let s: f64 = (0..j).map(|k| l[[i, k]] * l[[j, k]]).sum();
            l[[i, j]] = (a[[i, j]] - s) / d;
        }
    }
    l
}

/// The inverse of a lower-triangular matrix (forward substitution, column by column).
fn inverse_lower(l: &Array2<f64>) -> Array2<f64> {
    let n = l.nrows();
    let mut inv = Array2::<f64>::zeros((n, n));
    for c in 0..n {
        inv[[c, c]] = 1.0 / l[[c, c]];
        for i in c + 1..n {
            let s: f64 = (c..i).map(|k| l[[i, k]] * inv[[k, c]]).sum();
            inv[[i, c]] = -s / l[[i, i]];
        }
    }
    inv
}

/// Mahalanobis scores fitted on the training vectors `x` (classes `y` of `k`): for each query
/// row, minus the smallest squared distance to an intent's mean under the shared shrunk
/// covariance (Lee et al. 2018); `relative`: minus the smallest such distance less the distance
/// to the mean of all rows under their own covariance (Ren et al. 2021).
pub struct Mahalanobis {
    means: Array2<f64>,
    within: Whitening,
    global: Option<(Array2<f64>, Whitening)>,
}

impl Mahalanobis {
    pub fn fit(x: &Array2<f32>, y: &[usize], k: usize, alpha: f64, relative: bool) -> Mahalanobis {
        let mut means = Array2::<f64>::zeros((k, x.ncols()));
        let mut counts = vec![0f64; k];
        for (row, &c) in x.axis_iter(Axis(0)).zip(y) {
            means.row_mut(c).scaled_add(1.0, &row.mapv(f64::from));
            counts[c] += 1.0;
        }
        for (mut m, n) in means.axis_iter_mut(Axis(0)).zip(&counts) {
            m /= n.max(1.0);
        }
        let within = Whitening::fit(x, y, &means, alpha);
        let global = relative.then(|| {
            let all = x.mapv(f64::from).mean_axis(Axis(0)).expect("rows").insert_axis(Axis(0));
            let w = Whitening::fit(x, &vec![0; x.nrows()], &all, alpha);
            (all, w)
        });
        Mahalanobis { means, within, global }
    }

    pub fn scores(&self, q: &Array2<f32>) -> Array1<f32> {
        let d = self.within.distances(q, &self.means);
        let base = self.global.as_ref().map(|(all, w)| w.distances(q, all).column(0).to_owned());
        d.axis_iter(Axis(0)).enumerate().map(|(i, r)| -(r.fold(f64::MAX, |a, &b| a.min(b)) - base.as_ref().map_or(0.0, |b| b[i])) as f32).collect()
    }
}

/// What the other scores are computed from: one draw's fit, its dev and scored halves.
pub struct Scored<'a> {
    pub dev_rows: &'a [HeldRow],
    pub test_rows: &'a [HeldRow],
    pub dev_logits: &'a Array2<f32>,
    pub test_logits: &'a Array2<f32>,
    /// The fitted temperature.
    pub t: f32,
    /// Training rows (dense features) and their classes; `classes` in all, the first `kept` the
    /// bot's intents (an out-of-scope class after them).
    pub x: &'a Array2<f32>,
    pub y: &'a [usize],
    pub classes: usize,
    pub kept: usize,
    pub xd: &'a Array2<f32>,
    pub xs: &'a Array2<f32>,
}

impl Scored<'_> {
    /// The dev half's in-scope values of a score, sorted (the reference of its quantiles).
    fn reference(&self, vals: &[f32]) -> Vec<f32> {
        let mut r: Vec<f32> = self.dev_rows.iter().zip(vals).filter(|(h, _)| h.gold.is_some()).map(|(_, &v)| v).collect();
        r.sort_by(f32::total_cmp);
        r
    }

    /// The intents' training rows (no out-of-scope class).
    fn kept_rows(&self) -> (Array2<f32>, Vec<usize>) {
        let kept: Vec<usize> = (0..self.y.len()).filter(|&i| self.y[i] < self.kept).collect();
        (self.x.select(Axis(0), &kept), kept.iter().map(|&i| self.y[i]).collect())
    }
}

fn quantile(r: &[f32], v: f32) -> f32 {
    r.partition_point(|&a| a <= v) as f32 / r.len().max(1) as f32
}

fn top(rows: &[HeldRow]) -> Vec<f32> {
    rows.iter().map(|h| h.confidence).collect()
}

/// The rows with a score's in-scope quantile as their confidence.
fn as_quantile(rows: &[HeldRow], vals: &[f32], r: &[f32]) -> Vec<HeldRow> {
    rows.iter().zip(vals).map(|(h, &v)| HeldRow { confidence: quantile(r, v), ..*h }).collect()
}

/// The rows with those below `floor` on a score rejected at any threshold.
fn gated(rows: &[HeldRow], v: &[f32], floor: f32) -> Vec<HeldRow> {
    rows.iter().zip(v).map(|(h, &v)| if v < floor { HeldRow { confidence: -1.0, ..*h } } else { *h }).collect()
}

/// Each of `q`'s rows' cosine to the nearest row of `to` (both any scale).
fn nearest_cosine(q: &Array2<f32>, to: &Array2<f32>) -> Vec<f32> {
    let norm = |v: &Array2<f32>| v.map_axis(Axis(1), |r| r.dot(&r).sqrt().max(1e-12));
    let sims = q.dot(&to.t()) / &norm(q).insert_axis(Axis(1)) / &norm(to).insert_axis(Axis(0));
    sims.map_axis(Axis(1), |r| r.fold(f32::MIN, |a, &b| a.max(b))).to_vec()
}

/// The outcomes of [`SCORES`], in order, each served by `score` (threshold chosen on the dev rows
/// given, applied to the scored ones); `mcc_at`: the dev MCC of rows at their chosen threshold.
pub fn other_scores<O>(s: &Scored, score: impl Fn(&[HeldRow], &[HeldRow]) -> O, mcc_at: impl Fn(&[HeldRow]) -> f64) -> Vec<O> {
    let mut out = Vec::new();
    // the margin between the two best probabilities, the cosine to the nearest intent mean
    let means = parlance::model::heads::unit_means(s.x.view(), s.y, s.classes, &[]);
    for alt in [Alt::Margin, Alt::Centroid] {
        let dr = rescore(s.dev_rows, s.dev_logits, s.xd, &means, s.t, alt);
        let tr = rescore(s.test_rows, s.test_logits, s.xs, &means, s.t, alt);
        out.push(score(&dr, &tr));
    }
    // each score as its quantile among the dev half's in-scope rows (so the rule's 0.01 grid is
    // 1 % of in-scope messages for any score), alone and averaged with the top probability's
    let (nd, nt) = (nearest_cosine(s.xd, s.x), nearest_cosine(s.xs, s.x));
    let (rp, rn) = (s.reference(&top(s.dev_rows)), s.reference(&nd));
    for mix in [0.0f32, 1.0, 0.5] {
        let q = |rows: &[HeldRow], near: &[f32]| -> Vec<HeldRow> {
            rows.iter()
                .zip(near)
                .map(|(h, &n)| HeldRow { confidence: (1.0 - mix) * quantile(&rp, h.confidence) + mix * quantile(&rn, n), ..*h })
                .collect()
        };
        out.push(score(&q(s.dev_rows, &nd), &q(s.test_rows, &nt)));
    }
    // energy and Mahalanobis scores, each as its in-scope quantile (intents' rows only)
    let (xk, yk) = s.kept_rows();
    let mut alt: Vec<(Vec<f32>, Vec<f32>)> = vec![(energy(s.dev_logits).to_vec(), energy(s.test_logits).to_vec())];
    for (alpha, relative) in [(0.1, false), (0.5, false), (0.5, true)] {
        let m = Mahalanobis::fit(&xk, &yk, s.kept, alpha, relative);
        alt.push((m.scores(s.xd).to_vec(), m.scores(s.xs).to_vec()));
    }
    let means = parlance::model::heads::unit_means(xk.view(), &yk, s.kept, &[]);
    let (cd, ct) = (nearest_cosine_unit(s.xd, &means), nearest_cosine_unit(s.xs, &means));
    if std::env::var("STUDY_AUROC").is_ok() {
        // AUROC on the scored half: top probability, nearest example, nearest intent mean, then
        // energy, Mahalanobis 0.1, 0.5, relative 0.5
        let mut all = vec![top(s.test_rows), nt.clone(), ct.clone()];
        all.extend(alt.iter().map(|a| a.1.clone()));
        eprintln!("auroc {}", all.iter().map(|v| format!("{:.3}", auroc(s.test_rows, v))).collect::<Vec<_>>().join(" "));
    }
    for (dv, tv) in &alt {
        let r = s.reference(dv);
        out.push(score(&as_quantile(s.dev_rows, dv, &r), &as_quantile(s.test_rows, tv, &r)));
    }
    out.extend(gates(s, (&cd, &ct), (&alt[2].0, &alt[2].1), score, mcc_at));
    out
}

/// Each of `q`'s rows' cosine to the nearest of `means`' unit rows.
fn nearest_cosine_unit(q: &Array2<f32>, means: &Array2<f32>) -> Vec<f32> {
    q.rows().into_iter().map(|v| parlance::model::heads::nearest_mean_cosine(means, v)).collect()
}

/// Two gates: a distance score rejects the share q of in-scope dev rows lowest on it, then the top
/// probability's threshold is chosen by the default rule (its cap counts both gates' rejections):
/// the cosine to the nearest intent mean and Mahalanobis 0.5 at 1 and 2 %, then the cosine with
/// its share chosen on dev with the threshold (best dev MCC, the smaller share among equals), as
/// `parlance train` does.
fn gates<O>(
    s: &Scored,
    cosine: (&[f32], &[f32]),
    maha: (&[f32], &[f32]),
    score: impl Fn(&[HeldRow], &[HeldRow]) -> O,
    mcc_at: impl Fn(&[HeldRow]) -> f64,
) -> Vec<O> {
    let mut out = Vec::new();
    let floor = |r: &[f32], q: f32| if q == 0.0 || r.is_empty() { f32::MIN } else { r[((q * r.len() as f32) as usize).min(r.len() - 1)] };
    for (dv, tv) in [cosine, maha] {
        let r = s.reference(dv);
        for q in [0.01f32, 0.02] {
            out.push(score(&gated(s.dev_rows, dv, floor(&r, q)), &gated(s.test_rows, tv, floor(&r, q))));
        }
    }
    let r = s.reference(cosine.0);
    let mut best = (f64::MIN, 0.0f32);
    for q in [0.0f32, 0.01, 0.02, 0.03, 0.05] {
        let mcc = mcc_at(&gated(s.dev_rows, cosine.0, floor(&r, q)));
        if mcc > best.0 + 1e-9 {
            best = (mcc, q);
        }
    }
    let f = floor(&r, best.1);
    out.push(score(&gated(s.dev_rows, cosine.0, f), &gated(s.test_rows, cosine.1, f)));
    out
}

/// Probability that an in-scope row scores above an off-topic one.
fn auroc(rows: &[HeldRow], v: &[f32]) -> f64 {
    let (mut pairs, mut wins) = (0f64, 0f64);
    for (_, va) in rows.iter().zip(v).filter(|(h, _)| h.gold.is_some()) {
        for (_, vb) in rows.iter().zip(v).filter(|(h, _)| h.gold.is_none()) {
            pairs += 1.0;
            wins += if va > vb {
                1.0
            } else if va == vb {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / pairs.max(1.0)
}

/// Names of the off-topic scores `fit_draw` adds after the rules' outcomes, in order.
pub const SCORES: [&str; 14] = [
    "margin p1 − p2",
    "cosine to nearest intent mean",
    "top probability as an in-scope quantile",
    "cosine to nearest training example, as a quantile",
    "mean of the two quantiles",
    "energy (log-sum-exp of the logits), as a quantile",
    "Mahalanobis to nearest intent mean, shrinkage 0.1, as a quantile",
    "Mahalanobis, shrinkage 0.5, as a quantile",
    "relative Mahalanobis, shrinkage 0.5, as a quantile",
    "top probability + gate: cosine to nearest intent mean, 1 % of in-scope dev",
    "top probability + gate: cosine to nearest intent mean, 2 %",
    "top probability + gate: Mahalanobis 0.5, 1 %",
    "top probability + gate: Mahalanobis 0.5, 2 %",
    "top probability + gate: cosine to nearest intent mean, its quantile chosen on dev (0-5 %)",
];

#[derive(Clone, Copy)]
enum Alt {
    Margin,
    Centroid,
}

/// The rows with another score in place of the top probability.
fn rescore(rows: &[HeldRow], logits: &Array2<f32>, x: &Array2<f32>, means: &Array2<f32>, t: f32, alt: Alt) -> Vec<HeldRow> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let confidence = match alt {
                Alt::Margin => {
                    let mut p = parlance::decode::softmax(&logits.row(i).to_vec(), t);
                    p.sort_by(|a, b| b.total_cmp(a));
                    p[0] - p.get(1).copied().unwrap_or(0.0)
                }
                Alt::Centroid => {
                    let v = x.row(i);
                    let n = v.dot(&v).sqrt().max(1e-12);
                    means.dot(&v).iter().fold(f32::MIN, |a, &b| a.max(b)) / n
                }
            };
            HeldRow { confidence, ..*r }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitening_inverts_the_covariance() {
        let a = ndarray::array![[4.0, 2.0, 0.4], [2.0, 3.0, 0.5], [0.4, 0.5, 1.0]];
        let w = inverse_lower(&cholesky(&a));
        let i = w.dot(&a).dot(&w.t());
        for ((r, c), v) in i.indexed_iter() {
            assert!((v - f64::from(r == c)).abs() < 1e-9, "{r},{c}: {v}");
        }
    }
}
