//! Training examples in one task-independent form, built from QA features, classification
//! files or raw text, and batches of them.

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::data::classification::ClassificationExample;
use crate::data::rows::DataColumns;
use crate::error::Result;
use crate::inputs::TokenBatch;
use crate::task::qa::features::QaFeature;
use crate::task::token_classification::windows::WordWindow;
use crate::tokenizer::TextTokenizer;

/// The gold answer of an example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Target {
    /// QA start and end token positions (0, 0 = no answer).
    Span { start: usize, end: usize },
    /// A classification label id.
    Label(usize),
    /// A regression target (a classification head with one output).
    Score(f32),
    /// Token classification: a label id per token, [`IGNORED`] where no label counts (special
    /// tokens, a word's later sub-tokens).
    Tags(Vec<i64>),
    /// Raw text, for intermediate-layer distillation only.
    None,
}

impl Target {
    pub fn span_start(&self) -> Option<usize> {
        if let Self::Span { start, .. } = self { Some(*start) } else { None }
    }

    pub fn span_end(&self) -> Option<usize> {
        if let Self::Span { end, .. } = self { Some(*end) } else { None }
    }

    pub fn label(&self) -> Option<usize> {
        if let Self::Label(l) = self { Some(*l) } else { None }
    }

    pub fn score(&self) -> Option<f32> {
        if let Self::Score(s) = self { Some(*s) } else { None }
    }

    pub fn tags(&self) -> Option<&[i64]> {
        if let Self::Tags(t) = self { Some(t) } else { None }
    }
}

/// The tag of a position that no label is learned at (transformers' `-100`).
pub const IGNORED: i64 = -100;

