//! A checkpoint as a whole: config, weights and tokenizer, loaded through a plugin and saved back
//! in Hugging Face layout so Python transformers loads the result.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::Device;
use serde_json::{Map, Value};

use crate::error::{DistillError, Result};
use crate::hub::{self, ModelFiles};
use crate::model::{EncoderConfig, Head, ParamKey, Part, TaskModel, build_task_model, visit_params};
use crate::registry::{ArchitectureSpec, Registry};
use crate::tokenizer::{TextTokenizer, TokenizerFiles};
use crate::weights::{Checkpoint, CheckpointSource, write_safetensors};

/// A loaded model with everything needed to run and save it.
pub struct Pretrained {
    pub spec: ArchitectureSpec,
    pub config: EncoderConfig,
    /// The `config.json` as read, kept so saving preserves keys the core does not use.
    pub raw_config: Map<String, Value>,
    pub model: TaskModel,
    pub tokenizer: Option<TextTokenizer>,
    pub files: Option<ModelFiles>,
    /// Checkpoint tensors that no parameter used.
    pub unused_tensors: Vec<String>,
}

/// Picks the plugin: the one named, else the one claiming config.json's `model_type`.
pub fn choose_plugin<'r>(registry: &'r Registry, plugin: Option<&str>, raw: &Map<String, Value>, config_path: &Path) -> Result<&'r ArchitectureSpec> {
    if let Some(name) = plugin {
        return Ok(&registry.require(name)?.spec);
    }
    let model_type = raw
        .get("model_type")
        .and_then(Value::as_str)
        .ok_or_else(|| DistillError::config(config_path, "model_type", "missing; name the architecture with --plugin"))?;
    registry.for_model_type(model_type).map(|p| &p.spec).ok_or_else(|| {
        DistillError::config(config_path, "model_type", format!("unknown model_type {model_type:?}; known plugins: {} (choose one with --plugin)", registry.names().join(", ")))
    })
}

impl Pretrained {
    /// Loads `model` (a directory or hub id) with the named plugin or the one its config implies.
    pub fn load(model: &str, plugin: Option<&str>, registry: &Registry, device: &Device) -> Result<Self> {
        Self::from_files(hub::resolve(model)?, plugin, registry, device)
    }

    pub fn from_files(files: ModelFiles, plugin: Option<&str>, registry: &Registry, device: &Device) -> Result<Self> {
        let raw: Value = crate::io::read_json(&files.config)?;
        let raw = match raw {
            Value::Object(map) => map,
            _ => return Err(DistillError::config(&files.config, "(root)", "config.json must be a JSON object")),
        };
        let spec = choose_plugin(registry, plugin, &raw, &files.config)?.clone();
        let config = spec.config_keys.parse(&Value::Object(raw.clone()), &spec.config_defaults, spec.position_scheme, &files.config)?;
        let checkpoint = Checkpoint::open(&files.weights)?;
        let mut source = CheckpointSource::new(&checkpoint, &spec.tensors)?;
        let head = detect_head(&source, &checkpoint, &raw);
        let model = build_task_model(&config, head, spec.head_layout(), &mut source, device)?;
        let unused_tensors = source.unused();
        let tokenizer = files.tokenizer.as_ref().map(TextTokenizer::load).transpose()?;
        Ok(Self { spec, config, raw_config: raw, model, tokenizer, files: Some(files), unused_tensors })
    }

    /// Saves config.json, model.safetensors and the tokenizer files into `dir`, each atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        save_model(&self.model, &self.spec, &self.raw_config, self.tokenizer.as_ref().map(|t| &t.files), dir)
    }
}

/// Label names of a classifier of `n` classes: config.json's `id2label`, else `LABEL_{i}`.
pub fn labels_from_config(raw: &Map<String, Value>, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| raw.get("id2label").and_then(|m| m.get(i.to_string())).and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("LABEL_{i}")))
        .collect()
}

impl Pretrained {
    /// What the compatibility check needs to know of this checkpoint.
    pub fn facts(&self) -> crate::strategy::compat::CheckpointFacts {
        crate::strategy::compat::CheckpointFacts {
            config: self.config.clone(),
            vocabulary: self.tokenizer.as_ref().map(TextTokenizer::vocabulary),
            head: self.model.head(),
            labels: self.model.num_labels().map(|n| labels_from_config(&self.raw_config, n)),
        }
    }
}

