//! Sentence classification (and regression) data: TSV, CSV, JSON lines or Parquet, each example
//! a text, an optional text pair and a label (columns named by [`DataColumns`]). CSV follows
//! RFC 4180 (quoted fields may hold commas, quotes and line breaks); TSV has no quoting, as
//! GLUE's files, so a tab inside a text shows up as an extra field and the row is refused. Every row must have the header's number of fields, and either
//! every example has a `text_pair` or none has: errors name the file and the line or row.

use std::path::Path;

use serde_json::Value;

use super::rows::{DataColumns, RowFile, read_rows};
use crate::error::{DistillError, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationExample {
    pub text: String,
    pub text_pair: Option<String>,
    /// The label's name, or a regression target's digits.
    pub label: String,
    /// Where the example is in its file (`line 3`, `row 3`), for messages about it.
    pub at: String,
}

/// Labels are names; JSON lines and Parquet often store them as integers or floats, read as
/// their digits.
fn label_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn read_row_file(path: &Path, kind: RowFile, source: &str, columns: &DataColumns) -> Result<Vec<ClassificationExample>> {
    read_rows(path, kind)?
        .into_iter()
        .map(|row| {
            let label = row.get(source, &columns.label)?;
            let label = label_string(label).ok_or_else(|| DistillError::input(source, &row.at, format!("column `{}` must hold a string or a number, found {label}", columns.label)))?;
            let text_pair = match row.fields.get(&columns.text_pair) {
                None | Some(Value::Null) => None,
                Some(_) => Some(row.string(source, &columns.text_pair)?),
            };
            Ok(ClassificationExample { text: row.string(source, &columns.text)?, text_pair, label, at: row.at })
        })
        .collect()
}

fn read_delimited(text: &str, source: &str, delimiter: u8, columns: &DataColumns) -> Result<Vec<ClassificationExample>> {
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).quoting(delimiter == b',').flexible(false).from_reader(text.as_bytes());
    let at = |e: &csv::Error| e.position().map_or_else(|| "header".to_string(), |p| format!("line {}", p.line()));
    let header = reader.headers().map_err(|e| DistillError::input(source, at(&e), e.to_string()))?.clone();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(DistillError::input(source, "header", "the file is empty"));
    }
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    let text_col = column(&columns.text).ok_or_else(|| DistillError::input(source, "header", format!("needs a `{}` column", columns.text)))?;
    let label_col = column(&columns.label).ok_or_else(|| DistillError::input(source, "header", format!("needs a `{}` column", columns.label)))?;
    let pair_col = column(&columns.text_pair);
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let message = match e.kind() {
                csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                    format!("has {len} fields where the header has {expected_len} (a {} inside a text?)", if delimiter == b'\t' { "tab" } else { "comma outside quotes" })
                }
                _ => e.to_string(),
            };
            DistillError::input(source, at(&e), message)
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |c: usize| record.get(c).unwrap_or_default().to_string();
        out.push(ClassificationExample { text: field(text_col), text_pair: pair_col.map(field), label: field(label_col).trim().to_string(), at: format!("line {line}") });
    }
    Ok(out)
}

/// [`read_examples_with`] the default columns.
pub fn read_examples(path: &Path) -> Result<Vec<ClassificationExample>> {
    read_examples_with(path, &DataColumns::default())
}

/// Reads examples from `path`: `.jsonl`/`.json` (objects) or `.parquet` (rows) with the
/// `columns.text`, `columns.text_pair` (optional) and `columns.label` fields, or `.csv` / `.tsv`
/// with a header naming them.
pub fn read_examples_with(path: &Path, columns: &DataColumns) -> Result<Vec<ClassificationExample>> {
    let source = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let examples = match (RowFile::of(path, true), ext.as_str()) {
        (Some(kind), _) => read_row_file(path, kind, &source, columns)?,
        (None, "tsv" | "csv") => {
            let path = super::shards::single(path, &ext.to_ascii_uppercase())?;
            let text = std::fs::read_to_string(path).map_err(|e| DistillError::io(path, e))?;
            read_delimited(&text, &source, if ext == "tsv" { b'\t' } else { b',' }, columns)?
        }
        _ => return Err(DistillError::input(&source, "(file name)", "expected a .tsv, .csv, .jsonl or .parquet file")),
    };
    if examples.is_empty() {
        return Err(DistillError::input(&source, "(file)", "holds no examples"));
    }
    // Pairs are encoded together: a file must be all pairs or all single texts.
    if let (Some(with), Some(without)) = (examples.iter().find(|e| e.text_pair.is_some()), examples.iter().find(|e| e.text_pair.is_none())) {
        return Err(DistillError::input(
            &source,
            &without.at,
            format!("has no {}, while {} has one: give every example a {}, or none", columns.text_pair, with.at, columns.text_pair),
        ));
    }
    Ok(examples)
}
