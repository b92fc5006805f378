//! The Vulkan backend of a `--features vulkan` build (`DISTILL_DEVICE=vulkan`) against
//! transformers and against the CPU backend of the same binary: the parity fixtures within the
//! CPU's tolerance, 5 updates of QA fine-tuning and of prediction-layer distillation with dropout
//! off at the CPU's losses within 1e-4 relative, a checkpoint written on one backend resumed on
//! the other, and mixed precision. scripts/test.sh runs it on lavapipe, Mesa's CPU Vulkan driver.
//! Where no Vulkan device starts, those tests say so and pass, unless `DISTILL_REQUIRE_VULKAN=1`
//! (CI) makes that a failure. And without a driver, a run asked for Vulkan falls back to the CPU
//! and says why.
#![cfg(feature = "vulkan")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use distill_tests::{fixture, max_abs_diff, read_tensors, shared, tiny_qa_bert_without_dropout};

fn distill(device: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_distill")).env("DISTILL_DEVICE", device).args(args).output().expect("the distill binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Whether a Vulkan device starts here: a forward pass asked to run on it records the device it
/// ran on (the CPU, where the Vulkan device did not start).
fn vulkan_starts(tmp: &Path) -> bool {
    let output = tmp.join("probe.safetensors");
    let model = fixture("bert");
    let out = Command::new(env!("CARGO_BIN_EXE_distill"))
        .env("DISTILL_DEVICE", "vulkan")
        .env("DISTILL_VERBOSE", "1")
        .args(["forward", "--model", path(&model), "--input", path(&model.join("inputs.json")), "--output", path(&output)])
        .output()
        .unwrap();
    assert!(out.status.success(), "a forward pass asked for Vulkan failed: {}", text(&out));
    let checkpoint = distill_core::weights::Checkpoint::open(&output).unwrap();
    if checkpoint.metadata().get("device").map(String::as_str) == Some("vulkan") {
        return true;
    }
    assert!(std::env::var("DISTILL_REQUIRE_VULKAN").as_deref() != Ok("1"), "DISTILL_REQUIRE_VULKAN=1, but no Vulkan device started: {}", text(&out));
    eprintln!("note: no Vulkan device starts here (scripts/test.sh installs Mesa's lavapipe where it can); skipped");
    false
}

/// The losses of a run's first stage, one per update, from its metrics.jsonl.
fn losses(output: &Path) -> Vec<f64> {
    let stage = std::fs::read_dir(output).unwrap().map(|e| e.unwrap().path()).find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("stage-1-")).expect("a stage directory");
    let log = std::fs::read_to_string(stage.join("metrics.jsonl")).unwrap();
    log.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).filter_map(|v| v["loss"].as_f64()).collect()
}

fn assert_same_losses(cpu: &[f64], vulkan: &[f64], what: &str) {
    assert_eq!(cpu.len(), vulkan.len(), "{what}: update counts");
    for (step, (c, v)) in cpu.iter().zip(vulkan).enumerate() {
        let relative = (c - v).abs() / c.abs();
        assert!(relative <= 1e-4, "{what}: update {} loss {v} on Vulkan against {c} on the CPU ({relative:.1e} relative)", step + 1);
    }
}

struct Setup {
    tmp: tempfile::TempDir,
    teacher: PathBuf,
    train: String,
}

fn setup() -> Option<Setup> {
    let tmp = tempfile::tempdir().unwrap();
    if !vulkan_starts(tmp.path()) {
        return None;
    }
    let teacher = tmp.path().join("teacher");
    tiny_qa_bert_without_dropout(&teacher, 2, 32, 4, 21);
    // A slice of real SQuAD (2 paragraphs, 12 questions): lavapipe runs each kernel on the CPU,
    // and the teacher's logits are computed over the whole training file.
    let mut squad: serde_json::Value = distill_core::io::read_json(&shared().join("data/squad/train-v2.0-10articles.json")).unwrap();
    let article = &mut squad["data"][0];
    article["paragraphs"].as_array_mut().unwrap().truncate(2);
    for paragraph in article["paragraphs"].as_array_mut().unwrap() {
        paragraph["qas"].as_array_mut().unwrap().truncate(6);
    }
    squad["data"].as_array_mut().unwrap().truncate(1);
    let train = tmp.path().join("train.json");
    std::fs::write(&train, squad.to_string()).unwrap();
    Some(Setup { tmp, teacher, train: path(&train).to_string() })
}

