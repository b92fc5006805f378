//! `distill bench` reports both models side by side with the student's speed-up and EM/F1, and
//! its steps mode times forward, distillation steps and GEMM (tiny models, one iteration: this
//! checks the report, not the speed).

use std::process::Command;

use distill_tests::{shared, tiny_qa_bert};

#[test]
fn bench_compares_teacher_and_student() {
    let tmp = tempfile::tempdir().unwrap();
    let (t, s) = (tmp.path().join("t"), tmp.path().join("s"));
    tiny_qa_bert(&t, 4, 32, 4, 1);
    tiny_qa_bert(&s, 1, 32, 4, 2);
    let data = shared().join("data/squad/tiny-v2.0.json");
    let out = Command::new(env!("CARGO_BIN_EXE_distill"))
        .env("RAYON_NUM_THREADS", "1")
        .args(["bench", "--json", "--iterations", "3", "--seq", "16,32", "--batch", "4", "--teacher", t.to_str().unwrap(), "--student", s.to_str().unwrap(), "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for side in ["teacher", "student"] {
        for key in ["parameters", "size_bytes", "latency_ms_b1_s16", "throughput_seq_per_s_b4_s32", "peak_memory_mb", "em", "f1"] {
            assert!(r[side][key].is_number(), "{side}.{key} in {r}");
        }
    }
    assert!(r["teacher"]["parameters"].as_u64() > r["student"]["parameters"].as_u64());
    assert!(r["student_speedup"]["latency_ms_b1_s32"].as_f64().unwrap() > 0.0);
    // The paired measurement: one ratio per pair of alternating passes, so its quartiles bracket
    // its median, and the medians of the sides are real timings.
    for key in ["latency_ms_b1_s16", "latency_ms_b1_s32", "throughput_seq_per_s_b4_s16", "throughput_seq_per_s_b4_s32"] {
        let p = &r["paired_speedup"][key];
        let q = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("paired_speedup.{key}.{k} in {r}"));
        assert!(q("q1") > 0.0 && q("q1") <= q("median") && q("median") <= q("q3"), "{p}");
        assert!(q("teacher_seconds") > 0.0 && q("student_seconds") > 0.0, "{p}");
        assert_eq!(p["pairs"], 3, "{p}");
    }
    // The machine measured on: the thread pool the kernels used (one, as asked), and the processor.
    assert_eq!(r["machine"]["threads"], 1, "{r}");
    if std::path::Path::new("/proc/cpuinfo").exists() && cfg!(target_arch = "x86_64") {
        assert!(r["machine"]["processor"].as_str().is_some_and(|p| !p.is_empty()), "{r}");
    }

    let out = Command::new(env!("CARGO_BIN_EXE_distill"))
        .env("RAYON_NUM_THREADS", "2")
        .args(["bench", "--steps", "--iterations", "1", "--seq", "16", "--batch", "2", "--student-layers", "2", "--teacher", t.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["forward_ms", "prediction_step_ms", "intermediate_step_ms", "gemm_gflops", "flops_ratio"] {
        assert!(r[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {r}");
    }
    assert_eq!(r["threads"], 2, "RAYON_NUM_THREADS=2 gives the kernels two threads, whatever the cores: {r}");
}
