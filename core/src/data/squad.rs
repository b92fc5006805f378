//! SQuAD JSON, v1.1 and v2.0 (`is_impossible`, `plausible_answers`), and rows of JSON lines or
//! Parquet in the Hugging Face `squad` layout: tolerant of extra fields, strict on broken data. Offsets (`answer_start`) are character offsets, as in the official files.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::rows::{DataColumns, RowFile, read_rows};
use crate::error::{DistillError, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub text: String,
    pub answer_start: usize,
}

/// Question ids are strings in the official files; some files use integers, read as their digits.
fn id_string<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("question id must be a string or an integer, found {other}"))),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub question: String,
    #[serde(default)]
    pub answers: Vec<Answer>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_impossible: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plausible_answers: Vec<Answer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paragraph {
    pub context: String,
    pub qas: Vec<Question>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    #[serde(default)]
    pub title: String,
    pub paragraphs: Vec<Paragraph>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SquadFile {
    #[serde(default)]
    pub version: String,
    pub data: Vec<Article>,
}

/// What reading found wrong but could skip.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadReport {
    /// (question id, problem) for each answer dropped because it does not match its context.
    pub skipped_answers: Vec<(String, String)>,
    /// Ids of the questions whose every answer was dropped: without one they would read as
    /// unanswerable, so training leaves them out (`SquadFile::remove_questions`).
    pub emptied_questions: Vec<String>,
}

impl Question {
    /// Whether the question has an answer (v1.1 questions always do).
    pub fn has_answer(&self) -> bool {
        !self.is_impossible && !self.answers.is_empty()
    }
}

/// The `len` characters of `text` from character `start`, if they exist.
pub fn char_slice(text: &str, start: usize, len: usize) -> Option<&str> {
    let mut indices = text.char_indices().map(|(i, _)| i).chain(std::iter::once(text.len()));
    let begin = indices.nth(start)?;
    let end = if len == 0 { begin } else { indices.nth(len - 1)? };
    Some(&text[begin..end])
}

/// A row's answers (column `column`): `{"text": [...], "answer_start": [...]}` as Hugging Face
/// stores them, or a list of `{"text", "answer_start"}` objects.
fn row_answers(value: &Value, column: &str) -> std::result::Result<Vec<Answer>, String> {
    let start = |v: &Value| v.as_u64().map(|n| n as usize).ok_or_else(|| format!("answer_start must be a non-negative integer, found {v}"));
    let text = |v: &Value| v.as_str().map(str::to_string).ok_or_else(|| format!("an answer's text must be a string, found {v}"));
    match value {
        Value::Object(m) => {
            let list = |key: &str| m.get(key).and_then(Value::as_array).ok_or_else(|| format!("column `{column}` needs a list `{key}`"));
            let (texts, starts) = (list("text")?, list("answer_start")?);
            if texts.len() != starts.len() {
                return Err(format!("column `{column}` has {} texts and {} starts", texts.len(), starts.len()));
            }
            texts.iter().zip(starts).map(|(t, s)| Ok(Answer { text: text(t)?, answer_start: start(s)? })).collect()
        }
        Value::Array(items) => items
            .iter()
            .map(|a| Ok(Answer { text: text(a.get("text").unwrap_or(&Value::Null))?, answer_start: start(a.get("answer_start").unwrap_or(&Value::Null))? }))
            .collect(),
        other => Err(format!("column `{column}` must hold `text` and `answer_start` lists, found {other}")),
    }
}

impl SquadFile {
    /// Reads a SQuAD file. Answers whose `answer_start` does not point at their text are
    /// dropped and reported, or under `strict` are an error naming the question id.
    ///
    /// A `.jsonl` or `.parquet` file holds rows in the Hugging Face `squad` / `squad_v2` layout
    /// (`id`, `title`, `context`, `question`, `answers` with `text` and `answer_start` lists);
    /// consecutive rows of one title form an article, of one context a paragraph, and a row
    /// without answers is unanswerable (SQuAD 2.0), as those datasets mean it.
    pub fn read(path: &Path, strict: bool) -> Result<(Self, ReadReport)> {
        Self::read_with(path, strict, &DataColumns::default())
    }

