//! A run configuration from its layers: the defaults, then a config file (TOML or JSON), then
//! overrides by key path (the CLI's environment variables, then its flags), merged by `figment`.
//! What set each value is kept, so `run-config.json` can say where every setting came from.

use std::collections::BTreeMap;
use std::path::Path;

use figment::providers::{Format, Json, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Serialize;

use super::RunConfig;
use crate::error::{DistillError, Result};
use crate::strategy::Strategy;

/// The key of `run-config.json` that records the sources; a config file may hold it (a
/// `run-config.json` given back as `--config`), and it is not a setting.
pub const SOURCES_KEY: &str = "sources";

/// A setting's value as the layers hold it: unlike JSON it keeps NaN and infinities, so that
/// `--learning-rate NaN` reaches the validation and is refused there instead of vanishing.
pub use figment::value::Value as SettingValue;

/// One value set above the config file: `path` is its key path in the configuration
/// (`train_config.seed`), `source` what set it (`flag --seed`, `environment DISTILL_SEED`).
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub path: String,
    pub value: SettingValue,
    pub source: String,
}

/// Each leaf setting's key path and what set it: `default`, `file PATH`, or an override's source.
pub type Sources = BTreeMap<String, String>;

/// A configuration merged from its layers, with the source of every setting.
#[derive(Debug, Clone, PartialEq)]
pub struct LayeredConfig {
    pub config: RunConfig,
    pub sources: Sources,
}

/// One layer as a figment provider, named by its source.
struct Layer {
    name: String,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name.clone())
    }

    fn data(&self) -> std::result::Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

fn dict_of(value: impl Serialize, what: &str) -> Result<Dict> {
    Value::serialize(value)
        .ok()
        .and_then(Value::into_dict)
        .ok_or_else(|| DistillError::Invalid(format!("{what}: not a table of settings")))
}

/// The settings of a TOML or JSON file (`.json` is JSON, anything else TOML), without the
/// `sources` record of a `run-config.json`.
fn file_layer(path: &Path) -> Result<Layer> {
    let text = std::fs::read_to_string(path).map_err(|e| DistillError::io(path, e))?;
    let is_json = path.extension().is_some_and(|e| e == "json");
    let data = if is_json { Json::string(&text).data() } else { Toml::string(&text).data() };
    let bad = |e: figment::Error| DistillError::Invalid(format!("{}: not a valid run configuration: {e}", path.display()));
    let mut dict = data.map_err(bad)?.remove(&Profile::Default).unwrap_or_default();
    dict.remove(SOURCES_KEY);
    Ok(Layer { name: format!("file {}", path.display()), dict })
}

/// A merge or type error, its key named as the configuration spells it (figment prefixes the
/// profile, which a run configuration does not use).
fn refusal(e: figment::Error) -> DistillError {
    DistillError::Invalid(format!("run configuration: {}", e.to_string().replace("for key \"default.", "for key \"")))
}

