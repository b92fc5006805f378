//! Prediction-layer distillation between a teacher and a student whose tokenizers differ (the
//! bert-base-uncased WordPiece vocabulary and the byte-level BPE of
//! tests/fixtures/roberta-tokenizer), end to end: `distill pairs` lists such pairs as aligned by
//! characters, a student learns a tagger and a regression from a teacher of the other vocabulary
//! alone, and a QA run carries start and end distributions and caches them per temperature.

use std::path::Path;
use std::process::Command;

use distill_core::model::Head;
use distill_tests::{NerWords, scored_pairs, tiny_base_bert, tiny_qa_bert, tiny_roberta, write_conll};
use serde_json::Value;

fn distill(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_distill")).args(args).output().unwrap()
}

fn run(args: &[&str]) -> String {
    let out = distill(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    stderr
}

fn done(dir: &Path, stage: &str) -> Value {
    distill_core::io::read_json(&dir.join(stage).join("done.json")).unwrap()
}

#[test]
fn pairs_lists_prediction_across_tokenizers_as_aligned_and_still_refuses_intermediate() {
    let out = distill(&["pairs", "--json"]);
    assert!(out.status.success());
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = rows.as_array().unwrap().iter().find(|r| r["teacher"] == "roberta" && r["student"] == "bert").unwrap();
    assert_eq!(row["strategies"], serde_json::json!(["prediction"]), "{row}");
    assert!(row["aligned"][0]["alignment"].as_str().unwrap().starts_with("by character alignment"), "{row}");
    let rejected = row["rejected"].to_string();
    assert!(rejected.contains("intermediate") && rejected.contains("tokenizers differ") && rejected.contains("position by position"), "{rejected}");
    let table = String::from_utf8_lossy(&distill(&["pairs"]).stdout).to_string();
    assert!(table.lines().any(|l| l.starts_with("roberta -> bert") && l.contains("prediction (by character alignment)")), "{table}");
}

/// People and places whose first pieces in the 400-token BPE vocabulary (which splits most words
/// into letters) are tokens of their own, so that a tiny BPE model learns them quickly.
const WORDS: NerWords = NerWords {
    people: &["Norman", "Bonnie", "Amelia"],
    places: &[&["Normandy"], &["NFL", "Bowl"], &["American", "Bowl"]],
    filler: &["went", "to", "the", "and", "saw", "in", "met", "today"],
};

/// `WORDS`' sentences, each opened by "the", so that every word follows a space (a word at the
/// start of a text has no space piece of its own in byte-level BPE).
fn sentences(n: usize, seed: u64) -> Vec<Vec<(String, String)>> {
    WORDS.sentences(n, seed).into_iter().map(|s| std::iter::once(("the".to_string(), "O".to_string())).chain(s).collect()).collect()
}

#[test]
fn a_tagger_learns_from_a_teacher_of_another_vocabulary_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let train = sentences(240, 1);
    write_conll(Path::new(&p("train.conll")), &train);
    write_conll(Path::new(&p("dev.conll")), &sentences(60, 2));
    // The student's file has every tag O: whatever entities it finds, it learned from the teacher.
    let untagged: Vec<Vec<(String, String)>> = train.iter().map(|s| s.iter().map(|(w, _)| (w.clone(), "O".to_string())).collect()).collect();
    write_conll(Path::new(&p("untagged.conll")), &untagged);
    let common = ["--max-seq-len", "64", "--batch-size", "16", "--learning-rate", "3e-3", "--eval-batch-size", "64"];

    // The teacher: a byte-level BPE RoBERTa fine-tuned on the tagged file.
    tiny_roberta(Path::new(&p("teacher-base")), 2, 32, None, serde_json::Map::new(), 3);
    run(&[&["--strategy", "finetune", "--task", "token-classification", "--student", &p("teacher-base"), "--train", &p("train.conll"), "--dev", &p("dev.conll"), "--output", &p("teacher"), "--epochs", "8"][..], &common].concat());
    let teacher_f1 = done(Path::new(&p("teacher")), "stage-1-finetune")["best_metric"].as_f64().unwrap();
    println!("BPE teacher dev F1 {teacher_f1}");
    assert!(teacher_f1 > 0.9, "the teacher learns the task: {teacher_f1}");

    // The student: a WordPiece BERT taught by the teacher alone (w 1) on the untagged file.
    tiny_base_bert(Path::new(&p("student-base")), 2, 32, 4, 5);
    let stderr = run(&[&["--teacher", &p("teacher/student"), "--student", &p("student-base"), "--train", &p("untagged.conll"), "--dev", &p("dev.conll"), "--output", &p("student"), "--epochs", "6", "--distill-weight", "1", "--temperature", "1"][..], &common].concat());
    assert!(stderr.contains("carried over by characters"), "{stderr}");
    let student = done(Path::new(&p("student")), "stage-1-prediction");
    let student_f1 = student["best_metric"].as_f64().unwrap();
    println!("WordPiece student dev F1 {student_f1}, from the teacher alone");
    assert!(student_f1 > 0.8, "{student}");
    let config: Value = distill_core::io::read_json(&tmp.path().join("student/student/config.json")).unwrap();
    assert_eq!(config["model_type"], "bert", "the student keeps its own architecture and vocabulary");
}

