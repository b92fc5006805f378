//! Token-classification data: sentences of words, each with a tag (`O`, `B-PER`, `I-PER`, ...).
//! Two layouts: CoNLL (`word<TAB>tag` per line, a blank line between sentences, `-DOCSTART-`
//! lines skipped) and rows (JSON lines or Parquet) with `tokens` and `ner_tags`, as Hugging Face
//! datasets store them; their tags are either names or ids into a label list. Errors name the
//! file and the line or row.

use std::path::Path;

use serde_json::Value;

use super::rows::{DataColumns, RowFile, read_rows};
use crate::error::{DistillError, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct TaggedSentence {
    pub words: Vec<String>,
    pub tags: Vec<String>,
    /// Where the sentence starts in its file (`line 3`, `row 3`), for messages about it.
    pub at: String,
}

/// Whether `tag` is `O` or a prefix (`B`, `I`, `E`, `S`), a hyphen and an entity type: the tags
/// entity-level scoring can read.
pub fn check_tag(tag: &str) -> std::result::Result<(), String> {
    if tag == "O" {
        return Ok(());
    }
    match tag.split_once('-') {
        Some(("B" | "I" | "E" | "S", kind)) if !kind.is_empty() => Ok(()),
        _ => Err(format!("tag {tag:?} is neither O nor a prefix B-, I-, E- or S- followed by an entity type")),
    }
}

fn read_conll(text: &str, source: &str) -> Result<Vec<TaggedSentence>> {
    let mut out = Vec::new();
    let mut current = TaggedSentence { words: vec![], tags: vec![], at: String::new() };
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        if line.trim().is_empty() {
            if !current.words.is_empty() {
                out.push(std::mem::replace(&mut current, TaggedSentence { words: vec![], tags: vec![], at: String::new() }));
            }
            continue;
        }
        let fields: Vec<&str> = if line.contains('\t') { line.split('\t').collect() } else { line.split_whitespace().collect() };
        if fields.first().is_some_and(|w| *w == "-DOCSTART-") {
            continue;
        }
        if fields.len() != 2 {
            return Err(DistillError::input(source, format!("line {number}"), format!("has {} fields; a CoNLL line is `word<TAB>tag`", fields.len())));
        }
        let (word, tag) = (fields[0].trim(), fields[1].trim());
        if word.is_empty() {
            return Err(DistillError::input(source, format!("line {number}"), "the word is empty"));
        }
        check_tag(tag).map_err(|m| DistillError::input(source, format!("line {number}"), m))?;
        if current.words.is_empty() {
            current.at = format!("line {number}");
        }
        current.words.push(word.to_string());
        current.tags.push(tag.to_string());
    }
    if !current.words.is_empty() {
        out.push(current);
    }
    Ok(out)
}

fn read_row_file(path: &Path, kind: RowFile, source: &str, columns: &DataColumns, labels: Option<&[String]>) -> Result<Vec<TaggedSentence>> {
    let mut out = Vec::new();
    for row in read_rows(path, kind)? {
        let at = || row.at.clone();
        let column = |name: &str| -> Result<&Vec<Value>> {
            match row.get(source, name)? {
                Value::Array(a) => Ok(a),
                other => Err(DistillError::input(source, at(), format!("column `{name}` must be a list, found {other}"))),
            }
        };
        let words = column(&columns.tokens)?
            .iter()
            .map(|w| w.as_str().map(str::to_string).ok_or_else(|| DistillError::input(source, at(), format!("column `{}` must hold strings, found {w}", columns.tokens))))
            .collect::<Result<Vec<_>>>()?;
        let tags = column(&columns.tags)?
            .iter()
            .map(|t| match (t, labels) {
                (Value::String(s), _) => Ok(s.clone()),
                (Value::Number(n), Some(labels)) => n
                    .as_u64()
                    .and_then(|id| labels.get(id as usize))
                    .cloned()
                    .ok_or_else(|| DistillError::input(source, at(), format!("tag id {n} in column `{}` is not an index into the labels {labels:?}", columns.tags))),
                (Value::Number(_), None) => Err(DistillError::input(
                    source,
                    at(),
                    format!("column `{}` holds tag ids: name the labels they index with --labels (in id order), or use a teacher whose config has id2label", columns.tags),
                )),
                (other, _) => Err(DistillError::input(source, at(), format!("column `{}` must hold tag names or ids, found {other}", columns.tags))),
            })
            .collect::<Result<Vec<_>>>()?;
        if words.len() != tags.len() {
            return Err(DistillError::input(source, at(), format!("has {} tokens and {} tags", words.len(), tags.len())));
        }
        for tag in &tags {
            check_tag(tag).map_err(|m| DistillError::input(source, at(), m))?;
        }
        if let Some(w) = words.iter().find(|w| w.trim().is_empty()) {
            return Err(DistillError::input(source, at(), format!("token {w:?} is empty")));
        }
        if !words.is_empty() {
            out.push(TaggedSentence { words, tags, at: row.at.clone() });
        }
    }
    Ok(out)
}

