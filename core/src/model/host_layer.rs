//! An encoder layer's inference pass on host memory: the CPU backend, f32, outside autodiff,
//! without attention maps (teachers' logits, evaluation, prediction, `bench`).
//!
//! Through burn's operations each linear layer was a matmul into a zero-filled output, then the
//! bias and the residual added by two more passes on the calling thread, and the projections
//! copied out for the host attention and the GELU: on an Intel Xeon those single-threaded passes
//! were a quarter of a MiniLM forward pass at 16 x 256. Here the tensors are read in place from
//! the backend, each output starts as bias plus residual (written in parallel, no zero fill) and
//! the matrix product accumulates onto it, and GELU runs in place: the only passes left outside
//! the products are the layer norms (burn-flex's own kernel, rows in parallel).

use std::mem::MaybeUninit;

use burn::backend::flex::{Flex, FlexTensor};
use burn::nn::{LayerNorm, Linear};
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use super::activation::gelu_f32;
use super::config::Activation;
use super::encoder::EncoderLayer;

/// Rows of an output written by one parallel task.
const ROWS_PER_TASK: usize = 16;

/// A CPU tensor's primitive, contiguous from offset 0 (copied only where it is not).
fn flex<const D: usize>(t: Tensor<D>) -> FlexTensor {
    let t = t.try_into_primitive::<Flex>().unwrap_or_else(|e| panic!("host layer: not a CPU tensor: {e:?}"));
    if t.is_contiguous() && t.layout().start_offset() == 0 { t } else { t.to_contiguous() }
}

fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("host layer: a contiguous f32 tensor")
}

/// `x W + b (+ residual)` for the `rows` rows of `x`: the output starts as `b + residual` and
/// the product accumulates onto it.
fn linear(layer: &Linear, x: &[f32], rows: usize, residual: Option<&[f32]>) -> Vec<f32> {
    let weight = flex(layer.weight.val());
    let (k, n) = (weight.layout().shape()[0], weight.layout().shape()[1]);
    assert_eq!(x.len(), rows * k, "host layer: input of {} values for {rows} rows of {k}", x.len());
    let bias = layer.bias.as_ref().map(|b| flex(b.val()));
    let bias = bias.as_ref().map(values);
    let mut out: Vec<f32> = Vec::with_capacity(rows * n);
    out.spare_capacity_mut().par_chunks_mut(ROWS_PER_TASK * n).enumerate().for_each(|(task, chunk)| {
        for (r, row) in chunk.chunks_mut(n).enumerate() {
            let at = (task * ROWS_PER_TASK + r) * n;
            init_row(row, bias, residual.map(|res| &res[at..at + n]));
        }
    });
    // SAFETY: every element was written above.
    unsafe { out.set_len(rows * n) };
    let parallelism = if rows * n * k >= 1 << 18 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    // SAFETY: `x` is rows x k, the weight k x n and `out` rows x n, all row-major and contiguous;
    // `out` is a fresh buffer.
    unsafe {
        gemm::gemm(rows, n, k, out.as_mut_ptr(), 1, n as isize, true, x.as_ptr(), 1, k as isize, values(&weight).as_ptr(), 1, n as isize, 1.0, 1.0, false, false, false, parallelism);
    }
    out
}

fn init_row(row: &mut [MaybeUninit<f32>], bias: Option<&[f32]>, residual: Option<&[f32]>) {
    match (bias, residual) {
        (Some(b), Some(r)) => row.iter_mut().zip(b.iter().zip(r)).for_each(|(o, (b, r))| _ = o.write(b + r)),
        (Some(v), None) | (None, Some(v)) => row.iter_mut().zip(v).for_each(|(o, v)| _ = o.write(*v)),
        (None, None) => row.iter_mut().for_each(|o| _ = o.write(0.0)),
    }
}

/// The element-wise activation function this module applies in place; `None` for one it does
/// not compute (those layers take the fused path).
fn in_place(activation: Activation) -> Option<fn(&mut f32)> {
    match activation {
        Activation::Gelu => Some(|v| *v = gelu_f32(*v)),
        Activation::Relu => Some(|v| *v = v.max(0.0)),
        Activation::GeluTanh => None,
    }
}

fn layer_norm(norm: &LayerNorm, values: Vec<f32>, rows: usize, eps: f64) -> FlexTensor {
    let width = values.len() / rows.max(1);
    let input = flex(Tensor::<2>::from_data(TensorData::new(values, [rows, width]), &burn::tensor::Device::flex()));
    let beta = norm.beta.as_ref().map(|b| flex(b.val()));
    burn::backend::flex::ops::activation::layer_norm(input, flex(norm.gamma.val()), beta, eps)
}

/// Whether [`forward`] computes `layer`: f32 on the CPU backend, outside autodiff, with an
/// activation this module has.
pub(crate) fn serves(layer: &EncoderLayer, hidden: &Tensor<3>) -> bool {
    crate::host::f32_on_cpu(hidden) && !hidden.is_autodiff() && in_place(layer.activation).is_some()
}

/// The layer's output for `hidden` (`[batch, seq, width]`), keys excluded where `keep`
/// (`[batch, seq]`) is false; the layer norms' epsilon is `eps`. Only where [`serves`] holds.
pub(crate) fn forward(layer: &EncoderLayer, hidden: Tensor<3>, keep: &[bool], eps: f64) -> Tensor<3> {
    let [batch, seq, width] = hidden.dims();
    let rows = batch * seq;
    let hidden = flex(hidden);
    let x = values(&hidden);
    let a = &layer.attention;
    let (q, k, v) = (linear(&a.query, x, rows, None), linear(&a.key, x, rows, None), linear(&a.value, x, rows, None));
    let context = super::host_attention::attention(&q, &k, &v, keep, batch, seq, width, a.num_heads);
    drop((q, k, v));
    let attended = layer_norm(&a.layer_norm, linear(&a.output, &context, rows, Some(x)), rows, eps);
    let attended_values = values(&attended);
    let mut inner = linear(&layer.ffn_in, attended_values, rows, None);
    let activate = in_place(layer.activation).expect("host layer: an activation `serves` accepts");
    inner.par_chunks_mut(1 << 14).for_each(|chunk| chunk.iter_mut().for_each(activate));
    let out = layer_norm(&layer.ffn_layer_norm, linear(&layer.ffn_out, &inner, rows, Some(attended_values)), rows, eps);
    Tensor::<2>::from_primitive::<Flex>(out).reshape([batch, seq, width])
}
