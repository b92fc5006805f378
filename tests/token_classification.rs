//! Token classification: entity scores equal to seqeval's on random and ill-formed tag
//! sequences, the CoNLL and JSON-lines readers, and word-aligned windows on real tokenizers.

use std::process::Command;

use distill_core::data::rows::DataColumns;
use distill_core::data::tagged::read_tagged;
use distill_core::task::token_classification::entities::{Scheme, score};
use distill_core::task::token_classification::windows::{WordText, build_windows};
use distill_core::tokenizer::{TextTokenizer, TokenizerFiles};
use distill_tests::{Rng, fixture, repo_root, shared};
use serde_json::{Value, json};

/// Sentences of tags drawn from `tags`, well-formed or not: I- after O, type changes, B-I-B.
fn random_sentences(rng: &mut Rng, tags: &[&str], sentences: usize) -> Vec<Vec<String>> {
    (0..sentences).map(|_| (0..1 + rng.next(12)).map(|_| tags[rng.next(tags.len())].to_string()).collect()).collect()
}

/// The predicted side: the gold tags with a fraction replaced at random.
fn perturb(rng: &mut Rng, gold: &[Vec<String>], tags: &[&str]) -> Vec<Vec<String>> {
    gold.iter().map(|s| s.iter().map(|t| if rng.next(4) == 0 { tags[rng.next(tags.len())].to_string() } else { t.clone() }).collect()).collect()
}

