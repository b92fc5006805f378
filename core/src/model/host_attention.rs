//! Self-attention on host memory for the CPU backend, outside autodiff (inference, a teacher's
//! forward pass). burn-flex's fused attention is a naive loop with scalar `exp`, and splitting
//! the projections into heads and merging them back costs two transposing copies per layer:
//! together 45 % of a MiniLM forward pass at batch 1 x 384 (perf, AMD EPYC family 25). Here each
//! (sequence, head) reads its queries, keys and values in place from the `[batch, seq, width]`
//! projections (a head is a strided view), multiplies with the `gemm` crate burn-flex uses, and
//! normalises rows with a vectorised `exp`; the heads run in parallel.

use rayon::prelude::*;

/// `exp(x)` for `x <= 0` to within 2.5e-7 relative error, in operations that vectorise:
/// `2^n e^r` with `n` the nearest integer to `x log2(e)` (taken from a float's bits), `r = x - n
/// ln 2` in two parts (Cody and Waite) and `e^r` a degree-7 Taylor polynomial on `|r| <= ln(2)/2`.
/// Below -87.3 the result is about 1e-38 instead of 0.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer in the low bits
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.max(-87.3);
    let shifted = x * std::f32::consts::LOG2_E + MAGIC;
    let n = shifted - MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.984_127e-4_f32;
    p = p * r + 1.388_888_9e-3;
    p = p * r + 8.333_334e-3;
    p = p * r + 4.166_666_8e-2;
    p = p * r + 0.166_666_67;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // The low bits of `shifted` hold n + 0x40_0000; 2^n has exponent bits n + 127.
    let exponent = shifted.to_bits().wrapping_sub(0x4B40_0000).wrapping_add(127) << 23;
    p * f32::from_bits(exponent)
}

/// Lanes of the accumulators below: sums and maxima kept per lane so that they vectorise
/// (a single accumulator is a chain the compiler may not reorder).
const LANES: usize = 16;

/// The largest `row[i] + bias[i]`, `-inf` when every key is masked.
#[inline(always)]
fn row_max(row: &[f32], bias: &[f32]) -> f32 {
    let split = row.len() - row.len() % LANES;
    let mut lanes = [f32::NEG_INFINITY; LANES];
    for (r, b) in row[..split].chunks_exact(LANES).zip(bias.chunks_exact(LANES)) {
        for i in 0..LANES {
            lanes[i] = lanes[i].max(r[i] + b[i]);
        }
    }
    let tail_max = row[split..].iter().zip(&bias[split..]).fold(f32::NEG_INFINITY, |m, (r, b)| m.max(r + b));
    lanes.iter().fold(tail_max, |m, &x| m.max(x))
}

/// [`row_max`] in AVX-512 instructions written out. Compiled for AVX-512 from the loop above,
/// LLVM vectorised it across chunks with gather instructions, which Intel processors run slowly
/// under the Gather Data Sampling mitigation: the softmax took 23 % of a MiniLM forward pass at
/// 16 x 256 on a Xeon family 6 model 106, and 5 % with this. A maximum does not depend on the
/// order it is taken in, so the result is the same to the bit.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn row_max_avx512(row: &[f32], bias: &[f32]) -> f32 {
    use std::arch::x86_64::{_mm512_add_ps, _mm512_loadu_ps, _mm512_max_ps, _mm512_reduce_max_ps, _mm512_set1_ps};
    assert!(bias.len() >= row.len());
    let split = row.len() - row.len() % LANES;
    let mut lanes = _mm512_set1_ps(f32::NEG_INFINITY);
    for start in (0..split).step_by(LANES) {
        // SAFETY: `start + 16 <= split <= row.len() <= bias.len()`.
        let sum = unsafe { _mm512_add_ps(_mm512_loadu_ps(row.as_ptr().add(start)), _mm512_loadu_ps(bias.as_ptr().add(start))) };
        lanes = _mm512_max_ps(lanes, sum);
    }
    let tail_max = row[split..].iter().zip(&bias[split..]).fold(f32::NEG_INFINITY, |m, (r, b)| m.max(r + b));
    tail_max.max(_mm512_reduce_max_ps(lanes))
}

