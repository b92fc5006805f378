//! Which examples go into which batch: the seeded micro-batches of a training epoch, optionally
//! grouped by length, and length-sorted batches for inference. A batch is padded to its longest
//! example, so putting examples of similar length together saves the work spent on padding
//! (on the SQuAD windows of the headline experiment, a third of the tokens).

use crate::model::RandomInit;

/// Examples sorted together when grouping by length: this many batches' worth (as transformers'
/// `LengthGroupedSampler`), so that batches stay random mixes of the data beyond their length.
pub const GROUP_BATCHES: usize = 50;

/// A seeded shuffle of `0..n` (Fisher-Yates).
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = RandomInit::new(seed, 1.0);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// A seed derived from a run's seed and two counters (epoch, micro-batch, purpose).
pub fn mix(seed: u64, a: u64, b: u64) -> u64 {
    crate::hashing::stable_hash(&[seed, a, b])
}

/// The micro-batches of epoch `epoch`, as example indices, `ceil(n / batch_size)` of them.
///
/// Without grouping: a seeded permutation cut into consecutive batches. With grouping: the same
/// permutation cut into groups of [`GROUP_BATCHES`] batches, each group sorted by length (longest
/// first) and cut into batches, and then the order of all the batches shuffled, so that long and
/// short batches alternate through the epoch instead of following the groups' sort.
pub fn epoch_batches(lengths: &[usize], batch_size: usize, seed: u64, epoch: usize, group_by_length: bool) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let order = permutation(lengths.len(), mix(seed, epoch as u64, 0));
    if !group_by_length {
        return order.chunks(batch_size).map(<[usize]>::to_vec).collect();
    }
    let mut batches: Vec<Vec<usize>> = Vec::with_capacity(lengths.len().div_ceil(batch_size));
    for group in order.chunks(batch_size * GROUP_BATCHES) {
        let mut group = group.to_vec();
        // Stable, so equal lengths keep their shuffled order.
        group.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
        batches.extend(group.chunks(batch_size).map(<[usize]>::to_vec));
    }
    let shuffle = permutation(batches.len(), mix(seed, epoch as u64, 2));
    let mut slots: Vec<Option<Vec<usize>>> = batches.into_iter().map(Some).collect();
    shuffle.into_iter().map(|i| slots[i].take().expect("a permutation names each batch once")).collect()
}

/// Inference batches: indices sorted by length, cut into batches of `batch_size`. The outputs
/// do not depend on the company an example keeps (padding is masked), only the time does.
pub fn length_sorted_batches(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
}

/// The tokens a batching computes on: each batch padded to its longest example.
pub fn padded_tokens(lengths: &[usize], batches: &[Vec<usize>]) -> usize {
    batches.iter().map(|b| b.len() * b.iter().map(|&i| lengths[i]).max().unwrap_or(0)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lengths(n: usize, seed: u64) -> Vec<usize> {
        let mut rng = RandomInit::new(seed, 1.0);
        (0..n).map(|_| 20 + (rng.next_u64() % 237) as usize).collect()
    }

    fn sorted_union(batches: &[Vec<usize>]) -> Vec<usize> {
        let mut all: Vec<usize> = batches.iter().flatten().copied().collect();
        all.sort();
        all
    }

    #[test]
    fn without_grouping_an_epoch_is_the_permutation_cut_in_order() {
        let lens = lengths(103, 1);
        let batches = epoch_batches(&lens, 16, 7, 3, false);
        let order = permutation(103, mix(7, 3, 0));
        assert_eq!(batches.concat(), order);
        assert_eq!(batches.len(), 7);
        assert!(batches[..6].iter().all(|b| b.len() == 16));
        assert_eq!(batches[6].len(), 103 - 96);
    }

    #[test]
    fn grouped_batches_hold_every_example_once_and_pad_less() {
        let n = 3_000;
        let lens = lengths(n, 2);
        let plain = epoch_batches(&lens, 16, 7, 0, false);
        let grouped = epoch_batches(&lens, 16, 7, 0, true);
        assert_eq!(sorted_union(&grouped), (0..n).collect::<Vec<_>>());
        assert_eq!(grouped.len(), plain.len());
        // Only the very last group can leave a short batch.
        assert_eq!(grouped.iter().filter(|b| b.len() < 16).count(), usize::from(!n.is_multiple_of(16)));
        let (p, g) = (padded_tokens(&lens, &plain), padded_tokens(&lens, &grouped));
        assert!((g as f64) < 0.75 * p as f64, "grouped {g} padded tokens against {p}");
        // Each batch comes from one group of the permutation.
        let order = permutation(n, mix(7, 0, 0));
        let group_of: Vec<usize> = {
            let mut g = vec![0; n];
            order.iter().enumerate().for_each(|(pos, &i)| g[i] = pos / (16 * GROUP_BATCHES));
            g
        };
        assert!(grouped.iter().all(|b| b.iter().all(|&i| group_of[i] == group_of[b[0]])));
    }

    #[test]
    fn grouped_batches_are_seeded_and_their_order_is_shuffled() {
        let lens = lengths(2_000, 3);
        assert_eq!(epoch_batches(&lens, 8, 5, 1, true), epoch_batches(&lens, 8, 5, 1, true));
        assert_ne!(epoch_batches(&lens, 8, 5, 1, true), epoch_batches(&lens, 8, 5, 2, true));
        assert_ne!(epoch_batches(&lens, 8, 5, 1, true), epoch_batches(&lens, 8, 6, 1, true));
        // The first group's 50 batches do not come first, longest to shortest.
        let batches = epoch_batches(&lens, 8, 5, 1, true);
        let maxima: Vec<usize> = batches.iter().take(GROUP_BATCHES).map(|b| b.iter().map(|&i| lens[i]).max().unwrap()).collect();
        assert!(maxima.windows(2).any(|w| w[0] < w[1]), "batch order follows the sort: {maxima:?}");
    }

    #[test]
    fn inference_batches_are_sorted_by_length_and_cover_everything() {
        let lens = lengths(100, 4);
        let batches = length_sorted_batches(&lens, 32);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![32, 32, 32, 4]);
        assert_eq!(sorted_union(&batches), (0..100).collect::<Vec<_>>());
        let flat: Vec<usize> = batches.concat().into_iter().map(|i| lens[i]).collect();
        assert!(flat.windows(2).all(|w| w[0] <= w[1]));
        assert!(padded_tokens(&lens, &batches) < padded_tokens(&lens, &(0..100).collect::<Vec<_>>().chunks(32).map(<[usize]>::to_vec).collect::<Vec<_>>()));
    }
}