/// Leaf key paths of a serialised configuration; a list is one leaf.
fn leaf_paths(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                leaf_paths(v, &path, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

impl RunConfig {
    /// Merges the defaults, the config file (when given) and the overrides in order, each
    /// over the one before. An unknown key, or a value of the wrong type, is refused naming its
    /// key and the layer that set it; the rules across settings are `RunConfig::validate`'s.
    pub fn layered(file: Option<&Path>, overrides: &[Override]) -> Result<LayeredConfig> {
        let mut figment = Figment::from(Layer { name: "default".into(), dict: dict_of(RunConfig::default(), "defaults")? });
        if let Some(path) = file {
            figment = figment.merge(file_layer(path)?);
        }
        for o in overrides {
            let dict = figment::util::nest(&o.path, o.value.clone()).into_dict().unwrap_or_default();
            figment = figment.merge(Layer { name: o.source.clone(), dict });
        }
        let mut config: RunConfig = figment.extract().map_err(refusal)?;
        if config.strategy == Strategy::Finetune {
            // Fine-tuning learns from labels alone, whatever weight a layer gave the teacher.
            config.prediction.weight = 0.0;
        }
        if config.train_config.optimizer.max_grad_norm == Some(0.0) {
            // A norm of 0 turns clipping off, in every layer.
            config.train_config.optimizer.max_grad_norm = None;
        }
        // The keys of the merged layers, not of the configuration serialised again, which
        // leaves out some values at their default (`group_by_length` when off).
        let merged: serde_json::Value = figment.extract().map_err(refusal)?;
        let mut paths = vec![];
        leaf_paths(&merged, "", &mut paths);
        let mut sources: Sources = paths
            .into_iter()
            .map(|path| {
                let source = figment.find_metadata(&path).map_or_else(|| "default".to_string(), |m| m.name.to_string());
                (path, source)
            })
            .collect();
        if config.strategy == Strategy::Finetune {
            sources.insert("prediction.weight".into(), "strategy finetune (labels alone)".into());
        }
        Ok(LayeredConfig { config, sources })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(path: &str, value: serde_json::Value, source: &str) -> Override {
        Override { path: path.into(), value: SettingValue::serialize(value).unwrap(), source: source.into() }
    }

    #[test]
    fn later_layers_win_and_each_value_keeps_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.toml");
        std::fs::write(&file, "teacher = \"t\"\n[train_config]\nseed = 7\nepochs = 3\ngroup_by_length = true\n").unwrap();
        let overrides = [
            set("train_config.epochs", serde_json::json!(4), "environment DISTILL_EPOCHS"),
            set("train_config.group_by_length", serde_json::json!(false), "flag --group-by-length"),
            set("train_config.optimizer.max_grad_norm", serde_json::Value::Null, "flag --max-grad-norm"),
        ];
        let layered = RunConfig::layered(Some(&file), &overrides).unwrap();
        let c = &layered.config;
        assert_eq!((c.train_config.seed, c.train_config.epochs, c.train_config.group_by_length), (7, 4, false));
        assert_eq!(c.train_config.optimizer.max_grad_norm, None, "a null override clears a default");
        assert_eq!(c.teacher.as_deref(), Some("t"));
        let source = |p: &str| layered.sources[p].as_str();
        assert_eq!(source("train_config.seed"), format!("file {}", file.display()));
        assert_eq!(source("train_config.epochs"), "environment DISTILL_EPOCHS");
        assert_eq!(source("train_config.group_by_length"), "flag --group-by-length");
        assert_eq!(source("train_config.batch_size"), "default");
        assert_eq!(source("prediction.temperature"), "default");
    }

    #[test]
    fn a_run_config_json_reads_back_with_its_sources_record() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run-config.json");
        let mut written = serde_json::to_value(RunConfig { teacher: Some("t".into()), ..RunConfig::default() }).unwrap();
        written[SOURCES_KEY] = serde_json::json!({"teacher": "flag --teacher"});
        std::fs::write(&file, written.to_string()).unwrap();
        let layered = RunConfig::layered(Some(&file), &[]).unwrap();
        assert_eq!(layered.config, RunConfig { teacher: Some("t".into()), ..RunConfig::default() });
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_key_and_the_layer() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.toml");
        std::fs::write(&file, "[train_config]\nsede = 7\n").unwrap();
        let e = RunConfig::layered(Some(&file), &[]).unwrap_err().to_string();
        assert!(e.contains("for key \"train_config.sede\"") && e.contains(&file.display().to_string()), "{e}");
        let e = RunConfig::layered(None, &[set("train_config.seed", serde_json::json!("x"), "environment DISTILL_SEED")]).unwrap_err().to_string();
        assert!(e.contains("train_config.seed") && e.contains("environment DISTILL_SEED"), "{e}");
        std::fs::write(&file, "seed = [").unwrap();
        let e = RunConfig::layered(Some(&file), &[]).unwrap_err().to_string();
        assert!(e.contains("run.toml") && e.contains("not a valid run configuration"), "{e}");
    }

    #[test]
    fn finetuning_never_weighs_a_teacher() {
        let layered = RunConfig::layered(None, &[set("strategy", serde_json::json!("finetune"), "flag --strategy")]).unwrap();
        assert_eq!(layered.config.prediction.weight, 0.0);
        assert_eq!(layered.sources["prediction.weight"], "strategy finetune (labels alone)");
    }
}
