//! SQuAD JSON, v1.1 and v2.0 (`is_impossible`, `plausible_answers`): tolerant of extra fields,
//! strict on broken data. Offsets (`answer_start`) are character offsets, as in the official files.

use std::path::Path;

use serde::{Deserialize, Serialize};

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

impl SquadFile {
    /// Reads a SQuAD file. Answers whose `answer_start` does not point at their text are
    /// dropped and reported, or under `strict` are an error naming the question id.
    pub fn read(path: &Path, strict: bool) -> Result<(Self, ReadReport)> {
        let bytes = std::fs::read(path).map_err(|e| DistillError::io(path, e))?;
        let mut file: SquadFile = serde_json::from_slice(&bytes).map_err(|e| {
            DistillError::Invalid(format!("{}: not SQuAD JSON: {e}", path.display()))
        })?;
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