/// Reads sentences from `path`: `.jsonl`/`.json` as JSON lines and `.parquet` as Parquet (the
/// `columns.tokens` and `columns.tags` columns), anything else as CoNLL. `labels` maps tag ids
/// to names.
pub fn read_tagged(path: &Path, columns: &DataColumns, labels: Option<&[String]>) -> Result<Vec<TaggedSentence>> {
    let source = path.display().to_string();
    let sentences = match RowFile::of(path, true) {
        Some(kind) => read_row_file(path, kind, &source, columns, labels)?,
        None => {
            let path = super::shards::single(path, "CoNLL")?;
            read_conll(&std::fs::read_to_string(path).map_err(|e| DistillError::io(path, e))?, &source)?
        }
    };
    if sentences.is_empty() {
        return Err(DistillError::input(&source, "(file)", "holds no sentences"));
    }
    Ok(sentences)
}

/// Writes `sentences` to `path` atomically: JSON lines (`tokens`, `ner_tags` as tag names) for a
/// `.jsonl` name, else CoNLL (`word<TAB>tag`, a blank line after each sentence).
pub fn write_tagged(path: &Path, sentences: &[TaggedSentence]) -> Result<()> {
    let jsonl = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("jsonl"));
    let mut text = String::new();
    for s in sentences {
        if jsonl {
            text.push_str(&serde_json::json!({ "tokens": s.words, "ner_tags": s.tags }).to_string());
            text.push('\n');
        } else {
            for (word, tag) in s.words.iter().zip(&s.tags) {
                if word.contains(['\t', '\n', '\r']) {
                    let message = format!("word {word:?} holds a tab or a line break, which a CoNLL file cannot; write JSON lines (a .jsonl name)");
                    return Err(DistillError::input(path.display().to_string(), &s.at, message));
                }
                text.push_str(&format!("{word}\t{tag}\n"));
            }
            text.push('\n');
        }
    }
    crate::io::write_atomic(path, text.as_bytes())
}

/// Every tag of `sentences` outside `labels`, as an error naming the file and line.
pub fn check_labels(path: &Path, sentences: &[TaggedSentence], labels: &[String]) -> Result<()> {
    for s in sentences {
        if let Some(tag) = s.tags.iter().find(|t| !labels.contains(t)) {
            return Err(DistillError::input(path.display().to_string(), &s.at, format!("tag {tag:?} is not among the labels {labels:?}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conll_sentences_skip_docstart_and_blank_runs() {
        let text = "-DOCSTART-\tO\n\nEU\tB-ORG\nrejects\tO\n\n\n\nPeter Blackburn\n";
        let err = read_conll(text, "x.conll").unwrap_err().to_string();
        assert!(err.contains("line 8") && err.contains("tag \"Blackburn\""), "{err}");
        // CoNLL-2003's document marker has four fields; it is skipped whatever it holds.
        assert_eq!(read_conll("-DOCSTART- -X- -X- O\n\nEU\tB-ORG\n", "x").unwrap().len(), 1);
        let s = read_conll("-DOCSTART-\tO\n\nEU\tB-ORG\nrejects\tO\n\n\nPeter\tB-PER\n", "x").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].words.clone(), s[0].tags.clone(), s[0].at.as_str()), (vec!["EU".to_string(), "rejects".into()], vec!["B-ORG".to_string(), "O".into()], "line 3"));
        assert_eq!(s[1].at, "line 7");
    }

    #[test]
    fn written_sentences_read_back_and_unwritable_words_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sentences = vec![
            TaggedSentence { words: vec!["New York".into(), "rocks".into()], tags: vec!["B-location".into(), "O".into()], at: "line 1".into() },
            TaggedSentence { words: vec!["hi".into()], tags: vec!["O".into()], at: "line 4".into() },
        ];
        for name in ["out.conll", "out.jsonl"] {
            let path = dir.path().join(name);
            write_tagged(&path, &sentences).unwrap();
            let back = read_tagged(&path, &DataColumns::default(), None).unwrap();
            assert_eq!(back.iter().map(|s| (&s.words, &s.tags)).collect::<Vec<_>>(), sentences.iter().map(|s| (&s.words, &s.tags)).collect::<Vec<_>>(), "{name}");
        }
        let tabbed = [TaggedSentence { words: vec!["a\tb".into()], tags: vec!["O".into()], at: "row 9".into() }];
        let err = write_tagged(&dir.path().join("bad.conll"), &tabbed).unwrap_err().to_string();
        assert!(err.contains("row 9") && err.contains("JSON lines"), "{err}");
        assert!(!dir.path().join("bad.conll").exists());
        write_tagged(&dir.path().join("ok.jsonl"), &tabbed).unwrap();
    }

    #[test]
    fn tags_must_be_iob_with_a_type() {
        for ok in ["O", "B-PER", "I-creative-work", "E-x", "S-y"] {
            assert!(check_tag(ok).is_ok(), "{ok}");
        }
        for bad in ["PER", "B-", "X-PER", "o", "B_PER", ""] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
    }
}
