//! Data files named by a Hugging Face hub dataset: `hub:OWNER/NAME[:CONFIG]:SPLIT` (`--train`,
//! `--dev`, `eval --data`) resolves to the file of that split in the dataset's repository,
//! looked up in the standard hub cache (laid out as the hub lays it:
//! `datasets--OWNER--NAME/{refs/main, snapshots/<commit>/...}`) and, unless `HF_HUB_OFFLINE` is
//! set, listed and downloaded through `hf-hub` when missing. A split's files are the data files
//! under the config's directory (when a config is named) whose name or directory is the split:
//! `CONFIG/SPLIT/0000.parquet` as the hub's Parquet conversion stores it,
//! `data/SPLIT-00000-of-00001.parquet`, `SPLIT.jsonl`, `SPLIT.conll`, ... Several files must be
//! the complete numbered shards of one split, which resolve to a pattern (`data::shards`).

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

    /// The files among `files` that hold this split: one file, or every shard of a sharded
    /// split (`data/train-00000-of-00003.parquet`, ...; `CONFIG/train/0000.parquet`, ...), which
    /// must all be there.
    fn pick<'a>(&self, files: impl IntoIterator<Item = &'a str>, place: &str) -> std::result::Result<SplitFiles, String> {
        let mut found: Vec<&str> = files.into_iter().filter(|f| self.matches(f)).collect();
        found.sort();
        if found.is_empty() {
            return Err(format!("{place} holds no data file for split `{}`{}", self.split, self.config.as_ref().map_or(String::new(), |c| format!(" of config `{c}`"))));
        }
        match shard_set(&found) {
            Some(Ok(pattern)) => Ok(SplitFiles { pattern, files: found.iter().map(|f| f.to_string()).collect() }),
            Some(Err(missing)) => Err(format!("{place} holds split `{}` only in part, without {missing}: a split is read whole or not at all", self.split)),
            None if found.len() == 1 => Ok(SplitFiles { pattern: None, files: vec![found[0].to_string()] }),
            None => Err(format!("{place} holds {} files for this split ({}); name a config, or give the file itself", found.len(), found.join(", "))),
        }
    }

    fn error(&self, message: String) -> DistillError {
        DistillError::Hub { model: format!("dataset {}", self.dataset), message }
    }
}

/// The repository files of a split, and the pattern (`data::shards`) that names them when there
/// are several.
#[derive(Debug, PartialEq, Eq)]
struct SplitFiles {
    files: Vec<String>,
    pattern: Option<String>,
}

impl SplitFiles {
    /// The data path of the split in `snapshot`, the snapshot's own glob characters escaped.
    fn within(&self, snapshot: &Path) -> PathBuf {
        match &self.pattern {
            Some(pattern) => PathBuf::from(glob::Pattern::escape(&snapshot.to_string_lossy())).join(pattern),
            None => snapshot.join(&self.files[0]),
        }
    }
}

/// A numbered shard's file name, split: `PREFIX-INDEX-of-COUNT[-SUFFIX].EXT` (the hub's
/// `push_to_hub` layout, the suffix an old content hash) or `INDEX.EXT` (its Parquet conversion).
struct ShardName<'a> {
    dir: &'a str,
    prefix: &'a str,
    index: &'a str,
    count: Option<&'a str>,
    suffix: &'a str,
    ext: &'a str,
}

impl<'a> ShardName<'a> {
    fn parse(file: &'a str) -> Option<Self> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let (dir, name) = file.rsplit_once('/').unwrap_or(("", file));
        let (stem, ext) = name.rsplit_once('.')?;
        if digits(stem) {
            return Some(Self { dir, prefix: "", index: stem, count: None, suffix: "", ext });
        }
        let (left, right) = stem.split_once("-of-")?;
        let (prefix, index) = left.rsplit_once('-')?;
        let (count, suffix) = right.split_at(right.find('-').unwrap_or(right.len()));
        (digits(index) && digits(count)).then_some(Self { dir, prefix, index, count: Some(count), suffix, ext })
    }

    /// Whether `other` belongs to the same set: same place, prefix, index width and count, and a
    /// suffix where this one has one.
    fn same_set(&self, other: &Self) -> bool {
        (self.dir, self.prefix, self.index.len(), self.count, self.suffix.is_empty(), self.ext) == (other.dir, other.prefix, other.index.len(), other.count, other.suffix.is_empty(), other.ext)
    }

