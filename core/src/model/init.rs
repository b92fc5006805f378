//! Seeded random initialisation as transformers does it: normal(0, initializer_range) for
//! weights and embeddings, zeros for biases, ones for layer-norm scales.

use burn::tensor::Device;

use super::config::EncoderConfig;
use super::heads::{Head, TaskModel};
use super::params::{HeadLayout, ParamKey, ParamSource, Part, build_task_model};
use crate::error::Result;

/// SplitMix64 feeding Box-Muller: small, fast, and the same on every platform.
pub struct RandomInit {
    state: u64,
    std: f64,
}

impl RandomInit {
    pub fn new(seed: u64, std: f64) -> Self {
        Self { state: seed ^ 0x9E37_79B9_7F4A_7C15, std }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

fn is_bias(key: ParamKey) -> bool {
    use ParamKey::*;
    matches!(
        key,
        EmbeddingNorm(Part::Bias)
            | Query(_, Part::Bias)
            | Key(_, Part::Bias)
            | Value(_, Part::Bias)
            | AttentionOutput(_, Part::Bias)
            | AttentionNorm(_, Part::Bias)
            | FfnIn(_, Part::Bias)
            | FfnOut(_, Part::Bias)
            | FfnNorm(_, Part::Bias)
            | QaOutputs(Part::Bias)
            | ClassifierDense(Part::Bias)
            | ClassifierOut(Part::Bias)
            | MlmDense(Part::Bias)
            | MlmNorm(Part::Bias)
            | MlmBias
    )
}

fn is_norm_scale(key: ParamKey) -> bool {
    use ParamKey::*;
    matches!(key, EmbeddingNorm(Part::Weight) | AttentionNorm(_, Part::Weight) | FfnNorm(_, Part::Weight) | MlmNorm(Part::Weight))
}

impl ParamSource for RandomInit {
    fn tensor(&mut self, key: ParamKey, shape: &[usize]) -> Result<Vec<f32>> {
        let n = shape.iter().product();
        Ok(if is_norm_scale(key) {
            vec![1.0; n]
        } else if is_bias(key) {
            vec![0.0; n]
        } else {
            (0..n).map(|_| (self.normal() * self.std) as f32).collect()
        })
    }

    fn has(&self, key: ParamKey) -> bool {
        key != ParamKey::PositionEmbeddings
    }
}

/// A freshly initialised model of `config`, reproducible from `seed`.
pub fn init_random(
    config: &EncoderConfig,
    head: Option<(Head, usize)>,
    layout: HeadLayout,
    seed: u64,
    device: &Device,
) -> Result<TaskModel> {
    let mut source = RandomInit::new(seed, config.initializer_range);
    build_task_model(config, head, layout, &mut source, device)
}

/// `model` with a new task head (seeded random), replacing any head it had: what a base
/// checkpoint gets when it is trained for a task, as transformers does on loading one into a
/// task class.
pub fn with_new_head(mut model: TaskModel, head: (Head, usize), layout: HeadLayout, seed: u64) -> Result<TaskModel> {
    let device = model.encoder.device();
    let fresh = init_random(&model.encoder.config, Some(head), layout, seed, &device)?;
    model.qa = fresh.qa;
    model.classifier = fresh.classifier;
    model.token_classifier = fresh.token_classifier;
    model.mlm = fresh.mlm;
    Ok(model)
}
