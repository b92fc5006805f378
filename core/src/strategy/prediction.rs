//! Prediction-layer distillation: loss = w * T^2 * KD(student / T, teacher / T) + (1 - w) * CE(student, gold).
//! Distributions are over the last axis (sequence positions for QA start or end, classes for
//! classification); masked positions (padding, and the question where asked) are excluded from
//! both distributions and from the sums, unlike Haystack's unmasked KL.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

/// The divergence between softened student and teacher outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KdLoss {
    /// KL(teacher || student), summed over the distribution and averaged over the batch.
    #[default]
    Kl,
    /// Mean squared error of the softened logits over unmasked entries.
    Mse,
    /// Cross-entropy against the teacher's soft targets (KL plus the teacher's entropy).
    SoftCrossEntropy,
}

impl std::str::FromStr for KdLoss {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "kl" | "kl_div" => Ok(Self::Kl),
            "mse" => Ok(Self::Mse),
            "soft_cross_entropy" | "soft-ce" | "soft_ce" => Ok(Self::SoftCrossEntropy),
            other => Err(format!("unknown distillation loss {other:?}: expected kl, mse or soft_cross_entropy")),
        }
    }
}

/// Knobs of prediction-layer distillation. Defaults as used for deepset's tinyroberta-squad2:
/// T = 1.5, w = 0.75.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PredictionConfig {
    pub loss: KdLoss,
    pub temperature: f64,
    /// Weight of the distillation term in [0, 1]; 0 = labels only, 1 = teacher only.
    pub weight: f64,
}

impl Default for PredictionConfig {
    fn default() -> Self {
        Self { loss: KdLoss::Kl, temperature: 1.5, weight: 0.75 }
    }
}

/// Added to masked logits: far below any real logit, yet finite so 0 * log 0 never appears.
const MASKED: f64 = -10000.0;

fn masked(logits: Tensor<2>, mask: &Tensor<2>) -> Tensor<2> {
    logits.mask_fill(mask.clone().equal_elem(0.0), MASKED)
}

/// The teacher side of a distillation term: one teacher's logits, or several teachers whose
/// softened distributions are averaged.
// A handful live per step: boxing the tensor would only add an indirection.
#[allow(clippy::large_enum_variant)]
pub enum TeacherLogits {
    One(Tensor<2>),
    Many(Vec<Tensor<2>>),
}

impl TeacherLogits {
    /// Log of the teacher's soft target at temperature `t`, masked.
    fn log_probs(&self, mask: &Tensor<2>, t: f64) -> Tensor<2> {
        match self {
            Self::One(logits) => log_softmax(masked(logits.clone(), mask).div_scalar(t), 1),
            Self::Many(all) => {
                let n = all.len() as f64;
                let mean = all
                    .iter()
                    .map(|l| softmax(masked(l.clone(), mask).div_scalar(t), 1))
                    .reduce(|a, b| a + b)
                    .expect("at least one teacher")
                    .div_scalar(n);
                // Masked entries are exactly 0: clamp so their log stays finite (they are multiplied by 0).
                mean.clamp_min(1e-30).log()
            }
        }
    }

    /// The same teachers with `f` applied to each one's logits (e.g. selecting rows).
    pub fn map(self, f: impl Fn(Tensor<2>) -> Tensor<2>) -> Self {
        match self {
            Self::One(l) => Self::One(f(l)),
            Self::Many(all) => Self::Many(all.into_iter().map(f).collect()),
        }
    }

    fn mean_logits(&self) -> Tensor<2> {
        match self {
            Self::One(l) => l.clone(),
            Self::Many(all) => {
                let n = all.len() as f64;
                all.iter().cloned().reduce(|a, b| a + b).expect("at least one teacher").div_scalar(n)
            }
        }
    }
}