/// One row of scores to probabilities in place, given its [`row_max`]. `bias` is 0 at kept keys
/// and -inf at padded ones, `mask` 1 and 0: padded keys get exactly 0.
#[inline(always)]
fn softmax_row(row: &mut [f32], bias: &[f32], mask: &[f32], max: f32) {
    if max == f32::NEG_INFINITY {
        // Every key masked (never in a batch: its first token is real): zeros rather than NaN.
        row.fill(0.0);
        return;
    }
    let split = row.len() - row.len() % LANES;
    let mut sums = [0.0f32; LANES];
    for ((r, b), m) in row[..split].chunks_exact_mut(LANES).zip(bias.chunks_exact(LANES)).zip(mask.chunks_exact(LANES)) {
        for i in 0..LANES {
            let e = exp_nonpositive(r[i] + b[i] - max) * m[i];
            r[i] = e;
            sums[i] += e;
        }
    }
    let mut sum: f32 = sums.iter().sum();
    for ((r, b), m) in row[split..].iter_mut().zip(&bias[split..]).zip(&mask[split..]) {
        *r = exp_nonpositive(*r + b - max) * m;
        sum += *r;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|x| *x *= inv);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
fn softmax_rows_avx512(scores: &mut [f32], seq: usize, bias: &[f32], mask: &[f32]) {
    scores.chunks_exact_mut(seq).for_each(|row| softmax_row(row, bias, mask, row_max_avx512(row, bias)));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn softmax_rows_avx2(scores: &mut [f32], seq: usize, bias: &[f32], mask: &[f32]) {
    scores.chunks_exact_mut(seq).for_each(|row| softmax_row(row, bias, mask, row_max(row, bias)));
}

/// Every row of `scores` (`seq` wide) to probabilities, keys where `keep` is false excluded,
/// in the widest vectors the processor has.
fn softmax_rows(scores: &mut [f32], seq: usize, keep: &[bool]) {
    let bias: Vec<f32> = keep.iter().map(|&k| if k { 0.0 } else { f32::NEG_INFINITY }).collect();
    let mask: Vec<f32> = keep.iter().map(|&k| if k { 1.0 } else { 0.0 }).collect();
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq") {
            // SAFETY: the features the function is compiled for were detected.
            return unsafe { softmax_rows_avx512(scores, seq, &bias, &mask) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { softmax_rows_avx2(scores, seq, &bias, &mask) };
        }
    }
    scores.chunks_exact_mut(seq).for_each(|row| softmax_row(row, &bias, &mask, row_max(row, &bias)));
}

/// The keys a `[batch, 1, .., seq]` additive attention mask keeps: its 0 entries, not the large
/// negative number (`f32::MIN`) it holds at padding.
pub fn kept_keys<const D: usize>(mask_bias: burn::tensor::Tensor<D>) -> Vec<bool> {
    crate::model::to_host(mask_bias).1.iter().map(|&b| b > -1e30).collect()
}

/// Masked softmax of `[batch, rows, seq]` scores in place, over the last axis: key `j` of batch
/// item `b` is excluded where `keep[b * seq + j]` is false. Rows are spread over the threads.
pub fn masked_softmax(scores: &mut [f32], keep: &[bool], seq: usize) {
    let batch = keep.len() / seq.max(1);
    assert!(keep.len() == batch * seq && scores.len().is_multiple_of(batch * seq), "masked_softmax: scores of {} values do not fit {batch} x {seq} keys", scores.len());
    let rows_per_item = scores.len() / (batch * seq);
    // Blocks of at most 64 rows, never across two batch items.
    let rows_per_block = rows_per_item.min(64);
    let blocks_per_item = rows_per_item.div_ceil(rows_per_block);
    let mut blocks: Vec<(usize, &mut [f32])> = Vec::with_capacity(batch * blocks_per_item);
    for (b, item) in scores.chunks_mut(rows_per_item * seq).enumerate() {
        blocks.extend(item.chunks_mut(rows_per_block * seq).map(|block| (b, block)));
    }
    blocks.into_par_iter().for_each(|(b, block)| softmax_rows(block, seq, &keep[b * seq..(b + 1) * seq]));
}

/// `dst (m x n) = alpha * lhs (m x k) * rhs (k x n)`, each given by a pointer and its row and
/// column strides, on the calling thread.
///
/// # Safety
/// Every pointer must address the elements its strides and sizes reach; `dst` must not alias.
#[allow(clippy::too_many_arguments)]
unsafe fn matmul(m: usize, n: usize, k: usize, dst: *mut f32, dst_rs: isize, lhs: *const f32, lhs_rs: isize, lhs_cs: isize, rhs: *const f32, rhs_rs: isize, rhs_cs: isize, alpha: f32) {
    // SAFETY: forwarded from the caller.
    unsafe { gemm::gemm(m, n, k, dst, 1, dst_rs, false, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs, 0.0, alpha, false, false, false, gemm::Parallelism::None) }
}

/// The context buffer the attention tasks write their disjoint blocks of.
struct SharedOut(*mut f32);

// SAFETY: each task writes only its own block (see `attention`).
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// # Safety
    /// `offset` must be within the buffer.
    unsafe fn at(&self, offset: usize) -> *mut f32 {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.add(offset) }
    }
}

