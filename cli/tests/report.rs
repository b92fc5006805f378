//! `distill report` over two real (tiny) runs: the page parses as HTML, holds one chart per
//! stage, a timeline and a comparison fed by `distill eval` and `distill bench`; rendered by
//! headless Chromium where one is installed, the screenshot is not blank. Bad run directories
//! are refused by name.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use distill_tests::{shared, tiny_qa_bert};

fn distill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_distill")).args(args).output().expect("the distill binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(args: &[&str]) {
    let out = distill(args);
    assert!(out.status.success(), "distill {args:?}: {}", text(&out));
}

fn squad(name: &str) -> String {
    shared().join("data/squad").join(name).to_str().unwrap().to_string()
}

/// A fine-tuned teacher and a student distilled from it, evaluated and benched as the
/// quickstart does, in `root`; returns the two run directories and the bench file.
fn two_runs(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let base = root.join("base");
    tiny_qa_bert(&base, 2, 32, 4, 3);
    let (teacher, student) = (root.join("teacher"), root.join("student"));
    let common = ["--train", &squad("sample-v2.0.json"), "--dev", &squad("tiny-v2.0.json"), "--epochs", "1", "--batch-size", "4", "--max-seq-len", "128", "--doc-stride", "64", "--eval-every", "2"];
    ok(&[&["--strategy", "finetune", "--student", base.to_str().unwrap(), "--output", teacher.to_str().unwrap()], &common[..]].concat());
    let teacher_model = teacher.join("student");
    ok(&[&["--strategy", "prediction", "--teacher", teacher_model.to_str().unwrap(), "--student-layers", "1", "--output", student.to_str().unwrap()], &common[..]].concat());
    for run in [&teacher, &student] {
        ok(&["eval", "--model", run.join("student").to_str().unwrap(), "--data", &squad("tiny-v2.0.json"), "--max-seq-len", "128", "--doc-stride", "64", "--output-dir", run.join("eval").to_str().unwrap()]);
    }
    let bench = root.join("bench.json");
    ok(&["bench", "--teacher", teacher_model.to_str().unwrap(), "--student", student.join("student").to_str().unwrap(), "--seq", "32", "--batch", "2", "--iterations", "1", "--json-file", bench.to_str().unwrap()]);
    (teacher, student, bench)
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|d| ["chromium", "chromium-browser", "google-chrome"].map(|n| d.join(n))).find(|p| p.is_file())
}

#[test]
fn report_of_two_runs_parses_and_draws_one_chart_per_stage() {
    let tmp = tempfile::tempdir().unwrap();
    let (teacher, student, bench) = two_runs(tmp.path());
    let page = tmp.path().join("report.html");
    let out = distill(&["report", teacher.to_str().unwrap(), student.to_str().unwrap(), "--bench", bench.to_str().unwrap(), "--output", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));

    let html = std::fs::read_to_string(&page).unwrap();
    let document = scraper::Html::parse_document(&html);
    assert!(document.errors.is_empty(), "HTML parse errors: {:?}", document.errors);
    let select = |css: &str| document.select(&scraper::Selector::parse(css).unwrap()).count();
    let stage_dirs = [&teacher, &student].iter().map(|r| std::fs::read_dir(r).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("stage-")).count()).sum::<usize>();
    assert_eq!(stage_dirs, 2);
    assert_eq!(select("figure.stage-chart > svg"), stage_dirs, "one chart per stage");
    assert_eq!(select("figure.timeline-chart > svg"), 1);
    assert_eq!(select("figure.comparison-chart > svg"), 1);
    assert_eq!(select("table.comparison tr"), 3, "a header and one row per run");
    for s in ["<script", "src=\"http", "href=\"http"] {
        assert!(!html.contains(s), "the page is self-contained: {s}");
    }
    // The comparison carries eval's F1 and bench's latency for both runs.
    let row = |run: &str| document.select(&scraper::Selector::parse("table.comparison tr").unwrap()).map(|r| r.text().collect::<Vec<_>>().join("|")).find(|t| t.starts_with(run)).unwrap();
    for run in ["teacher", "student"] {
        let row = row(run);
        assert!(row.contains("F1 (distill eval)") && row.contains("ms at 32 tokens"), "{row}");
    }
    // Each stage chart plots its loss terms: the prediction stage's kd and ce.
    let labels: Vec<String> = document.select(&scraper::Selector::parse("figure.stage-chart text").unwrap()).map(|t| t.text().collect::<String>().trim().to_string()).collect();
    assert!(labels.iter().any(|l| l == "kd") && labels.iter().any(|l| l == "ce"), "legend of the loss terms: {labels:?}");

    let Some(chromium) = chromium() else {
        eprintln!("no chromium on PATH: the rendering check did not run");
        return;
    };
    let shot = tmp.path().join("shot.png");
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,1600"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(shot.is_file(), "chromium wrote no screenshot: {}", text(&out));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let pixels = &pixels[..info.buffer_size()];
    let total = pixels.len() / channels;
    let inked = pixels.chunks(channels).filter(|p| p[..3].iter().any(|&c| c < 200)).count();
    let colours: std::collections::HashSet<&[u8]> = pixels.chunks(channels).map(|p| &p[..3]).collect();
    assert!(inked * 100 > total, "the screenshot is blank: {inked} of {total} pixels drawn");
    assert!(colours.len() > 16, "the screenshot has only {} colours", colours.len());
}

#[test]
fn report_refuses_what_is_not_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let page = tmp.path().join("r.html");
    let out = distill(&["report", empty.to_str().unwrap(), "--output", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("not a distill run directory") && text(&out).contains("empty"), "{}", text(&out));

    let stage = tmp.path().join("run/stage-1-prediction");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("metrics.jsonl"), "{\"stage\":\"prediction\",\"step\":1,\"loss\":1.0}\n{broken\n").unwrap();
    let out = distill(&["report", tmp.path().join("run").to_str().unwrap(), "--output", page.to_str().unwrap()]);
    assert!(text(&out).contains("metrics.jsonl: line 2"), "{}", text(&out));
    assert!(!page.exists(), "nothing written on a refusal");

    std::fs::write(stage.join("metrics.jsonl"), "{\"stage\":\"prediction\",\"step\":1,\"loss\":1.0}\n").unwrap();
    let bench = tmp.path().join("bench.json");
    std::fs::write(&bench, r#"{"teacher": {"model": "/elsewhere"}, "student": {"model": "/nowhere"}}"#).unwrap();
    let out = distill(&["report", tmp.path().join("run").to_str().unwrap(), "--bench", bench.to_str().unwrap(), "--output", page.to_str().unwrap()]);
    assert!(text(&out).contains("measures no run's student"), "{}", text(&out));
}
