//! Sentence classification data: TSV, CSV or JSON lines, each example a text, an optional
//! text pair and a label.

use std::path::Path;

use serde::Deserialize;

use crate::error::{DistillError, Result};

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClassificationExample {
    pub text: String,
    #[serde(default)]
    pub text_pair: Option<String>,
    pub label: String,
}

/// Splits one CSV line, honouring double quotes ("" is a literal quote).
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// Reads examples from `path`: `.jsonl`/`.json` (objects with `text`, `text_pair`?, `label`),
/// `.csv` or `.tsv` with a header naming `text`, `label` and optionally `text_pair`.
pub fn read_examples(path: &Path) -> Result<Vec<ClassificationExample>> {
    let text = std::fs::read_to_string(path).map_err(|e| DistillError::io(path, e))?;
    let source = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if ext == "jsonl" || ext == "json" {
        return text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| serde_json::from_str(l).map_err(|e| DistillError::input(&source, format!("line {}", i + 1), e.to_string())))
            .collect();
    }
    let split: fn(&str) -> Vec<String> = match ext.as_str() {
        "tsv" => |l| l.split('\t').map(str::to_string).collect(),
        "csv" => split_csv,
        _ => return Err(DistillError::input(&source, "(file name)", "expected a .tsv, .csv or .jsonl file")),
    };
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let header = lines.next().map(|(_, l)| split(l)).ok_or_else(|| DistillError::input(&source, "header", "the file is empty"))?;
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    let text_col = column("text").ok_or_else(|| DistillError::input(&source, "header", "needs a `text` column"))?;
    let label_col = column("label").ok_or_else(|| DistillError::input(&source, "header", "needs a `label` column"))?;
    let pair_col = column("text_pair");
    lines
        .map(|(i, line)| {
            let fields = split(line);
            let get = |c: usize| fields.get(c).cloned().ok_or_else(|| DistillError::input(&source, format!("line {}", i + 1), format!("has {} fields, fewer than the header", fields.len())));
            Ok(ClassificationExample { text: get(text_col)?, text_pair: pair_col.map(get).transpose()?, label: get(label_col)?.trim().to_string() })
        })
        .collect()
}
