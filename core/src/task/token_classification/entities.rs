//! Entity-level scoring of tag sequences, equal to seqeval's: its default mode (conlleval's
//! chunking, which also reads ill-formed sequences such as an `I-` after `O` as an entity) and
//! its strict IOB2 mode (an entity is a `B-X` followed by any run of `I-X`; anything else is not
//! one). Precision, recall and F1 micro-averaged over entities, and per entity type.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// How tag sequences are read into entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// seqeval's default (`mode=None`): conlleval's chunk rules over IOB1/IOB2/IOE/IOBES.
    Lenient,
    /// seqeval's `mode="strict", scheme=IOB2`.
    StrictIob2,
}

/// An entity: its type and its tokens `start..end` within a sentence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entity {
    pub kind: String,
    pub start: usize,
    pub end: usize,
}

/// A tag's prefix letter and entity type (`O` has type `_`, as in seqeval).
fn split(tag: &str) -> (char, &str) {
    let prefix = tag.chars().next().unwrap_or('O');
    let rest = tag.get(prefix.len_utf8()..).unwrap_or("");
    let kind = match rest.split_once('-') {
        Some((_, kind)) => kind,
        None => rest,
    };
    (prefix, if kind.is_empty() { "_" } else { kind })
}

/// conlleval's rules: whether a chunk ends between `prev` and `cur`, and whether one starts at `cur`.
fn chunk_ends(prev: (char, &str), cur: (char, &str)) -> bool {
    matches!(prev.0, 'E' | 'S') || (matches!(prev.0, 'B' | 'I') && matches!(cur.0, 'B' | 'S' | 'O')) || (prev.0 != 'O' && prev.0 != '.' && prev.1 != cur.1)
}

fn chunk_starts(prev: (char, &str), cur: (char, &str)) -> bool {
    matches!(cur.0, 'B' | 'S') || (matches!(prev.0, 'E' | 'S' | 'O') && matches!(cur.0, 'E' | 'I')) || (cur.0 != 'O' && cur.0 != '.' && prev.1 != cur.1)
}

/// The entities of one sentence's tags under `scheme`.
pub fn entities<S: AsRef<str>>(tags: &[S], scheme: Scheme) -> Vec<Entity> {
    let mut out = Vec::new();
    match scheme {
        Scheme::Lenient => {
            let mut prev = ('O', "_");
            let mut begin = 0;
            for i in 0..=tags.len() {
                let cur = tags.get(i).map_or(('O', "_"), |t| split(t.as_ref()));
                if chunk_ends(prev, cur) {
                    out.push(Entity { kind: prev.1.to_string(), start: begin, end: i });
                }
                if chunk_starts(prev, cur) {
                    begin = i;
                }
                prev = cur;
            }
        }
        Scheme::StrictIob2 => {
            let mut i = 0;
            while i < tags.len() {
                let (prefix, kind) = split(tags[i].as_ref());
                if prefix != 'B' {
                    i += 1;
                    continue;
                }
                let mut end = i + 1;
                while end < tags.len() && split(tags[end].as_ref()) == ('I', kind) {
                    end += 1;
                }
                out.push(Entity { kind: kind.to_string(), start: i, end });
                i = end;
            }
        }
    }
    out
}

/// Precision, recall and F1 of one entity type, or of all (micro-averaged).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold entities.
    pub support: usize,
    pub predicted: usize,
    pub correct: usize,
}

impl Prf {
    /// From counts; 0 where a ratio has no denominator (seqeval's `zero_division=0`).
    fn new(correct: usize, predicted: usize, support: usize) -> Self {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (precision, recall) = (ratio(correct, predicted), ratio(correct, support));
        let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
        Self { precision, recall, f1, support, predicted, correct }
    }
}

/// Entity-level scores of a data set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityScores {
    pub micro: Prf,
    pub per_type: BTreeMap<String, Prf>,
}

/// Scores `predicted` against `gold`, one tag sequence per sentence (equal lengths pairwise).
pub fn score<S: AsRef<str>>(gold: &[Vec<S>], predicted: &[Vec<S>], scheme: Scheme) -> EntityScores {
    assert_eq!(gold.len(), predicted.len(), "one predicted sequence per sentence");
    let collect = |seqs: &[Vec<S>]| -> BTreeSet<(String, usize, usize, usize)> {
        seqs.iter().enumerate().flat_map(|(s, tags)| entities(tags, scheme).into_iter().map(move |e| (e.kind, s, e.start, e.end))).collect()
    };
    let (gold, predicted) = (collect(gold), collect(predicted));
    let kinds: BTreeSet<&String> = gold.iter().chain(&predicted).map(|e| &e.0).collect();
    let per_type = kinds
        .into_iter()
        .map(|kind| {
            let of = |set: &BTreeSet<(String, usize, usize, usize)>| set.iter().filter(|e| e.0 == *kind).count();
            let correct = gold.iter().filter(|e| e.0 == *kind && predicted.contains(*e)).count();
            (kind.clone(), Prf::new(correct, of(&predicted), of(&gold)))
        })
        .collect();
    let correct = gold.intersection(&predicted).count();
    EntityScores { micro: Prf::new(correct, predicted.len(), gold.len()), per_type }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(tags: &str, scheme: Scheme) -> Vec<(String, usize, usize)> {
        let tags: Vec<&str> = tags.split_whitespace().collect();
        entities(&tags, scheme).into_iter().map(|e| (e.kind, e.start, e.end)).collect()
    }

    #[test]
    fn lenient_chunks_read_ill_formed_sequences_as_conlleval_does() {
        let s = |k: &str, a, b| (k.to_string(), a, b);
        assert_eq!(spans("B-PER I-PER O B-LOC", Scheme::Lenient), vec![s("PER", 0, 2), s("LOC", 3, 4)]);
        // I- after O starts an entity; a type change inside splits it.
        assert_eq!(spans("O I-PER I-PER I-LOC", Scheme::Lenient), vec![s("PER", 1, 3), s("LOC", 3, 4)]);
        assert_eq!(spans("B-PER I-LOC", Scheme::Lenient), vec![s("PER", 0, 1), s("LOC", 1, 2)]);
    }

    #[test]
    fn strict_iob2_needs_a_b_and_one_type() {
        let s = |k: &str, a, b| (k.to_string(), a, b);
        assert_eq!(spans("O I-PER I-PER B-LOC I-LOC", Scheme::StrictIob2), vec![s("LOC", 3, 5)]);
        assert_eq!(spans("B-PER I-LOC I-LOC B-PER", Scheme::StrictIob2), vec![s("PER", 0, 1), s("PER", 3, 4)]);
    }

    #[test]
    fn micro_scores_count_exact_matches() {
        let gold = vec![vec!["B-PER", "I-PER", "O", "B-LOC"], vec!["B-ORG", "O"]];
        let pred = vec![vec!["B-PER", "I-PER", "O", "O"], vec!["B-ORG", "B-ORG"]];
        let s = score(&gold, &pred, Scheme::Lenient);
        assert_eq!((s.micro.correct, s.micro.predicted, s.micro.support), (2, 3, 3));
        assert!((s.micro.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.per_type["LOC"].f1, 0.0);
        assert_eq!(s.per_type["PER"].f1, 1.0);
    }
}