/// The distillation term, already multiplied by T^2 so its gradient scale does not depend on T.
/// `mask` is 1 for entries that count and 0 for excluded ones, `[batch, k]`.
pub fn kd_loss(student: Tensor<2>, teacher: &TeacherLogits, mask: &Tensor<2>, kind: KdLoss, t: f64) -> Tensor<1> {
    let t2 = t * t;
    match kind {
        KdLoss::Mse => {
            let diff = (student - teacher.mean_logits()).div_scalar(t);
            let per_row = (diff.clone() * diff * mask.clone()).sum_dim(1) / mask.clone().sum_dim(1);
            per_row.mean().mul_scalar(t2)
        }
        KdLoss::Kl | KdLoss::SoftCrossEntropy => {
            let log_s = log_softmax(masked(student, mask).div_scalar(t), 1);
            let log_t = teacher.log_probs(mask, t);
            let p_t = log_t.clone().exp();
            let per_entry = match kind {
                KdLoss::Kl => p_t * (log_t - log_s),
                _ => (p_t * log_s).neg(),
            };
            (per_entry * mask.clone()).sum_dim(1).mean().mul_scalar(t2)
        }
    }
}

/// Cross-entropy of the student with gold indices `[batch]`, masked entries excluded.
pub fn cross_entropy(student: Tensor<2>, gold: Tensor<1, Int>, mask: &Tensor<2>) -> Tensor<1> {
    let [batch, _] = student.dims();
    let log_p = log_softmax(masked(student, mask), 1);
    log_p.gather(1, gold.reshape([batch, 1])).mean().neg()
}

/// The parts of a prediction-layer loss, each a scalar tensor.
pub struct PredictionLoss {
    pub total: Tensor<1>,
    pub kd: Option<Tensor<1>>,
    /// The term on the gold labels: cross-entropy, or squared error for a regression head.
    pub ce: Option<Tensor<1>>,
}

/// `w * KD + (1 - w) * CE`; a term with weight 0 is not computed (no teacher is needed at w = 0).
pub fn prediction_loss(student: Tensor<2>, teacher: Option<&TeacherLogits>, gold: Option<Tensor<1, Int>>, mask: &Tensor<2>, config: &PredictionConfig) -> PredictionLoss {
    let w = config.weight;
    let kd = (w > 0.0).then(|| {
        let teacher = teacher.expect("a distillation weight above 0 needs teacher logits");
        kd_loss(student.clone(), teacher, mask, config.loss, config.temperature)
    });
    let ce = (w < 1.0).then(|| cross_entropy(student, gold.expect("a distillation weight below 1 needs gold labels"), mask));
    PredictionLoss::weighted(kd, ce, w)
}

/// The prediction-layer loss of a regression head (`[batch, 1]` scores): `w * MSE(student,
/// teacher) + (1 - w) * MSE(student, gold)`. No temperature: a score has no distribution to soften.
pub fn regression_loss(student: Tensor<2>, teacher: Option<&TeacherLogits>, gold: Option<Tensor<2>>, w: f64) -> PredictionLoss {
    let ones = Tensor::<2>::ones(student.dims(), &student.device());
    let kd = (w > 0.0).then(|| kd_loss(student.clone(), teacher.expect("a distillation weight above 0 needs teacher scores"), &ones, KdLoss::Mse, 1.0));
    let mse = (w < 1.0).then(|| {
        let d = student - gold.expect("a distillation weight below 1 needs gold scores");
        (d.clone() * d).mean()
    });
    PredictionLoss::weighted(kd, mse, w)
}

impl PredictionLoss {
    /// `w * kd + (1 - w) * ce`, either term alone where the other was not computed.
    fn weighted(kd: Option<Tensor<1>>, ce: Option<Tensor<1>>, w: f64) -> Self {
        let total = match (&kd, &ce) {
            (Some(k), Some(c)) => k.clone().mul_scalar(w) + c.clone().mul_scalar(1.0 - w),
            (Some(k), None) => k.clone(),
            (None, Some(c)) => c.clone(),
            (None, None) => unreachable!("w is either above 0 or below 1"),
        };
        Self { total, kd, ce }
    }
}
