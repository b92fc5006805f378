use std::path::PathBuf;

use anyhow::{Result, bail};
use distill_core::data::squad::SquadFile;
use distill_core::task::qa::score::{V2Options, evaluate_v1, evaluate_v2};
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
}

fn read_map(path: &PathBuf) -> Result<Map<String, Value>> {
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
    let result = if v2 {
        let na_probs = args.na_probs.as_ref().map(read_map).transpose()?;
        evaluate_v2(&dataset, &predictions, &V2Options { na_probs: na_probs.as_ref(), na_prob_thresh: args.na_prob_thresh })
    } else {
        if args.na_probs.is_some() {
            bail!("--na-probs applies to SQuAD 2.0 only; {} is v1.1", args.data.display());
        }
        evaluate_v1(&dataset, &predictions)
    };
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}
