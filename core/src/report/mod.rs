//! `distill report`: what finished (or running) runs left on disk, read back and drawn into one
//! self-contained HTML file. Here: reading a run directory (`run-config.json`, `report.json`,
//! each stage's `metrics.jsonl` and `done.json`, and, when present, `eval/scores.json` from
//! `distill eval --output-dir RUN/eval` and `bench.json` from `distill bench --json`);
//! `charts` draws the SVG charts (plotters) and `html` puts the page together.

mod charts;
mod html;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{DistillError, Result};

/// One line of a chart: its name and its (update, value) points in update order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// One stage of a run as its metrics log and `done.json` tell it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRecord {
    /// The directory's name, e.g. `stage-1-prediction`.
    pub name: String,
    /// The loss and each of its terms, over updates.
    pub losses: Vec<Series>,
    pub learning_rate: Series,
    pub grad_norm: Series,
    pub examples_per_second: Series,
    pub resident_mb: Series,
    /// Dev scores over updates, one series per score.
    pub dev: Vec<Series>,
    /// From `done.json` once the stage finished.
    pub seconds: Option<f64>,
    pub steps: Option<u64>,
    pub best_metric: Option<f64>,
}

/// A run directory read back.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub name: String,
    pub dir: PathBuf,
    /// `run-config.json`, when the run got that far.
    pub config: Option<Value>,
    pub stages: Vec<StageRecord>,
    /// `eval/scores.json` (`distill eval --output-dir RUN/eval`).
    pub scores: Option<Value>,
    /// The measured model of `bench.json` (`distill bench --json`): its student, or the one model
    /// of `--single`.
    pub bench: Option<Value>,
    /// Parameters of the exported student (`student/model.safetensors`).
    pub parameters: Option<u64>,
}

/// Training-record keys that are not loss terms.
const NOT_LOSS_TERMS: [&str; 8] = ["stage", "step", "epoch", "lr", "grad_norm", "examples_per_s", "rss_mb", "loss"];

fn number(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

fn series(name: &str, points: Vec<(f64, f64)>) -> Series {
    Series { name: name.to_string(), points }
}

/// Reads a JSON file that may be absent; present but unreadable is an error naming it.
fn optional_json(path: &Path) -> Result<Option<Value>> {
    if path.is_file() { crate::io::read_json(path).map(Some) } else { Ok(None) }
}

impl StageRecord {
    /// Reads `dir/metrics.jsonl` and `dir/done.json`. A record logged twice for one update (a
    /// resumed sitting repeats the updates after its checkpoint) counts once, the later one.
    pub fn read(dir: &Path) -> Result<Self> {
        let log_path = dir.join("metrics.jsonl");
        let text = if log_path.is_file() { std::fs::read_to_string(&log_path).map_err(|e| DistillError::io(&log_path, e))? } else { String::new() };
        let mut training: BTreeMap<u64, Value> = BTreeMap::new();
        let mut evaluations: BTreeMap<u64, Value> = BTreeMap::new();
        for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let record: Value = serde_json::from_str(line)
                .map_err(|e| DistillError::Invalid(format!("{}: line {}: not a JSON object: {e}", log_path.display(), index + 1)))?;
            let Some(step) = record.get("step").and_then(Value::as_u64) else { continue };
            if let Some(eval) = record.get("eval") {
                evaluations.insert(step, eval.clone());
            } else if record.get("loss").is_some() {
                training.insert(step, record);
            }
        }
        let column = |key: &str| -> Vec<(f64, f64)> { training.iter().filter_map(|(s, r)| Some((*s as f64, number(r.get(key)?)?))).collect() };
        let mut losses = vec![series("loss", column("loss"))];
        let terms: std::collections::BTreeSet<&str> =
            training.values().flat_map(|r| r.as_object().into_iter().flat_map(|o| o.keys())).map(String::as_str).filter(|k| !NOT_LOSS_TERMS.contains(k)).collect();
        losses.extend(terms.into_iter().map(|t| series(t, column(t))));
        let dev = dev_series(&evaluations);
        let done = optional_json(&dir.join("done.json"))?;
        let field = |key: &str| done.as_ref().and_then(|d| d.get(key)).cloned();
        Ok(Self {
            name: dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned()),
            losses,
            learning_rate: series("learning rate", column("lr")),
            grad_norm: series("gradient norm", column("grad_norm")),
            examples_per_second: series("examples/s", column("examples_per_s")),
            resident_mb: series("resident MB", column("rss_mb")),
            dev,
            seconds: field("seconds").as_ref().and_then(number),
            steps: field("steps").and_then(|v| v.as_u64()),
            best_metric: field("best_metric").as_ref().and_then(number),
        })
    }
}

