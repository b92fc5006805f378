//! `distill` runs through the built binary: pairs rejected before loading (exit 2), a
//! prediction-layer run with its outputs, config file and flag precedence, the teacher-logit
//! cache, the 3-stage recipe with skipping of finished stages, kill -9 then resume giving
//! the same weights as an uninterrupted run, batches grouped by length, the teacher layers
//! a student is copied from and the width it keeps, and the general stage's own teacher.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use distill_tests::{shared, tiny_base_bert, tiny_classifier_bert, tiny_qa_bert};

fn distill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_distill")).args(args).output().expect("the distill binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn squad(name: &str) -> String {
    shared().join("data/squad").join(name).to_str().unwrap().to_string()
}

#[test]
fn mismatched_pairs_are_rejected_before_loading_with_exit_code_2() {
    let out = distill(&["--teacher-plugin", "roberta", "--student-plugin", "tinybert", "--strategy", "intermediate", "--teacher", "/does/not/exist", "--train", "x.json", "--output", "/tmp/never"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let msg = text(&out);
    assert!(msg.contains("`roberta`") && msg.contains("`tinybert`") && msg.contains("families differ") && msg.contains("tokenizers differ"), "{msg}");
    assert!(!msg.contains("/does/not/exist"), "nothing was loaded: {msg}");

    // Prediction-layer distillation across tokenizers is aligned by characters: the plugin pair
    // passes, and the run goes on to load the teacher.
    let out = distill(&["--teacher-plugin", "roberta", "--student-plugin", "bert", "--strategy", "prediction", "--teacher", "/does/not/exist", "--train", "x.json", "--output", "/tmp/never"]);
    assert!(!out.status.success() && !text(&out).contains("tokenizers differ") && text(&out).contains("/does/not/exist"), "{}", text(&out));
}

#[test]
fn pairs_lists_strategies_and_reasons() {
    let out = distill(&["pairs", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |t: &str, s: &str| rows.as_array().unwrap().iter().find(|r| r["teacher"] == t && r["student"] == s).unwrap().clone();
    assert_eq!(row("bert", "tinybert")["strategies"], serde_json::json!(["prediction", "intermediate", "tinybert"]));
    let rejected = row("roberta", "tinybert")["rejected"].to_string();
    assert!(rejected.contains("tokenizers differ") && rejected.contains("families differ"), "{rejected}");
}

#[test]
fn pairs_checks_two_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let (t, s) = (tmp.path().join("t"), tmp.path().join("s"));
    tiny_qa_bert(&t, 4, 32, 4, 1);
    tiny_qa_bert(&s, 2, 16, 2, 2);
    let out = distill(&["pairs", "--json", "--teacher", t.to_str().unwrap(), "--student", s.to_str().unwrap(), "--strategy", "intermediate"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["ok"], false, "{rows}");
    assert!(rows[0]["reasons"].to_string().contains("head counts differ (2 vs 4)"));
    let out = distill(&["pairs", "--json", "--teacher", t.to_str().unwrap(), "--student", s.to_str().unwrap(), "--strategy", "intermediate", "--head-averaged-attention"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["plan"]["projection"], serde_json::json!([16, 32]), "{rows}");
    assert_eq!(rows[0]["plan"]["layer_pairs"], serde_json::json!([[1, 2], [2, 4]]));
}

#[test]
fn prediction_run_writes_students_metrics_and_resolved_config() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher = tmp.path().join("teacher");
    tiny_qa_bert(&teacher, 2, 32, 4, 3);
    let config = tmp.path().join("run.toml");
    std::fs::write(&config, "[train_config]\nepochs = 1\nbatch_size = 3\nseed = 5\n[prediction]\ntemperature = 2.0\n").unwrap();
    let output = tmp.path().join("out");
    let args = ["--config", config.to_str().unwrap(), "--teacher", teacher.to_str().unwrap(), "--train", &squad("sample-v2.0.json"), "--dev", &squad("tiny-v2.0.json"), "--output", output.to_str().unwrap(), "--student-layers", "1", "--epochs", "2", "--max-seq-len", "128", "--doc-stride", "64"];
    // The environment sits between the file and the flags.
    let out = Command::new(env!("CARGO_BIN_EXE_distill")).args(args).env("DISTILL_EPOCHS", "5").env("DISTILL_SAVE_EVERY", "7").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("computed into"), "{}", text(&out));
    let resolved: serde_json::Value = distill_core::io::read_json(&output.join("run-config.json")).unwrap();
    assert_eq!(resolved["train_config"]["epochs"], 2, "the flag overrides the environment");
    assert_eq!(resolved["train_config"]["save_every"], 7, "the environment overrides the default");
    assert_eq!(resolved["train_config"]["batch_size"], 3, "the file overrides the default");
    assert_eq!(resolved["prediction"]["temperature"], 2.0);
    assert_eq!(resolved["prediction"]["weight"], 0.75);
    let sources = &resolved["sources"];
    assert_eq!(sources["train_config.epochs"], "flag --epochs");
    assert_eq!(sources["train_config.save_every"], "environment DISTILL_SAVE_EVERY");
    assert_eq!(sources["train_config.batch_size"], format!("file {}", config.display()));
    assert_eq!(sources["prediction.weight"], "default");
    let stage = output.join("stage-1-prediction");
    for f in ["metrics.jsonl", "checkpoint.safetensors", "student/config.json", "student/model.safetensors", "student/vocab.txt", "best/config.json", "done.json"] {
        assert!(stage.join(f).is_file(), "missing {f}");
    }
    let metrics = std::fs::read_to_string(stage.join("metrics.jsonl")).unwrap();
    let steps = metrics.lines().filter(|l| l.contains("\"loss\"")).count();
    assert!(steps >= 2 && metrics.contains("\"kd\"") && metrics.contains("\"ce\"") && metrics.contains("\"eval\""), "{metrics}");
    let student: serde_json::Value = distill_core::io::read_json(&output.join("student/config.json")).unwrap();
    assert_eq!(student["num_hidden_layers"], 1);
    assert_eq!(student["architectures"][0], "BertForQuestionAnswering");
    let best = std::fs::read(stage.join("best/model.safetensors")).unwrap();
    assert_eq!(std::fs::read(output.join("student/model.safetensors")).unwrap(), best, "the run ends with its best dev checkpoint");

    // Started again, the finished stage is skipped and the run still ends with its best
    // checkpoint, not the stage's last weights (here replaced by another model to tell them apart).
    tiny_qa_bert(&stage.join("student"), 1, 32, 4, 99);
    let out = distill(&args);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(output.join("student/model.safetensors")).unwrap(), best);
    let report: serde_json::Value = distill_core::io::read_json(&output.join("report.json")).unwrap();
    assert!(report["stages"][0]["skipped"] == true && report["stages"][0]["best_step"].as_u64().is_some(), "{report}");

    // A second run in a new directory, sharing the cache, reuses the teacher logits.
    let again = tmp.path().join("again");
    let cache = output.join("cache");
    let out = distill(&["--config", config.to_str().unwrap(), "--teacher", teacher.to_str().unwrap(), "--train", &squad("sample-v2.0.json"), "--output", again.to_str().unwrap(), "--student-layers", "1", "--max-seq-len", "128", "--doc-stride", "64", "--cache-dir", cache.to_str().unwrap()]);
    assert!(out.status.success() && text(&out).contains("reused from"), "{}", text(&out));
}

#[test]
fn tinybert_recipe_runs_three_stages_and_skips_finished_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher = tmp.path().join("teacher");
    tiny_qa_bert(&teacher, 2, 32, 4, 4);
    let output = tmp.path().join("out");
    let args = ["--strategy", "tinybert", "--teacher", teacher.to_str().unwrap(), "--train", &squad("tiny-v2.0.json"), "--general-train", &squad("tiny-v2.0.json"), "--output", output.to_str().unwrap(), "--student-layers", "1", "--epochs", "1", "--intermediate-epochs", "1", "--max-seq-len", "128", "--doc-stride", "64", "--batch-size", "4"];
    let out = distill(&args);
    assert!(out.status.success(), "{}", text(&out));
    for stage in ["stage-1-general-intermediate", "stage-2-task-intermediate", "stage-3-prediction"] {
        assert!(output.join(stage).join("done.json").is_file(), "{stage} finished");
    }
    let metrics = std::fs::read_to_string(output.join("stage-2-task-intermediate/metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"attention\"") && metrics.contains("\"hidden\"") && metrics.contains("\"embedding\""), "{metrics}");
    let out = distill(&args);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = distill_core::io::read_json(&output.join("report.json")).unwrap();
    let stages = report["stages"].as_array().unwrap();
    assert!(stages.iter().all(|s| s["skipped"] == true), "{report}");
    // Skipped stages still report what they did when they ran.
    for (stage, name) in stages.iter().zip(["general-intermediate", "task-intermediate", "prediction"]) {
        assert_eq!(stage["stage"], name, "{report}");
        assert!(stage["steps"].as_u64().unwrap() > 0 && stage["seconds"].as_f64().unwrap() > 0.0, "{report}");
    }
    // A damaged stage report stops the run with its file named, rather than being passed over.
    std::fs::write(output.join("stage-2-task-intermediate/done.json"), "{\"stage\": ").unwrap();
    let out = distill(&args);
    assert!(!out.status.success() && text(&out).contains("stage-2-task-intermediate/done.json"), "{}", text(&out));
}

#[test]
fn general_teacher_teaches_the_general_stage_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (teacher, general) = (tmp.path().join("teacher"), tmp.path().join("general"));
    tiny_qa_bert(&teacher, 2, 32, 4, 4);
    // Deeper and wider than the task teacher: the general stage needs its own mapping and projection.
    tiny_qa_bert(&general, 4, 48, 4, 5);
    let run_as = |strategy: &str, name: &str, extra: &[&str]| -> (Output, std::path::PathBuf) {
        let output = tmp.path().join(name);
        let mut args = vec!["--strategy", strategy, "--teacher", teacher.to_str().unwrap(), "--student-layers", "1", "--output", output.to_str().unwrap()];
        let (train, general_train) = (squad("tiny-v2.0.json"), squad("sample-v2.0.json"));
        args.extend(["--train", &train, "--general-train", &general_train, "--epochs", "1", "--intermediate-epochs", "1", "--max-steps", "2", "--max-seq-len", "64", "--doc-stride", "32", "--max-query-length", "32", "--batch-size", "4"]);
        args.extend(extra);
        (distill(&args), output)
    };
    let run = |name: &str, extra: &[&str]| run_as("tinybert", name, extra);
    let stage_losses = |dir: &Path, stage: &str| -> Vec<String> {
        let metrics = std::fs::read_to_string(dir.join(stage).join("metrics.jsonl")).unwrap();
        metrics.lines().filter(|l| l.contains("\"loss\"")).map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].to_string()).collect()
    };

    let (out, plain) = run("plain", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let (out, other) = run("other", &["--general-teacher", general.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = distill_core::io::read_json(&other.join("report.json")).unwrap();
    assert_eq!(report["general_plan"]["layer_pairs"], serde_json::json!([[1, 4]]), "{report}");
    assert_eq!(report["general_plan"]["projection"], serde_json::json!([32, 48]), "{report}");
    assert_eq!(report["plan"]["layer_pairs"], serde_json::json!([[1, 2]]), "the task stages keep the teacher's mapping: {report}");
    assert!(report["plan"]["projection"].is_null(), "{report}");
    let general_stage = "stage-1-general-intermediate";
    assert_ne!(stage_losses(&other, general_stage), stage_losses(&plain, general_stage), "the general stage learns from the general teacher");
    // Given the teacher itself as the general teacher, the run is the run without one.
    let (out, same) = run("same", &["--general-teacher", teacher.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    for stage in [general_stage, "stage-2-task-intermediate", "stage-3-prediction"] {
        assert_eq!(stage_losses(&same, stage), stage_losses(&plain, stage), "{stage}");
    }
    assert_eq!(std::fs::read(same.join("student/model.safetensors")).unwrap(), std::fs::read(plain.join("student/model.safetensors")).unwrap());
    // Refused, naming why, before any training: without a general stage, and as an incompatible pair.
    let (out, dir) = run_as("prediction", "prediction", &["--general-teacher", general.to_str().unwrap()]);
    assert!(!out.status.success() && text(&out).contains("strategy prediction has no general stage"), "{}", text(&out));
    assert!(!dir.exists());
    let two_heads = tmp.path().join("two-heads");
    tiny_qa_bert(&two_heads, 2, 32, 2, 6);
    let (out, dir) = run("heads", &["--general-teacher", two_heads.to_str().unwrap()]);
    let message = text(&out);
    assert!(!out.status.success() && message.contains("--general-teacher") && message.contains("head counts differ (4 vs 2)"), "{message}");
    assert!(!dir.join("stage-1-general-intermediate").exists());
}

#[test]
fn intermediate_prediction_weight_joins_the_task_stage_only() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher = tmp.path().join("teacher");
    tiny_qa_bert(&teacher, 2, 32, 4, 4);
    let run = |strategy: &str, name: &str, weight: &str| -> (Output, std::path::PathBuf) {
        let output = tmp.path().join(name);
        let (train, general_train) = (squad("tiny-v2.0.json"), squad("sample-v2.0.json"));
        // With "=", so that a negative weight is read as the flag's value.
        let weight = format!("--intermediate-prediction-weight={weight}");
        let args = [
            "--strategy", strategy, "--teacher", teacher.to_str().unwrap(), "--student-layers", "1", "--output", output.to_str().unwrap(),
            "--train", &train, "--dev", &train, "--general-train", &general_train, "--epochs", "1", "--intermediate-epochs", "1",
            "--max-steps", "2", "--max-seq-len", "64", "--doc-stride", "32", "--max-query-length", "32", "--batch-size", "4", &weight,
        ];
        (distill(&args), output)
    };
    let metrics = |dir: &Path, stage: &str| std::fs::read_to_string(dir.join(stage).join("metrics.jsonl")).unwrap();

    let (out, dir) = run("tinybert", "joint", "0.5");
    assert!(out.status.success(), "{}", text(&out));
    let general = metrics(&dir, "stage-1-general-intermediate");
    assert!(!general.contains("\"kd\"") && !general.contains("\"eval\""), "raw text: no prediction term, no evaluation: {general}");
    let task = metrics(&dir, "stage-2-task-intermediate");
    assert!(task.contains("\"kd\"") && task.contains("\"hidden\""), "{task}");
    assert!(task.contains("\"eval\""), "the joint stage trains the head, so it is evaluated: {task}");
    let run_config: serde_json::Value = distill_core::io::read_json(&dir.join("run-config.json")).unwrap();
    assert_eq!(run_config["intermediate_prediction_weight"], 0.5, "{run_config}");

    // Refused before anything is written: no intermediate stage to join, or not a weight.
    for (strategy, name, weight, reason) in [("prediction", "prediction", "0.5", "strategy prediction has none"), ("tinybert", "negative", "-1", "(--intermediate-prediction-weight) is -1: expected a finite number >= 0")] {
        let (out, dir) = run(strategy, name, weight);
        assert!(!out.status.success() && text(&out).contains(reason), "{}", text(&out));
        assert!(!dir.exists(), "{name}");
    }
}

#[test]
fn a_teacher_without_the_tasks_head_is_refused_before_writing_when_its_logits_are_taught() {
    let tmp = tempfile::tempdir().unwrap();
    let (base, classifier) = (tmp.path().join("base"), tmp.path().join("classifier"));
    tiny_base_bert(&base, 2, 32, 4, 4);
    tiny_classifier_bert(&classifier, 2, 32, &["neg", "pos"], 4);
    let train = squad("tiny-v2.0.json");
    let run = |strategy: &str, teacher: &Path, name: &str, weight: &str| -> (Output, std::path::PathBuf) {
        let output = tmp.path().join(name);
        let args = [
            "--strategy", strategy, "--task", "qa", "--teacher", teacher.to_str().unwrap(), "--student-layers", "1", "--output", output.to_str().unwrap(),
            "--train", &train, "--intermediate-epochs", "1", "--max-steps", "1", "--max-seq-len", "64", "--doc-stride", "32", "--max-query-length", "32", "--batch-size", "4", "--intermediate-prediction-weight", weight,
        ];
        (distill(&args), output)
    };
    // Without the prediction term a headless teacher is accepted: the hidden states need only its encoder.
    let (out, _) = run("intermediate", &base, "hidden-only", "0");
    assert!(out.status.success(), "{}", text(&out));
    // A joint stage's prediction term, and a prediction stage (which a classification head on a
    // QA run used to reach, panicking on the logits' shapes).
    let refused = [
        ("intermediate", &base, "refused-base", "0.5", "has no task head"),
        ("intermediate", &classifier, "refused-classifier", "0.5", "has a Classification head"),
        ("prediction", &classifier, "refused-prediction", "0", "has a Classification head"),
    ];
    for (strategy, teacher, name, weight, reason) in refused {
        let (out, output) = run(strategy, teacher, name, weight);
        assert!(!out.status.success() && text(&out).contains(reason) && text(&out).contains("QuestionAnswering"), "{name}: {}", text(&out));
        assert!(!output.exists(), "{name}: a refused run leaves no output");
    }
}

#[test]
fn start_stage_on_a_fresh_output_leaves_out_the_stages_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher = tmp.path().join("teacher");
    tiny_qa_bert(&teacher, 2, 32, 4, 4);
    let output = tmp.path().join("out");
    // No --general-train: the general stage is not run, so it needs no data.
    let out = distill(&["--strategy", "tinybert", "--start-stage", "2", "--teacher", teacher.to_str().unwrap(), "--train", &squad("tiny-v2.0.json"), "--output", output.to_str().unwrap(), "--student-layers", "1", "--epochs", "1", "--intermediate-epochs", "1", "--max-seq-len", "128", "--doc-stride", "64", "--batch-size", "4"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("general-intermediate: not run"), "{}", text(&out));
    assert!(!output.join("stage-1-general-intermediate").exists());
    let report: serde_json::Value = distill_core::io::read_json(&output.join("report.json")).unwrap();
    let stages = report["stages"].as_array().unwrap();
    assert_eq!((stages[0]["ran"].clone(), stages[0]["steps"].clone()), (serde_json::json!(false), serde_json::json!(0)), "{report}");
    assert!(stages[1..].iter().all(|s| s["steps"].as_u64().unwrap() > 0), "{report}");
}

fn run_to_end(args: &[&str]) {
    let out = distill(args);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn killed_and_resumed_run_ends_with_the_weights_of_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher = tmp.path().join("teacher");
    tiny_qa_bert(&teacher, 2, 32, 4, 6);
    let train = squad("train-v2.0-10articles.json");
    let args = |out: &Path| -> Vec<String> {
        ["--teacher", teacher.to_str().unwrap(), "--train", &train, "--output", out.to_str().unwrap(), "--student-layers", "1", "--max-seq-len", "96", "--doc-stride", "64", "--batch-size", "8", "--max-steps", "24", "--save-every", "3", "--seed", "11", "--cache-dir", tmp.path().join("cache").to_str().unwrap()]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let straight = tmp.path().join("straight");
    let a = args(&straight);
    run_to_end(&a.iter().map(String::as_str).collect::<Vec<_>>());

    let interrupted = tmp.path().join("interrupted");
    let b = args(&interrupted);
    let mut child = Command::new(env!("CARGO_BIN_EXE_distill")).args(&b).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let checkpoint = interrupted.join("stage-1-prediction/checkpoint.safetensors");
    let started = Instant::now();
    while !checkpoint.exists() && started.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL: no chance to clean up, as when a machine dies.
    Command::new("kill").args(["-9", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
    assert!(!interrupted.join("stage-1-prediction/done.json").exists(), "the run was killed before it finished");
    let saved = distill_core::weights::Checkpoint::open(&checkpoint).unwrap().metadata().get("state").cloned().unwrap();
    let saved_seconds = serde_json::from_str::<serde_json::Value>(&saved).unwrap()["seconds"].as_f64().unwrap();
    assert!(saved_seconds > 0.0, "the checkpoint keeps the training time so far: {saved}");
    run_to_end(&b.iter().map(String::as_str).collect::<Vec<_>>());
    // The report counts the first sitting too.
    let report: serde_json::Value = distill_core::io::read_json(&interrupted.join("report.json")).unwrap();
    assert!(report["stages"][0]["seconds"].as_f64().unwrap() > saved_seconds, "{report}");

    let weights = |dir: &Path| std::fs::read(dir.join("student/model.safetensors")).unwrap();
    assert!(weights(&straight) == weights(&interrupted), "resumed weights differ from the uninterrupted run's");
    let log = std::fs::read_to_string(interrupted.join("stage-1-prediction/metrics.jsonl")).unwrap();
    assert!(log.lines().filter(|l| l.contains("\"step\":1,")).count() == 1, "the resumed run did not start over");
}

#[test]
fn a_nan_loss_stops_the_run_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher = tmp.path().join("teacher");
    tiny_qa_bert(&teacher, 2, 32, 4, 7);
    // Poison the QA head's bias: its logits, and so the loss, become NaN.
    let weights = teacher.join("model.safetensors");
    let ckpt = distill_core::weights::Checkpoint::open(&weights).unwrap();
    let mut tensors = std::collections::BTreeMap::new();
    for name in ckpt.names() {
        let (shape, mut values) = ckpt.tensor_f32(&name).unwrap();
        if name == "qa_outputs.bias" {
            values[0] = f32::NAN;
        }
        tensors.insert(name, (shape, values));
    }
    drop(ckpt);
    distill_core::weights::write_safetensors(&weights, &tensors, None).unwrap();
    let output = tmp.path().join("out");
    let out = distill(&["--teacher", teacher.to_str().unwrap(), "--train", &squad("sample-v2.0.json"), "--output", output.to_str().unwrap(), "--student-layers", "1", "--max-seq-len", "64", "--doc-stride", "32", "--max-query-length", "32"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = text(&out);
    assert!(msg.contains("loss became NaN at step 1") && msg.contains("last good checkpoint") && !msg.contains("panicked"), "{msg}");
    assert!(!output.join("stage-1-prediction/done.json").exists());
}

#[test]
fn multiple_teachers_accumulation_and_early_stopping() {
    let tmp = tempfile::tempdir().unwrap();
    let (t1, t2) = (tmp.path().join("t1"), tmp.path().join("t2"));
    tiny_qa_bert(&t1, 2, 32, 4, 8);
    tiny_qa_bert(&t2, 2, 32, 4, 9);
    let output = tmp.path().join("out");
    // A learning rate of zero never improves the dev score: early stopping after 2 evaluations.
    let out = distill(&[
        "--teacher", t1.to_str().unwrap(), "--extra-teacher", t2.to_str().unwrap(), "--train", &squad("sample-v2.0.json"), "--dev", &squad("tiny-v2.0.json"),
        "--output", output.to_str().unwrap(), "--student-layers", "1", "--max-seq-len", "64", "--doc-stride", "32", "--max-query-length", "32", "--batch-size", "2", "--grad-accum", "2",
        "--epochs", "20", "--learning-rate", "0", "--eval-every", "1", "--patience", "2",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(text(&out).matches("teacher logits computed into").count(), 2, "{}", text(&out));
    let done: serde_json::Value = distill_core::io::read_json(&output.join("stage-1-prediction/done.json")).unwrap();
    assert_eq!(done["stopped_early"], true, "{done}");
    assert_eq!(done["steps"], 3, "best at step 1, then two evaluations without improvement: {done}");
    assert!(output.join("stage-1-prediction/best/model.safetensors").is_file());
}

#[test]
fn grouping_by_length_changes_the_batches_and_is_part_of_a_checkpoints_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher = tmp.path().join("teacher");
    tiny_qa_bert(&teacher, 2, 32, 4, 10);
    let train = squad("train-v2.0-10articles.json");
    let cache = tmp.path().join("cache");
    let args = |out: &Path, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["--teacher", teacher.to_str().unwrap(), "--train", &train, "--output", out.to_str().unwrap(), "--student-layers", "1", "--max-seq-len", "96", "--doc-stride", "64", "--batch-size", "8", "--max-steps", "2", "--seed", "3", "--cache-dir", cache.to_str().unwrap()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let (plain, grouped) = (tmp.path().join("plain"), tmp.path().join("grouped"));
    run_to_end(&args(&plain, &[]).iter().map(String::as_str).collect::<Vec<_>>());
    run_to_end(&args(&grouped, &["--group-by-length"]).iter().map(String::as_str).collect::<Vec<_>>());
    let resolved = |dir: &Path| -> serde_json::Value { distill_core::io::read_json(&dir.join("run-config.json")).unwrap() };
    assert_eq!(resolved(&grouped)["train_config"]["group_by_length"], true);
    // Off, the setting is left out, so checkpoints of earlier versions keep their fingerprint.
    assert!(resolved(&plain)["train_config"].get("group_by_length").is_none(), "{}", resolved(&plain));
    let weights = |dir: &Path| std::fs::read(dir.join("student/model.safetensors")).unwrap();
    assert!(weights(&plain) != weights(&grouped), "the grouped run trained on the same batches");
    // Each run's log opens with the padding its batching costs: the same tokens, fewer positions.
    let padding = |dir: &Path| -> (u64, u64) {
        let log = std::fs::read_to_string(dir.join("stage-1-prediction/metrics.jsonl")).unwrap();
        let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
        (first["epoch_tokens"].as_u64().unwrap(), first["epoch_padded_tokens"].as_u64().unwrap())
    };
    let ((tokens, plain_padded), (grouped_tokens, grouped_padded)) = (padding(&plain), padding(&grouped));
    assert_eq!(tokens, grouped_tokens);
    assert!(tokens <= grouped_padded && grouped_padded < plain_padded, "{tokens} tokens: {grouped_padded} grouped, {plain_padded} not");

    // A checkpoint of a grouped run is not resumed by an ungrouped one: its batches would differ.
    std::fs::remove_file(grouped.join("stage-1-prediction/done.json")).unwrap();
    let out = distill(&args(&grouped, &[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!out.status.success() && text(&out).contains("other settings or data"), "{}", text(&out));
}

#[test]
fn copy_layers_chooses_the_teacher_layers_a_student_starts_as() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher = tmp.path().join("teacher");
    tiny_qa_bert(&teacher, 3, 32, 4, 12);
    // One update at learning rate 0 changes nothing, so the exported student is the student as built.
    let train = squad("tiny-v2.0.json");
    let run = |name: &str, extra: &[&str]| -> (Output, std::path::PathBuf) {
        let output = tmp.path().join(name);
        let mut args = vec!["--strategy", "finetune", "--teacher", teacher.to_str().unwrap(), "--train", &train];
        args.extend(["--max-seq-len", "64", "--doc-stride", "32", "--max-query-length", "32", "--max-steps", "1", "--learning-rate", "0", "--weight-decay", "0", "--output", output.to_str().unwrap()]);
        args.extend(extra);
        (distill(&args), output)
    };
    let report = |dir: &Path| -> serde_json::Value { distill_core::io::read_json(&dir.join("report.json")).unwrap() };

    let (out, copied) = run("copied", &["--copy-layers", "2,3"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(report(&copied)["copied_layers"], serde_json::json!([2, 3]));
    let teacher_weights = distill_tests::read_tensors(&teacher.join("model.safetensors"));
    let student_weights = distill_tests::read_tensors(&copied.join("student/model.safetensors"));
    let mut layer_tensors = 0;
    for (name, weights) in &student_weights {
        // Student layer i (from 0) is teacher layer [2, 3][i] (from 1); embeddings and head are the teacher's.
        let teacher_name = match name.split_once("encoder.layer.") {
            Some((prefix, rest)) => {
                let (index, suffix) = rest.split_once('.').unwrap();
                layer_tensors += 1;
                format!("{prefix}encoder.layer.{}.{suffix}", [2, 3][index.parse::<usize>().unwrap()] - 1)
            }
            None => name.clone(),
        };
        assert_eq!(Some(weights), teacher_weights.get(&teacher_name), "{name} is not the teacher's {teacher_name}");
    }
    assert!(layer_tensors > 0 && student_weights.len() < teacher_weights.len());

    // --student-intermediate-size narrows each copied layer's feed-forward block: the student's
    // inner neurons are some of its teacher layer's, in the teacher's order, with their weights,
    // whether ranked by weight, by activations or by the loss on the training windows.
    let tensor = |weights: &std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)>, layer: usize, suffix: &str| {
        weights.iter().find(|(n, _)| n.ends_with(&format!("encoder.layer.{layer}.{suffix}"))).map(|(_, t)| t.clone()).unwrap()
    };
    let kept_neurons = |narrowed: &Path| -> Vec<Vec<usize>> {
        let config: serde_json::Value = distill_core::io::read_json(&narrowed.join("student/config.json")).unwrap();
        assert_eq!(config["intermediate_size"], 20);
        let narrowed_weights = distill_tests::read_tensors(&narrowed.join("student/model.safetensors"));
        let mut kept_per_layer = Vec::new();
        for (student_layer, teacher_layer) in [(0, 1), (1, 2)] {
            let (shape, rows) = tensor(&narrowed_weights, student_layer, "intermediate.dense.weight");
            let (_, teacher_rows) = tensor(&teacher_weights, teacher_layer, "intermediate.dense.weight");
            assert_eq!(shape, [20, 32]);
            // Each student row found among the teacher's, at increasing indices.
            let kept: Vec<usize> = rows.chunks(32).map(|r| teacher_rows.chunks(32).position(|t| t == r).expect("a teacher row")).collect();
            assert!(kept.windows(2).all(|w| w[0] < w[1]), "{kept:?}");
            let (shape, columns) = tensor(&narrowed_weights, student_layer, "output.dense.weight");
            let (_, teacher_columns) = tensor(&teacher_weights, teacher_layer, "output.dense.weight");
            assert_eq!(shape, [32, 20]);
            for (k, &j) in kept.iter().enumerate() {
                assert!((0..32).all(|o| columns[o * 20 + k] == teacher_columns[o * 64 + j]), "output column {k} is not the teacher's {j}");
            }
            assert_eq!(tensor(&narrowed_weights, student_layer, "attention.self.query.weight"), tensor(&teacher_weights, teacher_layer, "attention.self.query.weight"));
            kept_per_layer.push(kept);
        }
        kept_per_layer
    };
    let (out, narrowed) = run("narrowed", &["--copy-layers", "2,3", "--student-intermediate-size", "20"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("keeps 20 of its 64 neurons, ranked by weight"), "{}", text(&out));
    let (out, by_activations) = run("narrowed-by-activations", &["--copy-layers", "2,3", "--student-intermediate-size", "20", "--neuron-importance", "activations"]);
    assert!(out.status.success() && text(&out).contains("keeps 20 of its 64 neurons, ranked by activations on"), "{}", text(&out));
    let (out, by_loss) = run("narrowed-by-taylor", &["--copy-layers", "2,3", "--student-intermediate-size", "20", "--neuron-importance", "taylor"]);
    assert!(out.status.success() && text(&out).contains("keeps 20 of its 64 neurons, ranked by the loss's gradient (Taylor) on"), "{}", text(&out));
    // The three rankings are different measures, and on this random teacher they pick differently.
    let (by_weight, by_activations, by_loss) = (kept_neurons(&narrowed), kept_neurons(&by_activations), kept_neurons(&by_loss));
    assert!(by_weight != by_activations && by_loss != by_weight && by_loss != by_activations, "{by_loss:?}");

    // Without it, half the teacher's layers from the first: 3 -> 1 copies layer 1.
    let (out, default) = run("default", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(report(&default)["copied_layers"], serde_json::json!([1]));

    for (extra, message) in [
        (&["--copy-layers", "2,4"][..], "teacher layer 4 does not exist (layers 1..=3)"),
        (&["--copy-layers", "3,2"][..], "layers must increase (2 after 3)"),
        (&["--copy-layers", "1,2", "--student-layers", "3"][..], "student_layers is 3 but copy_layers names 2 layers"),
        (&["--copy-layers", "1", "--random-student"][..], "leave out --student and --random-student"),
        (&["--student-intermediate-size", "65"][..], "student_intermediate_size 65: expected 1..=64"),
        (&["--neuron-importance", "activations"][..], "neuron_importance ranks the neurons student_intermediate_size keeps, and that is not set"),
        (&["--student-intermediate-size", "20", "--neuron-importance", "gradients"][..], "unknown neuron importance \"gradients\": expected weights, activations or taylor"),
    ] {
        let (out, dir) = run("refused", extra);
        assert!(!out.status.success() && text(&out).contains(message), "{extra:?}: {}", text(&out));
        assert!(!dir.join("report.json").exists());
    }
}

#[test]
fn questions_without_labels_are_refused_before_writing_where_labels_are_read_and_taught_by_the_teacher_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher = tmp.path().join("teacher");
    tiny_qa_bert(&teacher, 2, 32, 4, 4);
    // One labelled question and one as unlabelled-v2.0.json has them: no answers, no is_impossible.
    let unlabelled = tmp.path().join("with-unlabelled.json");
    let squad_json = r#"{"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": "My name is Carla and I live in Berlin.", "qas": [
        {"id": "labelled-1", "question": "Who lives in Berlin?", "answers": [{"text": "Carla", "answer_start": 11}], "is_impossible": false},
        {"id": "unlabelled-1", "question": "Where does Carla live?", "answers": []}]}]}]}"#;
    std::fs::write(&unlabelled, squad_json).unwrap();
    let (file, labelled) = (unlabelled.to_str().unwrap(), squad("tiny-v2.0.json"));
    let run = |name: &str, extra: &[&str]| -> (Output, std::path::PathBuf) {
        let output = tmp.path().join(name);
        let mut args = vec!["--teacher", teacher.to_str().unwrap(), "--student-layers", "1", "--output", output.to_str().unwrap(), "--max-steps", "1", "--epochs", "1", "--intermediate-epochs", "1", "--max-seq-len", "64", "--doc-stride", "32", "--max-query-length", "32", "--batch-size", "4"];
        args.extend_from_slice(extra);
        (distill(&args), output)
    };
    let refused: [(&str, Vec<&str>); 4] = [
        ("finetune", vec!["--strategy", "finetune", "--train", file]),
        ("prediction-w0.5", vec!["--strategy", "prediction", "--train", file, "--distill-weight", "0.5"]),
        ("joint-w0.5", vec!["--strategy", "intermediate", "--train", file, "--intermediate-prediction-weight", "0.5", "--distill-weight", "0.5"]),
        ("recipe-intermediate-train", vec!["--strategy", "tinybert", "--train", &labelled, "--intermediate-train", file, "--intermediate-prediction-weight", "0.5", "--distill-weight", "0.5"]),
    ];
    for (name, extra) in refused {
        let (out, output) = run(name, &extra);
        let message = text(&out);
        let named = message.contains("with-unlabelled.json") && message.contains("question unlabelled-1") && message.contains("1 questions have no answers");
        assert!(!out.status.success() && named, "{name}: {message}");
        assert!(!output.exists(), "{name}: a refused run leaves no output");
    }
    // Where the teacher labels every window (w 1), or nothing reads labels (the hidden states
    // alone; a recipe started after its task-intermediate stage), the same file trains.
    for (name, extra) in [
        ("prediction-w1", vec!["--strategy", "prediction", "--train", file, "--distill-weight", "1"]),
        ("recipe-from-stage-3", vec!["--strategy", "tinybert", "--start-stage", "3", "--train", &labelled, "--intermediate-train", file, "--intermediate-prediction-weight", "0.5", "--distill-weight", "0.5"]),
        ("joint-w1", vec!["--strategy", "intermediate", "--train", file, "--intermediate-prediction-weight", "0.5", "--distill-weight", "1"]),
        ("hidden-only", vec!["--strategy", "intermediate", "--train", file]),
    ] {
        let (out, output) = run(name, &extra);
        assert!(out.status.success(), "{name}: {}", text(&out));
        assert!(output.join("student").join("model.safetensors").exists(), "{name}");
    }
}
