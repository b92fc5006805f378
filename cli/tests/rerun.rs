//! A rerun into an existing output directory with other settings, a teacher or data of its
//! own, odd flags and mistyped paths: each is refused with a message that names what differs or
//! is wrong, before anything is written, or (with --no-resume) starts over cleanly. Never a
//! silently reused stage, and never a panic.

use std::path::Path;
use std::process::{Command, Output};

use distill_tests::{shared, tiny_classifier_bert, tiny_qa_bert};

fn distill_in(dir: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_distill"));
    cmd.args(args);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    cmd.output().expect("the distill binary runs")
}

fn distill(args: &[&str]) -> Output {
    distill_in(None, args)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn refused(o: &Output, expected: &[&str]) {
    let t = text(o);
    assert!(!o.status.success(), "accepted: {t}");
    assert!(!t.contains("panicked"), "a panic: {t}");
    for e in expected {
        assert!(t.contains(e), "expected {e:?} in: {t}");
    }
}

fn squad(name: &str) -> String {
    shared().join("data/squad").join(name).to_str().unwrap().to_string()
}

#[test]
fn a_rerun_with_other_settings_teacher_or_data_is_refused_naming_them_and_no_resume_starts_over() {
    let tmp = tempfile::tempdir().unwrap();
    let (teacher, other_teacher) = (tmp.path().join("teacher"), tmp.path().join("other"));
    tiny_qa_bert(&teacher, 2, 32, 4, 21);
    tiny_qa_bert(&other_teacher, 2, 32, 4, 22);
    let output = tmp.path().join("out");
    let run = |teacher: &Path, train: &str, extra: &[&str]| {
        let mut args = vec!["--teacher", teacher.to_str().unwrap(), "--train", train, "--output", output.to_str().unwrap(), "--student-layers", "1", "--max-seq-len", "96", "--doc-stride", "64", "--batch-size", "4", "--max-steps", "3", "--seed", "3"];
        args.extend_from_slice(extra);
        distill(&args)
    };
    let tiny = squad("tiny-v2.0.json");
    let out = run(&teacher, &tiny, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let config_before = std::fs::read(output.join("run-config.json")).unwrap();
    let done: serde_json::Value = distill_core::io::read_json(&output.join("stage-1-prediction/done.json")).unwrap();
    assert!(done["fingerprint"]["teachers"].is_string() && done["fingerprint"]["examples"].is_string(), "{done}");

    // The same settings: the finished stage is reused.
    let out = run(&teacher, &tiny, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = distill_core::io::read_json(&output.join("report.json")).unwrap();
    assert_eq!(report["stages"][0]["skipped"], true, "{report}");

    // Other settings, another teacher, other data: refused, naming the field, nothing rewritten.
    refused(&run(&teacher, &tiny, &["--temperature", "4"]), &["stage 1 (prediction)", "was finished with other settings", "loss:", "\"temperature\":4.0", "--no-resume"]);
    refused(&run(&other_teacher, &tiny, &[]), &["teachers:"]);
    refused(&run(&teacher, &squad("sample-v2.0.json"), &[]), &["data:"]);
    refused(&run(&teacher, &tiny, &["--epochs", "3"]), &["train_config:"]);
    assert_eq!(std::fs::read(output.join("run-config.json")).unwrap(), config_before, "a refused rerun rewrote run-config.json");

    // A checkpoint left by an unfinished stage is held to the same settings before anything runs.
    std::fs::remove_file(output.join("stage-1-prediction/done.json")).unwrap();
    refused(&run(&other_teacher, &tiny, &[]), &["was checkpointed with other settings", "teachers:"]);

    // --no-resume starts over: a fresh metrics log, the new settings recorded.
    let out = run(&teacher, &tiny, &["--temperature", "4", "--no-resume"]);
    assert!(out.status.success(), "{}", text(&out));
    let log = std::fs::read_to_string(output.join("stage-1-prediction/metrics.jsonl")).unwrap();
    assert_eq!(log.lines().filter(|l| l.contains("\"step\":1,")).count(), 1, "the log of the earlier run was kept: {log}");
    let config: serde_json::Value = distill_core::io::read_json(&output.join("run-config.json")).unwrap();
    assert_eq!(config["prediction"]["temperature"], 4.0);
    // And a rerun with the new settings reuses it.
    let out = run(&teacher, &tiny, &["--temperature", "4"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn lengths_and_sizes_past_what_a_model_or_batch_holds_are_refused_not_panicked_on() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher = tmp.path().join("teacher");
    tiny_qa_bert(&teacher, 2, 32, 4, 23);
    let t = teacher.to_str().unwrap();
    let output = tmp.path().join("out");
    let o = output.to_str().unwrap();
    let tiny = squad("tiny-v2.0.json");
    refused(&distill(&["--teacher", t, "--train", &tiny, "--output", o, "--max-seq-len", "1024"]), &["--max-seq-len is 1024, longer than the 512 positions of model"]);
    refused(&distill(&["bench", "--steps", "--teacher", t, "--student-layers", "1", "--batch", "0", "--iterations", "1"]), &["--batch is 0"]);
    refused(&distill(&["bench", "--steps", "--teacher", t, "--student-layers", "1", "--seq", "1024", "--batch", "1", "--iterations", "1"]), &["--seq is 1024, longer than the 512 positions"]);
    refused(&distill(&["eval", "--model", t, "--data", &tiny, "--max-seq-len", "1024"]), &["--max-seq-len is 1024"]);
    refused(&distill(&["eval", "--model", t, "--data", &tiny, "--doc-stride", "0"]), &["--doc-stride (features.doc_stride) is 0"]);
    for (flags, expected) in [
        (vec!["--batch-size", "0"], "(--batch-size) is 0"),
        (vec!["--grad-accum", "0"], "(--grad-accum) is 0"),
        (vec!["--epochs", "0"], "(--epochs) is 0"),
        (vec!["--max-steps", "0"], "(--max-steps) is 0"),
        (vec!["--doc-stride", "128", "--max-seq-len", "128"], "--doc-stride (features.doc_stride) is 128"),
        (vec!["--max-query-length", "0"], "features.max_query_length (--max-query-length) is 0"),
        (vec!["--learning-rate", "NaN"], "(--learning-rate) is NaN"),
        (vec!["--learning-rate=-1"], "(--learning-rate) is -1"),
        (vec!["--warmup-ratio", "2"], "(--warmup-ratio) is 2"),
        (vec!["--attention-weight=-1"], "(--attention-weight) is -1"),
        (vec!["--temperature", "inf"], "(--temperature) is inf"),
        (vec!["--max-grad-norm=-1"], "(--max-grad-norm) is -1"),
    ] {
        let mut args = vec!["--teacher", t, "--train", &tiny, "--output", o];
        args.extend(flags);
        refused(&distill(&args), &[expected]);
    }
    // In a config file, a non-positive clipping norm is refused too (the CLI reads 0 as off).
    let config = tmp.path().join("run.toml");
    std::fs::write(&config, "[train_config.optimizer]\nmax_grad_norm = -1.0\n").unwrap();
    refused(&distill(&["--config", config.to_str().unwrap(), "--teacher", t, "--train", &tiny, "--output", o]), &["train_config.optimizer.max_grad_norm (--max-grad-norm) is -1"]);
    assert!(!output.exists(), "a refused run wrote {}", output.display());
}

#[test]
fn labels_that_do_not_match_the_teachers_id2label_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher = tmp.path().join("teacher");
    tiny_classifier_bert(&teacher, 1, 16, &["neg", "pos"], 24);
    let train = tmp.path().join("train.tsv");
    std::fs::write(&train, "text\tlabel\ngood film\tpos\nbad film\tneg\nfine\tpos\n").unwrap();
    let output = tmp.path().join("out");
    let run = |labels: &str| {
        distill(&["--teacher", teacher.to_str().unwrap(), "--train", train.to_str().unwrap(), "--output", output.to_str().unwrap(), "--student-layers", "1", "--max-seq-len", "32", "--max-steps", "1", "--labels", labels])
    };
    refused(&run("neg,pos,neutral"), &["do not match teacher", "[\"neg\", \"pos\"]", "--labels"]);
    refused(&run("pos,neg"), &["do not match teacher"]);
    assert!(!output.exists());
    let out = run("neg,pos");
    assert!(out.status.success(), "{}", text(&out));
    // A label the data has and the list lacks names the file and line.
    std::fs::write(&train, "text\tlabel\ngood film\tpos\nso-so\tmeh\n").unwrap();
    refused(&distill(&["--teacher", teacher.to_str().unwrap(), "--train", train.to_str().unwrap(), "--output", tmp.path().join("o2").to_str().unwrap(), "--student-layers", "1", "--max-seq-len", "32"]), &["train.tsv", "line 3", "\"meh\""]);
}

#[test]
fn a_mistyped_local_path_is_not_taken_for_a_hub_id() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("runs")).unwrap();
    let out = distill_in(Some(tmp.path()), &["--teacher", "runs/teacher", "--train", &squad("tiny-v2.0.json"), "--output", "out"]);
    refused(&out, &["runs/teacher", "no such model directory", "`runs` is a local directory", "the hub was not asked"]);
    // A name whose first part is no local directory is still a hub id: offline, the message says
    // that it is neither.
    let out = Command::new(env!("CARGO_BIN_EXE_distill"))
        .args(["--teacher", "nobody/nothing", "--train", &squad("tiny-v2.0.json"), "--output", "out"])
        .current_dir(tmp.path())
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HUB_CACHE", tmp.path().join("cache"))
        .output()
        .unwrap();
    refused(&out, &["nobody/nothing", "no such local directory, not in the hub cache"]);
}
