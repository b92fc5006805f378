//! SQuAD questions as model features: question + context windows of at most `max_seq_len`
//! tokens, windows starting every `doc_stride` context tokens, the question cut to
//! `max_query_length` tokens, each token's character span in the context, and start/end labels
//! that point at the first token (CLS or `<s>`) when the answer is not inside the window or
//! there is none. Special tokens come from the tokenizer's own pair template, so WordPiece
//! (`[CLS] q [SEP] c [SEP]`) and byte-level BPE (`<s> q </s></s> c </s>`) are both right.

use serde::{Deserialize, Serialize};

use crate::data::squad::{Answer, SquadFile};
use crate::error::{DistillError, Result};
use crate::inputs::TokenBatch;
use crate::tokenizer::TextTokenizer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureConfig {
    pub max_seq_len: usize,
    /// Distance in context tokens between the starts of consecutive windows.
    pub doc_stride: usize,
    pub max_query_length: usize,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self { max_seq_len: 384, doc_stride: 128, max_query_length: 64 }
    }
}

impl FeatureConfig {
    /// Refuses windows that cannot be built: no tokens, a stride of 0 (the same window forever,
    /// once clamped to 1) or one at least the window long (context skipped between windows), a
    /// question that leaves no room for context. Names the fields as the flags spell them.
    pub fn validate(&self) -> Result<()> {
        let refuse = |flag: &str, value: usize, expected: String| Err(DistillError::Invalid(format!("{flag} is {value}: expected {expected}")));
        if self.max_seq_len == 0 {
            return refuse("--max-seq-len (features.max_seq_len)", 0, "at least 1".into());
        }
        if self.doc_stride == 0 || self.doc_stride >= self.max_seq_len {
            return refuse("--doc-stride (features.doc_stride)", self.doc_stride, format!("at least 1 and fewer than --max-seq-len ({})", self.max_seq_len));
        }
        if self.max_query_length == 0 || self.max_query_length >= self.max_seq_len {
            return refuse("--max-query-length (features.max_query_length)", self.max_query_length, format!("at least 1 and fewer than --max-seq-len ({}), to leave room for context", self.max_seq_len));
        }
        Ok(())
    }
}

/// One question with its context.
#[derive(Debug, Clone, PartialEq)]
pub struct QaExample {
    pub id: String,
    pub question: String,
    pub context: std::sync::Arc<str>,
    /// Gold answers; empty for an unanswerable question.
    pub answers: Vec<Answer>,
}

