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

    /// Each core field with the keys that may hold it, in the struct's order, as serde sees the
    /// struct: the one list that reading, writing and checking plugin defaults all walk.
    fn fields(&self) -> Vec<(String, Vec<String>)> {
        let Value::Object(fields) = serde_json::to_value(self).expect("config keys serialise") else { unreachable!("a struct serialises to an object") };
        fields.into_iter().map(|(field, keys)| (field, serde_json::from_value(keys).expect("a list of keys"))).collect()
    }

    fn keys(&self, field: &str) -> Vec<String> {
        self.fields().into_iter().find(|(f, _)| f == field).map(|(_, keys)| keys).unwrap_or_default()
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
        let fields = self.fields();
        for name in defaults.keys() {
            if !fields.iter().any(|(field, _)| field == name) {
                return Err(DistillError::config(path, name, "unknown core field in plugin defaults"));
            }
        }
        let lookup = |field: &str| -> Result<(String, Value)> {
            let keys = self.keys(field);
            for key in &keys {
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

    /// Writes `config` under this architecture's preferred keys into `out`: each field's value as
    /// the core serialises it (same names), the activation by its transformers name.
    pub fn export(&self, config: &EncoderConfig, out: &mut Map<String, Value>) {
        let values = serde_json::to_value(config).expect("an encoder config serialises");
        for (field, keys) in self.fields() {
            let value = if field == "activation" { config.activation.hf_name().into() } else { values[&field].clone() };
            if let Some(key) = keys.first() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EncoderConfig {
        EncoderConfig {
            vocab_size: 99,
            hidden_size: 32,
            num_layers: 3,
            num_heads: 4,
            intermediate_size: 64,
            max_position_embeddings: 128,
            type_vocab_size: 2,
            layer_norm_eps: 1e-7,
            activation: Activation::GeluTanh,
            position_scheme: PositionScheme::Absolute,
            sinusoidal_positions: true,
            pad_token_id: 1,
            hidden_dropout: 0.2,
            attention_dropout: 0.05,
            initializer_range: 0.03,
        }
    }

    #[test]
    fn export_then_parse_gives_every_field_back_under_the_preferred_keys() {
        let keys = ConfigKeys { num_layers: vec!["n_layers".into(), "num_hidden_layers".into()], sinusoidal_positions: vec!["sinusoidal_pos_embds".into()], ..ConfigKeys::bert() };
        let mut out = Map::new();
        keys.export(&config(), &mut out);
        assert_eq!(out.len(), 14, "one key per core field: {out:?}");
        assert_eq!((&out["hidden_act"], &out["n_layers"], &out["sinusoidal_pos_embds"]), (&Value::from("gelu_new"), &Value::from(3), &Value::from(true)));
        let parsed = keys.parse(&Value::Object(out), &ConfigDefaults::new(), PositionScheme::Absolute, Path::new("config.json")).unwrap();
        assert_eq!(parsed, config());
    }

    #[test]
    fn a_field_without_keys_is_not_written_and_comes_from_the_defaults() {
        let mut out = Map::new();
        ConfigKeys::bert().export(&config(), &mut out);
        assert!(!out.contains_key("sinusoidal_positions"), "BERT has no such key");
        let mut defaults = bert_family_defaults();
        let parsed = ConfigKeys::bert().parse(&Value::Object(out.clone()), &defaults, PositionScheme::Absolute, Path::new("config.json")).unwrap();
        assert!(!parsed.sinusoidal_positions);
        defaults.insert("num_layer".into(), 2.into());
        let e = ConfigKeys::bert().parse(&Value::Object(out), &defaults, PositionScheme::Absolute, Path::new("config.json")).unwrap_err().to_string();
        assert!(e.contains("num_layer") && e.contains("unknown core field"), "{e}");
    }
}
