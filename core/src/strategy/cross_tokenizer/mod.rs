//! Prediction-layer distillation between models whose tokenizers differ. The teacher reads each
//! training example its own way, from the same text (a [`TeacherView`]: its tokens, and how its
//! outputs reach the student's positions, found by character offsets), and its outputs are
//! carried over to the student's positions:
//! - classification and regression: one output per example, nothing to align ([`Carry::Whole`]);
//! - token classification: a word's label logits are read at the teacher's first sub-token of
//!   the word and taught at the student's first sub-token of it ([`Carry::Tokens`], `tokens`);
//! - QA: each teacher token's start (end) probability goes to the student token that holds its
//!   first (last) character; the mass of tokens the student window does not hold (the question,
//!   text outside the window) is dropped and the rest renormalised; the teacher's no-answer
//!   position (its first token) goes to the student's ([`Carry::Span`], `qa`).
//!
//! Intermediate-layer distillation compares positions one to one, so it still needs one
//! vocabulary (`compat`).

pub mod qa;
pub mod tokens;

use crate::data::classification::ClassificationExample;
use crate::error::Result;
use crate::tokenizer::TextTokenizer;
use crate::train::examples::TrainExample;

/// How the teacher reads one student example, and where its outputs go.
#[derive(Debug, Clone, PartialEq)]
pub struct TeacherView {
    pub input_ids: Vec<i64>,
    pub token_type_ids: Vec<i64>,
    pub carry: Carry,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Carry {
    /// One output per example (classification, regression).
    Whole,
    /// Per student position, the teacher position whose label logits it is taught.
    Tokens(Vec<Option<usize>>),
    /// Per teacher position, the student position its start probability goes to, and its end
    /// probability; `None` where it is dropped.
    Span { start: Vec<Option<usize>>, end: Vec<Option<usize>> },
}

/// The carried logit of a student position no teacher mass reaches: its probability is 0 at
/// every temperature (exp(-1e4 / T) underflows), yet the value stays finite.
pub const NO_MASS: f32 = -1.0e4;

impl TeacherView {
    /// The teacher's logits per head over its own positions, in the student's layout of
    /// `student_len` positions. For QA at temperature `t`, each student position gets
    /// `t * logsumexp(z / t)` over the teacher positions carried to it, so that
    /// `softmax(carried / t)` is exactly the teacher's `softmax(z / t)` carried over and
    /// renormalised; that is why the carried logits depend on the temperature.
    pub fn carry(&self, teacher: &[Vec<f32>], student_len: usize, t: f64) -> Vec<Vec<f32>> {
        match &self.carry {
            Carry::Whole => teacher.to_vec(),
            Carry::Tokens(from) => {
                let logits = &teacher[0];
                let labels = logits.len() / self.input_ids.len().max(1);
                let mut out = vec![0.0; student_len * labels];
                for (p, q) in from.iter().enumerate() {
                    if let Some(q) = *q {
                        out[p * labels..(p + 1) * labels].copy_from_slice(&logits[q * labels..(q + 1) * labels]);
                    }
                }
                vec![out]
            }
            Carry::Span { start, end } => vec![gather_mass(&teacher[0], start, student_len, t), gather_mass(&teacher[1], end, student_len, t)],
        }
    }

    /// Whether the carried logits depend on the temperature (QA's do).
    pub fn depends_on_temperature(&self) -> bool {
        matches!(self.carry, Carry::Span { .. })
    }
}

/// Per student position `j`: `t * log(sum over i carried to j of exp(z_i / t))`, [`NO_MASS`]
/// where nothing is carried; computed with the maximum taken out, in f64.
fn gather_mass(z: &[f32], to: &[Option<usize>], n: usize, t: f64) -> Vec<f32> {
    let mut max = vec![f64::NEG_INFINITY; n];
    for (&zi, j) in z.iter().zip(to) {
        if let Some(j) = *j {
            max[j] = max[j].max(zi as f64 / t);
        }
    }
    let mut sum = vec![0.0f64; n];
    for (&zi, j) in z.iter().zip(to) {
        if let Some(j) = *j {
            sum[j] += (zi as f64 / t - max[j]).exp();
        }
    }
    max.iter().zip(&sum).map(|(&m, &s)| if m.is_finite() { (t * (m + s.ln())) as f32 } else { NO_MASS }).collect()
}

/// The teacher's reading of classification (or regression) examples: the same texts, or text
/// pairs, tokenized by its tokenizer, at most `max_len` tokens, as the student's are.
pub fn whole_views(examples: &[ClassificationExample], teacher: &TextTokenizer, max_len: usize) -> Result<Vec<TeacherView>> {
    Ok(TrainExample::encode_classification(examples, teacher, max_len)?
        .into_iter()
        .map(|e| TeacherView { input_ids: e.input_ids, token_type_ids: e.token_type_ids, carry: Carry::Whole })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn softmax(z: &[f32], t: f64) -> Vec<f64> {
        let m = z.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64 / t));
        let e: Vec<f64> = z.iter().map(|&x| (x as f64 / t - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|x| x / s).collect()
    }

    #[test]
    fn carried_span_mass_is_the_teachers_summed_per_student_token_and_renormalised() {
        let z = [1.0f32, 2.0, -1.0, 0.5, 3.0];
        // Teacher 0 -> student 0 (no answer), 1 and 2 -> student 2 (a word split in two by the
        // teacher), 3 dropped (the question), 4 -> student 1.
        let to = [Some(0), Some(2), Some(2), None, Some(1)];
        for t in [1.0, 2.0] {
            let carried = gather_mass(&z, &to, 4, t);
            assert_eq!(carried[3], NO_MASS);
            let q = softmax(&carried, t);
            let p = softmax(&z, t);
            let kept = p[0] + p[1] + p[2] + p[4];
            let expected = [p[0] / kept, p[4] / kept, (p[1] + p[2]) / kept, 0.0];
            for (a, b) in q.iter().zip(expected) {
                assert!((a - b).abs() < 1e-6, "t {t}: {q:?} vs {expected:?}");
            }
            assert!((q.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
        // One to one: the teacher's logits come back unchanged.
        let same = gather_mass(&z, &[Some(0), Some(1), Some(2), Some(3), Some(4)], 5, 1.5);
        assert!(same.iter().zip(z).all(|(a, b)| (a - b).abs() < 1e-5), "{same:?}");
    }

    #[test]
    fn carried_token_logits_are_the_teachers_at_the_mapped_positions() {
        let view = TeacherView { input_ids: vec![0; 3], token_type_ids: vec![0; 3], carry: Carry::Tokens(vec![None, Some(2), Some(1), None]) };
        let teacher = vec![vec![0.0, 0.1, 1.0, 1.1, 2.0, 2.1]];
        assert_eq!(view.carry(&teacher, 4, 1.0), vec![vec![0.0, 0.0, 2.0, 2.1, 1.0, 1.1, 0.0, 0.0]]);
        let whole = TeacherView { input_ids: vec![0; 3], token_type_ids: vec![0; 3], carry: Carry::Whole };
        assert_eq!(whole.carry(&[vec![0.5, -0.5]], 7, 2.0), vec![vec![0.5, -0.5]]);
    }
}
