//! Reading an architecture's `config.json` dialect into the core's [`EncoderConfig`], and
//! writing it back. Each core field lists the keys that may hold it, first one preferred.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{DistillError, Result};
use crate::model::{Activation, EncoderConfig, PositionScheme};

/// For each core field, the `config.json` keys that may hold it. An empty list means the
/// architecture has no such key and the value comes from [`ConfigDefaults`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigKeys {
    pub vocab_size: Vec<String>,
    pub hidden_size: Vec<String>,
    pub num_layers: Vec<String>,
    pub num_heads: Vec<String>,
    pub intermediate_size: Vec<String>,
    pub max_position_embeddings: Vec<String>,
    #[serde(default)]
    pub type_vocab_size: Vec<String>,
    #[serde(default)]
    pub layer_norm_eps: Vec<String>,
    pub activation: Vec<String>,
    #[serde(default)]
    pub pad_token_id: Vec<String>,
    #[serde(default)]
    pub hidden_dropout: Vec<String>,
    #[serde(default)]
    pub attention_dropout: Vec<String>,
    #[serde(default)]
    pub initializer_range: Vec<String>,
    #[serde(default)]
    pub sinusoidal_positions: Vec<String>,
}

/// Values for core fields that a checkpoint's config may leave out, keyed by core field name
/// (`"layer_norm_eps": 1e-12`).
pub type ConfigDefaults = BTreeMap<String, Value>;

const FIELDS: [&str; 14] = [
    "vocab_size",
    "hidden_size",
    "num_layers",
    "num_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
    "layer_norm_eps",
    "activation",
    "pad_token_id",
    "hidden_dropout",
    "attention_dropout",
    "initializer_range",
    "sinusoidal_positions",
];

impl ConfigKeys {
    /// The keys of BERT's `config.json`, which most of the family shares.
    pub fn bert() -> Self {
        let k = |s: &str| vec![s.to_string()];
        Self {
            vocab_size: k("vocab_size"),
            hidden_size: k("hidden_size"),
            num_layers: k("num_hidden_layers"),
            num_heads: k("num_attention_heads"),
            intermediate_size: k("intermediate_size"),
            max_position_embeddings: k("max_position_embeddings"),
            type_vocab_size: k("type_vocab_size"),
            layer_norm_eps: k("layer_norm_eps"),
            activation: k("hidden_act"),
            pad_token_id: k("pad_token_id"),
            hidden_dropout: k("hidden_dropout_prob"),
            attention_dropout: k("attention_probs_dropout_prob"),
            initializer_range: k("initializer_range"),
            sinusoidal_positions: vec![],
        }
    }

