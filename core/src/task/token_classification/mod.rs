//! Token classification (named-entity recognition): sentences into word-aligned windows
//! (`windows`), a tag per word from the model's logits at each word's first sub-token, and
//! entity-level scores equal to seqeval's (`entities`).

pub mod entities;
pub mod windows;

use std::path::Path;

use serde::Serialize;

use crate::data::rows::DataColumns;
use crate::data::tagged::{TaggedSentence, check_labels, read_tagged};
use crate::error::Result;
use crate::model::{Keep, TaskModel, to_host};
use crate::task::classification::argmax;
use crate::tokenizer::TextTokenizer;
use crate::train::batches::length_sorted_batches;
use crate::train::examples::{TrainExample, collate};
use entities::{Scheme, entities};
use windows::{WordText, WordWindow, build_windows};

/// The sentences of a tagged file, checked against `labels`, and their windows of at most
/// `max_len` tokens.
pub fn read_windows(path: &Path, columns: &DataColumns, labels: &[String], tokenizer: &TextTokenizer, max_len: usize) -> Result<(Vec<TaggedSentence>, Vec<WordWindow>)> {
    let sentences = read_tagged(path, columns, Some(labels))?;
    check_labels(path, &sentences, labels)?;
    let texts: Vec<WordText> = sentences.iter().map(|s| WordText::from_words(&s.words)).collect();
    let windows = build_windows(&texts, tokenizer, max_len)?;
    Ok((sentences, windows))
}

/// The logits of `model` on each window, `[tokens * labels]` row-major, in batches by length.
pub fn window_logits(model: &TaskModel, windows: &[TrainExample], pad_id: u32, batch_size: usize) -> Vec<Vec<f32>> {
    let lengths: Vec<usize> = windows.iter().map(|w| w.input_ids.len()).collect();
    let mut out = vec![vec![]; windows.len()];
    for rows in length_sorted_batches(&lengths, batch_size) {
        let refs: Vec<&TrainExample> = rows.iter().map(|&i| &windows[i]).collect();
        let batch = collate(&refs, pad_id);
        let seq = batch.tokens.seq_len();
        let logits = model.forward_keeping(&batch.tokens, Keep::LastHidden).token_logits.expect("a token-classification model has token logits");
        let (shape, values) = to_host(logits);
        let labels = shape[2];
        for (row, &i) in rows.iter().enumerate() {
            out[i] = values[row * seq * labels..(row * seq + lengths[i]) * labels].to_vec();
        }
    }
    out
}

/// Each sentence's predicted label id per word: the arg-max at the word's first sub-token. A word
/// the tokenizer gave no token (a control character) is predicted `outside`.
pub fn word_labels(windows: &[WordWindow], logits: &[Vec<f32>], words_per_sentence: &[usize], num_labels: usize, outside: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = words_per_sentence.iter().map(|&n| vec![outside; n]).collect();
    for (w, row) in windows.iter().zip(logits) {
        for (t, word) in w.first_of_word.iter().enumerate() {
            if let Some(word) = word {
                let scores = &row[t * num_labels..(t + 1) * num_labels];
                out[w.sentence][*word] = argmax(scores).unwrap_or(outside);
            }
        }
    }
    out
}

/// An entity found in a text, with its character span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoundEntity {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
    /// Characters `[start, end)` of the text.
    pub start: usize,
    pub end: usize,
}

/// The entities of `text` given a tag per word (read leniently, as seqeval's default mode does).
pub fn found_entities<S: AsRef<str>>(text: &WordText, tags: &[S]) -> Vec<FoundEntity> {
    entities(tags, Scheme::Lenient)
        .into_iter()
        .map(|e| {
            let (start, end) = (text.words[e.start].0, text.words[e.end - 1].1);
            FoundEntity { kind: e.kind, text: text.text.chars().skip(start).take(end - start).collect(), start, end }
        })
        .collect()
}