#[test]
fn entity_scores_equal_seqeval_in_default_and_strict_iob2_modes() {
    let iob2 = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-creative-work", "I-creative-work"];
    let iobes = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-ORG", "I-ORG", "E-ORG", "S-ORG"];
    let mut rng = Rng(0x5eed_cafe);
    let mut cases = Vec::new();
    // Hand-made ill-formed sequences first: an I- after O, a type change inside an entity, a
    // B- followed by an I- of another type, an entity running to the end.
    let hand = vec![
        vec!["O", "I-PER", "I-PER", "O", "B-LOC", "I-PER", "I-PER"],
        vec!["B-PER", "I-LOC", "I-LOC", "B-PER", "B-PER", "I-PER"],
        vec!["I-LOC", "O", "O", "B-LOC"],
    ];
    let hand: Vec<Vec<String>> = hand.into_iter().map(|s| s.into_iter().map(str::to_string).collect()).collect();
    let hand_pred: Vec<Vec<String>> = vec![
        vec!["O", "B-PER", "I-PER", "O", "B-LOC", "O", "I-PER"],
        vec!["B-PER", "B-LOC", "I-LOC", "B-PER", "I-PER", "I-PER"],
        vec!["B-LOC", "O", "O", "I-LOC"],
    ]
    .into_iter()
    .map(|s| s.into_iter().map(str::to_string).collect())
    .collect();
    for strict in [false, true] {
        cases.push((hand.clone(), hand_pred.clone(), strict));
    }
    for round in 0..12 {
        let tags: &[&str] = if round % 3 == 2 { &iobes } else { &iob2 };
        let gold = random_sentences(&mut rng, tags, 40);
        let predicted = perturb(&mut rng, &gold, tags);
        cases.push((gold.clone(), predicted.clone(), false));
        if round % 3 != 2 {
            cases.push((gold, predicted, true));
        }
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    let json_cases: Vec<Value> = cases.iter().map(|(g, p, strict)| json!({"gold": g, "predicted": p, "strict": strict})).collect();
    std::fs::write(file.path(), serde_json::to_string(&json_cases).unwrap()).unwrap();
    let output = Command::new("python3")
        .arg(repo_root().join("scripts").join("seqeval_reference.py"))
        .arg(file.path())
        .output()
        .expect("python3 with seqeval must be installed (scripts/test.sh installs it)");
    assert!(output.status.success(), "seqeval failed: {}", String::from_utf8_lossy(&output.stderr));
    let expected: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(expected.len(), cases.len());
    let close = |a: f64, b: &Value, what: &str| assert!((a - b.as_f64().unwrap()).abs() < 1e-12, "{what}: distill {a}, seqeval {b}");
    for (i, ((gold, predicted, strict), want)) in cases.iter().zip(&expected).enumerate() {
        let got = score(gold, predicted, if *strict { Scheme::StrictIob2 } else { Scheme::Lenient });
        let case = format!("case {i} (strict {strict})");
        close(got.micro.precision, &want["precision"], &format!("{case} precision"));
        close(got.micro.recall, &want["recall"], &format!("{case} recall"));
        close(got.micro.f1, &want["f1"], &format!("{case} f1"));
        let types = want["per_type"].as_object().unwrap();
        assert_eq!(got.per_type.keys().collect::<Vec<_>>(), types.keys().collect::<Vec<_>>(), "{case}: entity types");
        for (kind, prf) in &got.per_type {
            close(prf.f1, &types[kind]["f1"], &format!("{case} {kind} f1"));
            close(prf.precision, &types[kind]["precision"], &format!("{case} {kind} precision"));
            assert_eq!(prf.support as u64, types[kind]["support"].as_u64().unwrap(), "{case} {kind} support");
        }
        // The cases are not trivial: some entities are right and some wrong.
        assert!(got.micro.support > 0, "{case}");
    }
}

#[test]
fn wnut_conll_and_json_lines_read_the_same_sentences() {
    let conll = shared().join("data/ner/wnut17/dev.conll");
    let sentences = read_tagged(&conll, &DataColumns::default(), None).unwrap();
    assert_eq!(sentences.len(), 1009);
    assert_eq!(sentences[1].words[6..9], ["Redondo", "Beach", "Blvd"]);
    assert_eq!(sentences[1].tags[6..9], ["B-location", "I-location", "I-location"]);
    // The same sentences as JSON lines, tags once as names and once as ids into a label list.
    let labels: Vec<String> = {
        let mut l: Vec<String> = sentences.iter().flat_map(|s| s.tags.clone()).collect();
        l.sort();
        l.dedup();
        l
    };
    assert_eq!(labels.len(), 13);
    let dir = tempfile::tempdir().unwrap();
    let names = dir.path().join("names.jsonl");
    let ids = dir.path().join("ids.jsonl");
    let line = |s: &distill_core::data::tagged::TaggedSentence, by_id: bool| {
        let tags: Vec<Value> = s.tags.iter().map(|t| if by_id { json!(labels.iter().position(|l| l == t).unwrap()) } else { json!(t) }).collect();
        json!({"id": "x", "words": s.words, "tags": tags}).to_string()
    };
    std::fs::write(&names, sentences.iter().map(|s| line(s, false)).collect::<Vec<_>>().join("\n")).unwrap();
    std::fs::write(&ids, sentences.iter().map(|s| line(s, true)).collect::<Vec<_>>().join("\n")).unwrap();
    let columns = DataColumns { tokens: "words".into(), tags: "tags".into(), ..DataColumns::default() };
    let strip = |v: Vec<distill_core::data::tagged::TaggedSentence>| v.into_iter().map(|s| (s.words, s.tags)).collect::<Vec<_>>();
    let expected = strip(sentences.clone());
    assert_eq!(strip(read_tagged(&names, &columns, None).unwrap()), expected);
    assert_eq!(strip(read_tagged(&ids, &columns, Some(&labels)).unwrap()), expected);
    // Ids without a label list, and the default column names on a file that lacks them.
    let err = read_tagged(&ids, &columns, None).unwrap_err().to_string();
    assert!(err.contains("ids.jsonl") && err.contains("line 1") && err.contains("--labels"), "{err}");
    let err = read_tagged(&names, &DataColumns::default(), None).unwrap_err().to_string();
    assert!(err.contains("line 1") && err.contains("no column `tokens`"), "{err}");
}

#[test]
fn bad_tagged_files_are_refused_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str, &str)] = &[
        ("three.conll", "EU\tB-ORG\nrejects\tO\tX\n", "line 2", "has 3 fields"),
        ("tag.conll", "EU\tB-ORG\n\nPeter\tPERSON\n", "line 3", "tag \"PERSON\""),
        ("empty.conll", "\n\n", "(file)", "holds no sentences"),
        ("lengths.jsonl", "{\"tokens\": [\"a\", \"b\"], \"ner_tags\": [\"O\"]}\n", "line 1", "has 2 tokens and 1 tags"),
        ("type.jsonl", "{\"tokens\": \"a b\", \"ner_tags\": [\"O\"]}\n", "line 1", "column `tokens` must be a list"),
        ("json.jsonl", "{\"tokens\": [\"a\"], \"ner_tags\": [\"O\"]}\n{\"tokens\": [\n", "line 2", "EOF"),
    ];
    for (name, text, at, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let err = read_tagged(&path, &DataColumns::default(), None).unwrap_err().to_string();
        assert!(err.contains(*name) && err.contains(at) && err.contains(expected), "{name}: {err}");
    }
    // A tag outside the label set (here: the teacher's).
    let path = dir.path().join("outside.conll");
    std::fs::write(&path, "EU\tB-ORG\nrejects\tO\n\nBonn\tB-LOC\n").unwrap();
    let sentences = read_tagged(&path, &DataColumns::default(), None).unwrap();
    let labels = vec!["B-ORG".to_string(), "I-ORG".into(), "O".into()];
    let err = distill_core::data::tagged::check_labels(&path, &sentences, &labels).unwrap_err().to_string();
    assert!(err.contains("outside.conll") && err.contains("line 4") && err.contains("\"B-LOC\""), "{err}");
}

