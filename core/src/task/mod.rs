//! Tasks: extractive question answering (features, decoding, official SQuAD scoring), sentence
//! classification and regression (metrics) and token classification (word windows,
//! seqeval-equal scoring).

pub mod classification;
pub mod qa;
pub mod regression;
pub mod token_classification;
