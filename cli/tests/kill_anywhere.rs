//! A 3-stage tinybert run killed with SIGKILL at seeded random moments (at start, in each stage,
//! between stages, while the teacher's logits are computed), then started again each time until
//! it finishes, ends with the same student bytes as a run never interrupted; and after every
//! kill each file the run has written is whole.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use distill_tests::{shared, tiny_qa_bert};

fn args(teacher: &Path, out: &Path, cache: &Path) -> Vec<String> {
    let squad = |name: &str| shared().join("data/squad").join(name).to_str().unwrap().to_string();
    [
        "--strategy", "tinybert", "--teacher", teacher.to_str().unwrap(), "--train", &squad("train-v2.0-10articles.json"), "--general-train", &squad("train-v2.0-10articles.json"),
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
    if !out.exists() {
        return "nothing written yet".into();
    }
    let mut parts = vec![];
    for stage in ["stage-1-general-intermediate", "stage-2-task-intermediate", "stage-3-prediction"] {
        let dir = out.join(stage);
        let state = distill_core::train::checkpoint::read_state(&dir.join("checkpoint.safetensors"));
        parts.push(match (dir.join("done.json").is_file(), state, dir.exists()) {
            (true, _, _) => format!("{stage} done"),
            (false, Ok(state), _) => format!("{stage} at step {}", state.step),
            (false, Err(_), true) => format!("{stage} started, no checkpoint"),
            (false, Err(_), false) => format!("{stage} not started"),
        });
        if !parts.last().is_some_and(|p| p.ends_with("done")) {
            break;
        }
    }
    parts.join(", ")
}

/// Every JSON file parses, every safetensors file opens, every metrics line is whole.
fn assert_whole(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
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
    // Each restart is killed once its trigger holds, after a seeded random delay of up to 250 ms:
    // moments in every stage, between stages, and while the teacher's logits are computed.
    let step_of = |stage: &str| distill_core::train::checkpoint::read_state(&interrupted.join(stage).join("checkpoint.safetensors")).map_or(0, |s| s.step);
    let done = |stage: &str| interrupted.join(stage).join("done.json").is_file();
    type Trigger<'a> = (&'static str, Box<dyn Fn() -> bool + 'a>);
    let triggers: Vec<Trigger> = vec![
        ("at start", Box::new(|| true)),
        ("general stage under way", Box::new(|| step_of("stage-1-general-intermediate") >= 2)),
        ("general stage finished", Box::new(|| done("stage-1-general-intermediate"))),
        ("task-intermediate stage under way", Box::new(|| step_of("stage-2-task-intermediate") >= 4)),
        ("task-intermediate stage finished", Box::new(|| done("stage-2-task-intermediate"))),
        ("prediction stage under way", Box::new(|| step_of("stage-3-prediction") >= 2)),
        ("prediction stage late", Box::new(|| step_of("stage-3-prediction") >= 8)),
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut kills = vec![];
    for (name, trigger) in triggers.iter().chain(std::iter::repeat_n(&triggers[0], 3)) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = Duration::from_millis(state % 250);
        let mut child = Command::new(env!("CARGO_BIN_EXE_distill")).args(args(&teacher, &interrupted, &cache)).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let started = Instant::now();
        let mut fired: Option<Instant> = None;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if fired.is_none() && trigger() {
                fired = Some(Instant::now());
            }
            if fired.is_some_and(|t| t.elapsed() >= delay) || started.elapsed() > Duration::from_secs(300) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        match status {
            Some(status) => {
                assert!(status.success(), "a restarted run failed after {kills:?}");
                break;
            }
            None => {
                Command::new("kill").args(["-9", &child.id().to_string()]).status().unwrap();
                child.wait().unwrap();
                kills.push(format!("{name} + {} ms: {}", delay.as_millis(), reached(&interrupted)));
                assert_whole(&interrupted);
            }
        }
    }
    // The last restart runs to the end.
    let out = Command::new(env!("CARGO_BIN_EXE_distill")).args(args(&teacher, &interrupted, &cache)).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("uninterrupted run {:.1} s; {} kills: {kills:#?}", whole_run.as_secs_f64(), kills.len());
    assert!(kills.len() >= 6, "too few kill points to mean anything: {kills:?}");
    let weights = |dir: &Path| std::fs::read(dir.join("student/model.safetensors")).unwrap();
    assert!(weights(&straight) == weights(&interrupted), "the student after {} kills differs from the uninterrupted run's: {kills:?}", kills.len());
    assert_whole(&interrupted);
}