/// The head a checkpoint carries, from its tensors. BERT and DistilBERT name the output layer of
/// both classification heads `classifier`; the sequence head also has a dense layer before it,
/// and config.json's `architectures` settles a checkpoint that carries both.
fn detect_head(source: &CheckpointSource<'_>, checkpoint: &Checkpoint, raw: &Map<String, Value>) -> Option<(Head, usize)> {
    if source.has_key(ParamKey::QaOutputs(Part::Weight)) {
        return Some((Head::QuestionAnswering, 2));
    }
    let rows = |key: ParamKey| source.resolve(key).map(|name| checkpoint.shape(&name).and_then(|s| s.first().copied()).unwrap_or(2));
    let declared_token = raw.get("architectures").and_then(|a| a.get(0)).and_then(Value::as_str).is_some_and(|a| a.ends_with("ForTokenClassification"));
    let sequence = rows(ParamKey::ClassifierOut(Part::Weight)).filter(|_| source.has_key(ParamKey::ClassifierDense(Part::Weight)));
    let token = rows(ParamKey::TokenClassifier(Part::Weight));
    match (sequence, token) {
        (Some(labels), _) if !declared_token => return Some((Head::Classification, labels)),
        (_, Some(labels)) => return Some((Head::TokenClassification, labels)),
        _ => {}
    }
    if source.has_key(ParamKey::MlmBias) && source.has_key(ParamKey::MlmDense(Part::Weight)) {
        return Some((Head::MaskedLm, 0));
    }
    None
}

/// The config.json transformers needs for `model` under `spec`, keeping unrelated keys of `base`.
pub fn export_config(model: &TaskModel, spec: &ArchitectureSpec, base: &Map<String, Value>) -> Map<String, Value> {
    let mut out = base.clone();
    for stale in ["dtype", "torch_dtype", "_name_or_path", "transformers_version"] {
        out.remove(stale);
    }
    spec.config_keys.export(&model.encoder.config, &mut out);
    out.insert("model_type".into(), spec.export_model_type.clone().into());
    let class = match model.head() {
        None => &spec.classes.base,
        Some(Head::QuestionAnswering) => &spec.classes.question_answering,
        Some(Head::Classification) => &spec.classes.classification,
        Some(Head::TokenClassification) => &spec.classes.token_classification,
        Some(Head::MaskedLm) => &spec.classes.masked_lm,
    };
    out.insert("architectures".into(), Value::Array(vec![class.clone().into()]));
    if let Some(labels) = model.num_labels() {
        let keep = out.get("id2label").and_then(Value::as_object).is_some_and(|m| m.len() == labels);
        if !keep {
            let id2label: Map<String, Value> = (0..labels).map(|i| (i.to_string(), format!("LABEL_{i}").into())).collect();
            let label2id: Map<String, Value> = (0..labels).map(|i| (format!("LABEL_{i}"), i.into())).collect();
            out.insert("id2label".into(), Value::Object(id2label));
            out.insert("label2id".into(), Value::Object(label2id));
        }
    }
    out
}

/// Writes `model` in Hugging Face layout into `dir`.
pub fn save_model(model: &TaskModel, spec: &ArchitectureSpec, base_config: &Map<String, Value>, tokenizer: Option<&TokenizerFiles>, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| DistillError::io(dir, e))?;
    let base = if model.head().is_some() { spec.tensors.base_prefixes[0].as_str() } else { "" };
    let mut tensors = BTreeMap::new();
    for p in visit_params(model) {
        let name = spec.tensors.name(p.key, base).expect("a parameter the model has is one its architecture names");
        tensors.insert(name, (p.shape, p.values));
    }
    let metadata = Some([("format".to_string(), "pt".to_string())].into_iter().collect());
    write_safetensors(&dir.join("model.safetensors"), &tensors, metadata)?;
    crate::io::write_json_atomic(&dir.join("config.json"), &Value::Object(export_config(model, spec, base_config)))?;
    if let Some(files) = tokenizer {
        for src in files.paths() {
            let name = src.file_name().expect("tokenizer files have names");
            let bytes = std::fs::read(src).map_err(|e| DistillError::io(src, e))?;
            crate::io::write_atomic(&dir.join(name), &bytes)?;
        }
    }
    Ok(())
}
