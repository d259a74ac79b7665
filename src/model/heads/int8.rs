//! A linear layer in 8-bit integers for the few tokens of one text (a bot's adapted layer at parse
//! time), as the shared encoder's own layers run, on CPUs with AVX-512 VNNI.
//!
//! Weights: signed 8-bit per output column (scale = the column's largest magnitude / 127).
//! Activations: per token (scale = the token's largest magnitude / 127, so a text's answer never
//! depends on the texts batched with it), shifted by 128 to unsigned bytes for the CPU's
//! unsigned × signed dot product (`vpdpbusd`); the shift comes back out through each column's
//! weight sum. The sums are exact 32-bit integers. Where the CPU lacks VNNI, [`Int8Linear::new`]
//! gives nothing and the layer runs in f32 ([`super::packed`]): a portable 8-bit loop ran 4.4 ms a
//! layer against the f32 kernel's 0.7 and VNNI's 0.33 (`cargo bench --bench heads`,
//! `adapted_top_layer`). Training scores its heads on the same code as serving, so on one machine
//! the two agree bit for bit. Unit tests hold the kernel to a plain integer loop, bit for bit, and
//! the product to the f32 one.

use ndarray::{Array1, Array2, ArrayView2};

// the f32 kernel's blocking: 32 outputs a panel (two 16-lane registers), 6 tokens a pass
use super::packed::{COLS, ROWS};

/// `x @ weight + bias` in 8-bit integers, 32-bit sums.
#[derive(Debug, Clone)]
pub struct Int8Linear {
    inputs: usize,
    outputs: usize,
    /// inputs rounded up to a multiple of 4 (the dot product's width)
    padded: usize,
    /// per output column: its scale
    scale: Vec<f32>,
    /// per output column: 128 × the sum of its quantised weights (the activations' shift)
    shift: Vec<i32>,
    bias: Array1<f32>,
    /// [panels][padded / 4][COLS][4]: four consecutive inputs of each output side by side, as
    /// `vpdpbusd` reads them; the last panel and the padded inputs hold zeros
    weights: Vec<i8>,
}

impl Int8Linear {
    /// From a weight [inputs, outputs] and its bias [outputs]; `None` where the CPU lacks VNNI.
    pub fn new(weight: &Array2<f32>, bias: Array1<f32>) -> Option<Int8Linear> {
        has_vnni().then(|| Int8Linear::quantised(weight, bias))
    }

    fn quantised(weight: &Array2<f32>, bias: Array1<f32>) -> Int8Linear {
        let (inputs, outputs) = weight.dim();
        let padded = inputs.div_ceil(4) * 4;
        let scale: Vec<f32> = weight.columns().into_iter().map(|c| scale_of(c.fold(0f32, |m, &v| m.max(v.abs())))).collect();
        let mut shift = vec![0i32; outputs];
        let mut weights = vec![0i8; outputs.div_ceil(COLS) * padded * COLS];
        for ((k, o), &w) in weight.indexed_iter() {
            let q = (w / scale[o]).round().clamp(-127.0, 127.0) as i8;
            shift[o] += 128 * q as i32;
            weights[(((o / COLS) * (padded / 4) + k / 4) * COLS + o % COLS) * 4 + k % 4] = q;
        }
        Int8Linear { inputs, outputs, padded, scale, shift, bias, weights }
    }

    /// `x @ weight + bias` for x [tokens, inputs].
    pub fn apply(&self, x: ArrayView2<f32>) -> Array2<f32> {
        assert_eq!(x.ncols(), self.inputs, "input width");
        let tokens = x.nrows();
        // each token as unsigned bytes (zero-padded to `padded`), and its scale
        let mut xq = vec![0u8; tokens * self.padded];
        let mut xs = vec![0f32; tokens];
        for (t, row) in x.rows().into_iter().enumerate() {
            xs[t] = scale_of(row.fold(0f32, |m, &v| m.max(v.abs())));
            let inv = 1.0 / xs[t];
            // v · inv is within ±127 (a hair over at most): + 128.5, truncated, is the nearest
            // integer + 128 (halves up), and the cast saturates at 255
            for (q, &v) in xq[t * self.padded..].iter_mut().zip(row) {
                *q = (v * inv + 128.5) as u8;
            }
        }
        let sums = self.sums(&xq, tokens);
        let bias = self.bias.as_slice().expect("a new array is contiguous");
        let mut out = vec![0f32; tokens * self.outputs];
        for ((row, sum), &x_scale) in out.chunks_exact_mut(self.outputs).zip(sums.chunks_exact(self.outputs)).zip(&xs) {
            for ((((y, &s), &shift), &w_scale), &b) in row.iter_mut().zip(sum).zip(&self.shift).zip(&self.scale).zip(bias) {
                *y = (s - shift) as f32 * (x_scale * w_scale) + b;
            }
        }
        Array2::from_shape_vec((tokens, self.outputs), out).expect("tokens × outputs")
    }

