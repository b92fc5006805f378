//! `distill eval` writes predictions.json and null_odds.json in the official formats, whose
//! official scores (`distill score`) are the ones it prints; `distill predict` answers one
//! question or a JSON-lines batch.

use std::process::Command;

use distill_tests::{shared, tiny_qa_bert};

fn distill(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_distill")).args(args).output().unwrap()
}

#[test]
fn eval_writes_official_files_whose_scores_it_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m");
    tiny_qa_bert(&model, 1, 32, 4, 5);
    let data = shared().join("data/squad/sample-v2.0.json");
    let dir = tmp.path().join("eval");
    let out = distill(&["eval", "--model", model.to_str().unwrap(), "--data", data.to_str().unwrap(), "--output-dir", dir.to_str().unwrap(), "--null-threshold", "0"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let preds: serde_json::Map<String, serde_json::Value> = distill_core::io::read_json(&dir.join("predictions.json")).unwrap();
    let odds: serde_json::Map<String, serde_json::Value> = distill_core::io::read_json(&dir.join("null_odds.json")).unwrap();
    assert_eq!((preds.len(), odds.len(), printed["questions"].as_u64()), (14, 14, Some(14)));
    // Scoring the written files the official way gives the printed exact/f1.
    let scored = distill(&["score", "--data", data.to_str().unwrap(), "--predictions", dir.join("predictions.json").to_str().unwrap()]);
    let scored: serde_json::Value = serde_json::from_slice(&scored.stdout).unwrap();
    for key in ["exact", "f1", "HasAns_exact", "NoAns_exact"] {
        assert!((scored[key].as_f64().unwrap() - printed["scores"][key].as_f64().unwrap()).abs() < 1e-9, "{key}: {scored} vs {printed}");
    }
}

#[test]
fn predict_answers_a_question_and_a_json_lines_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m");
    tiny_qa_bert(&model, 1, 32, 4, 6);
    let context = "The Normans gave their name to Normandy, a region in France.";
    let out = distill(&["predict", "--model", model.to_str().unwrap(), "--question", "Where is Normandy?", "--context", context]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(context.contains(answer["answer"].as_str().unwrap()) && !answer["answer"].as_str().unwrap().is_empty(), "{answer}");
    let batch = tmp.path().join("q.jsonl");
    std::fs::write(&batch, format!("{{\"id\": \"a\", \"question\": \"Who?\", \"context\": \"{context}\"}}\n{{\"question\": \"Where?\", \"context\": \"{context}\"}}\n")).unwrap();
    let out = distill(&["predict", "--model", model.to_str().unwrap(), "--input", batch.to_str().unwrap()]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0]["id"].as_str(), lines[1]["id"].as_str()), (Some("a"), Some("1")));
    std::fs::write(&batch, "{\"question\": \"Who?\"}\n").unwrap();
    let out = distill(&["predict", "--model", model.to_str().unwrap(), "--input", batch.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: missing string field `context`"));
}
