//! Extractive QA on SQuAD: windows of question + context as model features, decoding start/end
//! logits back to answer text, and scoring exactly as the official evaluation scripts.

pub mod decode;
pub mod features;
pub mod score;
