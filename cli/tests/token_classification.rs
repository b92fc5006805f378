//! Token classification end to end on a small synthetic NER task in real words: a teacher
//! fine-tuned from a base checkpoint (CoNLL), a student distilled from it on JSON lines with tag
//! ids, another by a joint intermediate + prediction stage, evaluated during training and by
//! `distill eval` (the same scores), and `distill predict` finding entities with their
//! character spans.

use std::path::Path;
use std::process::Command;

use distill_tests::{NerWords, tiny_base_bert, write_conll};
use serde_json::Value;

fn distill(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_distill")).args(args).output().unwrap()
}

const WORDS: NerWords = NerWords {
    people: &["alice", "bob", "carol", "dave", "erin"],
    places: &[&["paris"], &["london"], &["berlin"], &["new", "york"], &["rio", "de", "janeiro"]],
    filler: &["went", "to", "the", "and", "saw", "in", "met", "today"],
};

fn sentences(n: usize, seed: u64) -> Vec<Vec<(String, String)>> {
    WORDS.sentences(n, seed)
}

fn write_jsonl_ids(path: &Path, sentences: &[Vec<(String, String)>], labels: &[&str]) {
    let lines: Vec<String> = sentences
        .iter()
        .map(|s| {
            let words: Vec<&str> = s.iter().map(|(w, _)| w.as_str()).collect();
            let ids: Vec<usize> = s.iter().map(|(_, t)| labels.iter().position(|l| l == t).unwrap()).collect();
            serde_json::json!({"tokens": words, "ner_tags": ids}).to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n")).unwrap();
}

fn read(path: &Path) -> Value {
    distill_core::io::read_json(path).unwrap()
}

#[test]
fn a_tagger_is_fine_tuned_distilled_evaluated_and_used() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let s = |path: &Path| path.to_str().unwrap().to_string();
    tiny_base_bert(&p("base"), 2, 32, 4, 11);
    write_conll(&p("train.conll"), &sentences(240, 1));
    write_conll(&p("dev.conll"), &sentences(60, 2));
    let common = ["--max-seq-len", "32", "--batch-size", "16", "--learning-rate", "3e-3", "--eval-batch-size", "64"];

    // The teacher: the base checkpoint fine-tuned on CoNLL; its head is new, its labels the data's.
    let out = distill(&[&["--strategy", "finetune", "--task", "token-classification", "--student", &s(&p("base")), "--train", &s(&p("train.conll")), "--dev", &s(&p("dev.conll")), "--output", &s(&p("teacher")), "--epochs", "6"][..], &common].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let done = read(&p("teacher/stage-1-finetune/done.json"));
    let teacher_f1 = done["eval"]["f1"].as_f64().unwrap();
    println!("teacher dev F1 {teacher_f1}");
    assert!(teacher_f1 > 0.9, "the teacher learns the task: {done}");
    assert!(done["eval"]["strict_iob2"]["f1"].as_f64().is_some() && done["eval"]["per_type"]["LOC"]["support"].as_u64().is_some(), "{done}");
    let config = read(&p("teacher/student/config.json"));
    assert_eq!(config["architectures"][0], "BertForTokenClassification");
    let labels = ["B-LOC", "B-PER", "I-LOC", "O"];
    for (i, l) in labels.iter().enumerate() {
        assert_eq!(config["id2label"][i.to_string()], *l, "labels sorted from the data: {config}");
    }

    // The student: one layer of the teacher, distilled on JSON lines whose tags are ids into
    // the teacher's labels (its id2label), through the prediction layer only.
    write_jsonl_ids(&p("train.jsonl"), &sentences(240, 1), &labels);
    let out = distill(&[&["--teacher", &s(&p("teacher/student")), "--train", &s(&p("train.jsonl")), "--dev", &s(&p("dev.conll")), "--output", &s(&p("student")), "--student-layers", "1", "--epochs", "4", "--distill-weight", "1"][..], &common].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let done = read(&p("student/stage-1-prediction/done.json"));
    let student_f1 = done["eval"]["f1"].as_f64().unwrap();
    println!("student dev F1 {student_f1}");
    assert!(student_f1 > 0.8, "the student learns from the teacher's soft tags alone: {done}");
    let metrics = std::fs::read_to_string(p("student/stage-1-prediction/metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"kd\"") && !metrics.contains("\"ce\""), "w = 1: the teacher alone teaches");

    // A joint stage: hidden states and attention scores of the teacher's layers, with the
    // prediction term over the tagged positions taken from the same forward pass.
    let out = distill(&[&["--strategy", "intermediate", "--intermediate-prediction-weight", "0.5", "--teacher", &s(&p("teacher/student")), "--train", &s(&p("train.conll")), "--dev", &s(&p("dev.conll")), "--output", &s(&p("joint")), "--student-layers", "1", "--intermediate-epochs", "1"][..], &common].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metrics = std::fs::read_to_string(p("joint/stage-1-intermediate/metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"hidden\"") && metrics.contains("\"kd\"") && metrics.contains("\"ce\""), "{}", metrics.lines().next().unwrap_or_default());
    let done = read(&p("joint/stage-1-intermediate/done.json"));
    assert!(done["eval"]["f1"].as_f64().is_some(), "the joint stage trains the head and is evaluated: {done}");

    // `distill eval` on the saved student gives the scores the run reported.
    let out = distill(&["eval", "--model", &s(&p("student/student")), "--data", &s(&p("dev.conll")), "--output-dir", &s(&p("eval")), "--max-seq-len", "32"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let scores = read(&p("eval/scores.json"));
    assert!((scores["f1"].as_f64().unwrap() - student_f1).abs() < 1e-9, "eval {scores} against the run's {student_f1}");
    let predictions = read(&p("eval/predictions.json"));
    assert_eq!(predictions.as_array().unwrap().len(), 60);

    // `distill predict` finds the entities of a text typed by hand, with character spans.
    let text = "Alice  met bob in Rio de Janeiro today";
    let out = distill(&["predict", "--model", &s(&p("teacher/student")), "--text", text]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<(String, String)> = line["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let (start, end) = (e["start"].as_u64().unwrap() as usize, e["end"].as_u64().unwrap() as usize);
            assert_eq!(text.chars().skip(start).take(end - start).collect::<String>(), e["text"].as_str().unwrap());
            (e["type"].as_str().unwrap().to_string(), e["text"].as_str().unwrap().to_string())
        })
        .collect();
    let expected = [("PER", "Alice"), ("PER", "bob"), ("LOC", "Rio de Janeiro")].map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(found, expected, "{line}");
}
