//! Training examples in one task-independent form, built from QA features, classification
//! files or raw text, and batches of them.

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::data::classification::ClassificationExample;
use crate::error::Result;
use crate::inputs::TokenBatch;
use crate::task::qa::features::QaFeature;
use crate::tokenizer::TextTokenizer;

/// The gold answer of an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// QA start and end token positions (0, 0 = no answer).
    Span { start: usize, end: usize },
    /// A classification label id.
    Label(usize),
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
}

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

    /// From classification examples and a label list (label ids are positions in `labels`).
    pub fn from_classification(examples: &[ClassificationExample], labels: &[String], tokenizer: &TextTokenizer, max_len: usize) -> Result<Vec<Self>> {
        let mut out = Vec::with_capacity(examples.len());
        for chunk in examples.chunks(256) {
            let batch = match chunk.iter().all(|e| e.text_pair.is_some()) {
                true => tokenizer.encode_pairs(&chunk.iter().map(|e| (e.text.clone(), e.text_pair.clone().unwrap_or_default())).collect::<Vec<_>>(), max_len)?,
                false => tokenizer.encode_texts(&chunk.iter().map(|e| e.text.clone()).collect::<Vec<_>>(), max_len)?,
            };
            for (row, example) in chunk.iter().enumerate() {
                let label = labels.iter().position(|l| *l == example.label).ok_or_else(|| {
                    crate::DistillError::Invalid(format!("label {:?} is not among the labels {labels:?}", example.label))
                })?;
                out.push(Self::from_batch_row(&batch, row, Target::Label(label)));
            }
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
