//! `distill score` equals the official SQuAD evaluation scripts on every fixture of
//! ../shared/data/eval, to 1e-9.

use std::path::Path;
use std::process::Command;

use distill_tests::shared;

fn score(args: &[&Path], extra: &[&str]) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_distill"));
    cmd.arg("score").arg("--data").arg(args[0]).arg("--predictions").arg(args[1]);
    if let Some(na) = args.get(2) {
        cmd.arg("--na-probs").arg(na);
    }
    let out = cmd.args(extra).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn assert_equal(actual: &serde_json::Value, expected_file: &Path) {
    let expected: serde_json::Value = serde_json::from_slice(&std::fs::read(expected_file).unwrap()).unwrap();
    let (a, e) = (actual.as_object().unwrap(), expected.as_object().unwrap());
    assert_eq!(a.keys().collect::<Vec<_>>(), e.keys().collect::<Vec<_>>(), "keys for {}", expected_file.display());
    for (key, want) in e {
        let got = a[key].as_f64().unwrap();
        assert!((got - want.as_f64().unwrap()).abs() <= 1e-9, "{key}: {got} vs official {want} ({})", expected_file.display());
    }
}

#[test]
fn synthetic_v1_matches_official() {
    let d = shared().join("data");
    let actual = score(&[&d.join("squad/dev-v1.1-visible.json"), &d.join("eval/synthetic-v1/predictions_visible-v1.1.json")], &[]);
    assert_equal(&actual, &d.join("eval/synthetic-v1/expected_eval.json"));
}

#[test]
fn synthetic_v2_matches_official_with_and_without_no_answer_probabilities() {
    let d = shared().join("data");
    let data = d.join("squad/dev-v2.0-small.json");
    let preds = d.join("eval/synthetic-v2/predictions_squad_small.json");
    let na = d.join("eval/synthetic-v2/na_probs_squad_small.json");
    assert_equal(&score(&[&data, &preds], &[]), &d.join("eval/synthetic-v2/expected_eval_no_na.json"));
    assert_equal(&score(&[&data, &preds, &na], &[]), &d.join("eval/synthetic-v2/expected_eval_na_default_thresh.json"));
    assert_equal(&score(&[&data, &preds, &na], &["--na-prob-thresh", "0.5"]), &d.join("eval/synthetic-v2/expected_eval_na_thresh_0.5.json"));
}

#[test]
fn real_bert_base_predictions_match_official() {
    let d = shared().join("data");
    let e = d.join("eval/bert-base-v2-predictions");
    let actual = score(&[&d.join("squad/dev-v2.0-small-cs224n-ids.json"), &e.join("visible_predictions.json"), &e.join("visible_null_odds.json")], &[]);
    assert_equal(&actual, &e.join("visible_expected_eval_with_na_probs.json"));
}

/// `--per-question` writes the scores the totals are made of: their means over all, answerable
/// and unanswerable questions are the official totals, with and without a no-answer threshold.
#[test]
fn per_question_scores_average_to_the_official_totals() {
    let d = shared().join("data");
    let data = d.join("squad/dev-v2.0-small.json");
    let preds = d.join("eval/synthetic-v2/predictions_squad_small.json");
    let na = d.join("eval/synthetic-v2/na_probs_squad_small.json");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("per-question.json");
    let cases: [(&[&Path], &[&str], &str); 3] = [
        (&[&data, &preds], &[], "expected_eval_no_na.json"),
        (&[&data, &preds, &na], &["--na-prob-thresh", "0.5"], "expected_eval_na_thresh_0.5.json"),
        (&[&d.join("squad/dev-v1.1-visible.json"), &d.join("eval/synthetic-v1/predictions_visible-v1.1.json")], &[], "../synthetic-v1/expected_eval.json"),
    ];
    for (inputs, extra, name) in cases {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend(["--per-question", file.to_str().unwrap()]);
        score(inputs, &args);
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let expected: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("eval/synthetic-v2").join(name)).unwrap()).unwrap();
        let v1 = expected.get("exact_match").is_some();
        let mean = |key: &str, has: Option<bool>| {
            let picked: Vec<f64> = rows.iter().filter(|r| has.is_none_or(|h| r["has_answer"] == h)).map(|r| r[key].as_f64().unwrap()).collect();
            100.0 * picked.iter().sum::<f64>() / picked.len() as f64
        };
        let checks: Vec<(&str, f64)> = if v1 {
            vec![("exact_match", mean("exact", None)), ("f1", mean("f1", None))]
        } else {
            vec![("exact", mean("exact", None)), ("f1", mean("f1", None)), ("HasAns_f1", mean("f1", Some(true))), ("NoAns_exact", mean("exact", Some(false)))]
        };
        for (key, got) in checks {
            let want = expected[key].as_f64().unwrap();
            assert!((got - want).abs() <= 1e-9, "{name}: {key} {got} from the per-question file vs official {want}");
        }
        if !v1 {
            assert_eq!(rows.len() as u64, expected["total"].as_u64().unwrap(), "{name}: one row per counted question");
        }
        assert!(rows.iter().all(|r| r["exact"] == 0.0 || r["exact"] == 1.0), "exact is 0 or 1");
    }
}
