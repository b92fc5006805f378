//! Element-wise kernels run on host memory for the CPU backend, where burn-flex would otherwise
//! make one temporary tensor per operation (or call scalar libm): the parallel loops that the
//! fused AdamW update (train/optimizer.rs) and the dropout masks run on.

use burn::tensor::{DType, Device, Tensor};

/// Whether `x` lives on the CPU backend, directly or under autodiff: where the host kernels of
/// this crate replace burn's element-wise operations.
pub fn on_cpu<const D: usize>(x: &Tensor<D>) -> bool {
    let device = if x.is_autodiff() { x.clone().inner().device() } else { x.device() };
    device == Device::flex()
}

/// Whether the host kernels that read and write f32 (attention, softmax, GELU) serve `x`: an f32
/// tensor on the CPU backend. Half-precision tensors (mixed-precision training) take burn's own
/// operations.
pub fn f32_on_cpu<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && on_cpu(x)
}

/// The threads of rayon's pool, which burn-flex's kernels run on too: tasks go to its idle
/// workers instead of new threads competing with them for the cores.
fn cores() -> usize {
    rayon::current_num_threads()
}

/// Runs `f(index, block)` on every `block_len`-element block of `values` (the last may be
/// shorter), blocks spread over the cores in contiguous runs. Block numbering does not depend on
/// the thread count, so per-block random streams give the same result on any machine.
pub fn for_each_block_mut(values: &mut [f32], block_len: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let blocks = values.len().div_ceil(block_len);
    let per_thread = blocks.div_ceil(cores()).max(1);
    if per_thread >= blocks {
        values.chunks_mut(block_len).enumerate().for_each(|(i, b)| f(i, b));
        return;
    }
    rayon::scope(|s| {
        for (t, run) in values.chunks_mut(per_thread * block_len).enumerate() {
            let f = &f;
            s.spawn(move |_| run.chunks_mut(block_len).enumerate().for_each(|(i, b)| f(t * per_thread + i, b)));
        }
    });
}

/// Splits each slice the same way and runs `f` on matching parts in parallel.
pub fn zip_chunks_mut<const N: usize>(slices: [&mut [f32]; N], min_chunk: usize, f: impl Fn([&mut [f32]; N]) + Sync) {
    let len = slices[0].len();
    assert!(slices.iter().all(|s| s.len() == len), "zip_chunks_mut: slices of different lengths");
    let chunk = len.div_ceil(cores()).max(min_chunk).max(1);
    let mut parts: Vec<[&mut [f32]; N]> = Vec::new();
    let mut rest = slices;
    while !rest[0].is_empty() {
        let take = chunk.min(rest[0].len());
        let mut heads = Vec::with_capacity(N);
        let mut tails = Vec::with_capacity(N);
        for s in rest {
            let (head, tail) = s.split_at_mut(take);
            heads.push(head);
            tails.push(tail);
        }
        parts.push(heads.try_into().unwrap_or_else(|_| unreachable!()));
        rest = tails.try_into().unwrap_or_else(|_| unreachable!());
    }
    if parts.len() <= 1 {
        parts.into_iter().for_each(&f);
        return;
    }
    rayon::scope(|s| {
        for part in parts {
            let f = &f;
            s.spawn(move |_| f(part));
        }
    });
}

/// Sum of squares, accumulated in f64 per 1,024-element block so the result does not depend on
/// the number of threads.
pub fn sum_of_squares(values: &[f32]) -> f64 {
    values.chunks(1024).map(|block| block.iter().map(|&x| x * x).sum::<f32>() as f64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_numbered_globally() {
        for len in [0usize, 1, 7, 100_000] {
            let mut values = vec![-1.0f32; len];
            for_each_block_mut(&mut values, 10, |index, block| block.iter_mut().for_each(|v| *v = index as f32));
            assert!(values.iter().enumerate().all(|(i, &v)| v == (i / 10) as f32), "len {len}");
        }
    }

    #[test]
    fn zipped_chunks_line_up() {
        let mut a: Vec<f32> = (0..50_000).map(|i| i as f32).collect();
        let mut b = vec![0.0f32; 50_000];
        zip_chunks_mut([&mut a, &mut b], 1000, |[a, b]| {
            for (x, y) in a.iter().zip(b.iter_mut()) {
                *y = *x * 2.0;
            }
        });
        assert!(b.iter().enumerate().all(|(i, &y)| y == 2.0 * i as f32));
    }
}
