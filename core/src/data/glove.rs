//! Word vectors in GloVe's text format (`word v1 v2 ...` per line) and their nearest
//! neighbours by cosine similarity.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{DistillError, Result};

pub struct WordVectors {
    words: Vec<String>,
    index: HashMap<String, usize>,
    /// Unit-length vectors, row-major.
    vectors: Vec<f32>,
    dim: usize,
}

impl WordVectors {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| DistillError::io(path, e))?;
        let (mut words, mut vectors, mut dim) = (Vec::new(), Vec::new(), 0usize);
        for (n, line) in text.lines().enumerate() {
            let mut parts = line.split(' ');
            let Some(word) = parts.next().filter(|w| !w.is_empty()) else { continue };
            let values: Vec<f32> = parts
                .map(|v| v.parse::<f32>().map_err(|_| DistillError::input(path.display().to_string(), format!("line {}", n + 1), format!("{v:?} is not a number"))))
                .collect::<Result<_>>()?;
            if dim == 0 {
                dim = values.len();
            }
            if values.len() != dim || dim == 0 {
                return Err(DistillError::input(path.display().to_string(), format!("line {}", n + 1), format!("has {} values, expected {dim}", values.len())));
            }
            let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            vectors.extend(values.iter().map(|v| v / norm));
            words.push(word.to_string());
        }
        let index = words.iter().enumerate().map(|(i, w)| (w.clone(), i)).collect();
        Ok(Self { words, index, vectors, dim })
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The `k` words closest to `word` (lower-cased) by cosine similarity, nearest first.
    pub fn neighbours(&self, word: &str, k: usize) -> Vec<&str> {
        let Some(&i) = self.index.get(&word.to_lowercase()) else { return vec![] };
        let v = &self.vectors[i * self.dim..(i + 1) * self.dim];
        let mut scored: Vec<(f32, usize)> = (0..self.words.len())
            .filter(|&j| j != i)
            .map(|j| (self.vectors[j * self.dim..(j + 1) * self.dim].iter().zip(v).map(|(a, b)| a * b).sum(), j))
            .collect();
        let k = k.min(scored.len());
        if k == 0 {
            return vec![];
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
        scored.truncate(k);
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().map(|(_, j)| self.words[j].as_str()).collect()
    }
}
