//! The map between the core's [`ParamKey`]s and a checkpoint's tensor names.

use serde::{Deserialize, Serialize};

use crate::model::{ParamKey, Part};

/// Tensor names of an architecture. Encoder names are relative to the base prefix (`bert.`,
/// `roberta.`, ... which task checkpoints add and base checkpoints do not); head names are
/// absolute and may use `{base}` for that prefix (BERT's pooler lives inside the base model).
/// Names ending in `.` are prefixes to which `weight` / `bias` are appended; `{i}` is a layer index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorNames {
    /// Prefixes a checkpoint may put before encoder names; the first is used when saving a model with a head.
    pub base_prefixes: Vec<String>,
    pub word_embeddings: String,
    pub position_embeddings: String,
    #[serde(default)]
    pub token_type_embeddings: Option<String>,
    pub embedding_norm: String,
    pub layer: String,
    pub query: String,
    pub key: String,
    pub value: String,
    pub attention_output: String,
    pub attention_norm: String,
    pub ffn_in: String,
    pub ffn_out: String,
    pub ffn_norm: String,
    pub qa_outputs: String,
    pub classifier_dense: String,
    pub classifier_out: String,
    /// The token-classification head's one linear layer (`classifier` in transformers).
    pub token_classifier: String,
    pub mlm_dense: String,
    pub mlm_norm: String,
    pub mlm_bias: String,
    /// Tensors a checkpoint may hold that the core does not use (buffers, tied decoder weights,
    /// an unused pooler); matched as name suffixes so they are not reported as unexpected.
    #[serde(default)]
    pub ignored: Vec<String>,
}

impl TensorNames {
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        if !self.layer.contains("{i}") {
            return Err(format!("`layer` must contain {{i}}, found {:?}", self.layer));
        }
        if self.base_prefixes.is_empty() {
            return Err("`base_prefixes` must list at least one prefix (\"\" for none)".into());
        }
        for (field, value) in [
            ("embedding_norm", &self.embedding_norm),
            ("query", &self.query),
            ("key", &self.key),
            ("value", &self.value),
            ("attention_output", &self.attention_output),
            ("attention_norm", &self.attention_norm),
            ("ffn_in", &self.ffn_in),
            ("ffn_out", &self.ffn_out),
            ("ffn_norm", &self.ffn_norm),
            ("qa_outputs", &self.qa_outputs),
            ("classifier_dense", &self.classifier_dense),
            ("classifier_out", &self.classifier_out),
            ("token_classifier", &self.token_classifier),
            ("mlm_dense", &self.mlm_dense),
            ("mlm_norm", &self.mlm_norm),
        ] {
            if value.is_empty() {
                return Err(format!("`{field}` must not be empty"));
            }
        }
        Ok(())
    }

    /// The checkpoint name of `key` under base prefix `base`; `None` for a parameter this
    /// architecture does not have (token types in DistilBERT).
    pub fn name(&self, key: ParamKey, base: &str) -> Option<String> {
        use ParamKey::*;
        let part = |p: Part| match p {
            Part::Weight => "weight",
            Part::Bias => "bias",
        };
        let layer = |i: usize, rel: &str, p: Part| format!("{base}{}{rel}.{}", self.layer.replace("{i}", &i.to_string()), part(p));
        let head = |name: &str, p: Part| format!("{}.{}", name.replace("{base}", base), part(p));
        Some(match key {
            WordEmbeddings => format!("{base}{}", self.word_embeddings),
            PositionEmbeddings => format!("{base}{}", self.position_embeddings),
            TokenTypeEmbeddings => format!("{base}{}", self.token_type_embeddings.as_ref()?),
            EmbeddingNorm(p) => format!("{base}{}.{}", self.embedding_norm, part(p)),
            Query(i, p) => layer(i, &self.query, p),
            Key(i, p) => layer(i, &self.key, p),
            Value(i, p) => layer(i, &self.value, p),
            AttentionOutput(i, p) => layer(i, &self.attention_output, p),
            AttentionNorm(i, p) => layer(i, &self.attention_norm, p),
            FfnIn(i, p) => layer(i, &self.ffn_in, p),
            FfnOut(i, p) => layer(i, &self.ffn_out, p),
            FfnNorm(i, p) => layer(i, &self.ffn_norm, p),
            QaOutputs(p) => head(&self.qa_outputs, p),
            ClassifierDense(p) => head(&self.classifier_dense, p),
            ClassifierOut(p) => head(&self.classifier_out, p),
            TokenClassifier(p) => head(&self.token_classifier, p),
            MlmDense(p) => head(&self.mlm_dense, p),
            MlmNorm(p) => head(&self.mlm_norm, p),
            MlmBias => self.mlm_bias.replace("{base}", base),
        })
    }

    /// Older names a checkpoint may use for `name` (TensorFlow-era `gamma`/`beta` layer norms).
    pub fn legacy_names(name: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(stem) = name.strip_suffix(".weight") {
            out.push(format!("{stem}.gamma"));
        }
        if let Some(stem) = name.strip_suffix(".bias") {
            out.push(format!("{stem}.beta"));
        }
        out
    }

    pub fn is_ignored(&self, name: &str) -> bool {
        self.ignored.iter().any(|suffix| name.ends_with(suffix.as_str()))
    }
}