    /// The 32-bit sums [tokens][outputs] of the shifted bytes `xq` ([tokens][padded]) and the
    /// weights, through the VNNI kernel: ROWS tokens × one panel of COLS outputs a pass.
    fn sums(&self, xq: &[u8], tokens: usize) -> Vec<i32> {
        let quads = self.padded / 4;
        // the tokens by groups of ROWS, each input quad of each token as one u32: [groups][quads][ROWS]
        let mut xg = vec![0u32; tokens.div_ceil(ROWS) * quads * ROWS];
        for t in 0..tokens {
            for q in 0..quads {
                let b = &xq[t * self.padded + 4 * q..][..4];
                xg[((t / ROWS) * quads + q) * ROWS + t % ROWS] = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        let mut sums = vec![0i32; tokens * self.outputs];
        let mut acc = [[0i32; COLS]; ROWS];
        for (p, panel) in self.weights.chunks_exact(quads * COLS * 4).enumerate() {
            let cols = p * COLS..self.outputs.min((p + 1) * COLS);
            for (g, group) in xg.chunks_exact(quads * ROWS).enumerate() {
                vnni::kernel(panel, group, &mut acc);
                for (i, a) in acc.iter().enumerate().take(tokens - g * ROWS) {
                    let at = (g * ROWS + i) * self.outputs;
                    sums[at + cols.start..at + cols.end].copy_from_slice(&a[..cols.len()]);
                }
            }
        }
        sums
    }
}

/// A scale that maps `max` to 127 (1 for an all-zero row or column).
fn scale_of(max: f32) -> f32 {
    if max > 0.0 {
        max / 127.0
    } else {
        1.0
    }
}

fn has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// ROWS tokens through one panel in 6 × 2 registers of running sums: per input quad, two loads
/// of the panel's weights and, per token, one broadcast of its four bytes and two dot products.
#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{COLS, ROWS};
    use std::arch::x86_64::*;

    /// Only called by an [`super::Int8Linear`], which exists once the CPU is known to have
    /// AVX-512 VNNI (`has_vnni`).
    pub fn kernel(panel: &[i8], group: &[u32], acc: &mut [[i32; COLS]; ROWS]) {
        assert!(panel.len() / (COLS * 4) == group.len() / ROWS && COLS == 32 && ROWS == 6);
        // SAFETY: an Int8Linear is only built where the CPU has AVX-512F, BW and VNNI; the
        // sizes were checked just above.
        unsafe { run(panel, group, acc) }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn run(panel: &[i8], group: &[u32], acc: &mut [[i32; COLS]; ROWS]) {
        let mut c = [[_mm512_setzero_si512(); 2]; ROWS];
        let (w, x) = (panel.as_ptr(), group.as_ptr());
        for q in 0..group.len() / ROWS {
            let w0 = _mm512_loadu_si512(w.add(q * COLS * 4) as *const _);
            let w1 = _mm512_loadu_si512(w.add(q * COLS * 4 + 64) as *const _);
            for (i, ci) in c.iter_mut().enumerate() {
                let xv = _mm512_set1_epi32(*x.add(q * ROWS + i) as i32);
                ci[0] = _mm512_dpbusd_epi32(ci[0], xv, w0);
                ci[1] = _mm512_dpbusd_epi32(ci[1], xv, w1);
            }
        }
        for (a, ci) in acc.iter_mut().zip(&c) {
            _mm512_storeu_si512(a.as_mut_ptr() as *mut _, ci[0]);
            _mm512_storeu_si512(a.as_mut_ptr().add(16) as *mut _, ci[1]);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod vnni {
    use super::{COLS, ROWS};
    pub fn kernel(_: &[i8], _: &[u32], _: &mut [[i32; COLS]; ROWS]) {
        unreachable!("an Int8Linear is only built on x86-64 with VNNI")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(r: usize, c: usize, seed: usize) -> Array2<f32> {
        Array2::from_shape_fn((r, c), |(i, j)| (((i * 31 + j * 17 + seed * 7) % 23) as f32 - 11.0) / 11.0)
    }

    const SHAPES: [(usize, usize, usize); 7] = [(1, 8, 8), (5, 8, 24), (6, 16, 16), (7, 13, 40), (15, 384, 1152), (13, 64, 17), (2, 3, 1)];

    /// The layer, or a note that this CPU cannot run it (then the f32 layer serves: nothing to test).
    fn layer(w: &Array2<f32>, b: Array1<f32>) -> Option<Int8Linear> {
        let l = Int8Linear::new(w, b);
        if l.is_none() {
            eprintln!("no AVX-512 VNNI on this CPU: the adapted layer runs in f32 here");
        }
        l
    }

    /// The kernel's sums are a plain integer loop's, bit for bit, on any shape (padded inputs,
    /// outputs and token groups included).
    #[test]
    fn the_kernel_sums_what_a_plain_loop_sums() {
        for (tokens, inputs, outputs) in SHAPES {
            let (w, b) = (filled(inputs, outputs, 2), filled(1, outputs, 3).row(0).to_owned());
            let Some(l) = layer(&w, b) else { return };
            let xq: Vec<u8> = (0..tokens * l.padded).map(|i| if i % l.padded < inputs { (i * 37 % 256) as u8 } else { 0 }).collect();
            let mut want = vec![0i32; tokens * outputs];
            for t in 0..tokens {
                for o in 0..outputs {
                    let at = |k: usize| l.weights[(((o / COLS) * (l.padded / 4) + k / 4) * COLS + o % COLS) * 4 + k % 4] as i32;
                    want[t * outputs + o] = (0..inputs).map(|k| xq[t * l.padded + k] as i32 * at(k)).sum();
                }
            }
            assert_eq!(l.sums(&xq, tokens), want, "{tokens}x{inputs}x{outputs}");
        }
    }

    /// The 8-bit product is the f32 one within its rounding.
    #[test]
    fn the_product_is_the_f32_one_within_rounding() {
        for (tokens, inputs, outputs) in SHAPES {
            let (x, w, b) = (filled(tokens, inputs, 4), filled(inputs, outputs, 5), filled(1, outputs, 6).row(0).to_owned());
            let want = x.dot(&w) + &b;
            let Some(l) = layer(&w, b) else { return };
            let got = l.apply(x.view());
            // |x|, |w| <= 1: each product is off by at most ~1/127, so a sum by inputs/127; the
            // typical error is far smaller (errors of both signs)
            let worst = (&got - &want).mapv(f32::abs).fold(0f32, |m, &v| m.max(v));
            assert!(worst <= inputs as f32 / 127.0, "{tokens}x{inputs}x{outputs}: off by {worst}");
            let rms = ((&got - &want).mapv(|v| v * v).mean().unwrap()).sqrt();
            let scale = (want.mapv(|v| v * v).mean().unwrap()).sqrt();
            assert!(rms <= 0.02 * scale + 1e-3, "{tokens}x{inputs}x{outputs}: rms {rms} against {scale}");
        }
    }

    /// All-zero tokens and columns give the bias, not NaN.
    #[test]
    fn zeros_give_the_bias() {
        let (x, w) = (Array2::<f32>::zeros((3, 8)), Array2::<f32>::zeros((8, 5)));
        let b = Array1::from(vec![0.5, -1.0, 0.0, 2.0, 3.0]);
        let Some(l) = layer(&w, b.clone()) else { return };
        for row in l.apply(x.view()).rows() {
            assert_eq!(row, b.view());
        }
    }
}
