//! Regression metrics: Pearson and Spearman correlation and mean squared error, as scipy's
//! `pearsonr` and `spearmanr` (ranks of ties averaged) compute them.

/// Pearson's correlation of `x` and `y`; 0 where either is constant (scipy gives NaN there).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "paired samples");
    let n = x.len() as f64;
    if x.is_empty() {
        return 0.0;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 { 0.0 } else { (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0) }
}

/// Ranks from 1, ties sharing the mean of the ranks they span.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && x[order[j]] == x[order[i]] {
            j += 1;
        }
        let rank = (i + j + 1) as f64 / 2.0;
        order[i..j].iter().for_each(|&k| ranks[k] = rank);
        i = j;
    }
    ranks
}

/// Spearman's rank correlation: Pearson's of the average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&average_ranks(x), &average_ranks(y))
}

pub fn mean_squared_error(predicted: &[f64], gold: &[f64]) -> f64 {
    assert_eq!(predicted.len(), gold.len(), "paired samples");
    if gold.is_empty() {
        return 0.0;
    }
    predicted.iter().zip(gold).map(|(p, g)| (p - g) * (p - g)).sum::<f64>() / gold.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_their_average_rank() {
        assert_eq!(average_ranks(&[3.0, 1.0, 3.0, 2.0, 3.0]), vec![4.0, 1.0, 4.0, 2.0, 4.0]);
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]) - 0.997949).abs() < 1e-6);
        assert!((spearman(&[1.0, 2.0, 3.0], &[1.0, 5.0, 9.0]) - 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
    }
}
