//! Prediction-layer distillation across tokenizers: the teacher's reading of each student
//! example, aligned by characters, on real SQuAD and WNUT text, between the bert-base-uncased
//! WordPiece vocabulary and a byte-level BPE one (tests/fixtures/roberta-tokenizer), both ways.

use distill_core::data::squad::SquadFile;
use distill_core::data::tagged::read_tagged;
use distill_core::data::rows::DataColumns;
use distill_core::strategy::cross_tokenizer::{Carry, TeacherView, qa, tokens};
use distill_core::task::qa::features::{FeatureConfig, QaExample, QaFeature, build_features, tokens_of_span};
use distill_core::task::token_classification::windows::{WordText, build_windows};
use distill_core::tokenizer::{TextTokenizer, TokenizerFiles};
use distill_tests::{fixture, shared};

fn wordpiece() -> TextTokenizer {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(shared().join("data/vocab/bert-base-uncased-vocab.txt"), dir.path().join("vocab.txt")).unwrap();
    // The vocabulary is read at load time; the directory may go.
    TextTokenizer::load(&TokenizerFiles::find(dir.path()).unwrap()).unwrap()
}

fn bpe() -> TextTokenizer {
    TextTokenizer::load(&TokenizerFiles::find(&fixture("roberta-tokenizer")).unwrap()).unwrap()
}

fn squad_examples(name: &str) -> Vec<QaExample> {
    let (squad, _) = SquadFile::read(&shared().join("data/squad").join(name), false).unwrap();
    QaExample::from_squad(&squad)
}

