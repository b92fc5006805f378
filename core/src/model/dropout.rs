//! Dropout. On the CPU backend the mask is drawn on the host: burn-flex draws every element
//! from a ChaCha generator through a Bernoulli float tensor and then multiplies twice, which was
//! 9 % of a training step. Here burn's generator (seeded by the trainer per micro-batch, so a
//! resumed run draws the same masks) gives one seed per call, a SplitMix64 stream per block of
//! elements expands it, and the input is multiplied once by a mask of 0 and 1/(1-p).

use burn::nn::Dropout;
use burn::tensor::{Device, Distribution, FloatDType, Tensor, TensorData};

use crate::host;

/// Elements per independent random stream: the mask does not depend on the thread count.
const BLOCK: usize = 4096;

pub(crate) fn dropout<const D: usize>(layer: &Dropout, x: Tensor<D>) -> Tensor<D> {
    let on_cpu_training = layer.prob > 0.0 && layer.training.is_enabled() && x.is_autodiff() && host::on_cpu(&x);
    if !on_cpu_training {
        return layer.forward(x);
    }
    let dims = x.dims();
    let device = Device::flex();
    let draws = crate::model::to_host(Tensor::<1>::random([2], Distribution::Default, &device)).1;
    let seed = (u64::from(draws[0].to_bits()) << 32) | u64::from(draws[1].to_bits());
    let mask = dropout_mask(dims.iter().product(), layer.prob, seed);
    // The same mask whatever the precision: drawn in f32, cast to a half-precision input's type.
    let mask = Tensor::<D>::from_data(TensorData::new(mask, dims), &device).cast(FloatDType::from(x.dtype()));
    x * Tensor::from_inner(mask)
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `n` values, each 1/(1-p) with probability 1-p and 0 otherwise.
fn dropout_mask(n: usize, prob: f64, seed: u64) -> Vec<f32> {
    let keep = 1.0 - prob;
    let scale = (1.0 / keep) as f32;
    // Compare 32 random bits against keep * 2^32.
    let threshold = (keep * 4_294_967_296.0).min(u32::MAX as f64) as u32;
    let mut mask = vec![0.0f32; n];
    host::for_each_block_mut(&mut mask, BLOCK, |index, block| {
        let mut state = seed ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
        for pair in block.chunks_mut(2) {
            let r = splitmix64(&mut state);
            for (i, m) in pair.iter_mut().enumerate() {
                let bits = (r >> (32 * i)) as u32;
                *m = if bits < threshold { scale } else { 0.0 };
            }
        }
    });
    mask
}

#[cfg(test)]
mod tests {
    use super::dropout_mask;

    #[test]
    fn mask_keeps_the_expected_share_and_scales() {
        let mask = dropout_mask(1_000_003, 0.1, 42);
        let kept = mask.iter().filter(|&&m| m != 0.0).count() as f64 / mask.len() as f64;
        assert!((kept - 0.9).abs() < 0.002, "kept {kept}");
        assert!(mask.iter().all(|&m| m == 0.0 || (m - 1.0 / 0.9).abs() < 1e-6));
        assert_eq!(mask, dropout_mask(1_000_003, 0.1, 42));
        assert_ne!(mask, dropout_mask(1_000_003, 0.1, 43));
    }
}
