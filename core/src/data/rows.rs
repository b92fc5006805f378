//! Data files as rows of named fields, whatever the task: JSON lines (one object per line) and
//! Parquet (the files the Hugging Face hub stores datasets in, read through the `parquet`
//! crate's record API; nested columns such as SQuAD's `answers` come back as objects). Each row
//! carries where it came from (`line N`, `row N`) for messages about it; which columns hold what
//! is the readers' business ([`DataColumns`]).

use std::path::Path;

use serde_json::Value;

use crate::error::{DistillError, Result};

/// The columns readers take their fields from; the Hugging Face names by default.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataColumns {
    /// Classification and regression: the text, the optional second text of a pair, the label.
    pub text: String,
    pub text_pair: String,
    pub label: String,
    /// Token classification: each sentence's words and their tags.
    pub tokens: String,
    pub tags: String,
    /// QA rows (the `squad` layout): question id, article title (optional), context, question,
    /// and answers (`text` and `answer_start` lists, or a list of such objects).
    pub id: String,
    pub title: String,
    pub context: String,
    pub question: String,
    pub answers: String,
}

impl Default for DataColumns {
    fn default() -> Self {
        Self {
            text: "text".into(),
            text_pair: "text_pair".into(),
            label: "label".into(),
            tokens: "tokens".into(),
            tags: "ner_tags".into(),
            id: "id".into(),
            title: "title".into(),
            context: "context".into(),
            question: "question".into(),
            answers: "answers".into(),
        }
    }
}

/// One row and where it is in its file.
pub struct Row {
    pub at: String,
    pub fields: Value,
}

impl Row {
    /// The field `name`, an error naming the row and column when it is missing.
    pub fn get(&self, source: &str, name: &str) -> Result<&Value> {
        self.fields.get(name).filter(|v| !v.is_null()).ok_or_else(|| DistillError::input(source, &self.at, format!("has no column `{name}`")))
    }

    /// The string field `name`.
    pub fn string(&self, source: &str, name: &str) -> Result<String> {
        match self.get(source, name)? {
            Value::String(s) => Ok(s.clone()),
            other => Err(DistillError::input(source, &self.at, format!("column `{name}` must hold a string, found {other}"))),
        }
    }
}

/// The kind of a file by its extension: `.jsonl` (also `.json` where no other reading applies)
/// and `.parquet` hold rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFile {
    JsonLines,
    Parquet,
}

impl RowFile {
    pub fn of(path: &Path, json_is_lines: bool) -> Option<Self> {
        match path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase().as_str() {
            "jsonl" => Some(Self::JsonLines),
            "json" if json_is_lines => Some(Self::JsonLines),
            "parquet" => Some(Self::Parquet),
            _ => None,
        }
    }
}

/// Every row of `path`, read as `kind`; blank lines of a JSON-lines file are skipped. A pattern
/// (`data/train-*.parquet`) reads its shards in name order, each row's place naming its shard.
pub fn read_rows(path: &Path, kind: RowFile) -> Result<Vec<Row>> {
    if !super::shards::is_pattern(path) {
        return read_rows_of(path, kind);
    }
    let mut rows = Vec::new();
    for shard in super::shards::expand(path)? {
        let name = shard.file_name().map_or_else(|| shard.display().to_string(), |n| n.to_string_lossy().into_owned());
        rows.extend(read_rows_of(&shard, kind)?.into_iter().map(|row| Row { at: format!("{name} {}", row.at), ..row }));
    }
    Ok(rows)
}

fn read_rows_of(path: &Path, kind: RowFile) -> Result<Vec<Row>> {
    let source = path.display().to_string();
    match kind {
        RowFile::JsonLines => {
            let text = std::fs::read_to_string(path).map_err(|e| DistillError::io(path, e))?;
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, line)| {
                    let at = format!("line {}", i + 1);
                    match serde_json::from_str::<Value>(line) {
                        Ok(fields @ Value::Object(_)) => Ok(Row { at, fields }),
                        Ok(other) => Err(DistillError::input(&source, at, format!("must be a JSON object, found {other}"))),
                        Err(e) => Err(DistillError::input(&source, at, e.to_string())),
                    }
                })
                .collect()
        }
        RowFile::Parquet => {
            let file = std::fs::File::open(path).map_err(|e| DistillError::io(path, e))?;
            // The parquet crate panics on some corrupt files (found by tests/readers.rs).
            crate::io::catch_library_panic(|| read_parquet(file, &source))
                .unwrap_or_else(|reason| Err(DistillError::input(&source, "(file)", format!("not a readable Parquet file (the parquet library gave up: {reason})"))))
        }
    }
}

fn read_parquet(file: std::fs::File, source: &str) -> Result<Vec<Row>> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(file).map_err(|e| DistillError::input(source, "(file)", format!("not a readable Parquet file: {e}")))?;
    let rows = reader.get_row_iter(None).map_err(|e| DistillError::input(source, "(file)", format!("not a readable Parquet file: {e}")))?;
    rows.enumerate()
        .map(|(i, row)| {
            let at = format!("row {}", i + 1);
            let row = row.map_err(|e| DistillError::input(source, &at, e.to_string()))?;
            Ok(Row { at, fields: row.to_json_value() })
        })
        .collect()
}