#[test]
fn a_regression_student_of_another_vocabulary_learns_the_teachers_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    scored_pairs(Path::new(&p("train.jsonl")), 300, 1);
    scored_pairs(Path::new(&p("dev.jsonl")), 80, 2);
    let common = ["--batch-size", "16", "--learning-rate", "3e-3", "--max-seq-len", "64"];
    tiny_base_bert(Path::new(&p("base")), 2, 32, 4, 21);
    run(&[&["--strategy", "finetune", "--task", "regression", "--student", &p("base"), "--train", &p("train.jsonl"), "--dev", &p("dev.jsonl"), "--output", &p("teacher"), "--epochs", "8"][..], &common].concat());
    let teacher_r = done(Path::new(&p("teacher")), "stage-1-finetune")["eval"]["pearson"].as_f64().unwrap();
    assert!(teacher_r > 0.9, "{teacher_r}");

    // A byte-level BPE RoBERTa learns the WordPiece teacher's scores (w 1): the same texts,
    // read each its own way.
    tiny_roberta(Path::new(&p("student-base")), 2, 32, None, serde_json::Map::new(), 4);
    let stderr = run(&[&["--teacher", &p("teacher/student"), "--student", &p("student-base"), "--train", &p("train.jsonl"), "--dev", &p("dev.jsonl"), "--output", &p("student"), "--epochs", "8", "--distill-weight", "1"][..], &common].concat());
    assert!(stderr.contains("carried over by characters"), "{stderr}");
    let student_r = done(Path::new(&p("student")), "stage-1-prediction")["eval"]["pearson"].as_f64().unwrap();
    println!("WordPiece teacher dev Pearson {teacher_r}; BPE student from its scores alone {student_r}");
    assert!(student_r > 0.8, "{student_r}");
}

#[test]
fn qa_across_tokenizers_trains_and_caches_the_carried_logits_per_temperature() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    tiny_qa_bert(Path::new(&p("teacher")), 2, 32, 4, 3);
    tiny_roberta(Path::new(&p("student")), 1, 32, Some((Head::QuestionAnswering, 2)), serde_json::Map::new(), 4);
    let squad = distill_tests::shared().join("data/squad/sample-v2.0.json");
    let args = |out: &str, t: &str| -> Vec<String> {
        ["--teacher", &p("teacher"), "--student", &p("student"), "--train", squad.to_str().unwrap(), "--output", &p(out), "--cache-dir", &p("cache"), "--max-seq-len", "128", "--doc-stride", "64", "--max-steps", "2", "--batch-size", "4", "--temperature", t]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let call = |a: Vec<String>| run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let first = call(args("a", "2"));
    assert!(first.contains("carried over by characters") && first.contains("computed into"), "{first}");
    let metrics = std::fs::read_to_string(tmp.path().join("a/stage-1-prediction/metrics.jsonl")).unwrap();
    let losses: Vec<f64> = metrics.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()?["kd"].as_f64()).collect();
    assert!(losses.len() == 2 && losses.iter().all(|l| l.is_finite() && *l >= 0.0), "{metrics}");
    // The same teacher, data and temperature reuse the carried logits; another temperature
    // carries QA's distributions anew.
    assert!(call(args("b", "2")).contains("reused from"));
    assert!(call(args("c", "3")).contains("computed into"));
    // Carried start and end distributions have no logits to compare one by one.
    let mut mse = args("d", "2");
    mse.extend(["--kd-loss".to_string(), "mse".to_string()]);
    let out = distill(&mse.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--kd-loss mse") && err.contains("another tokenizer"), "{err}");
    assert!(!tmp.path().join("d").exists(), "a refused run writes nothing");
}
