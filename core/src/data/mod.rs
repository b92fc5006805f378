//! Datasets: SQuAD (JSON v1.1 and v2.0, or rows in the Hugging Face `squad` layout),
//! sentence-classification files, tagged sentences (CoNLL or rows), rows of JSON lines or
//! Parquet (one file or the shards a pattern names), hub dataset splits (`hub:OWNER/NAME[:CONFIG]:SPLIT`), GloVe word vectors, and SQuAD
//! augmentation.

pub mod augment;
pub mod classification;
pub mod glove;
pub mod hub;
pub mod rows;
pub mod shards;
pub mod squad;
pub mod tagged;
