//! Classification metrics: accuracy, macro-averaged F1 over the label set, and Matthews
//! correlation.

/// The index of the highest score (the last of equal ones, as `Iterator::max_by` picks), `None`
/// for no scores: a prediction from a row of logits or probabilities.
pub fn argmax(scores: &[f32]) -> Option<usize> {
    scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i)
}

/// Accuracy and macro-F1 of `predicted` against `gold` label indices, over `num_labels` classes.
/// A class that is neither predicted nor present scores F1 0 but still counts in the average,
/// as scikit-learn's `f1_score(average="macro")` over an explicit label list.
pub fn accuracy_and_macro_f1(predicted: &[usize], gold: &[usize], num_labels: usize) -> (f64, f64) {
    assert_eq!(predicted.len(), gold.len(), "one prediction per example");
    if gold.is_empty() || num_labels == 0 {
        return (0.0, 0.0);
    }
    let correct = predicted.iter().zip(gold).filter(|(p, g)| p == g).count();
    let mut f1_sum = 0.0;
    for class in 0..num_labels {
        let tp = predicted.iter().zip(gold).filter(|(p, g)| **p == class && **g == class).count() as f64;
        let fp = predicted.iter().zip(gold).filter(|(p, g)| **p == class && **g != class).count() as f64;
        let fn_ = predicted.iter().zip(gold).filter(|(p, g)| **p != class && **g == class).count() as f64;
        if tp > 0.0 {
            f1_sum += 2.0 * tp / (2.0 * tp + fp + fn_);
        }
    }
    (correct as f64 / gold.len() as f64, f1_sum / num_labels as f64)
}

/// Matthews correlation coefficient of `predicted` against `gold` over `num_labels` classes, in
/// its multiclass form (Gorodkin 2004, as scikit-learn's `matthews_corrcoef`): 0 where either side
/// holds a single class.
pub fn matthews_correlation(predicted: &[usize], gold: &[usize], num_labels: usize) -> f64 {
    assert_eq!(predicted.len(), gold.len(), "one prediction per example");
    let mut true_counts = vec![0f64; num_labels];
    let mut predicted_counts = vec![0f64; num_labels];
    let mut correct = 0f64;
    for (&p, &g) in predicted.iter().zip(gold) {
        true_counts[g] += 1.0;
        predicted_counts[p] += 1.0;
        correct += f64::from(u8::from(p == g));
    }
    let n = gold.len() as f64;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let covariance = correct * n - dot(&true_counts, &predicted_counts);
    let predicted_variance = n * n - dot(&predicted_counts, &predicted_counts);
    let true_variance = n * n - dot(&true_counts, &true_counts);
    if predicted_variance * true_variance == 0.0 { 0.0 } else { covariance / (true_variance * predicted_variance).sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_metrics() {
        // gold 0 0 1 1 2, predicted 0 1 1 1 0: class 0 tp1 fp1 fn1 -> 0.5; class 1 tp2 fp1 fn0 -> 0.8; class 2 -> 0.
        let (acc, f1) = accuracy_and_macro_f1(&[0, 1, 1, 1, 0], &[0, 0, 1, 1, 2], 3);
        assert!((acc - 0.6).abs() < 1e-12);
        assert!((f1 - (0.5 + 0.8) / 3.0).abs() < 1e-12);
        assert_eq!(matthews_correlation(&[0, 1, 0, 1], &[0, 1, 0, 1], 2), 1.0);
        assert_eq!(matthews_correlation(&[1, 0, 1, 0], &[0, 1, 0, 1], 2), -1.0);
        assert_eq!(matthews_correlation(&[1, 1, 1], &[0, 1, 0], 2), 0.0);
    }
}