impl QaExample {
    /// Every question of a SQuAD file, in file order.
    pub fn from_squad(file: &SquadFile) -> Vec<Self> {
        let mut out = Vec::new();
        for article in &file.data {
            for paragraph in &article.paragraphs {
                let context: std::sync::Arc<str> = paragraph.context.as_str().into();
                for qa in &paragraph.qas {
                    let answers = if qa.is_impossible { Vec::new() } else { qa.answers.clone() };
                    out.push(Self { id: qa.id.clone(), question: qa.question.clone(), context: context.clone(), answers });
                }
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct QaFeature {
    /// Index of the example in the list the features were built from.
    pub example: usize,
    pub input_ids: Vec<i64>,
    pub token_type_ids: Vec<i64>,
    /// For each token, its character span `[start, end)` in the context; `None` outside the context.
    pub context_spans: Vec<Option<(usize, usize)>>,
    /// Label positions (first answer); 0 = no answer in this window.
    pub start_position: usize,
    pub end_position: usize,
}

/// The special tokens a tokenizer puts around a pair, and the type ids of each part.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PairTemplate {
    pub prefix: Vec<(u32, u32)>,
    pub middle: Vec<(u32, u32)>,
    pub suffix: Vec<(u32, u32)>,
    pub first_type: u32,
    pub second_type: u32,
}

impl PairTemplate {
    pub fn of(tokenizer: &TextTokenizer) -> Result<Self> {
        let enc = tokenizer
            .tokenizer
            .encode(("a", "b"), true)
            .map_err(|e| DistillError::Tokenizer { path: tokenizer.files.paths()[0].to_path_buf(), message: e.to_string() })?;
        let mut t = PairTemplate { prefix: vec![], middle: vec![], suffix: vec![], first_type: 0, second_type: 0 };
        let mut seen = [false, false];
        for ((seq, &id), &ty) in enc.get_sequence_ids().iter().zip(enc.get_ids()).zip(enc.get_type_ids()) {
            match seq {
                Some(0) => {
                    seen[0] = true;
                    t.first_type = ty;
                }
                Some(_) => {
                    seen[1] = true;
                    t.second_type = ty;
                }
                None if !seen[0] => t.prefix.push((id, ty)),
                None if !seen[1] => t.middle.push((id, ty)),
                None => t.suffix.push((id, ty)),
            }
        }
        Ok(t)
    }

    pub fn special_count(&self) -> usize {
        self.prefix.len() + self.middle.len() + self.suffix.len()
    }
}

/// Character span `[start, end)` of an answer.
fn answer_span(answer: &Answer) -> (usize, usize) {
    (answer.answer_start, answer.answer_start + answer.text.chars().count())
}

/// The context tokens (first, last) covering a character span, if any token does.
pub fn tokens_of_span(offsets: &[(usize, usize)], (start, end): (usize, usize)) -> Option<(usize, usize)> {
    let first = offsets.iter().position(|&(_, e)| e > start)?;
    let last = offsets.iter().rposition(|&(s, _)| s < end)?;
    (first <= last).then_some((first, last))
}

/// A context tokenized once for all its questions: the text, its token ids and their character offsets.
pub(crate) type TokenizedContext = (std::sync::Arc<str>, Vec<u32>, Vec<(usize, usize)>);

/// Builds the features of `examples`.
pub fn build_features(examples: &[QaExample], tokenizer: &TextTokenizer, config: &FeatureConfig) -> Result<Vec<QaFeature>> {
    let template = PairTemplate::of(tokenizer)?;
    let tok_err = |e: tokenizers::Error| DistillError::Tokenizer { path: tokenizer.files.paths()[0].to_path_buf(), message: e.to_string() };
    let mut features = Vec::new();
    let mut cached_context: Option<TokenizedContext> = None;
    for (index, example) in examples.iter().enumerate() {
        let question = tokenizer.tokenizer.encode(example.question.as_str(), false).map_err(tok_err)?;
        let q_ids: Vec<u32> = question.get_ids().iter().copied().take(config.max_query_length).collect();
        // Questions of one paragraph share its context: tokenize it once.
        if !cached_context.as_ref().is_some_and(|(c, ..)| std::sync::Arc::ptr_eq(c, &example.context)) {
            let enc = tokenizer.tokenizer.encode_char_offsets(&*example.context, false).map_err(tok_err)?;
            cached_context = Some((example.context.clone(), enc.get_ids().to_vec(), enc.get_offsets().to_vec()));
        }
        let (_, c_ids, c_offsets) = cached_context.as_ref().expect("set above");
        let room = config
            .max_seq_len
            .checked_sub(q_ids.len() + template.special_count())
            .filter(|r| *r > 0)
            .ok_or_else(|| DistillError::Invalid(format!("max_seq_len {} leaves no room for context after a question of {} tokens", config.max_seq_len, q_ids.len())))?;
        let label = example.answers.first().and_then(|a| tokens_of_span(c_offsets, answer_span(a)));
        let mut window_start = 0;
        loop {
            let window_end = (window_start + room).min(c_ids.len());
            let mut f = QaFeature { example: index, input_ids: vec![], token_type_ids: vec![], context_spans: vec![], start_position: 0, end_position: 0 };
            let mut push = |id: u32, ty: u32, span: Option<(usize, usize)>| {
                f.input_ids.push(id as i64);
                f.token_type_ids.push(ty as i64);
                f.context_spans.push(span);
            };
            template.prefix.iter().for_each(|&(id, ty)| push(id, ty, None));
            q_ids.iter().for_each(|&id| push(id, template.first_type, None));
            template.middle.iter().for_each(|&(id, ty)| push(id, ty, None));
            let context_at = template.prefix.len() + q_ids.len() + template.middle.len();
            (window_start..window_end).for_each(|i| push(c_ids[i], template.second_type, Some(c_offsets[i])));
            template.suffix.iter().for_each(|&(id, ty)| push(id, ty, None));
            if let Some((first, last)) = label.filter(|&(a, b)| a >= window_start && b < window_end) {
                f.start_position = context_at + first - window_start;
                f.end_position = context_at + last - window_start;
            }
            features.push(f);
            if window_end >= c_ids.len() {
                break;
            }
            window_start += config.doc_stride.min(room).max(1);
        }
    }
    Ok(features)
}

/// Pads `features` into one batch (padding id `pad_id`, mask 0 on padding).
pub fn batch_features(features: &[&QaFeature], pad_id: u32) -> TokenBatch {
    let longest = features.iter().map(|f| f.input_ids.len()).max().unwrap_or(1);
    let pad = |v: &[i64], with: i64| {
        let mut row = v.to_vec();
        row.resize(longest, with);
        row
    };
    TokenBatch::from_rows(
        features.iter().map(|f| pad(&f.input_ids, pad_id as i64)).collect(),
        Some(features.iter().map(|f| pad(&vec![1; f.input_ids.len()], 0)).collect()),
        Some(features.iter().map(|f| pad(&f.token_type_ids, 0)).collect()),
        "features",
    )
    .expect("padded features form a rectangular batch")
}
