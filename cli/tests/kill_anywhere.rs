//! A 3-stage tinybert run killed with SIGKILL at seeded random moments (while loading, between
//! stages, while computing teacher logits, while training or exporting), then started again
//! each time until it finishes, ends with the same student bytes as a run never interrupted;
//! and after every kill each file the run has written is whole.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use distill_tests::{shared, tiny_qa_bert};

fn args(teacher: &Path, out: &Path, cache: &Path) -> Vec<String> {
    let squad = |name: &str| shared().join("data/squad").join(name).to_str().unwrap().to_string();
    [
        "--strategy", "tinybert", "--teacher", teacher.to_str().unwrap(), "--train", &squad("train-v2.0-10articles.json"), "--general-train", &squad("tiny-v2.0.json"),
        "--dev", &squad("tiny-v2.0.json"), "--eval-every", "4", "--output", out.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap(), "--student-layers", "1",
        "--max-seq-len", "96", "--doc-stride", "64", "--batch-size", "8", "--max-steps", "10", "--save-every", "2", "--seed", "5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// What the run had reached when it was killed: finished stages, and the checkpointed step of
/// the one under way.
fn reached(out: &Path) -> String {
    let mut parts = vec![];
    for stage in ["stage-1-general-intermediate", "stage-2-task-intermediate", "stage-3-prediction"] {
        let dir = out.join(stage);
        if dir.join("done.json").is_file() {
            parts.push(format!("{stage} done"));
        } else if let Ok(state) = distill_core::train::checkpoint::read_state(&dir.join("checkpoint.safetensors")) {
            parts.push(format!("{stage} at step {}", state.step));
            break;
        } else if dir.exists() {
            parts.push(format!("{stage} started"));
            break;
        } else {
            parts.push("loading".into());
            break;
        }
    }
    parts.join(", ")
}

/// Every JSON file parses, every safetensors file opens, every metrics line is whole.
fn assert_whole(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if path.is_dir() {
            assert_whole(&path);
        } else if name.ends_with(".json") {
            distill_core::io::read_json::<serde_json::Value>(&path).unwrap_or_else(|e| panic!("half-written: {e}"));
        } else if name.ends_with(".safetensors") {
            if let Err(e) = distill_core::weights::Checkpoint::open(&path) {
                panic!("half-written: {e}");
            }
        } else if name.ends_with(".jsonl") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.is_empty() || text.ends_with('\n'), "{}: a torn last line", path.display());
            text.lines().for_each(|l| drop(serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display()))));
        }
    }
}

#[test]
fn a_recipe_killed_at_random_moments_ends_with_the_uninterrupted_students_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher = tmp.path().join("teacher");
    tiny_qa_bert(&teacher, 2, 32, 4, 31);
    let straight = tmp.path().join("straight");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_distill")).args(args(&teacher, &straight, &tmp.path().join("cache-a"))).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let whole_run = started.elapsed();

    let interrupted = tmp.path().join("interrupted");
    let cache = tmp.path().join("cache-b");
    // Seeded moments, as fractions of an uninterrupted run, for as long as the run goes on.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut kills = vec![];
    for attempt in 0.. {
        assert!(attempt < 40, "the run never finished: {kills:?}");
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let fraction = 0.05 + (state % 1000) as f64 / 1000.0 * 0.6;
        let mut child = Command::new(env!("CARGO_BIN_EXE_distill")).args(args(&teacher, &interrupted, &cache)).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + whole_run.mul_f64(fraction);
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        match finished {
            Some(status) => {
                assert!(status.success(), "a restarted run failed after {kills:?}");
                break;
            }
            None => {
                Command::new("kill").args(["-9", &child.id().to_string()]).status().unwrap();
                child.wait().unwrap();
                kills.push(format!("{:.0} ms: {}", whole_run.mul_f64(fraction).as_secs_f64() * 1e3, if interrupted.exists() { reached(&interrupted) } else { "loading".into() }));
                if interrupted.exists() {
                    assert_whole(&interrupted);
                }
            }
        }
    }
    eprintln!("uninterrupted run {:.1} s; {} kills: {kills:#?}", whole_run.as_secs_f64(), kills.len());
    assert!(kills.len() >= 3, "too few kill points to mean anything: {kills:?}");
    let weights = |dir: &Path| std::fs::read(dir.join("student/model.safetensors")).unwrap();
    assert!(weights(&straight) == weights(&interrupted), "the student after {} kills differs from the uninterrupted run's: {kills:?}", kills.len());
    assert_whole(&interrupted);
}
