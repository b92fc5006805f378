//! A forward pass as named host tensors: what `distill forward` writes and parity tests compare.

use std::collections::BTreeMap;

use crate::inputs::TokenBatch;
use crate::model::{TaskModel, to_host};

/// Named f32 tensors: shape and row-major values.
pub type NamedTensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Runs `model` on `batch` and names every output as transformers' fixtures do:
/// `hidden_states.{i}`, `attention_scores.{i}`, `attention_probs.{i}`, and
/// `start_logits`/`end_logits`, `logits`, `token_logits` or `mlm_logits` for a head.
pub fn forward_tensors(model: &TaskModel, batch: &TokenBatch) -> NamedTensors {
    let out = model.forward(batch);
    let mut named = BTreeMap::new();
    for (i, h) in out.encoder.hidden_states.into_iter().enumerate() {
        named.insert(format!("hidden_states.{i}"), to_host(h));
    }
    for (i, s) in out.encoder.attention_scores.into_iter().enumerate() {
        named.insert(format!("attention_scores.{i}"), to_host(s));
    }
    for (i, p) in out.encoder.attention_probs.into_iter().enumerate() {
        named.insert(format!("attention_probs.{i}"), to_host(p));
    }
    if let Some(qa) = out.qa {
        named.insert("start_logits".into(), to_host(qa.start_logits));
        named.insert("end_logits".into(), to_host(qa.end_logits));
    }
    if let Some(l) = out.logits {
        named.insert("logits".into(), to_host(l));
    }
    if let Some(l) = out.token_logits {
        named.insert("token_logits".into(), to_host(l));
    }
    if let Some(l) = out.mlm_logits {
        named.insert("mlm_logits".into(), to_host(l));
    }
    named
}