    /// [`SquadFile::read`], with the columns of a row file named by `columns`.
    pub fn read_with(path: &Path, strict: bool, columns: &DataColumns) -> Result<(Self, ReadReport)> {
        let mut file = match RowFile::of(path, false) {
            Some(kind) => Self::from_rows(path, kind, columns)?,
            None => {
                let path = super::shards::single(path, "SQuAD JSON")?;
                let bytes = std::fs::read(path).map_err(|e| DistillError::io(path, e))?;
                serde_json::from_slice(&bytes).map_err(|e| DistillError::Invalid(format!("{}: not SQuAD JSON: {e}", path.display())))?
            }
        };
        let mut report = ReadReport::default();
        for article in &mut file.data {
            for paragraph in &mut article.paragraphs {
                for qa in &mut paragraph.qas {
                    let had_answers = !qa.answers.is_empty();
                    for list in [&mut qa.answers, &mut qa.plausible_answers] {
                        let mut kept = Vec::with_capacity(list.len());
                        for answer in list.drain(..) {
                            let found = char_slice(&paragraph.context, answer.answer_start, answer.text.chars().count());
                            if found == Some(answer.text.as_str()) {
                                kept.push(answer);
                                continue;
                            }
                            let problem = format!(
                                "answer {:?} at answer_start {} does not match the context (found {:?})",
                                answer.text,
                                answer.answer_start,
                                found.unwrap_or("<past the end>")
                            );
                            if strict {
                                return Err(DistillError::input(path.display().to_string(), format!("question {}", qa.id), problem));
                            }
                            report.skipped_answers.push((qa.id.clone(), problem));
                        }
                        *list = kept;
                    }
                    if had_answers && qa.answers.is_empty() && !qa.is_impossible {
                        report.emptied_questions.push(qa.id.clone());
                    }
                }
            }
        }
        Ok((file, report))
    }

    fn from_rows(path: &Path, kind: RowFile, columns: &DataColumns) -> Result<Self> {
        let source = path.display().to_string();
        let mut file = SquadFile { version: "v1.1".into(), data: vec![] };
        for row in read_rows(path, kind)? {
            let id = match row.get(&source, &columns.id)? {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => return Err(DistillError::input(&source, &row.at, format!("column `{}` must hold a string or an integer, found {other}", columns.id))),
            };
            let title = row.fields.get(&columns.title).and_then(Value::as_str).unwrap_or_default().to_string();
            let context = row.string(&source, &columns.context)?;
            let answers = row_answers(row.get(&source, &columns.answers)?, &columns.answers).map_err(|m| DistillError::input(&source, &row.at, m))?;
            let question = Question { id, question: row.string(&source, &columns.question)?, is_impossible: answers.is_empty(), answers, plausible_answers: vec![] };
            if question.is_impossible {
                file.version = "v2.0".into();
            }
            if file.data.last().is_none_or(|a| a.title != title) {
                file.data.push(Article { title, paragraphs: vec![] });
            }
            let article = file.data.last_mut().expect("pushed above");
            match article.paragraphs.last_mut() {
                Some(p) if p.context == context => p.qas.push(question),
                _ => article.paragraphs.push(Paragraph { context, qas: vec![question] }),
            }
        }
        if file.data.is_empty() {
            return Err(DistillError::input(&source, "(file)", "holds no questions"));
        }
        Ok(file)
    }

    /// Removes the questions with these ids (and any paragraph or article left empty).
    pub fn remove_questions(&mut self, ids: &[String]) {
        let ids: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        for article in &mut self.data {
            for paragraph in &mut article.paragraphs {
                paragraph.qas.retain(|q| !ids.contains(q.id.as_str()));
            }
            article.paragraphs.retain(|p| !p.qas.is_empty());
        }
        self.data.retain(|a| !a.paragraphs.is_empty());
    }

    pub fn questions(&self) -> impl Iterator<Item = (&Paragraph, &Question)> {
        self.data.iter().flat_map(|a| a.paragraphs.iter()).flat_map(|p| p.qas.iter().map(move |q| (p, q)))
    }

    pub fn is_v2(&self) -> bool {
        self.version.starts_with("v2") || self.questions().any(|(_, q)| q.is_impossible)
    }
}