/// What `pick` (e.g. [`Target::span_start`]) gives each of `targets`, as a `[batch]` tensor of
/// gold indices; `None` if some target has none (raw text, or labels of another task).
pub fn gold_indices(targets: &[Target], pick: fn(&Target) -> Option<usize>, device: &Device) -> Option<Tensor<1, Int>> {
    let ids: Vec<i64> = targets.iter().map(|t| pick(t).map(|x| x as i64)).collect::<Option<_>>()?;
    Some(Tensor::from_data(TensorData::new(ids, [targets.len()]), device))
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainExample {
    pub input_ids: Vec<i64>,
    pub token_type_ids: Vec<i64>,
    pub target: Target,
    /// QA: positions the start/end distributions range over (1) or exclude (0), e.g. the
    /// question when `--mask-question` is set; padding is always excluded.
    pub positions: Option<Vec<f32>>,
}

impl TrainExample {
    /// From QA features; with `mask_question`, the distributions cover only CLS and the context.
    pub fn from_qa(features: &[QaFeature], mask_question: bool) -> Vec<Self> {
        features
            .iter()
            .map(|f| Self {
                input_ids: f.input_ids.clone(),
                token_type_ids: f.token_type_ids.clone(),
                target: Target::Span { start: f.start_position, end: f.end_position },
                positions: mask_question.then(|| f.context_spans.iter().enumerate().map(|(i, s)| if i == 0 || s.is_some() { 1.0 } else { 0.0 }).collect()),
            })
            .collect()
    }

    /// Classification examples as inputs only (target [`Target::None`]), for inference.
    pub fn encode_classification(examples: &[ClassificationExample], tokenizer: &TextTokenizer, max_len: usize) -> Result<Vec<Self>> {
        let mut out = Vec::with_capacity(examples.len());
        for chunk in examples.chunks(256) {
            let batch = match chunk.iter().all(|e| e.text_pair.is_some()) {
                true => tokenizer.encode_pairs(&chunk.iter().map(|e| (e.text.clone(), e.text_pair.clone().unwrap_or_default())).collect::<Vec<_>>(), max_len)?,
                false => tokenizer.encode_texts(&chunk.iter().map(|e| e.text.clone()).collect::<Vec<_>>(), max_len)?,
            };
            out.extend((0..chunk.len()).map(|row| Self::from_batch_row(&batch, row, Target::None)));
        }
        Ok(out)
    }

    /// From classification examples and a label list (label ids are positions in `labels`).
    pub fn from_classification(examples: &[ClassificationExample], labels: &[String], tokenizer: &TextTokenizer, max_len: usize) -> Result<Vec<Self>> {
        let mut out = Self::encode_classification(examples, tokenizer, max_len)?;
        for (row, example) in out.iter_mut().zip(examples) {
            let label = labels.iter().position(|l| *l == example.label).ok_or_else(|| {
                crate::DistillError::Invalid(format!("label {:?} is not among the labels {labels:?}", example.label))
            })?;
            row.target = Target::Label(label);
        }
        Ok(out)
    }

    /// From the windows of tagged sentences and each sentence's label id per word: a window's
    /// targets are its words' labels at their first sub-tokens. Windows without one are left out.
    pub fn from_windows(windows: &[WordWindow], word_labels: &[Vec<usize>]) -> Vec<Self> {
        windows
            .iter()
            .filter(|w| w.has_words())
            .map(|w| Self {
                input_ids: w.input_ids.clone(),
                token_type_ids: w.token_type_ids.clone(),
                target: Target::Tags(w.first_of_word.iter().map(|word| word.map_or(IGNORED, |i| word_labels[w.sentence][i] as i64)).collect()),
                positions: None,
            })
            .collect()
    }

    /// A window as an input only (no labels), for inference.
    pub fn from_window(window: &WordWindow) -> Self {
        Self { input_ids: window.input_ids.clone(), token_type_ids: window.token_type_ids.clone(), target: Target::None, positions: None }
    }

    /// The examples of a classification file whose labels are all among `labels`.
    pub fn read_classification(path: &std::path::Path, columns: &DataColumns, labels: &[String], tokenizer: &TextTokenizer, max_len: usize) -> Result<Vec<Self>> {
        let examples = crate::data::classification::read_examples_with(path, columns)?;
        if let Some(e) = examples.iter().find(|e| !labels.contains(&e.label)) {
            return Err(crate::DistillError::input(path.display().to_string(), &e.at, format!("label {:?} is not among the labels {labels:?}", e.label)));
        }
        Self::from_classification(&examples, labels, tokenizer, max_len)
    }

    /// The examples of a regression file: each label a number (the target score).
    pub fn read_regression(path: &std::path::Path, columns: &DataColumns, tokenizer: &TextTokenizer, max_len: usize) -> Result<Vec<Self>> {
        let examples = crate::data::classification::read_examples_with(path, columns)?;
        let mut out = Self::encode_classification(&examples, tokenizer, max_len)?;
        for (row, example) in out.iter_mut().zip(&examples) {
            let score: f32 = example.label.parse().ok().filter(|x: &f32| x.is_finite()).ok_or_else(|| {
                crate::DistillError::input(path.display().to_string(), &example.at, format!("label {:?} is not a finite number (a regression task's targets are scores)", example.label))
            })?;
            row.target = Target::Score(score);
        }
        Ok(out)
    }

    /// Raw texts, for general distillation.
    pub fn from_texts(texts: &[String], tokenizer: &TextTokenizer, max_len: usize) -> Result<Vec<Self>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(256) {
            let batch = tokenizer.encode_texts(chunk, max_len)?;
            out.extend((0..chunk.len()).map(|row| Self::from_batch_row(&batch, row, Target::None)));
        }
        Ok(out)
    }

    /// Row `row` of a padded batch, with its padding removed.
    pub fn from_batch_row(batch: &TokenBatch, row: usize, target: Target) -> Self {
        let seq = batch.seq_len();
        let range = row * seq..(row + 1) * seq;
        let len = batch.attention_mask[range.clone()].iter().filter(|&&m| m == 1).count();
        Self {
            input_ids: batch.input_ids[range.clone()][..len].to_vec(),
            token_type_ids: batch.token_type_ids[range][..len].to_vec(),
            target,
            positions: None,
        }
    }
}

