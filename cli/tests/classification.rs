//! Sentence classification through the same trainer and strategies: TSV, CSV (quoted fields)
//! and JSON lines; labels from the teacher; accuracy and macro-F1 on the dev set.

use std::process::Command;

use distill_core::data::classification::read_examples;
use distill_tests::{scored_pairs, tiny_classifier_bert};

const WORDS: [(&str, &str); 8] = [
    ("a wonderful and moving film", "pos"),
    ("great acting, a joy to watch", "pos"),
    ("I loved every minute of it", "pos"),
    ("brilliant, funny and warm", "pos"),
    ("a dull and tedious mess", "neg"),
    ("terrible acting and a boring plot", "neg"),
    ("I hated every minute of it", "neg"),
    ("awful, slow and cold", "neg"),
];

#[test]
fn classification_files_in_three_formats() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("d.tsv");
    std::fs::write(&tsv, "text\tlabel\nfine film\tpos\nbad film\tneg\n").unwrap();
    let csv = dir.path().join("d.csv");
    std::fs::write(&csv, "label,text,text_pair\npos,\"fine, \"\"really\"\" fine\",a pair\n").unwrap();
    let jsonl = dir.path().join("d.jsonl");
    std::fs::write(&jsonl, "{\"text\": \"ok\", \"text_pair\": \"y\", \"label\": \"pos\"}\n\n{\"text\": \"no\", \"text_pair\": \"x\", \"label\": \"neg\"}\n").unwrap();
    assert_eq!(read_examples(&tsv).unwrap().len(), 2);
    let c = read_examples(&csv).unwrap();
    assert_eq!((c[0].text.as_str(), c[0].text_pair.as_deref(), c[0].label.as_str()), ("fine, \"really\" fine", Some("a pair"), "pos"));
    let j = read_examples(&jsonl).unwrap();
    assert_eq!(j[1].text_pair.as_deref(), Some("x"));
    std::fs::write(&tsv, "text\tlabels\nx\ty\n").unwrap();
    assert!(read_examples(&tsv).unwrap_err().to_string().contains("`label` column"));
    std::fs::write(&jsonl, "{\"text\": \"ok\"}\n").unwrap();
    let err = read_examples(&jsonl).unwrap_err().to_string();
    assert!(err.contains("line 1") && err.contains("label"), "{err}");
}