fn softmax(z: &[f32], t: f64) -> Vec<f64> {
    let m = z.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64 / t));
    let e: Vec<f64> = z.iter().map(|&x| (x as f64 / t - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

fn span_maps(view: &TeacherView) -> (&[Option<usize>], &[Option<usize>]) {
    match &view.carry {
        Carry::Span { start, end } => (start, end),
        other => panic!("a QA view carries spans, not {other:?}"),
    }
}

/// Where the teacher's reading of a student window starts in the teacher's tokens of the whole
/// context, found independently of the view: the first teacher token ending after the window's
/// first character.
fn first_read(offsets: &[(usize, usize)], f: &QaFeature) -> Option<usize> {
    let lo = f.context_spans.iter().flatten().next()?.0;
    offsets.iter().position(|&(_, e)| e > lo)
}

/// Each answer's first and last teacher tokens carry their mass to the student's gold start and
/// end tokens, in every student window that holds the answer (where the answer's edges are the
/// teacher's token edges); and a carried distribution sums to 1.
fn answers_carry_to_the_students_gold_tokens(student: &TextTokenizer, teacher: &TextTokenizer, config: &FeatureConfig) -> usize {
    let examples = squad_examples("train-v2.0-10articles.json")[..300].to_vec();
    let features = build_features(&examples, student, config).unwrap();
    // A teacher that reads any window whole (the 140 merges of the BPE fixture make long token
    // sequences of a context); the cut at a shorter limit is tested below.
    let views = qa::views(&examples, &features, teacher, config.max_query_length, 4096).unwrap();
    assert_eq!(views.len(), features.len());
    // The teacher's special tokens before the context: those before the second text of a pair,
    // less the one token of the first text ("a").
    let pair = teacher.tokenizer.encode(("a", "b"), true).unwrap();
    let specials = pair.get_sequence_ids().iter().position(|s| *s == Some(1)).unwrap() - 1;
    let context_at = |question: &str| specials + teacher.tokenizer.encode(question, false).unwrap().get_ids().len().min(config.max_query_length);
    let mut checked = 0;
    for (f, v) in features.iter().zip(&views) {
        let (start, end) = span_maps(v);
        assert_eq!((start[0], end[0]), (Some(0), Some(0)), "no answer goes to the student's CLS");
        assert!(start.iter().chain(end).flatten().all(|&p| p == 0 || f.context_spans[p].is_some()), "mass goes to CLS or the student's context only");
        let mut rng = distill_tests::Rng(f.example as u64 + 7);
        let z: Vec<f32> = (0..v.input_ids.len()).map(|_| rng.next(1000) as f32 / 100.0 - 5.0).collect();
        let carried = v.carry(&[z.clone(), z], f.input_ids.len(), 2.0);
        for head in &carried {
            assert!((softmax(head, 2.0).iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
        let example = &examples[f.example];
        let Some(answer) = example.answers.first() else { continue };
        if f.start_position == 0 {
            continue;
        }
        let enc = teacher.tokenizer.encode_char_offsets(&*example.context, false).unwrap();
        let offsets = enc.get_offsets();
        let (a, b) = (answer.answer_start, answer.answer_start + answer.text.chars().count());
        let (first, last) = tokens_of_span(offsets, (a, b)).unwrap();
        if offsets[first].0 != a || offsets[last].1 != b {
            // The answer starts or ends inside a teacher token: that token's mass goes where its
            // own first or last character lies, which need not be the student's gold token.
            continue;
        }
        let at = context_at(&example.question) as i64 - first_read(offsets, f).unwrap() as i64;
        let (tf, tl) = ((first as i64 + at) as usize, (last as i64 + at) as usize);
        assert_eq!(v.input_ids[tf], enc.get_ids()[first] as i64, "the view reads the teacher's own tokens of the context");
        assert_eq!(start[tf], Some(f.start_position), "question {}: answer {:?} starts in student token {}", example.id, answer.text, f.start_position);
        assert_eq!(end[tl], Some(f.end_position), "question {}: answer {:?} ends in student token {}", example.id, answer.text, f.end_position);
        checked += 1;
    }
    checked
}

#[test]
fn answers_align_between_wordpiece_and_byte_level_bpe_both_ways_in_one_window_and_in_many() {
    let one = FeatureConfig { max_seq_len: 384, doc_stride: 128, max_query_length: 64 };
    let many = FeatureConfig { max_seq_len: 96, doc_stride: 32, max_query_length: 32 };
    for (student, teacher, name) in [(wordpiece(), bpe(), "WordPiece student, BPE teacher"), (bpe(), wordpiece(), "BPE student, WordPiece teacher")] {
        for config in [one, many] {
            let checked = answers_carry_to_the_students_gold_tokens(&student, &teacher, &config);
            println!("{name}, max_seq_len {}: {checked} answer windows aligned", config.max_seq_len);
            assert!(checked > 150, "{name}: only {checked} answers checked");
        }
    }
}

/// The rule, checked token by token on hand-made contexts: a teacher token's start mass goes to
/// the student token holding its first character (the next token where that character is a
/// space), its end mass to the one holding its last character; characters outside the student
/// window carry nothing. Words split 1 -> 3 and 3 -> 1, punctuation, accents, CJK, emoji, byte-level
/// BPE's leading spaces, and a context longer than one window.
#[test]
fn each_teacher_token_carries_to_the_student_token_holding_its_first_and_last_character() {
    let context = "Unbelievably, the tokenizers' naïve café in Zürich (東京 branch) sold 1,234 croissants \u{1F950} on 3 Sept. \
                   Ünïcödé and punctuation—dashes, \"quotes\" and ellipses… all count. "
        .repeat(3);
    let examples = vec![QaExample { id: "q1".into(), question: "What did the café sell?".into(), context: context.as_str().into(), answers: vec![] }];
    let config = FeatureConfig { max_seq_len: 64, doc_stride: 24, max_query_length: 16 };
    for (student, teacher) in [(wordpiece(), bpe()), (bpe(), wordpiece())] {
        let features = build_features(&examples, &student, &config).unwrap();
        assert!(features.len() > 2, "the context takes several windows");
        let views = qa::views(&examples, &features, &teacher, config.max_query_length, 4096).unwrap();
        let enc = teacher.tokenizer.encode_char_offsets(context.as_str(), false).unwrap();
        let offsets = enc.get_offsets();
        let pair = teacher.tokenizer.encode(("a", "b"), true).unwrap();
        let specials = pair.get_sequence_ids().iter().position(|s| *s == Some(1)).unwrap() - 1;
        let context_at = specials + teacher.tokenizer.encode(examples[0].question.as_str(), false).unwrap().get_ids().len().min(config.max_query_length);
        let (mut many_to_one, mut one_to_many) = (0, 0);
        for (f, v) in features.iter().zip(&views) {
            let (start, end) = span_maps(v);
            let spans: Vec<(usize, (usize, usize))> = f.context_spans.iter().enumerate().filter_map(|(p, s)| s.map(|s| (p, s))).collect();
            let (lo, hi) = (spans[0].1.0, spans.last().unwrap().1.1);
            let first = first_read(offsets, f).unwrap();
            let read = v.input_ids.len() - context_at - (pair.get_ids().len() - specials - 2);
            for k in 0..read {
                let (s, e) = offsets[first + k];
                let at = context_at + k;
                assert_eq!(v.input_ids[at], enc.get_ids()[first + k] as i64);
                let last_char = e.max(s + 1) - 1;
                let holder = |c: usize, next: bool| -> Option<usize> {
                    if c < lo || c >= hi {
                        return None;
                    }
                    // Byte-level BPE may split one character's bytes over several tokens, each
                    // holding the character: a start goes to the first of them, an end to the last.
                    let holding = |&&(_, (a, b)): &&(usize, (usize, usize))| a <= c && c < b;
                    let found = if next { spans.iter().find(holding) } else { spans.iter().rev().find(holding) };
                    match found {
                        Some(&(p, _)) => Some(p),
                        None if next => spans.iter().find(|(_, (a, _))| *a > c).map(|&(p, _)| p),
                        None => spans.iter().rev().find(|(_, (_, b))| *b <= c).map(|&(p, _)| p),
                    }
                };
                assert_eq!(start[at], holder(s, true), "teacher token {:?} at {s}..{e}", &context[..].chars().skip(s).take(e - s).collect::<String>());
                assert_eq!(end[at], holder(last_char, false), "teacher token at {s}..{e}");
                one_to_many += usize::from(start[at].is_some() && end[at].is_some() && start[at] != end[at]);
            }
            let mut received = std::collections::HashMap::new();
            start.iter().flatten().filter(|&&p| p > 0).for_each(|p| *received.entry(p).or_insert(0) += 1);
            many_to_one += received.values().filter(|&&n| n > 1).count();
        }
        assert!(many_to_one > 0 || one_to_many > 0, "splits differ between the tokenizers");
        println!("{many_to_one} student tokens take the start mass of several teacher tokens; {one_to_many} teacher tokens span several student tokens");
    }
}

#[test]
fn with_one_tokenizer_the_carried_distribution_is_the_teachers_over_cls_and_context() {
    let t = wordpiece();
    let config = FeatureConfig { max_seq_len: 128, doc_stride: 64, max_query_length: 32 };
    let examples = squad_examples("sample-v2.0.json");
    let features = build_features(&examples, &t, &config).unwrap();
    let views = qa::views(&examples, &features, &t, config.max_query_length, 512).unwrap();
    for (f, v) in features.iter().zip(&views) {
        assert_eq!(v.input_ids, f.input_ids, "one tokenizer reads the window as the student does");
        let z: Vec<f32> = (0..f.input_ids.len()).map(|i| ((i * 37) % 11) as f32 * 0.7 - 3.0).collect();
        for t in [1.0, 1.5, 4.0] {
            let carried = v.carry(&[z.clone(), z.clone()], f.input_ids.len(), t);
            let p = softmax(&z, t);
            let kept: f64 = (0..p.len()).filter(|&i| i == 0 || f.context_spans[i].is_some()).map(|i| p[i]).sum();
            for head in &carried {
                let q = softmax(head, t);
                for i in 0..p.len() {
                    let expected = if i == 0 || f.context_spans[i].is_some() { p[i] / kept } else { 0.0 };
                    assert!((q[i] - expected).abs() < 1e-6, "position {i} at T {t}: {} vs {expected}", q[i]);
                }
            }
        }
    }
}

/// The word a token begins, as the tokenizer spells it: WordPiece's `##` and byte-level BPE's
/// leading-space mark `Ġ` taken off.
fn piece(tokenizer: &TextTokenizer, id: i64) -> String {
    let token = tokenizer.tokenizer.id_to_token(id as u32).unwrap();
    token.trim_start_matches("##").trim_start_matches('Ġ').to_string()
}

#[test]
fn each_word_of_a_student_window_is_taught_at_the_teachers_first_piece_of_it() {
    let path = shared().join("data/ner/wnut17/train.conll");
    let sentences: Vec<_> = read_tagged(&path, &DataColumns::default(), None).unwrap().into_iter().take(400).collect();
    let texts: Vec<WordText> = sentences.iter().map(|s| WordText::from_words(&s.words)).collect();
    for (student, teacher, lowercase) in [(wordpiece(), bpe(), false), (bpe(), wordpiece(), true)] {
        // Small windows, so long sentences are cut into several.
        let windows = build_windows(&texts, &student, 24).unwrap();
        assert!(windows.len() > sentences.len(), "some sentences take several windows");
        let views = tokens::views(&sentences, &windows, &teacher, 512).unwrap();
        let trained: Vec<_> = windows.iter().filter(|w| w.has_words()).collect();
        assert_eq!(views.len(), trained.len());
        let (mut words, mut checked) = (0, 0);
        for (w, v) in trained.iter().zip(&views) {
            let Carry::Tokens(from) = &v.carry else { panic!("token views carry tokens") };
            assert_eq!(from.len(), w.input_ids.len());
            for (p, word) in w.first_of_word.iter().enumerate() {
                let Some(word) = word else {
                    assert_eq!(from[p], None, "only first sub-tokens are taught");
                    continue;
                };
                words += 1;
                let q = from[p].unwrap_or_else(|| panic!("word {:?} of {} has no teacher token", sentences[w.sentence].words[*word], sentences[w.sentence].at));
                let text = &sentences[w.sentence].words[*word];
                if text.is_ascii() && text.chars().all(char::is_alphanumeric) {
                    let want = if lowercase { text.to_lowercase() } else { text.clone() };
                    // A bare space token of byte-level BPE (a word whose first letters have no
                    // merge with the space) starts the word, as transformers' word ids have it:
                    // its letters come in the next token.
                    let got = Some(piece(&teacher, v.input_ids[q])).filter(|p| !p.is_empty()).unwrap_or_else(|| piece(&teacher, v.input_ids[q + 1]));
                    assert!(!got.is_empty() && want.starts_with(&got), "word {text:?}: the teacher's piece {got:?} at position {q}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 2000 && words > checked, "{checked} of {words} words checked");
    }
}

#[test]
fn classification_views_are_the_teachers_own_tokens() {
    use distill_core::data::classification::ClassificationExample;
    let example = |text: &str, pair: Option<&str>| ClassificationExample { text: text.into(), text_pair: pair.map(Into::into), label: "a".into(), at: "line 1".into() };
    // A batch is encoded as pairs when every example has a pair, as the student's is.
    let examples = [example("Größe ist relativ", Some("lovely, isn't it?")), example("a dull and tedious mess", Some("y")), example("naïve café 東京", Some("x"))];
    let teacher = bpe();
    let views = distill_core::strategy::cross_tokenizer::whole_views(&examples, &teacher, 64).unwrap();
    for (e, v) in examples.iter().zip(&views) {
        let own = match &e.text_pair {
            Some(pair) => teacher.encode_pairs(&[(e.text.clone(), pair.clone())], 64).unwrap(),
            None => teacher.encode_texts(std::slice::from_ref(&e.text), 64).unwrap(),
        };
        assert_eq!(v.input_ids, own.input_ids);
        assert_eq!(v.carry, Carry::Whole);
    }
}
