//! A batch of token ids, padded to one length, as the encoder consumes it; built from the JSON
//! of `distill forward --input` or from text through a tokenizer.

use serde_json::Value;

use crate::error::{DistillError, Result};
use crate::model::EncoderConfig;
use crate::tokenizer::TextTokenizer;

/// Row-major `[batch, seq]` ids, mask (1 = token, 0 = padding) and token types.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBatch {
    pub input_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    pub token_type_ids: Vec<i64>,
    batch: usize,
    seq: usize,
}

fn rows(value: &Value, field: &str, source: &str) -> Result<Vec<Vec<i64>>> {
    let outer = value.as_array().ok_or_else(|| DistillError::input(source, field, "expected a list of rows"))?;
    outer
        .iter()
        .enumerate()
        .map(|(r, row)| {
            let row = row.as_array().ok_or_else(|| DistillError::input(source, format!("{field}[{r}]"), "expected a list of integers"))?;
            row.iter()
                .enumerate()
                .map(|(c, v)| v.as_i64().ok_or_else(|| DistillError::input(source, format!("{field}[{r}][{c}]"), format!("expected an integer, found {v}"))))
                .collect()
        })
        .collect()
}

impl TokenBatch {
    /// Builds a batch from rows; every row of every field must have the same length.
    pub fn from_rows(ids: Vec<Vec<i64>>, mask: Option<Vec<Vec<i64>>>, types: Option<Vec<Vec<i64>>>, source: &str) -> Result<Self> {
        let batch = ids.len();
        if batch == 0 {
            return Err(DistillError::input(source, "input_ids", "holds no rows"));
        }
        let seq = ids[0].len();
        if seq == 0 {
            return Err(DistillError::input(source, "input_ids[0]", "is empty"));
        }
        let flatten = |field: &str, rows: Vec<Vec<i64>>| -> Result<Vec<i64>> {
            if rows.len() != batch {
                return Err(DistillError::input(source, field, format!("has {} rows but input_ids has {batch}", rows.len())));
            }
            for (r, row) in rows.iter().enumerate() {
                if row.len() != seq {
                    return Err(DistillError::input(source, format!("{field}[{r}]"), format!("has {} entries but row 0 of input_ids has {seq}: rows must be padded to one length", row.len())));
                }
            }
            Ok(rows.into_iter().flatten().collect())
        };
        let input_ids = flatten("input_ids", ids)?;
        let attention_mask = match mask {
            Some(m) => flatten("attention_mask", m)?,
            None => vec![1; batch * seq],
        };
        if let Some(bad) = attention_mask.iter().position(|&m| m != 0 && m != 1) {
            return Err(DistillError::input(source, format!("attention_mask[{}][{}]", bad / seq, bad % seq), "must be 0 or 1"));
        }
        let token_type_ids = match types {
            Some(t) => flatten("token_type_ids", t)?,
            None => vec![0; batch * seq],
        };
        Ok(Self { input_ids, attention_mask, token_type_ids, batch, seq })
    }

    /// Parses `{"input_ids": [[..]], "attention_mask"?: [[..]], "token_type_ids"?: [[..]]}`.
    pub fn from_json_ids(value: &Value, source: &str) -> Result<Self> {
        let ids = rows(value.get("input_ids").ok_or_else(|| DistillError::input(source, "input_ids", "missing"))?, "input_ids", source)?;
        let mask = value.get("attention_mask").map(|v| rows(v, "attention_mask", source)).transpose()?;
        let types = value.get("token_type_ids").map(|v| rows(v, "token_type_ids", source)).transpose()?;
        Self::from_rows(ids, mask, types, source)
    }

    /// Parses any input form of `distill forward`: ids, `{"texts": [..]}` or `{"pairs": [[q, c], ..]}`
    /// (the last two need a tokenizer).
    pub fn from_json(value: &Value, tokenizer: Option<&TextTokenizer>, max_len: usize, source: &str) -> Result<Self> {
        if value.get("input_ids").is_some() {
            return Self::from_json_ids(value, source);
        }
        let need_tokenizer = |field: &str| {
            tokenizer.ok_or_else(|| DistillError::input(source, field, "text input needs a tokenizer, and the model has none (tokenizer.json, vocab.txt or vocab.json + merges.txt)"))
        };
        if let Some(texts) = value.get("texts") {
            let tok = need_tokenizer("texts")?;
            let texts = texts
                .as_array()
                .ok_or_else(|| DistillError::input(source, "texts", "expected a list of strings"))?
                .iter()
                .enumerate()
                .map(|(i, t)| t.as_str().map(str::to_string).ok_or_else(|| DistillError::input(source, format!("texts[{i}]"), "expected a string")))
                .collect::<Result<Vec<_>>>()?;
            return tok.encode_texts(&texts, max_len);
        }
        if let Some(pairs) = value.get("pairs") {
            let tok = need_tokenizer("pairs")?;
            let pairs = pairs
                .as_array()
                .ok_or_else(|| DistillError::input(source, "pairs", "expected a list of [question, context] pairs"))?
                .iter()
                .enumerate()
                .map(|(i, p)| match p.as_array().map(|a| a.as_slice()) {
                    Some([Value::String(a), Value::String(b)]) => Ok((a.clone(), b.clone())),
                    _ => Err(DistillError::input(source, format!("pairs[{i}]"), "expected two strings")),
                })
                .collect::<Result<Vec<_>>>()?;
            return tok.encode_pairs(&pairs, max_len);
        }
        Err(DistillError::input(source, "input_ids", "missing: give input_ids, texts or pairs"))
    }

    pub fn batch_size(&self) -> usize {
        self.batch
    }

    pub fn seq_len(&self) -> usize {
        self.seq
    }

    /// Checks the batch against a model: ids inside the vocabulary, token types inside the
    /// type vocabulary, length inside the position table.
    pub fn check_against(&self, config: &EncoderConfig, source: &str) -> Result<()> {
        let at = |i: usize| format!("[{}][{}]", i / self.seq, i % self.seq);
        if let Some(i) = self.input_ids.iter().position(|&id| id < 0 || id as usize >= config.vocab_size) {
            return Err(DistillError::input(source, format!("input_ids{}", at(i)), format!("token id {} is outside the vocabulary of {} tokens", self.input_ids[i], config.vocab_size)));
        }
        let types = config.type_vocab_size.max(1);
        if let Some(i) = self.token_type_ids.iter().position(|&t| t < 0 || t as usize >= types) {
            return Err(DistillError::input(source, format!("token_type_ids{}", at(i)), format!("token type {} is outside the {} types the model has", self.token_type_ids[i], types)));
        }
        if self.seq > config.max_sequence_length() {
            return Err(DistillError::input(source, "input_ids", format!("sequence length {} exceeds the model's maximum of {}", self.seq, config.max_sequence_length())));
        }
        Ok(())
    }
}
