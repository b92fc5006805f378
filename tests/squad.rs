//! SQuAD reading, official normalisation, and the feature-building round trip.

use distill_core::data::squad::{SquadFile, char_slice};
use distill_core::task::qa::features::{FeatureConfig, QaExample, build_features};
use distill_core::task::qa::score::{exact, f1_v1, f1_v2, normalize_answer};
use distill_core::tokenizer::{TextTokenizer, TokenizerFiles};
use distill_tests::{fixture, shared};

#[test]
fn normalisation_and_metrics_equal_the_official_scripts_on_every_case() {
    let cases: serde_json::Value = distill_core::io::read_json(&shared().join("data/eval/official-normalization/normalization_cases.json")).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 45);
    for c in cases {
        let (gold, pred) = (c["gold"].as_str().unwrap(), c["pred"].as_str().unwrap());
        assert_eq!(normalize_answer(gold), c["v1_normalized_gold"].as_str().unwrap(), "gold {gold:?}");
        assert_eq!(normalize_answer(pred), c["v1_normalized_pred"].as_str().unwrap(), "pred {pred:?}");
        assert_eq!(exact(pred, gold), c["v1_em"].as_f64().unwrap(), "v1 EM {gold:?} / {pred:?}");
        assert_eq!(exact(pred, gold), c["v2_em"].as_f64().unwrap(), "v2 EM {gold:?} / {pred:?}");
        assert!((f1_v1(pred, gold) - c["v1_f1"].as_f64().unwrap()).abs() < 1e-12, "v1 F1 {gold:?} / {pred:?}");
        assert!((f1_v2(pred, gold) - c["v2_f1"].as_f64().unwrap()).abs() < 1e-12, "v2 F1 {gold:?} / {pred:?}");
    }
}

#[test]
fn reader_accepts_v1_and_v2_and_reports_broken_answers() {
    let (v2, report) = SquadFile::read(&shared().join("data/squad/dev-v2.0-small.json"), true).unwrap();
    assert!(v2.is_v2() && report.skipped_answers.is_empty());
    assert_eq!(v2.questions().count(), 626);
    assert_eq!(v2.questions().filter(|(_, q)| q.is_impossible).count(), 333);
    assert!(v2.questions().any(|(_, q)| !q.plausible_answers.is_empty()));
    let (v1, _) = SquadFile::read(&shared().join("data/squad/dev-v1.1-visible.json"), true).unwrap();
    assert!(!v1.is_v2());
    assert_eq!(v1.questions().count(), 7904);

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, r#"{"version": "v2.0", "extra": 1, "data": [{"title": "T", "paragraphs": [{"context": "Paris is in France.", "qas": [
        {"id": "q1", "question": "Where?", "answers": [{"text": "France", "answer_start": 12}], "is_impossible": false},
        {"id": "q2", "question": "What?", "answers": [{"text": "Paris", "answer_start": 3}], "is_impossible": false}]}]}]}"#).unwrap();
    let (file, report) = SquadFile::read(&broken, false).unwrap();
    assert_eq!(report.skipped_answers.len(), 1);
    assert_eq!(report.skipped_answers[0].0, "q2");
    assert_eq!(file.questions().filter(|(_, q)| !q.answers.is_empty()).count(), 1);
    let err = SquadFile::read(&broken, true).unwrap_err().to_string();
    assert!(err.contains("q2") && err.contains("broken.json") && err.contains("answer_start"), "{err}");

    let not_squad = dir.path().join("not.json");
    std::fs::write(&not_squad, r#"{"data": [{"title": "T", "paragraphs": [{"qas": []}]}]}"#).unwrap();
    let err = SquadFile::read(&not_squad, false).unwrap_err().to_string();
    assert!(err.contains("context") && err.contains("not.json"), "{err}");
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every answerable question: the gold span mapped to tokens and back gives the gold text up
/// to whitespace, except where the gold answer starts or ends inside a token. Those are counted
/// and must stay rare; the recovered text then still contains the gold text.
fn round_trip(tokenizer: &TextTokenizer, files: &[&str]) -> (usize, usize) {
    let mut checked = 0;
    let mut partial = 0;
    for file in files {
        let (squad, _) = SquadFile::read(&shared().join("data/squad").join(file), true).unwrap();
        let examples: Vec<QaExample> = QaExample::from_squad(&squad).into_iter().filter(|e| !e.answers.is_empty()).collect();
        let features = build_features(&examples, tokenizer, &FeatureConfig::default()).unwrap();
        let mut found = vec![false; examples.len()];
        for f in &features {
            if f.start_position == 0 {
                continue;
            }
            let example = &examples[f.example];
            let (s, _) = f.context_spans[f.start_position].unwrap();
            let (_, e) = f.context_spans[f.end_position].unwrap();
            let recovered = char_slice(&example.context, s, e - s).unwrap();
            let gold = &example.answers[0].text;
            if collapse(recovered) != collapse(gold) {
                assert!(recovered.contains(gold.trim()), "{}: recovered {recovered:?} for gold {gold:?}", example.id);
                if !found[f.example] {
                    partial += 1;
                }
            }
            found[f.example] = true;
        }
        assert!(found.iter().all(|&f| f), "{file}: every answer lies in some window");
        checked += examples.len();
    }
    (checked, partial)
}

#[test]
fn gold_spans_round_trip_through_wordpiece_features() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(shared().join("data/vocab/bert-base-uncased-vocab.txt"), dir.path().join("vocab.txt")).unwrap();
    let tokenizer = TextTokenizer::load(&TokenizerFiles::find(dir.path()).unwrap()).unwrap();
    let (checked, partial) = round_trip(&tokenizer, &["dev-v2.0-small.json", "dev-v1.1-visible.json"]);
    println!("wordpiece: {checked} answers, {partial} start or end inside a word piece");
    assert!(checked > 8000);
    assert!((partial as f64) < 0.01 * checked as f64, "{partial} of {checked}");
}

#[test]
fn gold_spans_round_trip_through_a_tokenizer_json_with_its_own_truncation() {
    // MiniLM's tokenizer.json truncates and pads to 128 tokens on its own; features must not.
    let tokenizer = TextTokenizer::load(&TokenizerFiles::find(&distill_tests::minilm_dir()).unwrap()).unwrap();
    let (checked, partial) = round_trip(&tokenizer, &["dev-v2.0-small.json"]);
    assert!(checked > 250 && (partial as f64) < 0.01 * checked as f64, "{partial} of {checked}");
    let (squad, _) = SquadFile::read(&shared().join("data/squad/dev-v2.0-small.json"), true).unwrap();
    let examples = QaExample::from_squad(&squad);
    let features = build_features(&examples, &tokenizer, &FeatureConfig::default()).unwrap();
    assert!(features.len() < examples.len() * 3 / 2, "{} windows for {} questions", features.len(), examples.len());
    assert!(features.iter().all(|f| f.input_ids.len() <= 384 && !f.input_ids[1..].contains(&0)), "no padding inside features");
}

#[test]
fn gold_spans_round_trip_through_byte_level_bpe_features() {
    let tokenizer = TextTokenizer::load(&TokenizerFiles::find(&fixture("roberta-tokenizer")).unwrap()).unwrap();
    let (checked, partial) = round_trip(&tokenizer, &["dev-v2.0-small.json", "dev-v1.1-visible.json"]);
    println!("byte-level BPE: {checked} answers, {partial} start or end inside a token");
    assert!(checked > 8000);
    assert!((partial as f64) < 0.01 * checked as f64, "{partial} of {checked}");
}
