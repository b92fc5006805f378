use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use distill_core::data::squad::SquadFile;
use distill_core::task::qa::score::{V2Options, evaluate_v1, evaluate_v2, per_question_v1, per_question_v2};
use serde_json::{Map, Value};

/// Scores predictions as the official SQuAD scripts do (v1.1 or v2.0, from the data file).
#[derive(clap::Args)]
pub struct Args {
    /// SQuAD dev file (v1.1 or v2.0).
    #[arg(long)]
    data: PathBuf,
    /// predictions.json: {question id: answer text}.
    #[arg(long)]
    predictions: PathBuf,
    /// No-answer probabilities or null odds per question id (v2.0 only); adds best_exact/best_f1.
    #[arg(long = "na-probs")]
    na_probs: Option<PathBuf>,
    /// Predict no answer when the no-answer probability exceeds this (v2.0 only).
    #[arg(long = "na-prob-thresh", default_value_t = 1.0)]
    na_prob_thresh: f64,
    /// Score as v1.1 or v2.0 regardless of the file's version field.
    #[arg(long, value_parser = ["1.1", "2.0"])]
    version: Option<String>,
    /// Also write each question's scores (id, has_answer, exact 0/1, f1 0..1, after the no-answer
    /// threshold) as a JSON array in dataset order: the questions the totals count.
    #[arg(long = "per-question", value_name = "FILE")]
    per_question: Option<PathBuf>,
}

fn read_map(path: &Path) -> Result<Map<String, Value>> {
    match distill_core::io::read_json::<Value>(path)? {
        Value::Object(m) => Ok(m),
        _ => bail!("{}: expected a JSON object keyed by question id", path.display()),
    }
}

pub fn run(args: Args) -> Result<()> {
    // The official scripts keep answers as given; strict reading would only reject files they accept.
    let (dataset, _) = SquadFile::read(&args.data, false)?;
    let predictions = read_map(&args.predictions)?;
    let v2 = match args.version.as_deref() {
        Some(v) => v == "2.0",
        None => dataset.is_v2(),
    };
    let (result, per_question) = if v2 {
        let na_probs = args.na_probs.as_deref().map(read_map).transpose()?;
        let options = V2Options { na_probs: na_probs.as_ref(), na_prob_thresh: args.na_prob_thresh };
        (evaluate_v2(&dataset, &predictions, &options), args.per_question.is_some().then(|| per_question_v2(&dataset, &predictions, &options)))
    } else {
        if args.na_probs.is_some() {
            bail!("--na-probs applies to SQuAD 2.0 only; {} is v1.1", args.data.display());
        }
        (evaluate_v1(&dataset, &predictions), args.per_question.is_some().then(|| per_question_v1(&dataset, &predictions)))
    };
    if let (Some(path), Some(scores)) = (&args.per_question, per_question) {
        distill_core::io::write_json_atomic(path, &scores)?;
    }
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}
