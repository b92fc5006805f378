//! A data path may name one file or, by a glob pattern (`data/train-*.parquet`,
//! `mrpc/train/*.parquet`), the shards of one split, as the Hugging Face hub stores a large
//! dataset. Shards are read in name order and hashed together (`hashing::hash_files`), so a run
//! fingerprint changes when a shard is added, removed or edited. Row files (JSON lines, Parquet)
//! can be sharded; formats read as one document (SQuAD JSON, CoNLL, TSV/CSV, text) refuse a
//! pattern with a message instead of failing to open a file named `*`.

use std::path::{Path, PathBuf};

use crate::error::{DistillError, Result};

const OPTIONS: glob::MatchOptions = glob::MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: true };

/// Whether `path` is a pattern: it holds a glob character and is not itself a file.
pub fn is_pattern(path: &Path) -> bool {
    path.to_str().is_some_and(|s| s.contains(['*', '?', '['])) && !path.is_file()
}

/// The files `path` names, in name order: itself, or every file its pattern matches (at least one).
pub fn expand(path: &Path) -> Result<Vec<PathBuf>> {
    if !is_pattern(path) {
        return Ok(vec![path.to_path_buf()]);
    }
    let source = path.display().to_string();
    let pattern = path.to_str().expect("is_pattern holds only for UTF-8 paths");
    let matches = glob::glob_with(pattern, OPTIONS).map_err(|e| DistillError::input(&source, "(pattern)", format!("not a valid file pattern: {e}")))?;
    let mut files = Vec::new();
    for entry in matches {
        let file = entry.map_err(|e| DistillError::io(e.path().to_path_buf(), e.into()))?;
        if file.is_file() {
            files.push(file);
        }
    }
    if files.is_empty() {
        return Err(DistillError::input(&source, "(pattern)", "matches no file"));
    }
    files.sort();
    Ok(files)
}

/// `path` as the one file of a format read whole (`format` names it), refusing a pattern.
pub fn single<'a>(path: &'a Path, format: &str) -> Result<&'a Path> {
    if is_pattern(path) {
        return Err(DistillError::input(
            path.display().to_string(),
            "(file name)",
            format!("a file pattern names several shards, which only JSON lines and Parquet files can be; give one {format} file"),
        ));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_expand_to_their_files_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["train-00001-of-00002.jsonl", "train-00000-of-00002.jsonl", "test-00000-of-00001.jsonl"] {
            std::fs::write(dir.path().join(name), "{}\n").unwrap();
        }
        std::fs::create_dir(dir.path().join("train-dir.jsonl")).unwrap();
        let names = |p: &Path| expand(p).unwrap().iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect::<Vec<_>>();
        assert_eq!(names(&dir.path().join("train-*.jsonl")), ["train-00000-of-00002.jsonl", "train-00001-of-00002.jsonl"]);
        assert_eq!(names(&dir.path().join("test-00000-of-00001.jsonl")), ["test-00000-of-00001.jsonl"]);
        // A plain path is itself, existing or not (its reader reports a missing file).
        assert_eq!(expand(&dir.path().join("absent.jsonl")).unwrap(), [dir.path().join("absent.jsonl")]);
        let err = expand(&dir.path().join("dev-*.jsonl")).unwrap_err().to_string();
        assert!(err.contains("dev-*.jsonl") && err.contains("matches no file"), "{err}");
        let err = expand(&dir.path().join("train-[.jsonl")).unwrap_err().to_string();
        assert!(err.contains("not a valid file pattern"), "{err}");
        // `*` does not cross directories.
        assert!(expand(&dir.path().parent().unwrap().join("*.jsonl")).is_err_and(|e| e.to_string().contains("matches no file")));
        // A file whose name holds a glob character is read as itself.
        std::fs::write(dir.path().join("odd[1].jsonl"), "{}\n").unwrap();
        assert_eq!(names(&dir.path().join("odd[1].jsonl")), ["odd[1].jsonl"]);
        let err = single(&dir.path().join("train-*.jsonl"), "CoNLL").unwrap_err().to_string();
        assert!(err.contains("give one CoNLL file"), "{err}");
    }

    #[test]
    fn shards_are_read_and_hashed_as_one_split() {
        use crate::data::rows::{RowFile, read_rows};
        use crate::hashing::hash_files;
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("train-00000-of-00002.jsonl", "{\"n\": 1}\n{\"n\": 2}\n");
        write("train-00001-of-00002.jsonl", "{\"n\": 3}\n");
        let pattern = dir.path().join("train-*-of-00002.jsonl");
        let rows = read_rows(&pattern, RowFile::JsonLines).unwrap();
        let read: Vec<(String, i64)> = rows.iter().map(|r| (r.at.clone(), r.fields["n"].as_i64().unwrap())).collect();
        assert_eq!(read, [("train-00000-of-00002.jsonl line 1".to_string(), 1), ("train-00000-of-00002.jsonl line 2".into(), 2), ("train-00001-of-00002.jsonl line 1".into(), 3)]);
        // A bad row names its shard's file and line.
        write("train-00001-of-00002.jsonl", "{\"n\": 3}\n[4]\n");
        let err = read_rows(&pattern, RowFile::JsonLines).err().unwrap().to_string();
        assert!(err.contains("train-00001-of-00002.jsonl") && err.contains("line 2") && err.contains("JSON object"), "{err}");
        // The hash covers every shard: editing, adding or renaming one changes it.
        let hash = || hash_files(&[&pattern]).unwrap();
        let before = hash();
        assert_eq!(before, hash());
        write("train-00001-of-00002.jsonl", "{\"n\": 3}\n");
        let edited = hash();
        assert_ne!(before, edited);
        write("train-00002-of-00002.jsonl", "{\"n\": 5}\n");
        let added = hash();
        assert_ne!(edited, added);
        std::fs::rename(dir.path().join("train-00002-of-00002.jsonl"), dir.path().join("train-00003-of-00002.jsonl")).unwrap();
        assert_ne!(added, hash());
    }
}
