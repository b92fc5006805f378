//! `distill augment`: answers survive (every answer_start points at its text, the reader skips
//! nothing), the seed fixes the output, P = 0 gives the input back, the replaced fraction is
//! close to P on real SQuAD data, the masked-LM path matches transformers' predictions, and a
//! model without a masked-LM head falls back to word vectors or is refused; tagged sentences keep
//! every entity word and tag.

use std::path::Path;
use std::process::{Command, Output};

use distill_core::data::rows::DataColumns;
use distill_core::data::squad::{SquadFile, char_slice};
use distill_core::data::tagged::{TaggedSentence, read_tagged};
use distill_core::pretrained::Pretrained;
use distill_core::registry::Registry;
use distill_tests::{fixture, minilm_dir, shared};

fn distill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_distill")).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn glove() -> String {
    shared().join("data/glove/glove.6B.50d.7849words.txt").to_str().unwrap().to_string()
}

fn squad(name: &str) -> String {
    shared().join("data/squad").join(name).to_str().unwrap().to_string()
}

fn augment(input: &str, output: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["augment", "--input", input, "--output", output.to_str().unwrap(), "--glove"];
    let g = glove();
    args.push(&g);
    args.extend_from_slice(extra);
    let out = distill(&args);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn check_answers(path: &Path) -> usize {
    let (file, report) = SquadFile::read(path, true).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.skipped_answers.is_empty());
    let mut answers = 0;
    for (p, q) in file.questions() {
        for a in q.answers.iter().chain(&q.plausible_answers) {
            assert_eq!(char_slice(&p.context, a.answer_start, a.text.chars().count()), Some(a.text.as_str()), "{}", q.id);
            answers += 1;
        }
    }
    answers
}

#[test]
fn augmented_answers_match_and_the_replaced_fraction_is_close_to_p() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("aug.json");
    let stats = augment(&squad("dev-v2.0-small.json"), &out, &["--multiplication-factor", "4", "--replace-probability", "0.4", "--seed", "3"]);
    let answers = check_answers(&out);
    let (input, _) = SquadFile::read(Path::new(&squad("dev-v2.0-small.json")), true).unwrap();
    let (augmented, _) = SquadFile::read(&out, true).unwrap();
    assert!(augmented.questions().count() > 3 * input.questions().count(), "copies were made");
    assert!(answers > 3 * input.questions().map(|(_, q)| q.answers.len() + q.plausible_answers.len()).sum::<usize>());
    // The original paragraphs are kept, first.
    assert_eq!(augmented.data[0].paragraphs[0], input.data[0].paragraphs[0]);
    let fraction = stats["replaced_fraction"].as_f64().unwrap();
    println!("{stats}");
    assert!(stats["eligible_words"].as_u64().unwrap() > 5000);
    assert!((fraction - 0.4).abs() < 0.02, "replaced {fraction} of eligible words, asked 0.4");
}

#[test]
fn seed_fixes_the_output_and_p_zero_gives_the_input_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c, zero) = (tmp.path().join("a.json"), tmp.path().join("b.json"), tmp.path().join("c.json"), tmp.path().join("zero.json"));
    let input = squad("sample-v2.0.json");
    augment(&input, &a, &["--multiplication-factor", "3", "--seed", "5"]);
    augment(&input, &b, &["--multiplication-factor", "3", "--seed", "5"]);
    augment(&input, &c, &["--multiplication-factor", "3", "--seed", "6"]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
    let stats = augment(&input, &zero, &["--multiplication-factor", "5", "--replace-probability", "0"]);
    assert_eq!(stats["replaced_words"], 0);
    let (original, _) = SquadFile::read(Path::new(&input), true).unwrap();
    let (same, _) = SquadFile::read(&zero, true).unwrap();
    assert_eq!(original.data, same.data, "P = 0 gives the input back (duplicates removed)");
}

