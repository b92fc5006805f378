//! Datasets: SQuAD JSON (v1.1 and v2.0), sentence-classification files, GloVe word vectors,
//! and SQuAD augmentation.

pub mod augment;
pub mod classification;
pub mod glove;
pub mod squad;