/// The flags every run here shares: the data, `steps` updates over at most `epochs` epochs.
fn common<'a>(s: &'a Setup, output: &'a Path, steps: &'a str, epochs: &'a str) -> Vec<&'a str> {
    vec!["--train", &s.train, "--output", path(output), "--max-seq-len", "128", "--doc-stride", "64", "--batch-size", "8", "--epochs", epochs, "--max-steps", steps, "--seed", "5", "--learning-rate", "1e-3"]
}

/// The parity fixtures of tests/parity.rs (random checkpoints of each architecture and head, with
/// the activations transformers computed) through `distill forward` on Vulkan: every hidden
/// state, raw attention score, probability and head output within the CPU backend's 1e-4.
#[test]
fn the_parity_fixtures_match_transformers_on_vulkan() {
    let tmp = tempfile::tempdir().unwrap();
    if !vulkan_starts(tmp.path()) {
        return;
    }
    for name in ["bert", "bert-qa", "bert-cls", "bert-tok", "bert-mlm", "roberta-cls", "roberta-tok", "distilbert-qa", "distilbert-tok", "tinybert"] {
        let dir = fixture(name);
        let output = tmp.path().join(format!("{name}.safetensors"));
        let out = distill("vulkan", &["forward", "--model", path(&dir), "--input", path(&dir.join("inputs.json")), "--output", path(&output)]);
        assert!(out.status.success(), "{name}: {}", text(&out));
        let (worst, diff) = max_abs_diff(&read_tensors(&dir.join("reference.safetensors")), &read_tensors(&output));
        println!("{name} on Vulkan: max |diff| {diff:.3e} (at {worst})");
        assert!(diff <= 1e-4, "{name}: `{worst}` differs from transformers by {diff:e} on Vulkan");
    }
}

#[test]
fn five_updates_on_vulkan_give_the_losses_of_the_cpu() {
    let Some(s) = setup() else { return };
    let teacher = path(&s.teacher);
    for (strategy, model) in [("finetune", vec!["--student", teacher]), ("prediction", vec!["--teacher", teacher, "--student-layers", "1"])] {
        let run = |device: &str| {
            let output = s.tmp.path().join(format!("{strategy}-{device}"));
            let args = [&["--strategy", strategy][..], &model, &common(&s, &output, "5", "4")].concat();
            let out = distill(device, &args);
            assert!(out.status.success(), "{strategy} on {device}: {}", text(&out));
            losses(&output)
        };
        let (cpu, vulkan) = (run("cpu"), run("vulkan"));
        assert_eq!(cpu.len(), 5, "{strategy}: {cpu:?}");
        assert!(cpu.windows(2).any(|w| w[0] != w[1]), "{strategy}: the losses move: {cpu:?}");
        assert_same_losses(&cpu, &vulkan, strategy);
    }
}

/// Mixed precision on Vulkan where burn computes in the type there: 50 updates of QA fine-tuning
/// in f16 (with its loss scaling) give the CPU backend's f16 losses within 1e-3 relative, and a
/// half type the device lacks (bf16 on lavapipe) is refused with a message naming the flag, never
/// a panic.
#[test]
fn half_precision_on_vulkan_follows_the_cpu_or_is_refused() {
    let Some(s) = setup() else { return };
    let run = |device: &str, precision: &str| {
        let output = s.tmp.path().join(format!("{precision}-{device}"));
        let mut args = vec!["--strategy", "finetune", "--student", path(&s.teacher), "--precision", precision];
        args.extend(common(&s, &output, "50", "20"));
        (distill(device, &args), output)
    };
    let reference = |precision: &str| {
        let (out, output) = run("cpu", precision);
        assert!(out.status.success(), "{}", text(&out));
        losses(&output)
    };
    let (f32_cpu, f16_cpu) = (reference("f32"), reference("f16"));
    assert_eq!((f32_cpu.len(), f16_cpu.len()), (50, 50));
    for precision in ["f16", "bf16"] {
        let (out, output) = run("vulkan", precision);
        if !out.status.success() {
            let message = text(&out);
            assert!(out.status.code() == Some(1) && message.contains(&format!("--precision {precision}: the vulkan device does not compute in {precision}")), "{message}");
            assert_ne!(precision, "f16", "lavapipe computes in f16: {message}");
            continue;
        }
        let half = losses(&output);
        let worst = |reference: &[f64]| reference.iter().zip(&half).map(|(r, h)| (r - h).abs() / r).fold(0.0, f64::max);
        println!("{precision} on Vulkan: largest relative loss difference over 50 updates {:.2e} to the CPU's {precision}, {:.2e} to its f32", worst(&f16_cpu), worst(&f32_cpu));
        assert_eq!(half.len(), 50, "{precision}");
        if precision == "f16" {
            assert!(worst(&f16_cpu) <= 1e-3, "f16 on Vulkan: {:.2e} from the CPU's f16 losses", worst(&f16_cpu));
        }
    }
}

