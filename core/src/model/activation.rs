//! Activations. erf-GELU on the CPU backend is computed here: burn-flex evaluates erf with
//! scalar libm calls, about 13x slower than the rational approximation below; erf-GELU was 18 %
//! of a MiniLM forward pass, and its backward (erf again, plus exp) 12 % of a training step.

use burn::tensor::activation::{gelu, gelu_approximate, relu, softmax};
use burn::tensor::{FloatDType, Tensor, TensorData};

use super::config::Activation;
use crate::host;

/// erf as a rational function of x on [-4, 4] (odd numerator of degree 13 over even
/// denominator of degree 8; beyond 4, erf is +-1 in f32). Max abs error 4.5e-7 (tested).
#[inline]
pub fn erf_f32(a: f32) -> f32 {
    let x = a.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10_f32 + 2.770_681_4e-8;
    p = x2 * p - 2.101_024e-6;
    p = x2 * p - 5.692_506_4e-5;
    p = x2 * p - 7.349_906_3e-4;
    p = x2 * p - 2.954_6e-3;
    p = x2 * p - 1.609_603_3e-2;
    p *= x;
    let mut q = x2 * -1.456_607_2e-5_f32 - 2.133_740_6e-4;
    q = x2 * q - 1.682_827e-3;
    q = x2 * q - 7.373_329e-3;
    q = x2 * q - 1.426_474e-2;
    p / q
}

/// erf-GELU, `x Phi(x)`: what the host kernels compute for burn's `gelu`.
#[inline]
pub fn gelu_f32(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_f32(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// erf-GELU and its derivative at `x`: `x Phi(x)` and `Phi(x) + x phi(x)`.
#[inline]
fn gelu_and_slope(x: f32) -> (f32, f32) {
    let cdf = 0.5 * (1.0 + erf_f32(x * std::f32::consts::FRAC_1_SQRT_2));
    let pdf = (-0.5 * x * x).exp() * (0.5 * std::f32::consts::FRAC_2_SQRT_PI * std::f32::consts::FRAC_1_SQRT_2);
    (x * cdf, cdf + x * pdf)
}

/// erf-GELU of a CPU tensor outside autodiff, computed on the host in parallel chunks.
fn gelu_cpu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let dims = x.dims();
    let device = x.device();
    let mut values = crate::model::to_host(x).1;
    host::zip_chunks_mut([&mut values], 4096, |[part]| {
        for v in part {
            *v = gelu_f32(*v);
        }
    });
    Tensor::from_data(TensorData::new(values, dims), &device)
}

/// erf-GELU of a CPU tensor under autodiff, with its gradient. The value `y` and the slope `s`
/// are computed on the host; the result is `(x * s - c) + y` with `c = x * s` computed by the
/// same IEEE multiplication, so the bracket is exactly zero and the value is `y`, while the only
/// recorded operation with a gradient is `x * s`: backward is one multiplication instead of
/// burn's erf-and-exp derivative.
fn gelu_cpu_autodiff<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let dims = x.dims();
    let inner = x.clone().inner();
    let device = inner.device();
    let mut value = crate::model::to_host(inner).1;
    let mut slope = vec![0.0; value.len()];
    let mut product = vec![0.0; value.len()];
    host::zip_chunks_mut([&mut value, &mut slope, &mut product], 4096, |[value, slope, product]| {
        for i in 0..value.len() {
            let x = value[i];
            let (y, s) = gelu_and_slope(x);
            (value[i], slope[i], product[i]) = (y, s, x * s);
        }
    });
    let constant = |v: Vec<f32>| Tensor::from_inner(Tensor::<D>::from_data(TensorData::new(v, dims), &device));
    (x * constant(slope) - constant(product)) + constant(value)
}

/// `softmax(x + bias)` over the last dimension, `bias` broadcast (the additive attention mask).
///
/// On the CPU the value is computed on the host (`softmax_on_host`: vectorised exp, rows in
/// parallel) where burn-flex would call scalar libm exp. Under autodiff burn would also
/// decompose softmax into element-wise operations on one thread (11 % of a fine-tuning step at
/// 256 tokens); here the gradient comes from `f(x) = x*y - y * sum(x*y)`, whose
/// vector-Jacobian product is softmax's own, `y * (g - sum(g*y))`, added as `f - detach(f)`:
/// exactly zero in value.
pub(crate) fn masked_softmax<const D: usize>(x: Tensor<D>, bias: Tensor<D>) -> Tensor<D> {
    let dim = D - 1;
    if !host::f32_on_cpu(&x) {
        // The mask is made in f32; a half-precision pass adds it in its own type.
        let bias = bias.cast(FloatDType::from(x.dtype()));
        return softmax(x + bias, dim);
    }
    let bias = if bias.is_autodiff() { bias.inner() } else { bias };
    if !x.is_autodiff() {
        return softmax_on_host(x, bias);
    }
    let y = Tensor::from_inner(softmax_on_host(x.clone().inner(), bias));
    let weighted = x * y.clone();
    let f = weighted.clone() - y.clone() * weighted.sum_dim(dim);
    (f.clone() - f.detach()) + y
}

