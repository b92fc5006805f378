//! Distillation strategies: prediction-layer losses (Hinton), intermediate-layer losses
//! (TinyBERT) with trained projections and layer mappings, the one compatibility check that the
//! CLI and the trainer share, prediction-layer distillation across tokenizers, and student
//! initialisation.

pub mod compat;
pub mod cross_tokenizer;
pub mod intermediate;
pub mod mapping;
pub mod prediction;
pub mod student_init;

use serde::{Deserialize, Serialize};

/// What a run distils.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Labels only: plain fine-tuning through the same trainer (no teacher).
    Finetune,
    /// The student matches the teacher's softened outputs (and the labels, by weight).
    Prediction,
    /// The student matches embeddings, hidden states and attention scores (TinyBERT).
    Intermediate,
    /// The 3-step recipe: general intermediate, task intermediate, prediction.
    Tinybert,
}

impl Strategy {
    pub fn needs_intermediate(self) -> bool {
        matches!(self, Self::Intermediate | Self::Tinybert)
    }

    pub fn needs_teacher(self) -> bool {
        self != Self::Finetune
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Finetune => "finetune",
            Self::Prediction => "prediction",
            Self::Intermediate => "intermediate",
            Self::Tinybert => "tinybert",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.name() == s)
    }

    pub const ALL: [Strategy; 4] = [Self::Finetune, Self::Prediction, Self::Intermediate, Self::Tinybert];
}
