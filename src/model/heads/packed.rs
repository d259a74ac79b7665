//! A linear layer's weights packed for the few tokens of one text (a bot's adapted layer at parse
//! time: ~15 tokens against 384–1,536-wide matrices).
//!
//! A general matrix product (ndarray's `dot`, matrixmultiply) packs both operands on every call
//! and is tuned for large ones; here the weights are packed once, at load, in panels of [`COLS`]
//! outputs ([in, COLS] each), and the tokens go through them [`ROWS`] at a time, the running sums
//! held in 12 vector registers: AVX-512 or AVX2 with FMA, whichever the CPU has (checked at run
//! time); elsewhere ndarray's product. On this project's Xeon, 15 tokens: 384 → 1,152 outputs
//! 131 µs (AVX2: 168) against `dot`'s 320; 1,536 → 384 194 µs (248) against 401. Unit tests hold
//! every kernel to `dot`; `cargo bench --bench heads` (`adapted_top_layer`) measures the layer.

use ndarray::{Array1, Array2, ArrayView2};

/// Outputs per weight panel.
pub(super) const COLS: usize = 32;
/// Tokens per pass over a panel.
pub(super) const ROWS: usize = 6;

/// `x @ weight + bias`, with the weight packed in panels where the CPU has a kernel for them.
#[derive(Debug, Clone)]
pub struct PackedLinear {
    inputs: usize,
    outputs: usize,
    weights: Weights,
    bias: Array1<f32>,
}

#[derive(Debug, Clone)]
enum Weights {
    /// [panels][inputs][COLS], the last panel padded with zeros, and the kernel that runs them
    Panels(Vec<f32>, Kernel),
    /// [inputs, outputs], for ndarray's product (a CPU without AVX2 and FMA, or not x86-64)
    Plain(Array2<f32>),
}

/// ROWS tokens ([inputs][ROWS]) through one panel ([inputs][COLS]) into `acc`.
type Kernel = fn(&[f32], &[f32], &mut [[f32; COLS]; ROWS]);

impl PackedLinear {
    /// From a weight [inputs, outputs] and its bias [outputs].
    pub fn new(weight: &Array2<f32>, bias: Array1<f32>) -> PackedLinear {
        PackedLinear::with_kernel(weight, bias, simd_kernel())
    }

    fn with_kernel(weight: &Array2<f32>, bias: Array1<f32>, kernel: Option<Kernel>) -> PackedLinear {
        let (inputs, outputs) = weight.dim();
        let weights = match kernel {
            Some(kernel) => {
                let mut panels = vec![0f32; outputs.div_ceil(COLS) * inputs * COLS];
                for ((k, o), &w) in weight.indexed_iter() {
                    panels[((o / COLS) * inputs + k) * COLS + o % COLS] = w;
                }
                Weights::Panels(panels, kernel)
            }
            None => Weights::Plain(weight.to_owned()),
        };
        PackedLinear { inputs, outputs, weights, bias }
    }

    /// `x @ weight + bias` for x [tokens, inputs].
    pub fn apply(&self, x: ArrayView2<f32>) -> Array2<f32> {
        assert_eq!(x.ncols(), self.inputs, "input width");
        let (panels, kernel) = match &self.weights {
            Weights::Plain(w) => return x.dot(w) + &self.bias,
            Weights::Panels(p, k) => (p, k),
        };
        let (tokens, inputs) = (x.nrows(), self.inputs);
        // the tokens interleaved by groups of ROWS ([groups][inputs][ROWS]), the last padded
        let mut xs = vec![0f32; tokens.div_ceil(ROWS) * inputs * ROWS];
        for (r, row) in x.rows().into_iter().enumerate() {
            let at = (r / ROWS) * inputs * ROWS + r % ROWS;
            for (k, &v) in row.iter().enumerate() {
                xs[at + k * ROWS] = v;
            }
        }
        let outputs = self.outputs;
        let mut out = vec![0f32; tokens * outputs];
        let bias = self.bias.as_slice().expect("a new array is contiguous");
        let mut acc = [[0f32; COLS]; ROWS];
        for (p, panel) in panels.chunks_exact(inputs * COLS).enumerate() {
            let cols = p * COLS..outputs.min((p + 1) * COLS);
            for (g, group) in xs.chunks_exact(inputs * ROWS).enumerate() {
                kernel(panel, group, &mut acc);
                for (i, a) in acc.iter().enumerate().take(tokens - g * ROWS) {
                    let row = &mut out[(g * ROWS + i) * outputs..][cols.clone()];
                    for ((o, &v), &b) in row.iter_mut().zip(a).zip(&bias[cols.clone()]) {
                        *o = v + b;
                    }
                }
            }
        }
        Array2::from_shape_vec((tokens, outputs), out).expect("tokens × outputs")
    }
}

/// The widest kernel this CPU runs, if any.
fn simd_kernel() -> Option<Kernel> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Some(simd::kernel_avx512);
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Some(simd::kernel_avx2);
        }
    }
    None
}