    /// The pattern that names every shard of the set, glob characters of the names escaped.
    fn pattern(&self) -> String {
        let escape = glob::Pattern::escape;
        let mut name = if self.prefix.is_empty() { String::new() } else { format!("{}-", escape(self.prefix)) };
        name.push_str(&"[0-9]".repeat(self.index.len()));
        if let Some(count) = self.count {
            name.push_str(&format!("-of-{count}"));
        }
        if !self.suffix.is_empty() {
            name.push_str("-*");
        }
        name.push_str(&format!(".{}", escape(self.ext)));
        if self.dir.is_empty() { name } else { format!("{}/{name}", escape(self.dir)) }
    }
}

/// `files` (sorted) as the shards of one split: `Some(Ok(pattern))` for a complete set (no
/// pattern when it is one file), `Some(Err(missing))` naming what an incomplete one lacks,
/// `None` when they are not one numbered set.
fn shard_set(files: &[&str]) -> Option<std::result::Result<Option<String>, String>> {
    let names: Vec<ShardName> = files.iter().map(|f| ShardName::parse(f)).collect::<Option<_>>()?;
    let first = names.first()?;
    if !names.iter().all(|n| first.same_set(n)) {
        return None;
    }
    let indices: Vec<usize> = names.iter().filter_map(|n| n.index.parse().ok()).collect();
    let total = first.count.and_then(|c| c.parse().ok()).unwrap_or(names.len());
    let absent: Vec<String> = (0..total).filter(|i| !indices.contains(i)).map(|i| format!("shard {i}")).collect();
    if !absent.is_empty() {
        return Some(Err(absent.join(", ")));
    }
    if names.len() > total {
        return Some(Err(format!("a single copy of each shard ({} files for {total} shards)", names.len())));
    }
    Some(Ok((files.len() > 1).then(|| first.pattern())))
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

/// The local data path `name` stands for: itself, or the file of a `hub:` split (a pattern
/// naming its shards when it has several, `data::shards`).
pub fn resolve_data(name: &Path) -> Result<PathBuf> {
    let Some(parsed) = name.to_str().and_then(HubSplit::parse) else { return Ok(name.to_path_buf()) };
    let split = parsed.map_err(DistillError::Invalid)?;
    let cache_root = crate::hub::cache_dir();
    let in_cache = match cached_snapshot(&cache_root, &split.dataset) {
        Some(snapshot) => match split.pick(files_under(&snapshot).iter().map(String::as_str), &format!("the hub cache's snapshot {}", snapshot.display())) {
            Ok(found) => return Ok(found.within(&snapshot)),
            Err(message) => message,
        },
        None => format!("not in the hub cache {}", cache_root.display()),
    };
    if crate::hub::offline() {
        return Err(split.error(format!("{in_cache}, and HF_HUB_OFFLINE is set")));
    }
    // Not found in the cache: looked up online, and a failure there reports both.
    let online_error = |e: String| split.error(format!("{in_cache}; online, {e}"));
    let api = crate::hub::online_api(cache_root).map_err(|e| online_error(e.to_string()))?;
    let repo = api.dataset(split.dataset.clone());
    let info = repo.info().map_err(|e| online_error(format!("listing the dataset's files: {e}")))?;
    let found = split.pick(info.siblings.iter().map(|s| s.rfilename.as_str()), "the dataset's repository").map_err(|m| split.error(m))?;
    let mut snapshot = None;
    for file in &found.files {
        let local = repo.get(file).map_err(|e| online_error(format!("downloading {file}: {e}")))?;
        // `local` is the file's place in the snapshot directory: the split's path is read there.
        snapshot = local.ancestors().nth(file.split('/').count()).map(Path::to_path_buf);
    }
    let snapshot = snapshot.ok_or_else(|| split.error("the download left no snapshot directory".into()))?;
    Ok(found.within(&snapshot))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(file: &str) -> SplitFiles {
        SplitFiles { files: vec![file.into()], pattern: None }
    }

    #[test]
    fn split_names_and_the_files_they_pick() {
        assert_eq!(HubSplit::parse("train.jsonl"), None);
        let s = HubSplit::parse("hub:leondz/wnut_17:validation").unwrap().unwrap();
        assert_eq!((s.dataset.as_str(), s.config.as_deref(), s.split.as_str()), ("leondz/wnut_17", None, "validation"));
        assert!(HubSplit::parse("hub:glue").unwrap().is_err());
        let glue = HubSplit::parse("hub:nyu-mll/glue:mrpc:train").unwrap().unwrap();
        let files = ["README.md", "cola/train-00000-of-00001.parquet", "mrpc/train-00000-of-00001.parquet", "mrpc/test-00000-of-00001.parquet", "mrpc/validation-00000-of-00001.parquet"];
        assert_eq!(glue.pick(files, "repo").unwrap(), one("mrpc/train-00000-of-00001.parquet"));
        // Without the config, two train files: refused, naming them.
        let any = HubSplit { config: None, ..glue.clone() };
        let err = any.pick(files, "repo").unwrap_err();
        assert!(err.contains("2 files") && err.contains("cola/train"), "{err}");
        // The Parquet conversion's layout, and plain files.
        assert_eq!(glue.pick(["mrpc/train/0000.parquet", "mrpc/test/0000.parquet"], "repo").unwrap(), one("mrpc/train/0000.parquet"));
        let plain = HubSplit { dataset: "x/y".into(), config: None, split: "dev".into() };
        assert_eq!(plain.pick(["train.conll", "dev.conll", "devices.txt"], "repo").unwrap(), one("dev.conll"));
        assert!(plain.pick(["train.conll"], "repo").unwrap_err().contains("no data file for split `dev`"));
    }

    #[test]
    fn a_sharded_split_is_named_by_a_pattern_and_read_only_whole() {
        let train = HubSplit { dataset: "x/y".into(), config: None, split: "train".into() };
        let shards = ["data/train-00000-of-00003.parquet", "data/train-00001-of-00003.parquet", "data/train-00002-of-00003.parquet"];
        let with_others = [&shards[..], &["data/test-00000-of-00001.parquet", "README.md"]].concat();
        let picked = train.pick(with_others.iter().copied(), "repo").unwrap();
        assert_eq!(picked, SplitFiles { files: shards.map(String::from).to_vec(), pattern: Some("data/train-[0-9][0-9][0-9][0-9][0-9]-of-00003.parquet".into()) });
        // A shard missing (from a partly filled cache) is named, not skipped.
        let err = train.pick([shards[0], shards[2]], "the cache").unwrap_err();
        assert!(err.contains("split `train` only in part, without shard 1"), "{err}");
        let err = train.pick([shards[1]], "the cache").unwrap_err();
        assert!(err.contains("without shard 0, shard 2"), "{err}");
        // Old names with a content hash; the Parquet conversion's numbered files.
        let hashed = train.pick(["data/train-00000-of-00002-1a2b.parquet", "data/train-00001-of-00002-3c4d.parquet"], "repo").unwrap();
        assert_eq!(hashed.pattern.as_deref(), Some("data/train-[0-9][0-9][0-9][0-9][0-9]-of-00002-*.parquet"));
        let converted = train.pick(["default/train/0000.parquet", "default/train/0001.parquet", "default/test/0000.parquet"], "repo").unwrap();
        assert_eq!(converted.pattern.as_deref(), Some("default/train/[0-9][0-9][0-9][0-9].parquet"));
        assert!(train.pick(["default/train/0000.parquet", "default/train/0002.parquet"], "repo").unwrap_err().contains("without shard 1"));
        // Two sets (other places or counts) are not one split.
        let err = train.pick(["a/train-00000-of-00001.parquet", "b/train-00000-of-00001.parquet"], "repo").unwrap_err();
        assert!(err.contains("2 files for this split"), "{err}");
        // Names with glob characters are escaped in the pattern, and the snapshot's path too.
        let odd = train.pick(["d[1]/train-00000-of-00002.jsonl", "d[1]/train-00001-of-00002.jsonl"], "repo").unwrap();
        assert_eq!(odd.pattern.as_deref(), Some("d[[]1[]]/train-[0-9][0-9][0-9][0-9][0-9]-of-00002.jsonl"));
        assert_eq!(odd.within(Path::new("/c/s*")), PathBuf::from("/c/s[*]/d[[]1[]]/train-[0-9][0-9][0-9][0-9][0-9]-of-00002.jsonl"));
        assert_eq!(one("d[1]/dev.jsonl").within(Path::new("/c/s*")), PathBuf::from("/c/s*/d[1]/dev.jsonl"));
    }
}
