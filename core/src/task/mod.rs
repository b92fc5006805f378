//! Tasks: extractive question answering (features, decoding, official SQuAD scoring) and
//! sentence classification (metrics).

pub mod classification;
pub mod qa;
