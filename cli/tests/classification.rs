//! Sentence classification through the same trainer and strategies: TSV, CSV (quoted fields)
//! and JSON lines; labels from the teacher; accuracy and macro-F1 on the dev set.

use std::process::Command;

use distill_core::data::classification::read_examples;
use distill_tests::tiny_classifier_bert;

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
}
