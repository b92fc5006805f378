use serde::{Deserialize, Serialize};

use super::config_keys::{ConfigDefaults, ConfigKeys};
use super::tensor_names::TensorNames;
use crate::error::{DistillError, Result};
use crate::model::{HeadLayout, PoolerActivation, PositionScheme};

/// Everything a plugin contributes, in the core's terms. It is plain data, so the same type is
/// the manifest a dynamic plugin returns as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchitectureSpec {
    /// Unique plugin name, as given to `--plugin` / `--teacher-plugin`.
    pub name: String,
    /// One line for `distill plugins`.
    pub description: String,
    /// Architecture family: intermediate-layer distillation needs teacher and student of one family.
    pub family: String,
    /// Tokenizer family (`wordpiece`, `byte_level_bpe`, ...): judges prediction-layer pairs
    /// before any checkpoint is loaded; with checkpoints, their vocabularies are compared.
    pub tokenizer: String,
    /// `config.json` `model_type` values this plugin reads by default.
    #[serde(default)]
    pub model_types: Vec<String>,
    /// The `model_type` written when saving, so Python transformers can load the result.
    pub export_model_type: String,
    /// transformers class names written into `architectures` when saving.
    pub classes: TaskClassNames,
    pub config_keys: ConfigKeys,
    #[serde(default)]
    pub config_defaults: ConfigDefaults,
    pub position_scheme: PositionScheme,
    pub tensors: TensorNames,
    pub pooler_activation: PoolerActivation,
    pub student: StudentShape,
    pub intermediate: IntermediateSupport,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskClassNames {
    pub base: String,
    pub question_answering: String,
    pub classification: String,
    pub token_classification: String,
    pub masked_lm: String,
}

/// The default shape of a student built from scratch with this plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentShape {
    pub num_layers: usize,
    pub hidden_size: usize,
    pub num_heads: usize,
    pub intermediate_size: usize,
}

/// How hidden states of different widths are compared in intermediate-layer distillation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionRule {
    /// A trained linear map from the student's width to the teacher's (TinyBERT's W_h).
    Linear,
    /// Only equal widths are compared.
    None,
}

/// Which teacher layer each student layer learns from by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerMappingRule {
    Uniform,
    Last,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntermediateSupport {
    pub projection: ProjectionRule,
    pub layer_mapping: LayerMappingRule,
}

impl ArchitectureSpec {
    pub fn head_layout(&self) -> HeadLayout {
        HeadLayout { pooler_activation: self.pooler_activation }
    }

    /// Rejects specs the core could not use, naming the offending field.
    pub fn validate(&self) -> Result<()> {
        let fail = |message: String| Err(DistillError::Plugin { plugin: self.name.clone(), message });
        if self.name.trim().is_empty() || self.name.contains(char::is_whitespace) {
            return fail("field `name`: must be a non-empty word".into());
        }
        if self.family.trim().is_empty() {
            return fail("field `family`: must not be empty".into());
        }
        if self.tokenizer.trim().is_empty() {
            return fail("field `tokenizer`: must not be empty".into());
        }
        if self.export_model_type.trim().is_empty() {
            return fail("field `export_model_type`: must not be empty".into());
        }
        let s = self.student;
        if s.num_layers == 0 || s.hidden_size == 0 || s.num_heads == 0 || s.intermediate_size == 0 {
            return fail("field `student`: every size must be positive".into());
        }
        if !s.hidden_size.is_multiple_of(s.num_heads) {
            return fail(format!("field `student`: hidden size {} is not a multiple of {} heads", s.hidden_size, s.num_heads));
        }
        if let Err(message) = self.tensors.validate() {
            return fail(format!("field `tensors`: {message}"));
        }
        if let Err(message) = self.config_keys.validate() {
            return fail(format!("field `config_keys`: {message}"));
        }
        Ok(())
    }
}