fn wordpiece() -> TextTokenizer {
    TextTokenizer::load(&TokenizerFiles::WordPiece { vocab: shared().join("data/vocab/bert-base-uncased-vocab.txt"), config: None }).unwrap()
}

fn byte_level_bpe() -> TextTokenizer {
    let dir = fixture("roberta-tokenizer");
    TextTokenizer::load(&TokenizerFiles::find(&dir).unwrap()).unwrap()
}

/// Each word of each text, in order, is the first sub-token of exactly one token of one window,
/// and no window is longer than `max_len`.
fn check_windows(tokenizer: &TextTokenizer, texts: &[WordText], max_len: usize) -> Vec<distill_core::task::token_classification::windows::WordWindow> {
    let windows = build_windows(texts, tokenizer, max_len).unwrap();
    for (s, text) in texts.iter().enumerate() {
        let firsts: Vec<usize> = windows.iter().filter(|w| w.sentence == s).flat_map(|w| w.first_of_word.iter().flatten().copied()).collect();
        assert_eq!(firsts, (0..text.words.len()).collect::<Vec<_>>(), "text {s}: {:?}", text.text);
    }
    assert!(windows.iter().all(|w| w.input_ids.len() <= max_len && w.input_ids.len() == w.first_of_word.len()));
    windows
}

#[test]
fn labels_sit_on_each_words_first_sub_token_in_windows_cut_at_word_boundaries() {
    let bert = wordpiece();
    let cls = bert.tokenizer.token_to_id("[CLS]").unwrap() as i64;
    let sep = bert.tokenizer.token_to_id("[SEP]").unwrap() as i64;
    // "unaffable" splits into several word pieces; "don't" into three tokens of one word; the
    // accented word is normalised; punctuation is a word of its own.
    let words = ["The", "unaffable", "Müller", "don't", "like", "Zürich", "!"];
    let text = WordText::from_words(&words);
    let windows = check_windows(&bert, std::slice::from_ref(&text), 64);
    assert_eq!(windows.len(), 1);
    let w = &windows[0];
    assert_eq!((w.input_ids[0], *w.input_ids.last().unwrap()), (cls, sep));
    let pieces: Vec<String> = w.input_ids.iter().map(|&id| bert.tokenizer.id_to_token(id as u32).unwrap()).collect();
    for (t, word) in w.first_of_word.iter().enumerate() {
        if let Some(word) = word {
            // A word's first piece never continues another word.
            assert!(!pieces[t].starts_with("##"), "{pieces:?}");
            assert!(t == 1 || w.first_of_word[..t].iter().flatten().any(|&x| x == word - 1));
        }
    }
    assert!(pieces.len() > words.len() + 2, "some word splits: {pieces:?}");

    // A sentence longer than a window: cut at word boundaries into windows of at most 12 tokens.
    let long: Vec<String> = (0..40).map(|i| if i % 5 == 0 { "unaffable".to_string() } else { format!("w{i}") }).collect();
    let windows = check_windows(&bert, &[WordText::from_words(&long)], 12);
    assert!(windows.len() > 3);
    // A single word longer than a whole window keeps its head; the next word starts a window.
    let windows = check_windows(&bert, &[WordText::from_words(&["a", "unaffableunaffableunaffable", "b"])], 5);
    assert!(windows.iter().all(|w| w.input_ids.len() <= 5));

    // Byte-level BPE, where a token carries the space before its word.
    let bpe = byte_level_bpe();
    let texts = [WordText::from_words(&["The", "Normans", "gave", "their", "name", "to", "Normandy", "."]), WordText::from_text("  Super Bowl 50 —  an American game ")];
    check_windows(&bpe, &texts, 64);
    check_windows(&bpe, &texts, 6);
}
