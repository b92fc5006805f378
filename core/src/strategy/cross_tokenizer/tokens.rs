//! The teacher's reading of token-classification windows: for each student window, the teacher
//! tokenizes the same words (up to its own sequence length), and each word's label logits at the
//! teacher's first sub-token of it are taught at the student's first sub-token.

use super::{Carry, TeacherView};
use crate::data::tagged::TaggedSentence;
use crate::error::{DistillError, Result};
use crate::task::token_classification::windows::{WordText, WordWindow, build_windows};
use crate::tokenizer::TextTokenizer;

/// One view per student window that trains (`WordWindow::has_words`), in order. A word the
/// teacher's tokenizer drops entirely (a control character it strips) gets no teacher position:
/// the student is taught a uniform distribution there.
pub fn views(sentences: &[TaggedSentence], windows: &[WordWindow], teacher: &TextTokenizer, max_len: usize) -> Result<Vec<TeacherView>> {
    let mut out = Vec::new();
    for w in windows.iter().filter(|w| w.has_words()) {
        let words = w.first_of_word.iter().flatten();
        let (lo, hi) = (*words.clone().min().expect("has words"), *words.max().expect("has words"));
        let sentence = &sentences[w.sentence];
        let text = WordText::from_words(&sentence.words[lo..=hi]);
        let read = build_windows(std::slice::from_ref(&text), teacher, max_len)?;
        let [t] = read.as_slice() else {
            return Err(DistillError::Invalid(format!(
                "sentence at {}: the teacher's tokens of words {}..{} (one student window) do not fit the teacher's {max_len} positions; give a smaller --max-seq-len",
                sentence.at,
                lo + 1,
                hi + 1
            )));
        };
        let carry = w.first_of_word.iter().map(|word| word.and_then(|i| t.first_of_word.iter().position(|&q| q == Some(i - lo)))).collect();
        out.push(TeacherView { input_ids: t.input_ids.clone(), token_type_ids: t.token_type_ids.clone(), carry: Carry::Tokens(carry) });
    }
    Ok(out)
}