/// Multi-head attention of `q`, `k`, `v` (`[batch, seq, width]` row-major, heads side by side
/// in `width`), keys whose `keep` entry (`[batch, seq]`) is false excluded; returns the
/// `[batch, seq, width]` context, heads merged.
#[allow(clippy::too_many_arguments)] // three operands, the mask and the four sizes that shape them
pub fn attention(q: &[f32], k: &[f32], v: &[f32], keep: &[bool], batch: usize, seq: usize, width: usize, heads: usize) -> Vec<f32> {
    assert!(q.len() == batch * seq * width && k.len() == q.len() && v.len() == q.len() && keep.len() == batch * seq, "attention: inputs of other sizes than [{batch}, {seq}, {width}]");
    assert!(width.is_multiple_of(heads), "attention: width {width} is not a multiple of {heads} heads");
    let d = width / heads;
    let scale = 1.0 / (d as f32).sqrt();
    let w = width as isize;
    let mut context: Vec<f32> = Vec::with_capacity(batch * seq * width);
    let out = SharedOut(context.spare_capacity_mut().as_mut_ptr().cast::<f32>());
    // Each (sequence, head) writes its [seq, d] context straight into the merged layout: columns
    // h * d .. (h + 1) * d of its sequence's rows, which no other task writes.
    (0..batch * heads).into_par_iter().for_each(|task| {
        let (b, h) = (task / heads, task % heads);
        let offset = b * seq * width + h * d;
        let mut scores = vec![0.0f32; seq * seq];
        // SAFETY: a head is rows `offset + i * width .. + d` for i < seq, inside each slice;
        // `scores` is a fresh buffer of the size written.
        unsafe {
            // scores = scale * Q_h K_h^T: K_h^T's row r is feature r of every key.
            matmul(seq, seq, d, scores.as_mut_ptr(), seq as isize, q.as_ptr().add(offset), w, 1, k.as_ptr().add(offset), 1, w, scale);
        }
        softmax_rows(&mut scores, seq, &keep[b * seq..(b + 1) * seq]);
        // SAFETY: as above for `v`; the destination block is this task's own (see above), inside
        // `context`'s capacity of batch * seq * width.
        unsafe {
            matmul(seq, d, seq, out.at(offset), w, scores.as_ptr(), seq as isize, 1, v.as_ptr().add(offset), w, 1, 1.0);
        }
    });
    // SAFETY: the tasks together wrote every (row, column) of the context: the heads tile `width`.
    unsafe { context.set_len(batch * seq * width) };
    context
}

#[cfg(test)]
mod tests {
    use super::{attention, exp_nonpositive, row_max, softmax_rows};

    #[test]
    fn exp_is_within_two_ulps_over_the_range_softmax_uses() {
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            let x = -87.0 * i as f32 / 200_000.0;
            let (got, want) = (exp_nonpositive(x) as f64, (x as f64).exp());
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst < 2.5e-7, "max relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-1000.0) < 1e-37);
    }