/// The tagged positions of a batch of token-classification examples (those a label is learned
/// at), as rows of the batch's `[batch * seq, labels]` logits, and their gold label ids.
pub(crate) struct LabelledTokens {
    rows: Tensor<1, Int>,
    pub gold: Tensor<1, Int>,
    pub count: usize,
}

impl LabelledTokens {
    /// `None` if an example carries no tags.
    pub fn of(targets: &[Target], seq: usize, device: &Device) -> Option<Self> {
        let (mut rows, mut gold) = (Vec::new(), Vec::new());
        for (row, target) in targets.iter().enumerate() {
            for (p, &tag) in target.tags()?.iter().enumerate() {
                if tag != IGNORED {
                    rows.push((row * seq + p) as i64);
                    gold.push(tag);
                }
            }
        }
        let count = rows.len();
        Some(Self { rows: Tensor::from_data(TensorData::new(rows, [count]), device), gold: Tensor::from_data(TensorData::new(gold, [count]), device), count })
    }

    pub fn select(&self, logits: Tensor<2>) -> Tensor<2> {
        logits.select(0, self.rows.clone())
    }
}

/// A padded batch and, per row, which positions the output distributions range over.
pub struct Collated {
    pub tokens: TokenBatch,
    /// `[batch * seq]`: 1 where a QA distribution ranges, 0 at padding (and masked questions).
    pub positions: Vec<f32>,
}

pub fn collate(examples: &[&TrainExample], pad_id: u32) -> Collated {
    let seq = examples.iter().map(|e| e.input_ids.len()).max().unwrap_or(1).max(1);
    let mut ids = Vec::with_capacity(examples.len());
    let mut mask = Vec::with_capacity(examples.len());
    let mut types = Vec::with_capacity(examples.len());
    let mut positions = Vec::with_capacity(examples.len() * seq);
    for e in examples {
        let n = e.input_ids.len();
        let mut row = e.input_ids.clone();
        row.resize(seq, pad_id as i64);
        ids.push(row);
        let mut m = vec![1i64; n];
        m.resize(seq, 0);
        mask.push(m);
        let mut t = e.token_type_ids.clone();
        t.resize(seq, 0);
        types.push(t);
        let mut p = e.positions.clone().unwrap_or_else(|| vec![1.0; n]);
        p.resize(seq, 0.0);
        positions.extend(p);
    }
    let tokens = TokenBatch::from_rows(ids, Some(mask), Some(types), "batch").expect("collated rows share one length");
    Collated { tokens, positions }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_tokens_are_the_tagged_positions_in_row_major_order() {
        let device = crate::default_device();
        let targets = vec![Target::Tags(vec![IGNORED, 2, IGNORED, 0]), Target::Tags(vec![IGNORED, 1, IGNORED, IGNORED])];
        let labelled = LabelledTokens::of(&targets, 4, &device).unwrap();
        assert_eq!(labelled.count, 3);
        let (_, gold) = crate::model::to_host(labelled.gold.clone().float());
        assert_eq!(gold, vec![2.0, 0.0, 1.0]);
        // Row r of the [batch * seq, labels] logits holds r: the selected rows are 1, 3 and 5.
        let logits = Tensor::<2>::from_data(TensorData::new((0..8).flat_map(|r| [r as f32; 3]).collect::<Vec<_>>(), [8, 3]), &device);
        let (shape, rows) = crate::model::to_host(labelled.select(logits));
        assert_eq!((shape, rows), (vec![3, 3], vec![1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 5.0, 5.0, 5.0]));
        // Examples of another task carry no tags.
        assert!(LabelledTokens::of(&[Target::Label(1)], 4, &device).is_none());
    }
}