    fn keys(&self, field: &str) -> &[String] {
        match field {
            "vocab_size" => &self.vocab_size,
            "hidden_size" => &self.hidden_size,
            "num_layers" => &self.num_layers,
            "num_heads" => &self.num_heads,
            "intermediate_size" => &self.intermediate_size,
            "max_position_embeddings" => &self.max_position_embeddings,
            "type_vocab_size" => &self.type_vocab_size,
            "layer_norm_eps" => &self.layer_norm_eps,
            "activation" => &self.activation,
            "pad_token_id" => &self.pad_token_id,
            "hidden_dropout" => &self.hidden_dropout,
            "attention_dropout" => &self.attention_dropout,
            "initializer_range" => &self.initializer_range,
            "sinusoidal_positions" => &self.sinusoidal_positions,
            _ => &[],
        }
    }

    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        for field in ["vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "max_position_embeddings", "activation"] {
            if self.keys(field).is_empty() {
                return Err(format!("`{field}` needs at least one config.json key"));
            }
        }
        Ok(())
    }

    /// Reads `config` (the parsed `config.json` at `path`) into the core's config.
    pub fn parse(&self, config: &Value, defaults: &ConfigDefaults, position_scheme: PositionScheme, path: &Path) -> Result<EncoderConfig> {
        let object = config
            .as_object()
            .ok_or_else(|| DistillError::config(path, "(root)", "config.json must be a JSON object"))?;
        for name in defaults.keys() {
            if !FIELDS.contains(&name.as_str()) {
                return Err(DistillError::config(path, name, "unknown core field in plugin defaults"));
            }
        }
        let lookup = |field: &str| -> Result<(String, Value)> {
            let keys = self.keys(field);
            for key in keys {
                match object.get(key) {
                    Some(Value::Null) | None => continue,
                    Some(v) => return Ok((key.clone(), v.clone())),
                }
            }
            match defaults.get(field) {
                Some(v) => Ok((format!("{field} (plugin default)"), v.clone())),
                None => Err(DistillError::config(
                    path,
                    keys.first().map(String::as_str).unwrap_or(field),
                    "missing, and the plugin has no default for it",
                )),
            }
        };
        let usize_of = |field: &str| -> Result<usize> {
            let (key, v) = lookup(field)?;
            v.as_u64().map(|n| n as usize).ok_or_else(|| DistillError::config(path, key, format!("expected a non-negative integer, found {v}")))
        };
        let f64_of = |field: &str| -> Result<f64> {
            let (key, v) = lookup(field)?;
            v.as_f64().ok_or_else(|| DistillError::config(path, key, format!("expected a number, found {v}")))
        };
        let (act_key, act) = lookup("activation")?;
        let activation = act
            .as_str()
            .and_then(Activation::from_hf_name)
            .ok_or_else(|| DistillError::config(path, act_key, format!("unsupported activation {act}; expected gelu, gelu_new, gelu_pytorch_tanh or relu")))?;
        let (sin_key, sin) = lookup("sinusoidal_positions")?;
        let sinusoidal_positions = sin
            .as_bool()
            .ok_or_else(|| DistillError::config(path, sin_key, format!("expected true or false, found {sin}")))?;
        let parsed = EncoderConfig {
            vocab_size: usize_of("vocab_size")?,
            hidden_size: usize_of("hidden_size")?,
            num_layers: usize_of("num_layers")?,
            num_heads: usize_of("num_heads")?,
            intermediate_size: usize_of("intermediate_size")?,
            max_position_embeddings: usize_of("max_position_embeddings")?,
            type_vocab_size: usize_of("type_vocab_size")?,
            layer_norm_eps: f64_of("layer_norm_eps")?,
            activation,
            position_scheme,
            sinusoidal_positions,
            pad_token_id: usize_of("pad_token_id")?,
            hidden_dropout: f64_of("hidden_dropout")?,
            attention_dropout: f64_of("attention_dropout")?,
            initializer_range: f64_of("initializer_range")?,
        };
        parsed.validate(path)?;
        Ok(parsed)
    }

    /// Writes `config` under this architecture's preferred keys into `out`.
    pub fn export(&self, config: &EncoderConfig, out: &mut Map<String, Value>) {
        let values: [(&str, Value); 14] = [
            ("vocab_size", config.vocab_size.into()),
            ("hidden_size", config.hidden_size.into()),
            ("num_layers", config.num_layers.into()),
            ("num_heads", config.num_heads.into()),
            ("intermediate_size", config.intermediate_size.into()),
            ("max_position_embeddings", config.max_position_embeddings.into()),
            ("type_vocab_size", config.type_vocab_size.into()),
            ("layer_norm_eps", config.layer_norm_eps.into()),
            ("activation", config.activation.hf_name().into()),
            ("pad_token_id", config.pad_token_id.into()),
            ("hidden_dropout", config.hidden_dropout.into()),
            ("attention_dropout", config.attention_dropout.into()),
            ("initializer_range", config.initializer_range.into()),
            ("sinusoidal_positions", config.sinusoidal_positions.into()),
        ];
        for (field, value) in values {
            if let Some(key) = self.keys(field).first() {
                out.insert(key.clone(), value);
            }
        }
    }
}

/// Defaults every plugin of the BERT family shares for keys old checkpoints leave out.
pub fn bert_family_defaults() -> ConfigDefaults {
    let mut d = ConfigDefaults::new();
    d.insert("layer_norm_eps".into(), 1e-12.into());
    d.insert("pad_token_id".into(), 0.into());
    d.insert("hidden_dropout".into(), 0.1.into());
    d.insert("attention_dropout".into(), 0.1.into());
    d.insert("initializer_range".into(), 0.02.into());
    d.insert("sinusoidal_positions".into(), false.into());
    d.insert("type_vocab_size".into(), 2.into());
    d
}
