//! Which teacher layer each student layer learns from.
//!
//! Layers are numbered from 1 (hidden state `i` is the output of layer `i`; 0 is the embedding
//! output, always matched to the teacher's). The uniform rule for a teacher of `N` layers and a
//! student of `M <= N`: student layer `i` learns from teacher layer `floor(i * N / M)`. It is
//! TinyBERT's `i * N / M` when `M` divides `N`, and otherwise still spreads the student over the
//! whole teacher and always maps the last layer to the last (12 -> 5: 2, 4, 7, 9, 12), where
//! Haystack requires an even division.

use serde::{Deserialize, Serialize};

/// A layer mapping as the user gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerMapping {
    Uniform,
    /// Only the last student layer, matched to the last teacher layer.
    Last,
    /// Explicit `student:teacher` pairs of layer numbers (1-based).
    Explicit(Vec<(usize, usize)>),
}

impl std::str::FromStr for LayerMapping {
    type Err = String;

    /// `uniform`, `last`, or `1:2,2:5,...` (student layer : teacher layer, counted from 1).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "uniform" => Ok(Self::Uniform),
            "last" => Ok(Self::Last),
            pairs => pairs
                .split(',')
                .map(|pair| {
                    let (a, b) = pair.split_once(':').ok_or_else(|| format!("layer mapping {pair:?}: expected student:teacher"))?;
                    let parse = |x: &str| x.trim().parse::<usize>().map_err(|_| format!("layer mapping {pair:?}: {x:?} is not a layer number"));
                    Ok((parse(a)?, parse(b)?))
                })
                .collect::<Result<Vec<_>, String>>()
                .map(Self::Explicit),
        }
    }
}

impl LayerMapping {
    /// (student layer, teacher layer) pairs, 1-based, checked against the layer counts.
    pub fn resolve(&self, student_layers: usize, teacher_layers: usize) -> Result<Vec<(usize, usize)>, String> {
        match self {
            Self::Uniform => {
                if student_layers > teacher_layers {
                    return Err(format!("a student of {student_layers} layers cannot map uniformly onto a teacher of {teacher_layers}"));
                }
                Ok((1..=student_layers).map(|i| (i, i * teacher_layers / student_layers)).collect())
            }
            Self::Last => Ok(vec![(student_layers, teacher_layers)]),
            Self::Explicit(pairs) => {
                if pairs.is_empty() {
                    return Err("an explicit layer mapping needs at least one pair".into());
                }
                for &(s, t) in pairs {
                    if s == 0 || s > student_layers {
                        return Err(format!("student layer {s} does not exist (layers 1..={student_layers})"));
                    }
                    if t == 0 || t > teacher_layers {
                        return Err(format!("teacher layer {t} does not exist (layers 1..={teacher_layers})"));
                    }
                }
                Ok(pairs.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform(m: usize, n: usize) -> Vec<usize> {
        LayerMapping::Uniform.resolve(m, n).unwrap().into_iter().map(|(_, t)| t).collect()
    }

    #[test]
    fn uniform_mapping_for_even_and_uneven_counts() {
        assert_eq!(uniform(4, 12), [3, 6, 9, 12]);
        assert_eq!(uniform(3, 6), [2, 4, 6]);
        assert_eq!(uniform(4, 6), [1, 3, 4, 6]);
        assert_eq!(uniform(5, 12), [2, 4, 7, 9, 12]);
        assert_eq!(uniform(6, 6), [1, 2, 3, 4, 5, 6]);
        assert!(LayerMapping::Uniform.resolve(7, 6).is_err());
    }

    #[test]
    fn last_and_explicit_mappings() {
        assert_eq!(LayerMapping::Last.resolve(3, 6).unwrap(), [(3, 6)]);
        let explicit: LayerMapping = "1:2, 2:5,3:6".parse().unwrap();
        assert_eq!(explicit.resolve(3, 6).unwrap(), [(1, 2), (2, 5), (3, 6)]);
        assert!(explicit.resolve(2, 6).unwrap_err().contains("student layer 3"));
        assert!("1-2".parse::<LayerMapping>().is_err());
        assert!("1:x".parse::<LayerMapping>().unwrap_err().contains("x"));
    }
}
