//! Classification and regression metrics equal to scikit-learn's and scipy's on random cases:
//! accuracy, macro-F1 (with a class never predicted), Matthews correlation (binary and
//! multiclass, and a constant prediction), Pearson and Spearman (with ties), MSE.

use std::process::Command;

use distill_core::task::classification::{accuracy_and_macro_f1, matthews_correlation};
use distill_core::task::regression::{mean_squared_error, pearson, spearman};
use distill_tests::{Rng, repo_root};
use serde_json::{Value, json};

#[test]
fn metrics_equal_sklearn_and_scipy() {
    let mut rng = Rng(0x1234_5678);
    let mut classification = Vec::new();
    for (labels, n) in [(2, 50), (3, 80), (5, 40), (4, 200)] {
        let gold: Vec<usize> = (0..n).map(|_| rng.next(labels)).collect();
        // Mostly right, some noise, and the last class never predicted in the 5-class case.
        let predicted: Vec<usize> = gold.iter().map(|&g| if rng.next(3) == 0 { rng.next(labels) } else { g }).map(|p| if labels == 5 { p.min(3) } else { p }).collect();
        classification.push((predicted, gold, labels));
    }
    classification.push((vec![1; 10], (0..10).map(|i| i % 2).collect(), 2));
    let mut regression = Vec::new();
    for n in [20, 64, 150] {
        let gold: Vec<f64> = (0..n).map(|_| rng.next(6) as f64 * 0.5).collect(); // many ties
        let predicted: Vec<f64> = gold.iter().map(|g| g + (rng.next(1000) as f64 - 500.0) / 400.0).collect();
        regression.push((predicted, gold));
    }
    regression.push(((0..30).map(|i| (i % 7) as f64).collect(), (0..30).map(|i| (i % 5) as f64 * 1.5).collect()));
    let cases = json!({
        "classification": classification.iter().map(|(p, g, l)| json!({"predicted": p, "gold": g, "labels": l})).collect::<Vec<_>>(),
        "regression": regression.iter().map(|(p, g)| json!({"predicted": p, "gold": g})).collect::<Vec<_>>(),
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), cases.to_string()).unwrap();
    let output = Command::new("python3")
        .arg(repo_root().join("scripts").join("sklearn_reference.py"))
        .arg(file.path())
        .output()
        .expect("python3 with scikit-learn and scipy must be installed (scripts/test.sh installs them)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let expected: Value = serde_json::from_slice(&output.stdout).unwrap();
    let close = |a: f64, b: &Value, what: String| assert!((a - b.as_f64().unwrap()).abs() < 1e-9, "{what}: distill {a}, reference {b}");
    for (i, ((p, g, l), want)) in classification.iter().zip(expected["classification"].as_array().unwrap()).enumerate() {
        let (accuracy, macro_f1) = accuracy_and_macro_f1(p, g, *l);
        close(accuracy, &want["accuracy"], format!("case {i} accuracy"));
        close(macro_f1, &want["macro_f1"], format!("case {i} macro-F1"));
        close(matthews_correlation(p, g, *l), &want["matthews_correlation"], format!("case {i} MCC"));
    }
    for (i, ((p, g), want)) in regression.iter().zip(expected["regression"].as_array().unwrap()).enumerate() {
        close(pearson(p, g), &want["pearson"], format!("case {i} Pearson"));
        close(spearman(p, g), &want["spearman"], format!("case {i} Spearman"));
        close(mean_squared_error(p, g), &want["mse"], format!("case {i} MSE"));
    }
}