/// The dev scores worth a line: F1 and exact match (QA), precision and recall (token
/// classification), accuracy and macro-F1 (classification), Pearson and Spearman (regression),
/// else every numeric score but counts.
fn dev_series(evaluations: &BTreeMap<u64, Value>) -> Vec<Series> {
    let mut names: Vec<String> = vec![];
    for eval in evaluations.values() {
        for (k, v) in eval.as_object().into_iter().flatten() {
            if number(v).is_some() && !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    let preferred: Vec<String> = ["f1", "exact", "precision", "recall", "accuracy", "macro_f1", "pearson", "spearman"].iter().map(|s| s.to_string()).filter(|n| names.contains(n)).collect();
    let chosen = if preferred.is_empty() { names.into_iter().filter(|n| !n.ends_with("total") && !n.contains("thresh")).take(4).collect() } else { preferred };
    chosen.iter().map(|name| series(name, evaluations.iter().filter_map(|(s, e)| Some((*s as f64, number(e.get(name)?)?))).collect())).collect()
}

/// The parameter count of a safetensors file, from its header alone.
fn safetensors_parameters(path: &Path) -> Result<u64> {
    let bytes = std::fs::read(path).map_err(|e| DistillError::io(path, e))?;
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| DistillError::Safetensors { path: path.to_path_buf(), message: e.to_string() })?;
    Ok(metadata.tensors().values().map(|t| t.shape.iter().product::<usize>() as u64).sum())
}

impl RunRecord {
    /// Reads a run directory: what `distill run` wrote into `--output`, plus the optional eval
    /// and bench outputs. A directory with none of it is refused, naming it.
    pub fn read(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(DistillError::Invalid(format!("{}: not a directory (give a run's --output directory)", dir.display())));
        }
        let mut stage_dirs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| DistillError::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("stage-")))
            .collect();
        // stage-2-... before stage-10-...
        stage_dirs.sort_by_key(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
            (name.trim_start_matches("stage-").split('-').next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(usize::MAX), name)
        });
        let config = optional_json(&dir.join("run-config.json"))?;
        if stage_dirs.is_empty() && config.is_none() {
            return Err(DistillError::Invalid(format!("{}: no run-config.json and no stage-* directory: not a distill run directory", dir.display())));
        }
        let stages = stage_dirs.iter().map(|d| StageRecord::read(d)).collect::<Result<Vec<_>>>()?;
        let bench = optional_json(&dir.join("bench.json"))?.map(|b| b.get("student").cloned().unwrap_or(b));
        let weights = dir.join("student/model.safetensors");
        let parameters = match bench.as_ref().and_then(|b| b.get("parameters")).and_then(Value::as_u64) {
            Some(p) => Some(p),
            None if weights.is_file() => Some(safetensors_parameters(&weights)?),
            None => None,
        };
        Ok(Self {
            name: dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned()),
            dir: dir.to_path_buf(),
            config,
            stages,
            scores: optional_json(&dir.join("eval/scores.json"))?,
            bench,
            parameters,
        })
    }

    /// The run's score for comparison: F1 from `distill eval` where present, else accuracy, else
    /// Pearson's correlation, else the last stage's best dev metric. With the name of what it is.
    pub fn score(&self) -> Option<(&'static str, f64)> {
        if let Some(s) = &self.scores {
            for (key, name) in [("f1", "F1 (distill eval)"), ("accuracy", "accuracy (distill eval)"), ("pearson", "Pearson (distill eval)")] {
                if let Some(v) = s.get(key).and_then(number) {
                    return Some((name, v));
                }
            }
        }
        self.stages.iter().rev().find_map(|s| s.best_metric).map(|m| ("best dev metric", m))
    }

    /// Batch-1 latency in ms at the shortest length `distill bench` measured, with that length.
    pub fn latency_ms(&self) -> Option<(usize, f64)> {
        let bench = self.bench.as_ref()?.as_object()?;
        bench
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("latency_ms_b1_s")?.parse::<usize>().ok()?, number(v)?)))
            .min_by_key(|(seq, _)| *seq)
    }
}

/// What `write` produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSummary {
    pub runs: usize,
    pub stages: usize,
    pub charts: usize,
}

/// Gives each run the side of a pair bench (`distill bench --teacher T --student S --json`)
/// that measured its exported student (`RUN/student`), matched by path.
fn assign_bench(runs: &mut [RunRecord], bench_path: &Path) -> Result<()> {
    let bench: Value = crate::io::read_json(bench_path)?;
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    let mut matched = false;
    for side in ["teacher", "student"] {
        let Some(model) = bench.get(side).and_then(|m| m.get("model")).and_then(Value::as_str) else { continue };
        let Some(model) = canonical(Path::new(model)) else { continue };
        for run in runs.iter_mut().filter(|r| canonical(&r.dir.join("student")).as_ref() == Some(&model)) {
            run.parameters = bench[side].get("parameters").and_then(Value::as_u64).or(run.parameters);
            run.bench = Some(bench[side].clone());
            matched = true;
        }
    }
    if matched {
        Ok(())
    } else {
        Err(DistillError::Invalid(format!("{}: measures no run's student (the `model` of its teacher and student is none of RUN_DIR/student)", bench_path.display())))
    }
}

/// Reads every run directory (and pair benches, `assign_bench`) and writes the HTML report to
/// `output` (atomically).
pub fn write(run_dirs: &[PathBuf], benches: &[PathBuf], output: &Path) -> Result<ReportSummary> {
    if run_dirs.is_empty() {
        return Err(DistillError::Invalid("no run directory given".into()));
    }
    let mut runs = run_dirs.iter().map(|d| RunRecord::read(d)).collect::<Result<Vec<_>>>()?;
    for bench in benches {
        assign_bench(&mut runs, bench)?;
    }
    let (page, charts) = html::page(&runs)?;
    crate::io::write_atomic(output, page.as_bytes())?;
    Ok(ReportSummary { runs: runs.len(), stages: runs.iter().map(|r| r.stages.len()).sum(), charts })
}