/// A run stopped (kill -9) after its first checkpoint on one backend and resumed on the other
/// ends with the losses of an uninterrupted run on the first, within 1e-4 relative.
#[test]
fn a_checkpoint_written_on_one_backend_resumes_on_the_other() {
    let Some(s) = setup() else { return };
    let teacher = path(&s.teacher);
    for (first, second) in [("cpu", "vulkan"), ("vulkan", "cpu")] {
        let straight = s.tmp.path().join(format!("straight-{first}"));
        let args = |output: &Path| [&["--teacher", teacher, "--student-layers", "1", "--save-every", "2"][..], &common(&s, output, "10", "4")].concat().iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let out = distill(first, &args(&straight).iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "{}", text(&out));

        let moved = s.tmp.path().join(format!("from-{first}-to-{second}"));
        let moved_args = args(&moved);
        let mut child = Command::new(env!("CARGO_BIN_EXE_distill")).env("DISTILL_DEVICE", first).args(&moved_args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let checkpoint = moved.join("stage-1-prediction/checkpoint.safetensors");
        let started = Instant::now();
        while !checkpoint.exists() && started.elapsed() < Duration::from_secs(600) {
            std::thread::sleep(Duration::from_millis(20));
        }
        Command::new("kill").args(["-9", &child.id().to_string()]).status().unwrap();
        child.wait().unwrap();
        assert!(!moved.join("stage-1-prediction/done.json").exists(), "killed before the end");
        let out = distill(second, &moved_args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "resuming on {second}: {}", text(&out));
        let log = std::fs::read_to_string(moved.join("stage-1-prediction/metrics.jsonl")).unwrap();
        assert_eq!(log.lines().filter(|l| l.contains("\"step\":1,")).count(), 1, "the run on {second} started over instead of resuming");
        let resumed = losses(&moved);
        // Updates logged before the kill and not yet checkpointed are logged again on resume.
        let mut by_step = std::collections::BTreeMap::new();
        for line in log.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()) {
            if let (Some(step), Some(loss)) = (line["step"].as_u64(), line["loss"].as_f64()) {
                by_step.insert(step, loss);
            }
        }
        assert!(resumed.len() >= 10, "{resumed:?}");
        assert_same_losses(&losses(&straight), &by_step.into_values().collect::<Vec<_>>(), &format!("{first} then {second}"));
    }
}

/// With no Vulkan driver to find (the loader pointed at a file that does not exist), a run asked
/// for Vulkan goes on on the CPU, warns once, and shows the runtime's own error under
/// `DISTILL_VERBOSE=1` (without it, says how to see it).
#[test]
fn a_vulkan_device_that_does_not_start_falls_back_to_the_cpu_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture("bert");
    for verbose in ["1", ""] {
        let output = tmp.path().join(format!("out{verbose}.safetensors"));
        let out = Command::new(env!("CARGO_BIN_EXE_distill"))
            .env("DISTILL_DEVICE", "vulkan")
            .env("DISTILL_VERBOSE", verbose)
            .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
            .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
            .args(["forward", "--model", path(&model), "--input", path(&model.join("inputs.json")), "--output", path(&output)])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let device = distill_core::weights::Checkpoint::open(&output).unwrap().metadata().get("device").cloned();
        assert_eq!(device.as_deref(), Some("flex"), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.matches("no vulkan device could be started").count(), 1, "{stderr}");
        if verbose == "1" {
            assert!(stderr.contains("vulkan start-up error: ") && stderr.contains("adapter"), "the runtime's message: {stderr}");
        } else {
            assert!(stderr.contains("set DISTILL_VERBOSE=1") && !stderr.contains("start-up error:"), "{stderr}");
        }
    }
}
