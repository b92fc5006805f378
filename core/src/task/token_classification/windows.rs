//! Sentences of words as model inputs. A sentence is tokenized once as text (its words joined by
//! spaces, or the user's text as typed), each token is assigned to the word its characters fall
//! in, and a label is read at each word's first sub-token only, as transformers' examples do.
//! A sentence longer than the model's window is cut into consecutive windows at word boundaries,
//! so each word is predicted once, in one window.

use crate::error::{DistillError, Result};
use crate::tokenizer::TextTokenizer;

/// A text and the character spans `[start, end)` of its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordText {
    pub text: String,
    pub words: Vec<(usize, usize)>,
}

impl WordText {
    /// Words joined by single spaces.
    pub fn from_words<S: AsRef<str>>(words: &[S]) -> Self {
        let mut text = String::new();
        let mut spans = Vec::with_capacity(words.len());
        let mut at = 0;
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                text.push(' ');
                at += 1;
            }
            let n = w.as_ref().chars().count();
            text.push_str(w.as_ref());
            spans.push((at, at + n));
            at += n;
        }
        Self { text, words: spans }
    }

    /// A text as typed. Its words are split as NER data is: at whitespace, and each punctuation
    /// character a word of its own (so "Alice," is the entity "Alice" and a comma).
    pub fn from_text(text: &str) -> Self {
        let mut spans = Vec::new();
        let mut start = None;
        let mut count = 0;
        for (i, c) in text.chars().enumerate() {
            let punctuation = !c.is_whitespace() && !c.is_alphanumeric();
            if let Some(s) = start.filter(|_| c.is_whitespace() || punctuation) {
                spans.push((s, i));
                start = None;
            }
            if punctuation {
                spans.push((i, i + 1));
            } else if !c.is_whitespace() && start.is_none() {
                start = Some(i);
            }
            count = i + 1;
        }
        if let Some(s) = start {
            spans.push((s, count));
        }
        Self { text: text.to_string(), words: spans }
    }

    /// The word whose characters overlap `[start, end)` (the last such word).
    fn word_of(&self, (start, end): (usize, usize)) -> Option<usize> {
        let i = self.words.partition_point(|w| w.0 < end.max(start + 1));
        let w = i.checked_sub(1)?;
        (self.words[w].1 > start).then_some(w)
    }
}

/// One window of a sentence: tokens with the tokenizer's special tokens around them.
#[derive(Debug, Clone, PartialEq)]
pub struct WordWindow {
    /// The sentence (index into the texts it was built from).
    pub sentence: usize,
    pub input_ids: Vec<i64>,
    pub token_type_ids: Vec<i64>,
    /// Per token: the word of the sentence this token is the first sub-token of.
    pub first_of_word: Vec<Option<usize>>,
}

impl WordWindow {
    /// Whether some word starts in this window: a window holding only the tail of a long word
    /// has no label to learn or predict.
    pub fn has_words(&self) -> bool {
        self.first_of_word.iter().any(Option::is_some)
    }
}

/// The special tokens a tokenizer puts around a single sequence, and its type id.
struct SingleTemplate {
    prefix: Vec<u32>,
    suffix: Vec<u32>,
    type_id: u32,
}

impl SingleTemplate {
    fn of(tokenizer: &TextTokenizer) -> Result<Self> {
        let enc = tokenizer.tokenizer.encode("a", true).map_err(|e| tok_err(tokenizer, e))?;
        let mut t = SingleTemplate { prefix: vec![], suffix: vec![], type_id: 0 };
        let mut seen = false;
        for ((seq, &id), &ty) in enc.get_sequence_ids().iter().zip(enc.get_ids()).zip(enc.get_type_ids()) {
            match seq {
                Some(_) => {
                    seen = true;
                    t.type_id = ty;
                }
                None if !seen => t.prefix.push(id),
                None => t.suffix.push(id),
            }
        }
        Ok(t)
    }
}

fn tok_err(tokenizer: &TextTokenizer, e: impl std::fmt::Display) -> DistillError {
    DistillError::Tokenizer { path: tokenizer.files.paths()[0].to_path_buf(), message: e.to_string() }
}

/// The windows of every text, at most `max_len` tokens each, in text order. A word longer than a
/// whole window keeps its first sub-tokens (its label is read at the first).
pub fn build_windows(texts: &[WordText], tokenizer: &TextTokenizer, max_len: usize) -> Result<Vec<WordWindow>> {
    let template = SingleTemplate::of(tokenizer)?;
    let specials = template.prefix.len() + template.suffix.len();
    if max_len <= specials {
        return Err(DistillError::Invalid(format!("--max-seq-len {max_len} leaves no room for a word beside the {specials} special tokens")));
    }
    let budget = max_len - specials;
    let mut out = Vec::new();
    for (sentence, text) in texts.iter().enumerate() {
        let enc = tokenizer.tokenizer.encode_char_offsets(text.text.as_str(), false).map_err(|e| tok_err(tokenizer, e))?;
        let ids = enc.get_ids();
        let word: Vec<Option<usize>> = enc.get_offsets().iter().map(|&o| text.word_of(o)).collect();
        let first = |i: usize| word[i].is_some() && (i == 0 || word[i - 1] != word[i]);
        let mut a = 0;
        while a < ids.len() {
            let mut b = (a + budget).min(ids.len());
            // Cut before the word that would straddle the boundary, unless it is the only one.
            if b < ids.len() && !first(b) {
                let word_start = (a + 1..b).rev().find(|&i| first(i));
                match word_start {
                    Some(s) => b = s,
                    None => {
                        // One word longer than a window: keep its head, skip its tail.
                        let mut next = b;
                        while next < ids.len() && !first(next) {
                            next += 1;
                        }
                        out.push(window(sentence, &template, ids, &word, a, b, &first));
                        a = next;
                        continue;
                    }
                }
            }
            out.push(window(sentence, &template, ids, &word, a, b, &first));
            a = b;
        }
    }
    Ok(out)
}

fn window(sentence: usize, template: &SingleTemplate, ids: &[u32], word: &[Option<usize>], a: usize, b: usize, first: &dyn Fn(usize) -> bool) -> WordWindow {
    let tokens = template.prefix.iter().chain(&ids[a..b]).chain(&template.suffix);
    let input_ids: Vec<i64> = tokens.map(|&id| id as i64).collect();
    let mut first_of_word = vec![None; template.prefix.len()];
    first_of_word.extend((a..b).map(|i| if first(i) { word[i] } else { None }));
    first_of_word.resize(input_ids.len(), None);
    WordWindow { sentence, token_type_ids: vec![template.type_id as i64; input_ids.len()], input_ids, first_of_word }
}

#[cfg(test)]
mod tests {
    use super::WordText;

    #[test]
    fn words_of_a_text_are_split_at_whitespace_and_punctuation_in_characters() {
        let t = WordText::from_text("  Größe  ist\trelativ ");
        assert_eq!(t.words, vec![(2, 7), (9, 12), (13, 20)]);
        let p = WordText::from_text("Alice, hi!");
        assert_eq!(p.words, vec![(0, 5), (5, 6), (7, 9), (9, 10)]);
        let j = WordText::from_words(&["Größe", "ist"]);
        assert_eq!((j.text.as_str(), j.words.clone()), ("Größe ist", vec![(0, 5), (6, 9)]));
        assert_eq!(j.word_of((1, 3)), Some(0));
        // A byte-level BPE token carrying the space before a word belongs to that word.
        assert_eq!(j.word_of((5, 9)), Some(1));
        assert_eq!(j.word_of((5, 6)), None);
    }
}
