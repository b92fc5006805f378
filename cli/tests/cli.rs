//! The `distill` binary end to end: plugin listing, forward passes on fixtures and on the real
//! MiniLM checkpoint, and error exits on bad input.

use std::path::Path;
use std::process::{Command, Output};

use distill_tests::{fixture, max_abs_diff, minilm_dir, read_tensors};

fn distill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_distill")).args(args).output().expect("the distill binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn plugins_lists_the_four_builtin_architectures() {
    let out = distill(&["plugins"]);
    assert!(out.status.success(), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    for name in ["bert", "distilbert", "roberta", "tinybert"] {
        assert!(table.lines().any(|l| l.starts_with(name) && l.contains("built-in")), "{table}");
    }
    let out = distill(&["plugins", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["bert", "distilbert", "roberta", "tinybert"]);
    let tiny = &list[3];
    assert_eq!(tiny["family"], "bert");
    assert_eq!(tiny["origin"]["kind"], "builtin");
    assert_eq!((tiny["student"]["num_layers"].as_u64(), tiny["student"]["hidden_size"].as_u64()), (Some(4), Some(312)));
}

fn forward_matches(model: &Path, input: &Path, reference: &Path, extra: &[&str], tolerance: f32) {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.safetensors");
    let mut args = vec!["forward", "--model", model.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = distill(&args);
    assert!(out.status.success(), "{}", text(&out));
    let (worst, diff) = max_abs_diff(&read_tensors(reference), &read_tensors(&output));
    assert!(diff <= tolerance, "{worst}: {diff}");
}

#[test]
fn forward_writes_every_activation_of_a_qa_model() {
    let fx = fixture("bert-qa");
    forward_matches(&fx, &fx.join("inputs.json"), &fx.join("reference.safetensors"), &[], 1e-4);
    let fx = fixture("distilbert-qa");
    forward_matches(&fx, &fx.join("inputs.json"), &fx.join("reference.safetensors"), &["--plugin", "distilbert"], 1e-4);
}

#[test]
fn forward_on_minilm_tokenizes_question_context_pairs() {
    let fx = fixture("minilm");
    forward_matches(&minilm_dir(), &fx.join("inputs.json"), &fx.join("reference.safetensors"), &[], 2e-4);
}

#[test]
fn forward_records_the_device_it_ran_on_also_after_a_fallback() {
    // A comparison across backends (scripts/gpu-bench.sh) reads the device from the output, so a
    // backend that is missing, and replaced by the CPU, cannot pass for itself.
    let fx = fixture("bert-qa");
    let dir = tempfile::tempdir().unwrap();
    for requested in ["cpu", "nosuch"] {
        let output = dir.path().join(format!("{requested}.safetensors"));
        let out = Command::new(env!("CARGO_BIN_EXE_distill"))
            .env("DISTILL_DEVICE", requested)
            .args(["forward", "--model", fx.to_str().unwrap(), "--input", fx.join("inputs.json").to_str().unwrap()])
            .args(["--output", output.to_str().unwrap()])
            .output()
            .unwrap();
        let msg = text(&out);
        assert!(out.status.success(), "{msg}");
        assert_eq!(msg.contains("\"nosuch\" is not a backend of this build"), requested == "nosuch", "{msg}");
        assert!(msg.contains("bert on flex:"), "{msg}");
        let metadata = distill_core::weights::Checkpoint::open(&output).unwrap().metadata();
        assert_eq!(metadata.get("device").map(String::as_str), Some("flex"), "{metadata:?}");
        assert_eq!(metadata.get("plugin").map(String::as_str), Some("bert"), "{metadata:?}");
    }
}

#[test]
fn forward_rejects_bad_input_with_a_message_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ragged.json");
    std::fs::write(&input, r#"{"input_ids": [[1, 2, 3], [4]]}"#).unwrap();
    let output = dir.path().join("out.safetensors");
    let out = distill(&["forward", "--model", fixture("bert").to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let msg = text(&out);
    assert!(msg.contains("ragged.json") && msg.contains("input_ids[1]"), "{msg}");
    assert!(!msg.contains("panicked"), "{msg}");
    assert!(!output.exists());

    let out = distill(&["forward", "--model", "/no/such/dir", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("/no/such/dir"), "{}", text(&out));

    let out = distill(&["forward", "--plugin", "nosuch", "--model", fixture("bert").to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(text(&out).contains("nosuch") && text(&out).contains("known plugins"), "{}", text(&out));
}

#[test]
fn a_bad_value_in_a_flags_environment_variable_is_named_as_such() {
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_distill"));
        cmd.args(args).envs(env.iter().copied());
        cmd.output().unwrap()
    };
    let out = run(&[("DISTILL_EPOCHS", "abc")], &["--teacher", "t", "--train", "x", "--output", "o"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("environment variable DISTILL_EPOCHS (for --epochs)"), "{}", text(&out));
    // Typed on the command line, the flag is the one named.
    let out = run(&[], &["--teacher", "t", "--train", "x", "--output", "o", "--epochs", "abc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out).contains("environment variable") && text(&out).contains("--epochs"), "{}", text(&out));
    // A boolean's environment variable takes true or false.
    let out = run(&[("DISTILL_STRICT", "maybe")], &["--teacher", "t", "--train", "x", "--output", "o"]);
    assert!(text(&out).contains("environment variable DISTILL_STRICT (for --strict)"), "{}", text(&out));
}