    #[test]
    fn rows_sum_to_one_and_masked_keys_get_nothing() {
        let seq = 37;
        let mut scores: Vec<f32> = (0..3 * seq).map(|i| ((i * 7919) % 101) as f32 / 10.0 - 5.0).collect();
        let keep: Vec<bool> = (0..seq).map(|j| j < 30).collect();
        let want: Vec<f32> = scores.chunks(seq).flat_map(|row| {
            let max = row[..30].iter().cloned().fold(f32::MIN, f32::max);
            let sum: f64 = row[..30].iter().map(|x| ((x - max) as f64).exp()).sum();
            row.iter().enumerate().map(move |(j, x)| if j < 30 { (((x - max) as f64).exp() / sum) as f32 } else { 0.0 }).collect::<Vec<_>>()
        }).collect();
        softmax_rows(&mut scores, seq, &keep);
        for (g, w) in scores.iter().zip(&want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    /// The AVX-512 maximum (where the processor has it) against the portable loop, to the bit:
    /// rows shorter than, equal to and longer than a vector, with and without a tail, masked keys
    /// and a wholly masked row.
    #[test]
    fn row_maxima_agree_across_instruction_sets() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            for len in [1, 5, 16, 17, 37, 64, 384] {
                let row: Vec<f32> = (0..len).map(|i| ((i * 7919) % 211) as f32 / 7.0 - 15.0).collect();
                let bias: Vec<f32> = (0..len).map(|i| if i % 5 == 3 { f32::NEG_INFINITY } else { 0.0 }).collect();
                // SAFETY: AVX-512F was detected above.
                let fast = unsafe { super::row_max_avx512(&row, &bias) };
                assert_eq!(fast.to_bits(), row_max(&row, &bias).to_bits(), "length {len}");
                let all_masked = vec![f32::NEG_INFINITY; len];
                // SAFETY: as above.
                assert_eq!(unsafe { super::row_max_avx512(&row, &all_masked) }, f32::NEG_INFINITY);
            }
            return;
        }
        eprintln!("note: no AVX-512 here; only the portable maximum is checked");
        assert_eq!(row_max(&[1.0, 3.0, 2.0], &[0.0, f32::NEG_INFINITY, 0.0]), 2.0);
    }

    /// Against the textbook computation in f64, with padding in the second sequence.
    #[test]
    fn matches_attention_computed_plainly() {
        let (batch, seq, width, heads) = (2, 9, 12, 3);
        let d = width / heads;
        let values = |salt: usize| -> Vec<f32> { (0..batch * seq * width).map(|i| (((i + salt) * 2654435761usize) % 1000) as f32 / 250.0 - 2.0).collect() };
        let (q, k, v) = (values(1), values(2), values(3));
        let keep: Vec<bool> = (0..batch * seq).map(|i| i < seq || i % seq < 6).collect();
        let got = attention(&q, &k, &v, &keep, batch, seq, width, heads);
        for b in 0..batch {
            for h in 0..heads {
                for i in 0..seq {
                    let at = |x: &[f32], t: usize, c: usize| x[(b * seq + t) * width + h * d + c] as f64;
                    let scores: Vec<f64> = (0..seq).map(|j| (0..d).map(|c| at(&q, i, c) * at(&k, j, c)).sum::<f64>() / (d as f64).sqrt()).collect();
                    let kept: Vec<usize> = (0..seq).filter(|&j| keep[b * seq + j]).collect();
                    let max = kept.iter().map(|&j| scores[j]).fold(f64::MIN, f64::max);
                    let sum: f64 = kept.iter().map(|&j| (scores[j] - max).exp()).sum();
                    for c in 0..d {
                        let want: f64 = kept.iter().map(|&j| (scores[j] - max).exp() / sum * at(&v, j, c)).sum();
                        let g = got[(b * seq + i) * width + h * d + c] as f64;
                        assert!((g - want).abs() < 1e-5, "b{b} h{h} i{i} c{c}: {g} vs {want}");
                    }
                }
            }
        }
    }
}
