//! Data files named by a Hugging Face hub dataset: `hub:OWNER/NAME[:CONFIG]:SPLIT` (`--train`,
//! `--dev`, `eval --data`) resolves to the file of that split in the dataset's repository,
//! looked up in the standard hub cache (laid out as the hub lays it:
//! `datasets--OWNER--NAME/{refs/main, snapshots/<commit>/...}`) and, unless `HF_HUB_OFFLINE` is
//! set, listed and downloaded through `hf-hub` when missing. A split's file is the one data file
//! under the config's directory (when a config is named) whose name or directory is the split:
//! `CONFIG/SPLIT/0000.parquet` as the hub's Parquet conversion stores it,
//! `data/SPLIT-00000-of-00001.parquet`, `SPLIT.jsonl`, `SPLIT.conll`, ...

use std::path::{Path, PathBuf};

use crate::error::{DistillError, Result};

const PREFIX: &str = "hub:";
const DATA_EXTENSIONS: [&str; 8] = ["parquet", "jsonl", "json", "csv", "tsv", "conll", "txt", "iob2"];

/// A dataset split on the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSplit {
    pub dataset: String,
    pub config: Option<String>,
    pub split: String,
}

impl HubSplit {
    /// `hub:OWNER/NAME[:CONFIG]:SPLIT`, or `None` for a name without the `hub:` prefix.
    pub fn parse(name: &str) -> Option<std::result::Result<Self, String>> {
        let rest = name.strip_prefix(PREFIX)?;
        let parts: Vec<&str> = rest.split(':').collect();
        let bad = || format!("{name:?}: a hub dataset is named hub:OWNER/NAME:SPLIT or hub:OWNER/NAME:CONFIG:SPLIT");
        Some(match parts.as_slice() {
            [dataset, split] if !dataset.is_empty() && !split.is_empty() => Ok(Self { dataset: dataset.to_string(), config: None, split: split.to_string() }),
            [dataset, config, split] if !dataset.is_empty() && !config.is_empty() && !split.is_empty() => {
                Ok(Self { dataset: dataset.to_string(), config: Some(config.to_string()), split: split.to_string() })
            }
            _ => Err(bad()),
        })
    }

    /// Whether `file` (a path inside the repository, `/`-separated) is this split's data.
    fn matches(&self, file: &str) -> bool {
        let parts: Vec<&str> = file.split('/').collect();
        let name = parts.last().copied().unwrap_or_default();
        let Some((stem, ext)) = name.rsplit_once('.') else { return false };
        if !DATA_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) {
            return false;
        }
        let dirs = &parts[..parts.len() - 1];
        if let Some(config) = &self.config
            && !dirs.contains(&config.as_str())
        {
            return false;
        }
        let named = stem == self.split || stem.starts_with(&format!("{}-", self.split)) || stem.starts_with(&format!("{}_", self.split));
        named || dirs.last().is_some_and(|d| *d == self.split)
    }

    /// The one file among `files` that holds this split.
    fn pick<'a>(&self, files: impl IntoIterator<Item = &'a str>, place: &str) -> Result<String> {
        let mut found: Vec<&str> = files.into_iter().filter(|f| self.matches(f)).collect();
        found.sort();
        match found.as_slice() {
            [one] => Ok(one.to_string()),
            [] => Err(self.error(format!("{place} holds no data file for split `{}`{}", self.split, self.config.as_ref().map_or(String::new(), |c| format!(" of config `{c}`"))))),
            many => Err(self.error(format!("{place} holds {} files for this split ({}); name a config, or give the file itself", many.len(), many.join(", ")))),
        }
    }

    fn error(&self, message: String) -> DistillError {
        DistillError::Hub { model: format!("dataset {}", self.dataset), message }
    }
}

/// Every file under `dir`, as `/`-separated paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            // Snapshot entries are symlinks into blobs/: follow them.
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/"));
            }
        }
    }
    out
}

/// The snapshot directory of a cached dataset at its `main` revision.
fn cached_snapshot(cache_root: &Path, dataset: &str) -> Option<PathBuf> {
    let folder = cache_root.join(format!("datasets--{}", dataset.replace('/', "--")));
    let commit = std::fs::read_to_string(folder.join("refs").join("main")).ok()?;
    Some(folder.join("snapshots").join(commit.trim())).filter(|d| d.is_dir())
}

/// The local file `name` stands for: itself, or the file of a `hub:` split.
pub fn resolve_data(name: &Path) -> Result<PathBuf> {
    let Some(parsed) = name.to_str().and_then(HubSplit::parse) else { return Ok(name.to_path_buf()) };
    let split = parsed.map_err(DistillError::Invalid)?;
    let cache_root = crate::hub::cache_dir();
    if let Some(snapshot) = cached_snapshot(&cache_root, &split.dataset) {
        let files = files_under(&snapshot);
        let file = split.pick(files.iter().map(String::as_str), &format!("the hub cache's snapshot {}", snapshot.display()))?;
        return Ok(snapshot.join(file));
    }
    if crate::hub::offline() {
        return Err(split.error(format!("not in the hub cache {}, and HF_HUB_OFFLINE is set", cache_root.display())));
    }
    let api = hf_hub::api::sync::ApiBuilder::new().with_cache_dir(cache_root).with_progress(true).build().map_err(|e| split.error(e.to_string()))?;
    let repo = api.dataset(split.dataset.clone());
    let info = repo.info().map_err(|e| split.error(format!("listing the dataset's files: {e}")))?;
    let file = split.pick(info.siblings.iter().map(|s| s.rfilename.as_str()), "the dataset's repository")?;
    repo.get(&file).map_err(|e| split.error(format!("downloading {file}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names_and_the_files_they_pick() {
        assert_eq!(HubSplit::parse("train.jsonl"), None);
        let s = HubSplit::parse("hub:leondz/wnut_17:validation").unwrap().unwrap();
        assert_eq!((s.dataset.as_str(), s.config.as_deref(), s.split.as_str()), ("leondz/wnut_17", None, "validation"));
        assert!(HubSplit::parse("hub:glue").unwrap().is_err());
        let glue = HubSplit::parse("hub:nyu-mll/glue:mrpc:train").unwrap().unwrap();
        let files = ["README.md", "cola/train-00000-of-00001.parquet", "mrpc/train-00000-of-00001.parquet", "mrpc/test-00000-of-00001.parquet", "mrpc/validation-00000-of-00001.parquet"];
        assert_eq!(glue.pick(files, "repo").unwrap(), "mrpc/train-00000-of-00001.parquet");
        // Without the config, two train files: refused, naming them.
        let any = HubSplit { config: None, ..glue.clone() };
        let err = any.pick(files, "repo").unwrap_err().to_string();
        assert!(err.contains("2 files") && err.contains("cola/train"), "{err}");
        // The Parquet conversion's layout, and plain files.
        assert_eq!(glue.pick(["mrpc/train/0000.parquet", "mrpc/test/0000.parquet"], "repo").unwrap(), "mrpc/train/0000.parquet");
        let plain = HubSplit { dataset: "x/y".into(), config: None, split: "dev".into() };
        assert_eq!(plain.pick(["train.conll", "dev.conll", "devices.txt"], "repo").unwrap(), "dev.conll");
        assert!(plain.pick(["train.conll"], "repo").unwrap_err().to_string().contains("no data file for split `dev`"));
    }
}