/// `softmax(x + bias)` over the last axis on host memory, for a `bias` of 0 at tokens and a
/// large negative number at padded keys, one row of keys per batch item (`[batch, 1, .., seq]`):
/// padded keys get exactly 0, as transformers' `f32::MIN` bias gives them after its exp
/// underflows. burn-flex's softmax calls scalar libm `exp`; this one is vectorised.
fn softmax_on_host<const D: usize>(x: Tensor<D>, bias: Tensor<D>) -> Tensor<D> {
    let dims = x.dims();
    let (batch, seq) = (dims[0], dims[D - 1]);
    let bias_dims = bias.dims();
    if bias_dims[0] != batch || bias_dims[D - 1] != seq || bias_dims[1..D - 1].iter().any(|&n| n != 1) {
        return softmax(x + bias, D - 1);
    }
    let device = x.device();
    let keep = super::host_attention::kept_keys(bias);
    let mut values = crate::model::to_host(x).1;
    super::host_attention::masked_softmax(&mut values, &keep, seq);
    Tensor::from_data(TensorData::new(values, dims), &device)
}

pub(crate) fn activate<const D: usize>(activation: Activation, x: Tensor<D>) -> Tensor<D> {
    match activation {
        Activation::Gelu if host::f32_on_cpu(&x) => {
            if x.is_autodiff() {
                gelu_cpu_autodiff(x)
            } else {
                gelu_cpu(x)
            }
        }
        Activation::Gelu => gelu(x),
        Activation::GeluTanh => gelu_approximate(x),
        Activation::Relu => relu(x),
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::activation::gelu;
    use burn::tensor::{Device, Tensor, TensorData};

    #[test]
    fn masked_softmax_under_autodiff_matches_burns_value_and_gradient() {
        let device = Device::flex().autodiff();
        let values: Vec<f32> = (0..2 * 3 * 5 * 7).map(|i| ((i * 29) % 23) as f32 / 4.0 - 2.5).collect();
        let weights: Vec<f32> = (0..2 * 3 * 5 * 7).map(|i| ((i * 13) % 17) as f32 / 8.0 - 1.0).collect();
        // The second sequence has its last two positions masked out.
        let mut bias = vec![0.0f32; 2 * 7];
        bias[12] = f32::MIN;
        bias[13] = f32::MIN;
        let bias = Tensor::<4>::from_data(TensorData::new(bias, [2, 1, 1, 7]), &device);
        let w = Tensor::<4>::from_data(TensorData::new(weights, [2, 3, 5, 7]), &device);
        let run = |fast: bool| {
            let x = Tensor::<4>::from_data(TensorData::new(values.clone(), [2, 3, 5, 7]), &device).require_grad();
            let y = if fast { super::masked_softmax(x.clone(), bias.clone()) } else { burn::tensor::activation::softmax(x.clone() + bias.clone(), 3) };
            let grads = (y.clone() * w.clone()).sum().backward();
            let dx = x.grad(&grads).expect("gradient");
            (crate::model::to_host(y.inner()).1, crate::model::to_host(dx).1)
        };
        let (y_fast, dx_fast) = run(true);
        let (y_burn, dx_burn) = run(false);
        assert!(y_fast.iter().skip(2 * 3 * 5 * 7 / 2).step_by(7).all(|&p| p > 0.0));
        for (a, b) in y_fast.iter().zip(&y_burn).chain(dx_fast.iter().zip(&dx_burn)) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert!(dx_fast.iter().any(|g| g.abs() > 1e-3));
    }

    #[test]
    fn masked_softmax_outside_autodiff_matches_burns() {
        let device = Device::flex();
        let values: Vec<f32> = (0..2 * 3 * 5 * 70).map(|i| ((i * 29) % 23) as f32 / 4.0 - 2.5).collect();
        let mut bias = vec![0.0f32; 2 * 70];
        bias[100..].iter_mut().for_each(|b| *b = f32::MIN);
        let bias = Tensor::<4>::from_data(TensorData::new(bias, [2, 1, 1, 70]), &device);
        let x = Tensor::<4>::from_data(TensorData::new(values, [2, 3, 5, 70]), &device);
        let fast = crate::model::to_host(super::masked_softmax(x.clone(), bias.clone())).1;
        let burn = crate::model::to_host(burn::tensor::activation::softmax(x + bias, 3)).1;
        for (a, b) in fast.iter().zip(&burn) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn host_gelu_under_autodiff_matches_burns_value_and_gradient() {
        let device = Device::flex().autodiff();
        let values: Vec<f32> = (0..20_000).map(|i| (i as f32 - 10_000.0) / 1_500.0).collect();
        let weights: Vec<f32> = (0..20_000).map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0).collect();
        let w = Tensor::<2>::from_data(TensorData::new(weights, [100, 200]), &device);
        let run = |fast: bool| {
            let x = Tensor::<2>::from_data(TensorData::new(values.clone(), [100, 200]), &device).require_grad();
            let y = if fast { super::gelu_cpu_autodiff(x.clone()) } else { gelu(x.clone()) };
            let grads = (y.clone() * w.clone()).sum().backward();
            let dx = x.grad(&grads).expect("gradient");
            (crate::model::to_host(y.inner()).1, crate::model::to_host(dx).1)
        };
        let (y_fast, dx_fast) = run(true);
        let (y_burn, dx_burn) = run(false);
        for (a, b) in y_fast.iter().zip(&y_burn).chain(dx_fast.iter().zip(&dx_burn)) {
            assert!((a - b).abs() < 2e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn erf_is_accurate() {
        // Reference values of erf from tables (to 10 digits).
        for (x, want) in [(0.0, 0.0), (0.1, 0.1124629160), (0.5, 0.5204998778), (1.0, 0.8427007929), (1.5, 0.9661051465), (2.0, 0.9953222650), (3.0, 0.9999779095), (5.0, 1.0)] {
            for sign in [1.0f32, -1.0] {
                let got = super::erf_f32(sign * x as f32) as f64;
                assert!((got - sign as f64 * want).abs() < 5e-7, "erf({}) = {got}", sign * x as f32);
            }
        }
    }
}
