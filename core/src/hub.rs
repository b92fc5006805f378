//! Resolving `--model DIR|HUB_ID` to files: a local directory in Hugging Face layout, or a hub
//! id looked up in the standard Hugging Face cache (`HF_HUB_CACHE`, else `HF_HOME/hub`, else
//! `~/.cache/huggingface/hub`) and downloaded through `hf-hub` when missing, unless
//! `HF_HUB_OFFLINE` is set.

use std::path::{Path, PathBuf};

use crate::error::{DistillError, Result};
use crate::tokenizer::TokenizerFiles;

/// The files of one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// What the user named: a directory or a hub id.
    pub name: String,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub weights: PathBuf,
    pub tokenizer: Option<TokenizerFiles>,
}

impl ModelFiles {
    /// The files of a local model directory.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let config = dir.join("config.json");
        if !config.is_file() {
            return Err(DistillError::io(&config, std::io::Error::new(std::io::ErrorKind::NotFound, "no config.json in the model directory")));
        }
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            let hint = if dir.join("pytorch_model.bin").is_file() { " (pytorch_model.bin found: convert it to safetensors)" } else { "" };
            return Err(DistillError::io(&weights, std::io::Error::new(std::io::ErrorKind::NotFound, format!("no model.safetensors in the model directory{hint}"))));
        }
        Ok(Self { name: dir.display().to_string(), dir: dir.to_path_buf(), config, weights, tokenizer: TokenizerFiles::find(dir) })
    }
}

/// The hub cache directory the environment names.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HF_HUB_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(home) = std::env::var_os("HF_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join("hub");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("huggingface").join("hub")
}

/// The hub's HTTP API with downloads kept in `cache_root`, at the endpoint `HF_ENDPOINT` names
/// (a mirror, or a test's local server), else huggingface.co.
pub fn online_api(cache_root: PathBuf) -> std::result::Result<hf_hub::api::sync::Api, hf_hub::api::sync::ApiError> {
    hf_hub::api::sync::ApiBuilder::from_env().with_cache_dir(cache_root).with_progress(true).build()
}

pub fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")).unwrap_or(false)
}

const TOKENIZER_FILES: [&str; 5] = ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "merges.txt"];

fn looks_like_hub_id(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    !name.starts_with('.')
        && parts.len() <= 2
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
}

/// The local directory a name points into, when its first component exists here: `runs/teacher`
/// with a `runs/` directory is a mistyped path, not a hub id.
fn local_parent(name: &str) -> Option<&str> {
    let first = name.split('/').next().filter(|f| !f.is_empty())?;
    (name.contains('/') && Path::new(first).is_dir()).then_some(first)
}

/// Resolves a directory or a hub id to the checkpoint's files.
pub fn resolve(name: &str) -> Result<ModelFiles> {
    let path = Path::new(name);
    if path.is_dir() {
        return ModelFiles::from_dir(path);
    }
    let not_found = |message: String| DistillError::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, message));
    if !looks_like_hub_id(name) {
        return Err(not_found("no such model directory".into()));
    }
    let cache_root = cache_dir();
    let cached = hf_hub::Cache::new(cache_root.clone()).model(name.to_string());
    if let Some(parent) = local_parent(name) {
        // Not sent to the hub: a download under a mistyped path's name would train on another model.
        let found = match cached.get("config.json") {
            Some(config) => format!("the hub cache does hold a model `{name}` ({}); to use it, run where no `{parent}` directory is", config.parent().unwrap_or(&cache_root).display()),
            None => format!("the hub cache {} holds no model of that name, and the hub was not asked", cache_root.display()),
        };
        return Err(not_found(format!("no such model directory (`{parent}` is a local directory, so this names a path); {found}")));
    }
    if let Some(config) = cached.get("config.json") {
        let dir = config.parent().expect("a cached file lies in a snapshot directory").to_path_buf();
        // Snapshot files may be symlinks into blobs/: keep the snapshot path, which has the file names.
        let weights = cached.get("model.safetensors").ok_or_else(|| DistillError::Hub {
            model: name.into(),
            message: format!("cached in {} without model.safetensors", dir.display()),
        })?;
        return Ok(ModelFiles { name: name.into(), dir: dir.clone(), config, weights, tokenizer: TokenizerFiles::find(&dir) });
    }
    if offline() {
        return Err(DistillError::Hub {
            model: name.into(),
            message: format!("no such local directory, not in the hub cache {}, and HF_HUB_OFFLINE is set", cache_root.display()),
        });
    }
    download(name, cache_root).map_err(|e| match e {
        DistillError::Hub { model, message } => DistillError::Hub { model, message: format!("no such local directory, and the hub lookup failed: {message}") },
        other => other,
    })
}

fn download(name: &str, cache_root: PathBuf) -> Result<ModelFiles> {
    let hub_err = |message: String| DistillError::Hub { model: name.into(), message };
    let api = online_api(cache_root).map_err(|e| hub_err(e.to_string()))?;
    let repo = api.model(name.to_string());
    let config = repo.get("config.json").map_err(|e| hub_err(format!("downloading config.json: {e}")))?;
    let weights = repo.get("model.safetensors").map_err(|e| hub_err(format!("downloading model.safetensors: {e}")))?;
    for file in TOKENIZER_FILES {
        // Optional: a model has one of several tokenizer layouts.
        let _ = repo.get(file);
    }
    let dir = config.parent().expect("a downloaded file lies in a snapshot directory").to_path_buf();
    Ok(ModelFiles { name: name.into(), dir: dir.clone(), config, weights, tokenizer: TokenizerFiles::find(&dir) })
}
