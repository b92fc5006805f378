//! Reading datasets: SQuAD JSON (v1.1 and v2.0) and sentence-classification files.

pub mod classification;
pub mod squad;