/// The kernel in 6 × 2 registers of running sums (12 of the 16 AVX2 or 32 AVX-512 registers), one
/// fused multiply-add per register and input: AVX-512 covers the panel's 32 outputs in one pass,
/// AVX2 in two passes of 16.
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{COLS, ROWS};
    use std::arch::x86_64::*;

    /// Only given out (by `simd_kernel`, or a test) once the CPU is known to have AVX-512F.
    pub fn kernel_avx512(panel: &[f32], group: &[f32], acc: &mut [[f32; COLS]; ROWS]) {
        assert!(panel.len() / COLS == group.len() / ROWS && COLS == 32 && ROWS == 6);
        // SAFETY: AVX-512F is present (checked before this kernel is given out), and the sizes
        // were checked just above.
        unsafe { avx512(panel, group, acc) }
    }

    /// Only given out once the CPU is known to have AVX2 and FMA.
    pub fn kernel_avx2(panel: &[f32], group: &[f32], acc: &mut [[f32; COLS]; ROWS]) {
        assert!(panel.len() / COLS == group.len() / ROWS && COLS == 32 && ROWS == 6);
        // SAFETY: as above, for AVX2 and FMA.
        unsafe {
            avx2(panel, group, acc, 0);
            avx2(panel, group, acc, 16);
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn avx512(panel: &[f32], group: &[f32], acc: &mut [[f32; COLS]; ROWS]) {
        let mut c = [[_mm512_setzero_ps(); 2]; ROWS];
        let (w, x) = (panel.as_ptr(), group.as_ptr());
        for k in 0..panel.len() / COLS {
            let (w0, w1) = (_mm512_loadu_ps(w.add(k * COLS)), _mm512_loadu_ps(w.add(k * COLS + 16)));
            for (i, ci) in c.iter_mut().enumerate() {
                let xv = _mm512_set1_ps(*x.add(k * ROWS + i));
                ci[0] = _mm512_fmadd_ps(xv, w0, ci[0]);
                ci[1] = _mm512_fmadd_ps(xv, w1, ci[1]);
            }
        }
        for (a, ci) in acc.iter_mut().zip(&c) {
            _mm512_storeu_ps(a.as_mut_ptr(), ci[0]);
            _mm512_storeu_ps(a.as_mut_ptr().add(16), ci[1]);
        }
    }

    /// Outputs `from..from + 16` of the panel.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2(panel: &[f32], group: &[f32], acc: &mut [[f32; COLS]; ROWS], from: usize) {
        let mut c = [[_mm256_setzero_ps(); 2]; ROWS];
        let (w, x) = (panel.as_ptr().add(from), group.as_ptr());
        for k in 0..panel.len() / COLS {
            let (w0, w1) = (_mm256_loadu_ps(w.add(k * COLS)), _mm256_loadu_ps(w.add(k * COLS + 8)));
            for (i, ci) in c.iter_mut().enumerate() {
                let xv = _mm256_broadcast_ss(&*x.add(k * ROWS + i));
                ci[0] = _mm256_fmadd_ps(xv, w0, ci[0]);
                ci[1] = _mm256_fmadd_ps(xv, w1, ci[1]);
            }
        }
        for (a, ci) in acc.iter_mut().zip(&c) {
            _mm256_storeu_ps(a.as_mut_ptr().add(from), ci[0]);
            _mm256_storeu_ps(a.as_mut_ptr().add(from + 8), ci[1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel this CPU can run, and none (ndarray's product).
    fn kernels() -> Vec<Option<Kernel>> {
        let mut out: Vec<Option<Kernel>> = vec![None];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                out.push(Some(simd::kernel_avx512));
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                out.push(Some(simd::kernel_avx2));
            }
        }
        out
    }

    fn filled(r: usize, c: usize, seed: usize) -> Array2<f32> {
        Array2::from_shape_fn((r, c), |(i, j)| (((i * 31 + j * 17 + seed * 7) % 23) as f32 - 11.0) / 11.0)
    }

    /// Any shape, padded panels and token groups included, gives what `dot` gives.
    #[test]
    fn packed_product_is_the_plain_one() {
        for (tokens, inputs, outputs) in [(1, 8, 8), (5, 8, 24), (6, 16, 16), (7, 12, 40), (15, 384, 1152), (13, 64, 17)] {
            let (x, w, b) = (filled(tokens, inputs, 1), filled(inputs, outputs, 2), filled(1, outputs, 3).row(0).to_owned());
            let want = x.dot(&w) + &b;
            for kernel in kernels() {
                let got = PackedLinear::with_kernel(&w, b.clone(), kernel).apply(x.view());
                assert_eq!(got.dim(), want.dim());
                let worst = (&got - &want).mapv(f32::abs).fold(0f32, |m, &v| m.max(v));
                assert!(worst < 1e-3, "{tokens}x{inputs}x{outputs}: off by {worst}");
            }
        }
    }

    /// A column view (not contiguous) is read as its values.
    #[test]
    fn strided_input_is_read_by_value() {
        let (x, w) = (filled(9, 20, 4), filled(10, 16, 5));
        let view = x.slice(ndarray::s![.., 5..15]);
        for kernel in kernels() {
            let got = PackedLinear::with_kernel(&w, Array1::zeros(16), kernel).apply(view);
            let worst = (&got - &view.dot(&w)).mapv(f32::abs).fold(0f32, |m, &v| m.max(v));
            assert!(worst < 1e-4, "off by {worst}");
        }
    }
}
