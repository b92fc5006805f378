//! Sentence classification data: TSV, CSV or JSON lines, each example a text, an optional
//! text pair and a label. CSV follows RFC 4180 (quoted fields may hold commas, quotes and line
//! breaks); TSV has no quoting, as GLUE's files, so a tab inside a text shows up as an extra
//! field and the row is refused. Every row must have the header's number of fields, and either
//! every example has a `text_pair` or none has: errors name the file and the line.

use std::path::Path;

use serde::Deserialize;

use crate::error::{DistillError, Result};

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClassificationExample {
    pub text: String,
    #[serde(default)]
    pub text_pair: Option<String>,
    #[serde(deserialize_with = "label_string")]
    pub label: String,
    /// The line of the file the example starts on, for messages about it.
    #[serde(skip)]
    pub line: usize,
}

/// Labels are names; JSON lines files often store them as integers, read as their digits.
fn label_string<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s.trim().to_string()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        other => Err(serde::de::Error::custom(format!("label must be a string or a number, found {other}"))),
    }
}

fn read_json_lines(text: &str, source: &str) -> Result<Vec<ClassificationExample>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let mut example: ClassificationExample = serde_json::from_str(line).map_err(|e| DistillError::input(source, format!("line {}", i + 1), e.to_string()))?;
        example.line = i + 1;
        out.push(example);
    }
    Ok(out)
}

fn read_delimited(text: &str, source: &str, delimiter: u8) -> Result<Vec<ClassificationExample>> {
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).quoting(delimiter == b',').flexible(false).from_reader(text.as_bytes());
    let at = |e: &csv::Error| e.position().map_or_else(|| "header".to_string(), |p| format!("line {}", p.line()));
    let header = reader.headers().map_err(|e| DistillError::input(source, at(&e), e.to_string()))?.clone();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(DistillError::input(source, "header", "the file is empty"));
    }
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    let text_col = column("text").ok_or_else(|| DistillError::input(source, "header", "needs a `text` column"))?;
    let label_col = column("label").ok_or_else(|| DistillError::input(source, "header", "needs a `label` column"))?;
    let pair_col = column("text_pair");
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
        out.push(ClassificationExample { text: field(text_col), text_pair: pair_col.map(field), label: field(label_col).trim().to_string(), line });
    }
    Ok(out)
}

/// Reads examples from `path`: `.jsonl`/`.json` (objects with `text`, `text_pair`?, `label`),
/// `.csv` or `.tsv` with a header naming `text`, `label` and optionally `text_pair`.
pub fn read_examples(path: &Path) -> Result<Vec<ClassificationExample>> {
    let text = std::fs::read_to_string(path).map_err(|e| DistillError::io(path, e))?;
    let source = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let examples = match ext.as_str() {
        "jsonl" | "json" => read_json_lines(&text, &source)?,
        "tsv" => read_delimited(&text, &source, b'\t')?,
        "csv" => read_delimited(&text, &source, b',')?,
        _ => return Err(DistillError::input(&source, "(file name)", "expected a .tsv, .csv or .jsonl file")),
    };
    if examples.is_empty() {
        return Err(DistillError::input(&source, "(file)", "holds no examples"));
    }
    // Pairs are encoded together: a file must be all pairs or all single texts.
    if let (Some(with), Some(without)) = (examples.iter().find(|e| e.text_pair.is_some()), examples.iter().find(|e| e.text_pair.is_none())) {
        return Err(DistillError::input(
            &source,
            format!("line {}", without.line),
            format!("has no text_pair, while line {} has one: give every example a text_pair, or none", with.line),
        ));
    }
    Ok(examples)
}
