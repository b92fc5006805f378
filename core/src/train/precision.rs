//! Mixed precision: the student's forward and backward passes in bf16 or f16, its weights, the
//! optimizer's moments and every loss in f32.
//!
//! Each micro-batch runs on a copy of the student whose float parameters are cast to the compute
//! dtype. The cast is an operation of the autodiff graph (its backward casts back), so the
//! gradients arrive on the f32 master weights and AdamW updates those; nothing is kept in half
//! precision between steps. The outputs are cast back to f32 before any loss, as PyTorch's
//! autocast runs its losses and softmaxes in f32. f16's narrow range needs the loss scaled up
//! before backward (a [`LossScaler`]); bf16 has f32's range and needs none.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, FloatDType, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::DistillError;
use crate::inputs::TokenBatch;
use crate::model::{EncoderOutput, Keep, QaOutput, TaskModel, TaskOutput};

/// The float type of the student's forward and backward passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    Bf16,
    F16,
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "fp32" | "float32" => Ok(Self::F32),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            "f16" | "fp16" | "float16" => Ok(Self::F16),
            other => Err(format!("unknown precision {other:?}: expected f32, bf16 or f16")),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
            Self::F16 => "f16",
        })
    }
}

/// Casts every float parameter, keeping its id, so gradients found through the copy's graph
/// belong to the master's parameters.
struct CastParams(FloatDType);

impl ModuleMapper for CastParams {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let dtype = self.0;
        param.map(|t| t.cast(dtype))
    }
}

impl Precision {
    pub fn is_f32(&self) -> bool {
        *self == Self::F32
    }

    pub fn dtype(self) -> FloatDType {
        match self {
            Self::F32 => FloatDType::F32,
            Self::Bf16 => FloatDType::BF16,
            Self::F16 => FloatDType::F16,
        }
    }

    /// `model`'s head outputs for `batch`, computed in this precision and returned in f32: the
    /// training forward of a student (teachers, projections and losses stay in f32). In half
    /// precision it runs a copy of `model` with its float parameters cast to the compute dtype,
    /// differentiable back to `model`'s parameters.
    pub fn forward(self, model: &TaskModel, batch: &TokenBatch, keep: Keep) -> TaskOutput {
        if self.is_f32() {
            return model.forward_keeping(batch, keep);
        }
        let copy = model.clone().map(&mut CastParams(self.dtype()));
        outputs_in_f32(copy.forward_keeping(batch, keep))
    }

    /// Refuses a half type `device` cannot compute in, by burn's own account of it (lavapipe's
    /// Vulkan has no bf16, for one), before any work rather than as a panic in the first matrix
    /// product.
    pub fn check_device(self, device: &Device) -> crate::error::Result<()> {
        if self.is_f32() || device.supports_dtype(self.dtype()) {
            return Ok(());
        }
        Err(DistillError::Invalid(format!("--precision {self}: the {} device does not compute in {self} (burn reports no arithmetic support for it there); use another precision, f32 always works", crate::device_name())))
    }

    /// A loss scaler for this precision: f16 only.
    pub fn loss_scaler(self) -> Option<LossScaler> {
        (self == Self::F16).then(LossScaler::default)
    }
}

fn f32<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    t.cast(FloatDType::F32)
}

/// A forward pass's outputs in f32.
fn outputs_in_f32(out: TaskOutput) -> TaskOutput {
    let EncoderOutput { hidden_states, attention_scores, attention_probs } = out.encoder;
    TaskOutput {
        encoder: EncoderOutput {
            hidden_states: hidden_states.into_iter().map(f32).collect(),
            attention_scores: attention_scores.into_iter().map(f32).collect(),
            attention_probs: attention_probs.into_iter().map(f32).collect(),
        },
        qa: out.qa.map(|qa| QaOutput { start_logits: f32(qa.start_logits), end_logits: f32(qa.end_logits) }),
        logits: out.logits.map(f32),
        token_logits: out.token_logits.map(f32),
        mlm_logits: out.mlm_logits.map(f32),
    }
}

/// Dynamic loss scaling for f16, as PyTorch's `GradScaler` does it with its defaults: the loss
/// is multiplied by `scale` before backward and the gradients divided by it before the update;
/// an update whose gradients overflowed is skipped and the scale halved; after `GROWTH_INTERVAL`
/// updates in a row without overflow the scale doubles. Kept in the checkpoint so a resumed run
/// continues with the same scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossScaler {
    pub scale: f64,
    /// Finite updates since the scale last changed.
    pub good_updates: usize,
}

impl Default for LossScaler {
    fn default() -> Self {
        Self { scale: 65536.0, good_updates: 0 }
    }
}

impl LossScaler {
    const GROWTH_INTERVAL: usize = 2000;

    /// Records whether the update's gradients were finite; returns whether to apply it.
    pub fn update(&mut self, finite: bool) -> bool {
        if finite {
            self.good_updates += 1;
            if self.good_updates >= Self::GROWTH_INTERVAL {
                self.scale *= 2.0;
                self.good_updates = 0;
            }
        } else {
            self.scale = (self.scale / 2.0).max(1.0);
            self.good_updates = 0;
        }
        finite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_back() {
        for (text, p) in [("f32", Precision::F32), ("BF16", Precision::Bf16), ("fp16", Precision::F16), ("bfloat16", Precision::Bf16)] {
            assert_eq!(text.parse::<Precision>(), Ok(p));
        }
        for p in [Precision::F32, Precision::Bf16, Precision::F16] {
            assert_eq!(p.to_string().parse::<Precision>(), Ok(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{p}\""));
        }
        assert!("f8".parse::<Precision>().unwrap_err().contains("f32, bf16 or f16"));
    }

    #[test]
    fn the_scale_halves_on_overflow_and_doubles_after_a_run_of_finite_updates() {
        let mut s = LossScaler::default();
        assert!(!s.update(false));
        assert_eq!(s.scale, 32768.0);
        for _ in 0..LossScaler::GROWTH_INTERVAL - 1 {
            assert!(s.update(true));
        }
        assert_eq!(s.scale, 32768.0);
        assert!(s.update(true));
        assert_eq!((s.scale, s.good_updates), (65536.0, 0));
        let mut low = LossScaler { scale: 1.0, good_updates: 5 };
        low.update(false);
        assert_eq!((low.scale, low.good_updates), (1.0, 0), "the scale stays at least 1");
        assert_eq!(Precision::F16.loss_scaler(), Some(LossScaler::default()));
        assert_eq!(Precision::Bf16.loss_scaler(), None);
    }
}
