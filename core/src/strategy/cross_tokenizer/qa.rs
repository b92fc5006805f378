//! The teacher's reading of QA windows. The student's windowing drives: for each student window,
//! the teacher reads the question and the context tokens of its own tokenization of the whole
//! context that overlap the window's characters (a teacher token straddling the window's edge is
//! read, and its mass on the far side dropped), up to the teacher's own sequence length.

use std::sync::Arc;

use super::{Carry, TeacherView};
use crate::error::{DistillError, Result};
use crate::task::qa::features::{PairTemplate, QaExample, QaFeature, TokenizedContext};
use crate::tokenizer::TextTokenizer;

/// Student context positions with their character spans, in order.
struct StudentWindow {
    spans: Vec<(usize, (usize, usize))>,
}

impl StudentWindow {
    /// The characters `[lo, hi)` the window's context covers.
    fn range(&self) -> Option<(usize, usize)> {
        Some((self.spans.first()?.1.0, self.spans.last()?.1.1))
    }

    /// The student token a teacher token's start mass goes to: the first one ending after
    /// character `c`, when `c` is inside the window.
    fn start_of(&self, c: usize) -> Option<usize> {
        let (lo, hi) = self.range()?;
        if c < lo || c >= hi {
            return None;
        }
        let i = self.spans.partition_point(|&(_, (_, e))| e <= c);
        self.spans.get(i).map(|&(p, _)| p)
    }

    /// The student token a teacher token's end mass goes to: the last one starting at or before
    /// character `c`, when `c` is inside the window.
    fn end_of(&self, c: usize) -> Option<usize> {
        let (lo, hi) = self.range()?;
        if c < lo || c >= hi {
            return None;
        }
        let i = self.spans.partition_point(|&(_, (s, _))| s <= c);
        i.checked_sub(1).map(|i| self.spans[i].0)
    }
}

/// One view per student feature, in order. `max_query_length` cuts the teacher's question as
/// the student's is cut; `max_len` is the most tokens the teacher reads (its own limit).
pub fn views(examples: &[QaExample], features: &[QaFeature], teacher: &TextTokenizer, max_query_length: usize, max_len: usize) -> Result<Vec<TeacherView>> {
    let template = PairTemplate::of(teacher)?;
    if template.prefix.is_empty() {
        return Err(DistillError::Invalid("the teacher's tokenizer puts no token before the question, so it has no no-answer position to carry to the student's".into()));
    }
    let tok_err = |e: tokenizers::Error| DistillError::Tokenizer { path: teacher.files.paths()[0].to_path_buf(), message: e.to_string() };
    let mut context: Option<TokenizedContext> = None;
    let mut question: Option<(usize, Vec<u32>)> = None;
    let mut out = Vec::with_capacity(features.len());
    for f in features {
        let example = &examples[f.example];
        if question.as_ref().is_none_or(|(i, _)| *i != f.example) {
            let enc = teacher.tokenizer.encode(example.question.as_str(), false).map_err(tok_err)?;
            question = Some((f.example, enc.get_ids().iter().copied().take(max_query_length).collect()));
        }
        if !context.as_ref().is_some_and(|(c, ..)| Arc::ptr_eq(c, &example.context)) {
            let enc = teacher.tokenizer.encode_char_offsets(&*example.context, false).map_err(tok_err)?;
            context = Some((example.context.clone(), enc.get_ids().to_vec(), enc.get_offsets().to_vec()));
        }
        let (_, q_ids) = question.as_ref().expect("set above");
        let (_, c_ids, c_offsets) = context.as_ref().expect("set above");
        let window = StudentWindow { spans: f.context_spans.iter().enumerate().filter_map(|(p, s)| s.map(|s| (p, s))).collect() };
        let room = max_len.checked_sub(q_ids.len() + template.special_count()).filter(|&r| r > 0).ok_or_else(|| {
            DistillError::Invalid(format!("the teacher's {max_len} positions leave no room for context after question {} ({} tokens)", example.id, q_ids.len()))
        })?;
        let read: std::ops::Range<usize> = match window.range() {
            Some((lo, hi)) => {
                let first = c_offsets.partition_point(|&(_, e)| e <= lo);
                let last = c_offsets.partition_point(|&(s, _)| s < hi);
                first..last.min(first + room).max(first)
            }
            None => 0..0,
        };
        let mut view = TeacherView { input_ids: vec![], token_type_ids: vec![], carry: Carry::Span { start: vec![], end: vec![] } };
        let Carry::Span { start, end } = &mut view.carry else { unreachable!("built as a span above") };
        let mut push = |id: u32, ty: u32, to: (Option<usize>, Option<usize>)| {
            view.input_ids.push(id as i64);
            view.token_type_ids.push(ty as i64);
            start.push(to.0);
            end.push(to.1);
        };
        for (i, &(id, ty)) in template.prefix.iter().enumerate() {
            // The first token (CLS, <s>) is the no-answer position of both models.
            push(id, ty, if i == 0 { (Some(0), Some(0)) } else { (None, None) });
        }
        q_ids.iter().for_each(|&id| push(id, template.first_type, (None, None)));
        template.middle.iter().for_each(|&(id, ty)| push(id, ty, (None, None)));
        for k in read {
            let (s, e) = c_offsets[k];
            push(c_ids[k], template.second_type, (window.start_of(s), window.end_of(e.max(s + 1) - 1)));
        }
        template.suffix.iter().for_each(|&(id, ty)| push(id, ty, (None, None)));
        out.push(view);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::StudentWindow;

    #[test]
    fn teacher_characters_go_to_the_student_token_that_holds_them() {
        // Student tokens at positions 5.. covering "playing ball" as "play", "ing", "ball".
        let w = StudentWindow { spans: vec![(5, (0, 4)), (6, (4, 7)), (7, (8, 12))] };
        assert_eq!(w.range(), Some((0, 12)));
        assert_eq!((w.start_of(0), w.end_of(6)), (Some(5), Some(6)), "one teacher token over the whole word");
        assert_eq!((w.start_of(2), w.end_of(3)), (Some(5), Some(5)), "a teacher piece inside a student token");
        // The space between the words belongs to no student token: a start there goes to the
        // next token, an end to the one before.
        assert_eq!((w.start_of(7), w.end_of(7)), (Some(7), Some(6)));
        assert_eq!((w.start_of(12), w.end_of(12)), (None, None), "outside the window");
        assert_eq!(StudentWindow { spans: vec![] }.start_of(0), None);
    }
}