#[test]
fn masked_lm_predictions_match_transformers() {
    let registry = Registry::builtin().unwrap();
    let model = Pretrained::load(fixture("mlm-words").to_str().unwrap(), None, &registry, &distill_core::default_device()).unwrap();
    let tok = model.tokenizer.as_ref().unwrap();
    let expected: serde_json::Value = distill_core::io::read_json(&fixture("mlm-words").join("expected_top5.json")).unwrap();
    let sentences: Vec<String> = expected["sentences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    let batch = tok.encode_texts(&sentences, 64).unwrap();
    let ids: Vec<i64> = expected["input_ids"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_i64().unwrap())).collect();
    assert_eq!(batch.input_ids, ids, "tokenization with [MASK]");
    let (shape, logits) = distill_core::model::to_host(model.model.forward(&batch).mlm_logits.unwrap());
    let (seq, vocab) = (shape[1], shape[2]);
    for (row, top5) in expected["top5"].as_array().unwrap().iter().enumerate() {
        let pos = (0..seq).find(|&j| batch.input_ids[row * seq + j] == tok.tokenizer.token_to_id("[MASK]").unwrap() as i64).unwrap();
        let scores = &logits[(row * seq + pos) * vocab..(row * seq + pos + 1) * vocab];
        let mut order: Vec<usize> = (0..vocab).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let got: Vec<String> = order[..5].iter().map(|&i| tok.tokenizer.id_to_token(i as u32).unwrap()).collect();
        let want: Vec<String> = top5.as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn masked_lm_path_replaces_single_piece_words() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("aug.json");
    let mlm = fixture("mlm-words");
    let stats = augment(&squad("sample-v2.0.json"), &out, &["--mlm", mlm.to_str().unwrap(), "--multiplication-factor", "4", "--word-possibilities", "30"]);
    assert!(stats["mlm_replacements"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["vector_replacements"].as_u64().unwrap() > 0, "{stats}");
    check_answers(&out);
}

#[test]
fn a_model_without_masked_lm_head_falls_back_or_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("aug.json");
    let minilm = minilm_dir();
    let output = distill(&["augment", "--input", &squad("sample-v2.0.json"), "--output", out.to_str().unwrap(), "--mlm", minilm.to_str().unwrap(), "--glove", &glove(), "--multiplication-factor", "2"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("no masked-LM head; using word-vector neighbours"), "{}", text(&output));
    check_answers(&out);
    let refused = tmp.path().join("refused.json");
    let output = distill(&["augment", "--input", &squad("sample-v2.0.json"), "--output", refused.to_str().unwrap(), "--mlm", minilm.to_str().unwrap(), "--require-mlm", "--glove", &glove()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("no masked-LM head") && !refused.exists(), "{}", text(&output));
}

#[test]
fn tagged_sentences_keep_their_entities_and_tags_and_only_o_words_change() {
    let tmp = tempfile::tempdir().unwrap();
    // The first 400 training sentences of WNUT 2017 (the neighbour search is slow in debug builds).
    let train = std::fs::read_to_string(shared().join("data/ner/wnut17/train.conll")).unwrap();
    let input = tmp.path().join("train-400.conll");
    let mut first = String::new();
    let mut sentences = 0;
    for line in train.lines() {
        first.push_str(line);
        first.push('\n');
        sentences += usize::from(line.trim().is_empty());
        if sentences == 400 {
            break;
        }
    }
    std::fs::write(&input, first).unwrap();
    let out = tmp.path().join("aug.conll");
    let stats = augment(input.to_str().unwrap(), &out, &["--multiplication-factor", "4", "--replace-probability", "0.4", "--seed", "3"]);
    let read = |p: &Path| read_tagged(p, &DataColumns::default(), None).unwrap_or_else(|e| panic!("{e}"));
    let (original, augmented) = (read(&input), read(&out));
    assert_eq!(original.len(), 400);
    assert_eq!(stats["sentences"].as_u64().unwrap() as usize, original.len());
    assert_eq!(stats["sentences_out"].as_u64().unwrap() as usize, augmented.len());
    assert!(augmented.len() > 3 * original.len(), "copies were made: {stats}");
    // Each original comes first, then its copies: same length, same tags, same entity words.
    let same = |a: &TaggedSentence, b: &TaggedSentence| a.words == b.words && a.tags == b.tags;
    let (mut at, mut replaced_o, mut o_words) = (0, 0, 0);
    for (i, s) in original.iter().enumerate() {
        assert!(same(&augmented[at], s), "sentence {i} ({}) is not kept first", s.at);
        at += 1;
        while at < augmented.len() && !(i + 1 < original.len() && same(&augmented[at], &original[i + 1])) {
            let copy = &augmented[at];
            assert_eq!((copy.words.len(), &copy.tags), (s.words.len(), &s.tags), "a copy of {} changed shape", s.at);
            for ((new, old), tag) in copy.words.iter().zip(&s.words).zip(&s.tags) {
                if tag != "O" {
                    assert_eq!(new, old, "an entity word of {} was replaced", s.at);
                } else {
                    o_words += 1;
                    replaced_o += usize::from(new != old);
                }
            }
            at += 1;
        }
    }
    assert_eq!(at, augmented.len());
    assert!(replaced_o > o_words / 10, "{replaced_o} of {o_words} O words replaced");
    let fraction = stats["replaced_fraction"].as_f64().unwrap();
    assert!((fraction - 0.4).abs() < 0.02, "replaced {fraction} of eligible words, asked 0.4");
    // JSON lines out hold the same sentences; P = 0 gives the input back; JSON lines in need --task.
    let jsonl = tmp.path().join("aug.jsonl");
    augment(input.to_str().unwrap(), &jsonl, &["--multiplication-factor", "4", "--replace-probability", "0.4", "--seed", "3"]);
    assert!(read(&jsonl).iter().zip(&augmented).all(|(a, b)| same(a, b)) && read(&jsonl).len() == augmented.len());
    let zero = tmp.path().join("zero.conll");
    augment(input.to_str().unwrap(), &zero, &["--multiplication-factor", "3", "--replace-probability", "0"]);
    assert!(read(&zero).iter().zip(&original).all(|(a, b)| same(a, b)) && read(&zero).len() == original.len());
    let refused = distill(&["augment", "--input", jsonl.to_str().unwrap(), "--output", tmp.path().join("x.jsonl").to_str().unwrap(), "--glove", &glove()]);
    assert!(!refused.status.success() && text(&refused).contains("--task token-classification"), "{}", text(&refused));
    let again = tmp.path().join("again.conll");
    augment(jsonl.to_str().unwrap(), &again, &["--task", "token-classification", "--multiplication-factor", "2"]);
    assert!(read(&again).len() > augmented.len());
}