#[test]
fn a_classifier_is_distilled_and_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let teacher = dir.path().join("teacher");
    tiny_classifier_bert(&teacher, 2, 32, &["neg", "pos"], 3);
    let train = dir.path().join("train.tsv");
    let mut text = String::from("text\tlabel\n");
    for _ in 0..4 {
        for (t, l) in WORDS {
            text.push_str(&format!("{t}\t{l}\n"));
        }
    }
    std::fs::write(&train, text).unwrap();
    let output = dir.path().join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_distill"))
        .args(["--teacher", teacher.to_str().unwrap(), "--train", train.to_str().unwrap(), "--dev", train.to_str().unwrap(), "--output", output.to_str().unwrap(), "--student-layers", "1", "--epochs", "2", "--batch-size", "8", "--learning-rate", "1e-3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let done: serde_json::Value = distill_core::io::read_json(&output.join("stage-1-prediction/done.json")).unwrap();
    let eval = &done["eval"];
    assert!(eval["accuracy"].as_f64().is_some() && eval["macro_f1"].as_f64().is_some() && eval["total"] == 32, "{done}");
    let config: serde_json::Value = distill_core::io::read_json(&output.join("student/config.json")).unwrap();
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
    assert_eq!(config["id2label"]["1"], "pos", "labels follow the teacher");

    // `distill eval` on the saved student gives the scores the run reported, with a prediction
    // per example; `distill predict` gives a label and every label's probability.
    let student = output.join("student");
    let eval_dir = dir.path().join("eval");
    let out = Command::new(env!("CARGO_BIN_EXE_distill")).args(["eval", "--model", student.to_str().unwrap(), "--data", train.to_str().unwrap(), "--output-dir", eval_dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let scores: serde_json::Value = distill_core::io::read_json(&eval_dir.join("scores.json")).unwrap();
    assert!((scores["accuracy"].as_f64().unwrap() - eval["accuracy"].as_f64().unwrap()).abs() < 1e-12, "{scores} against {eval}");
    assert!((scores["macro_f1"].as_f64().unwrap() - eval["macro_f1"].as_f64().unwrap()).abs() < 1e-12);
    let predictions: Vec<String> = distill_core::io::read_json(&eval_dir.join("predictions.json")).unwrap();
    assert_eq!(predictions.len(), 32);
    assert!(predictions.iter().all(|p| p == "pos" || p == "neg"));
    let out = Command::new(env!("CARGO_BIN_EXE_distill")).args(["predict", "--model", student.to_str().unwrap(), "--text", "a wonderful and moving film"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = line["probabilities"].as_object().unwrap();
    assert!((p["pos"].as_f64().unwrap() + p["neg"].as_f64().unwrap() - 1.0).abs() < 1e-5, "{line}");
    let best = if p["pos"].as_f64() > p["neg"].as_f64() { "pos" } else { "neg" };
    assert_eq!(line["label"], best);
    // A file with a label the model does not know is refused, naming the line.
    std::fs::write(&train, "text\tlabel\nfine\tpos\nodd\tmeh\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_distill")).args(["eval", "--model", student.to_str().unwrap(), "--data", train.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("line 3") && err.contains("\"meh\""), "{err}");
}

#[test]
fn a_regression_head_is_fine_tuned_distilled_and_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    distill_tests::tiny_base_bert(std::path::Path::new(&p("base")), 2, 32, 4, 21);
    scored_pairs(std::path::Path::new(&p("train.jsonl")), 300, 1);
    scored_pairs(std::path::Path::new(&p("dev.jsonl")), 80, 2);
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_distill")).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out
    };
    let common = ["--batch-size", "16", "--learning-rate", "3e-3", "--max-seq-len", "32"];
    run(&[&["--strategy", "finetune", "--task", "regression", "--student", &p("base"), "--train", &p("train.jsonl"), "--dev", &p("dev.jsonl"), "--output", &p("teacher"), "--epochs", "8"][..], &common].concat());
    let done: serde_json::Value = distill_core::io::read_json(&dir.path().join("teacher/stage-1-finetune/done.json")).unwrap();
    let teacher_r = done["eval"]["pearson"].as_f64().unwrap();
    println!("teacher dev Pearson {teacher_r}, Spearman {}", done["eval"]["spearman"]);
    assert!(teacher_r > 0.9, "the teacher learns the scores: {done}");
    let config: serde_json::Value = distill_core::io::read_json(&dir.path().join("teacher/student/config.json")).unwrap();
    assert_eq!((config["problem_type"].as_str(), config["id2label"].as_object().map(|m| m.len())), (Some("regression"), Some(1)), "{config}");

    // The student learns from the teacher's scores (w 1: squared error to the teacher's output);
    // the task comes from the teacher's one-output head.
    run(&[&["--teacher", &p("teacher/student"), "--train", &p("train.jsonl"), "--dev", &p("dev.jsonl"), "--output", &p("student"), "--student-layers", "1", "--epochs", "4", "--distill-weight", "1"][..], &common].concat());
    let done: serde_json::Value = distill_core::io::read_json(&dir.path().join("student/stage-1-prediction/done.json")).unwrap();
    let student_r = done["eval"]["pearson"].as_f64().unwrap();
    println!("student dev Pearson {student_r}");
    assert!(student_r > 0.8, "{done}");
    let out = run(&["eval", "--model", &p("student/student"), "--data", &p("dev.jsonl"), "--max-seq-len", "32"]);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!((printed["scores"]["pearson"].as_f64().unwrap() - student_r).abs() < 1e-9, "{printed}");
    let out = run(&["predict", "--model", &p("teacher/student"), "--text", "great superb lovely", "--text-pair", "fine film great"]);
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(line["score"].as_f64().unwrap() > 2.0, "five good words: {line}");
    // A label that is not a number is refused, naming the file and line.
    std::fs::write(dir.path().join("bad.jsonl"), "{\"text\": \"a\", \"text_pair\": \"b\", \"label\": 1}\n{\"text\": \"a\", \"text_pair\": \"b\", \"label\": \"high\"}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_distill")).args(["eval", "--model", &p("student/student"), "--data", &p("bad.jsonl")]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("bad.jsonl") && err.contains("line 2") && err.contains("\"high\""), "{err}");
}
