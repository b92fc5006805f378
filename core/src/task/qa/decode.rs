//! From start/end logits to answers: the n best starts and ends of each window, spans up to
//! `max_answer_length` tokens, the best span over all windows of a question, and for SQuAD 2.0
//! the null score (smallest CLS start + end over windows), null odds (null score minus the best
//! span's score) and a threshold above which the answer is empty.

use serde::{Deserialize, Serialize};

use super::features::{QaExample, QaFeature};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeConfig {
    pub n_best: usize,
    pub max_answer_length: usize,
    /// Predict no answer when null odds exceed this; `None` always predicts a span (SQuAD 1.1).
    pub null_threshold: Option<f64>,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self { n_best: 20, max_answer_length: 30, null_threshold: Some(0.0) }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QaPrediction {
    pub id: String,
    /// The answer text, empty for no answer.
    pub text: String,
    /// The best span's text even when the prediction is no answer.
    pub best_span: String,
    pub best_span_score: f64,
    pub null_score: f64,
    pub null_odds: f64,
}

fn top_indices(logits: &[f32], spans: &[Option<(usize, usize)>], n: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..logits.len()).filter(|&i| spans.get(i).is_some_and(Option::is_some)).collect();
    idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    idx.truncate(n);
    idx
}

/// An example's best answer so far: its span score, the span (character offsets in the context)
/// and the lowest no-answer score of its features.
type BestSoFar = (f64, Option<(usize, usize)>, f64);

/// Decodes the logits of `features` (one row each, as long as the feature's tokens or longer)
/// into one prediction per example.
pub fn decode(examples: &[QaExample], features: &[QaFeature], start_logits: &[Vec<f32>], end_logits: &[Vec<f32>], config: &DecodeConfig) -> Vec<QaPrediction> {
    let mut best: Vec<BestSoFar> = vec![(f64::NEG_INFINITY, None, f64::INFINITY); examples.len()];
    for (k, feature) in features.iter().enumerate() {
        let (starts, ends) = (&start_logits[k], &end_logits[k]);
        let entry = &mut best[feature.example];
        entry.2 = entry.2.min(f64::from(starts[0]) + f64::from(ends[0]));
        let spans = &feature.context_spans;
        for &i in &top_indices(starts, spans, config.n_best) {
            for &j in &top_indices(ends, spans, config.n_best) {
                if j < i || j - i + 1 > config.max_answer_length {
                    continue;
                }
                let score = f64::from(starts[i]) + f64::from(ends[j]);
                if score > entry.0 {
                    let (s, _) = spans[i].expect("top indices are context tokens");
                    let (_, e) = spans[j].expect("top indices are context tokens");
                    *entry = (score, Some((s, e)), entry.2);
                }
            }
        }
    }
    examples
        .iter()
        .zip(best)
        .map(|(example, (score, span, null_score))| {
            let best_span = span
                .map(|(s, e)| example.context.chars().skip(s).take(e - s).collect::<String>())
                .unwrap_or_default();
            let null_odds = if span.is_some() { null_score - score } else { f64::MAX };
            let no_answer = span.is_none() || config.null_threshold.is_some_and(|t| null_odds > t);
            QaPrediction {
                id: example.id.clone(),
                text: if no_answer { String::new() } else { best_span.clone() },
                best_span,
                best_span_score: score,
                null_score,
                null_odds,
            }
        })
        .collect()
}
