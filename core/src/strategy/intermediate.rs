//! Intermediate-layer distillation (TinyBERT): MSE between the student's embedding output and
//! the teacher's through a trained projection W_e, between mapped hidden states through a
//! trained W_h, and between RAW pre-softmax attention scores (not probabilities, as Haystack
//! compares), all with padded positions excluded. The projections are a module of their own:
//! trained with the student, saved in training checkpoints, left out of the exported student.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::mapping::LayerMapping;
use crate::model::{EncoderOutput, Keep, RandomInit};

/// Linear maps from the student's width to the teacher's; absent when the widths are equal.
#[derive(Module, Debug)]
pub struct Projections {
    pub embedding: Option<Linear>,
    pub hidden: Option<Linear>,
}

fn random_linear(d_in: usize, d_out: usize, rng: &mut RandomInit, device: &Device) -> Linear {
    let w: Vec<f32> = (0..d_in * d_out).map(|_| (rng.normal() * 0.02) as f32).collect();
    Linear {
        weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device)),
        bias: Some(Param::from_tensor(Tensor::zeros([d_out], device))),
    }
}

impl Projections {
    pub fn new(student_width: usize, teacher_width: usize, seed: u64, device: &Device) -> Self {
        if student_width == teacher_width {
            return Self { embedding: None, hidden: None };
        }
        let mut rng = RandomInit::new(seed, 0.02);
        Self {
            embedding: Some(random_linear(student_width, teacher_width, &mut rng, device)),
            hidden: Some(random_linear(student_width, teacher_width, &mut rng, device)),
        }
    }

    fn project(layer: &Option<Linear>, x: Tensor<3>) -> Tensor<3> {
        match layer {
            Some(l) => crate::model::per_token(l, x),
            None => x,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntermediateConfig {
    pub mapping: LayerMapping,
    pub embedding_weight: f64,
    pub hidden_weight: f64,
    pub attention_weight: f64,
    /// Compare head-averaged attention maps, for pairs whose head counts differ.
    pub head_averaged_attention: bool,
}

impl Default for IntermediateConfig {
    fn default() -> Self {
        Self { mapping: LayerMapping::Uniform, embedding_weight: 1.0, hidden_weight: 1.0, attention_weight: 1.0, head_averaged_attention: false }
    }
}

impl IntermediateConfig {
    /// What the forward passes this loss compares must keep: every hidden state, and the
    /// attention maps only where the attention term is on.
    pub fn keep(&self) -> Keep {
        if self.attention_weight > 0.0 { Keep::Everything } else { Keep::HiddenStates }
    }
}

/// Mean squared error over the tokens `mask` keeps (`[batch, seq]`, 1 = token) and every feature.
pub fn masked_hidden_mse(student: Tensor<3>, teacher: Tensor<3>, mask: &Tensor<2>) -> Tensor<1> {
    let [batch, seq, width] = teacher.dims();
    let diff = student - teacher;
    let per_token = (diff.clone() * diff).sum_dim(2).reshape([batch, seq]);
    (per_token * mask.clone()).sum() / mask.clone().sum().mul_scalar(width as f64)
}

/// Mean squared error of attention scores `[batch, heads, seq, seq]` over query/key pairs that
/// are both tokens; with `head_average`, the maps are averaged over heads first.
pub fn masked_attention_mse(student: Tensor<4>, teacher: Tensor<4>, mask: &Tensor<2>, head_average: bool) -> Tensor<1> {
    let [batch, _, seq, _] = teacher.dims();
    let pairs = mask.clone().reshape([batch, seq, 1]) * mask.clone().reshape([batch, 1, seq]);
    if head_average {
        let s = student.mean_dim(1).reshape([batch, seq, seq]);
        let t = teacher.mean_dim(1).reshape([batch, seq, seq]);
        let d = s - t;
        return (d.clone() * d * pairs.clone()).sum() / pairs.sum();
    }
    let heads = teacher.dims()[1];
    let d = student - teacher;
    let pairs4 = pairs.reshape([batch, 1, seq, seq]);
    (d.clone() * d * pairs4.clone()).sum() / pairs4.sum().mul_scalar(heads as f64)
}

/// The parts of an intermediate-layer loss; each is a scalar tensor.
pub struct IntermediateLoss {
    pub total: Tensor<1>,
    pub embedding: Tensor<1>,
    pub hidden: Tensor<1>,
    pub attention: Option<Tensor<1>>,
}

/// The TinyBERT loss of a batch. `pairs` are (student layer, teacher layer), 1-based; the
/// attention term is skipped when its weight is 0 (as for pairs of different head counts).
pub fn intermediate_loss(student: &EncoderOutput, teacher: &EncoderOutput, projections: &Projections, mask: &Tensor<2>, pairs: &[(usize, usize)], config: &IntermediateConfig) -> IntermediateLoss {
    let lift = |t: Tensor<3>| t.autodiff();
    let embedding = masked_hidden_mse(
        Projections::project(&projections.embedding, student.hidden_states[0].clone()),
        lift(teacher.hidden_states[0].clone()),
        mask,
    );
    let hidden = pairs
        .iter()
        .map(|&(s, t)| masked_hidden_mse(Projections::project(&projections.hidden, student.hidden_states[s].clone()), lift(teacher.hidden_states[t].clone()), mask))
        .reduce(|a, b| a + b)
        .expect("at least one mapped layer")
        .div_scalar(pairs.len() as f64);
    let attention = (config.attention_weight > 0.0).then(|| {
        pairs
            .iter()
            .map(|&(s, t)| masked_attention_mse(student.attention_scores[s - 1].clone(), teacher.attention_scores[t - 1].clone().autodiff(), mask, config.head_averaged_attention))
            .reduce(|a, b| a + b)
            .expect("at least one mapped layer")
            .div_scalar(pairs.len() as f64)
    });
    let mut total = embedding.clone().mul_scalar(config.embedding_weight) + hidden.clone().mul_scalar(config.hidden_weight);
    if let Some(a) = &attention {
        total = total + a.clone().mul_scalar(config.attention_weight);
    }
    IntermediateLoss { total, embedding, hidden, attention }
}

