//! Saving back to Hugging Face layout: reloading in Rust gives identical outputs, and Python
//! transformers loads the saved models (with the class config.json names) and reproduces the
//! reference activations, and those of a student with narrowed feed-forward blocks.

use std::process::Command;

use distill_core::forward::forward_tensors;
use distill_core::inputs::TokenBatch;
use distill_core::pretrained::Pretrained;
use distill_core::registry::Registry;
use distill_core::strategy::student_init::{Ranking, prune_feed_forward};
use distill_core::weights::write_safetensors;
use distill_tests::{fixture, max_abs_diff, read_tensors, repo_root};

const FIXTURES: [&str; 9] = ["bert", "bert-qa", "bert-cls", "bert-mlm", "roberta-cls", "distilbert-qa", "bert-tok", "roberta-tok", "distilbert-tok"];

#[test]
fn saved_models_reload_identically_and_load_in_transformers() {
    let registry = Registry::builtin().unwrap();
    let device = distill_core::default_device();
    let out = tempfile::tempdir().unwrap();
    let mut python_args = Vec::new();
    for name in FIXTURES {
        let original = Pretrained::load(fixture(name).to_str().unwrap(), None, &registry, &device).unwrap();
        let saved_dir = out.path().join(name);
        original.save(&saved_dir).unwrap();
        let config: serde_json::Value = distill_core::io::read_json(&saved_dir.join("config.json")).unwrap();
        assert_eq!(config["model_type"], original.spec.export_model_type, "{name}");

        let reloaded = Pretrained::load(saved_dir.to_str().unwrap(), None, &registry, &device).unwrap();
        assert!(reloaded.unused_tensors.is_empty(), "{name}: {:?}", reloaded.unused_tensors);
        assert_eq!(reloaded.model.head(), original.model.head(), "{name}");
        let input: serde_json::Value = distill_core::io::read_json(&fixture(name).join("inputs.json")).unwrap();
        let batch = TokenBatch::from_json(&input, None, 512, "inputs.json").unwrap();
        let (worst, diff) = max_abs_diff(&forward_tensors(&original.model, &batch), &forward_tensors(&reloaded.model, &batch));
        assert_eq!(diff, 0.0, "{name}: reloaded `{worst}` differs by {diff}");
        let (_, diff) = max_abs_diff(&read_tensors(&fixture(name).join("reference.safetensors")), &forward_tensors(&reloaded.model, &batch));
        assert!(diff < 1e-4, "{name}");

        python_args.push(saved_dir);
        python_args.push(fixture(name));
    }
    // A student whose feed-forward blocks were narrowed (--student-intermediate-size) is a plain
    // checkpoint of a smaller intermediate_size: transformers must compute what distill does.
    let original = Pretrained::load(fixture("bert-qa").to_str().unwrap(), None, &registry, &device).unwrap();
    let narrowed = Pretrained { model: prune_feed_forward(original.model.clone(), 18, &Ranking::Weights).unwrap(), ..original };
    let saved_dir = out.path().join("bert-qa-narrowed");
    narrowed.save(&saved_dir).unwrap();
    let reference_dir = out.path().join("bert-qa-narrowed-reference");
    std::fs::create_dir_all(&reference_dir).unwrap();
    std::fs::copy(fixture("bert-qa").join("inputs.json"), reference_dir.join("inputs.json")).unwrap();
    let input: serde_json::Value = distill_core::io::read_json(&reference_dir.join("inputs.json")).unwrap();
    let batch = TokenBatch::from_json(&input, None, 512, "inputs.json").unwrap();
    write_safetensors(&reference_dir.join("reference.safetensors"), &forward_tensors(&narrowed.model, &batch), None).unwrap();
    let config: serde_json::Value = distill_core::io::read_json(&saved_dir.join("config.json")).unwrap();
    assert_eq!(config["intermediate_size"], 18);
    python_args.push(saved_dir);
    python_args.push(reference_dir);
    let output = Command::new("python3")
        .arg(repo_root().join("scripts").join("check_transformers_load.py"))
        .args(&python_args)
        .output()
        .expect("python3 must be installed (with torch and transformers: see README)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "transformers could not load the saved models or their outputs differ:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.lines().filter(|l| l.contains("max |diff|")).count(), FIXTURES.len() + 1);
}
