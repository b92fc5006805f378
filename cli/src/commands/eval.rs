//! `distill eval`: a QA model over a SQuAD file, with predictions.json and null_odds.json in the
//! official formats and the official scores.

use std::path::PathBuf;

use anyhow::Result;
use distill_core::task::qa::decode::DecodeConfig;
use distill_core::task::qa::features::FeatureConfig;
use distill_core::train::evaluate::QaEvaluator;
use serde_json::{Map, Value, json};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: super::qa_model::QaModelArgs,
    /// SQuAD v1.1 or v2.0 JSON.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Where to write predictions.json, null_odds.json and scores.json.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Longest input in tokens [default: 384, or the model's position table if shorter].
    #[arg(long)]
    max_seq_len: Option<usize>,
    /// Context tokens between window starts.
    #[arg(long, default_value_t = 128)]
    doc_stride: usize,
    /// Longest question in tokens.
    #[arg(long, default_value_t = 64)]
    max_query_length: usize,
    /// Longest answer in tokens.
    #[arg(long, default_value_t = 30)]
    max_answer_length: usize,
    /// SQuAD 2.0: no answer when null odds exceed this.
    #[arg(long, default_value_t = 0.0)]
    null_threshold: f64,
    /// Windows per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
}

pub fn run(args: Args, dirs: &crate::plugins::PluginDirs) -> Result<()> {
    let model = args.model.load(dirs)?;
    let tokenizer = model.tokenizer.as_ref().expect("checked by load");
    let max_seq_len = model.config.sequence_length(args.max_seq_len, 384, "--max-seq-len", &args.model.model)?;
    let features = FeatureConfig { max_seq_len, doc_stride: args.doc_stride, max_query_length: args.max_query_length };
    features.validate()?;
    let decode = DecodeConfig { n_best: 20, max_answer_length: args.max_answer_length, null_threshold: Some(args.null_threshold) };
    let evaluator = QaEvaluator::new(&args.data, tokenizer, &features, decode, args.batch_size)?;
    let (predictions, rate) = evaluator.predict(&model.model);
    let scores = evaluator.score(&predictions);
    if let Some(dir) = &args.output_dir {
        let preds: Map<String, Value> = predictions.iter().map(|p| (p.id.clone(), Value::from(p.text.clone()))).collect();
        let odds: Map<String, Value> = predictions.iter().map(|p| (p.id.clone(), json!(p.null_odds.min(1e30)))).collect();
        distill_core::io::write_json_atomic(&dir.join("predictions.json"), &preds)?;
        if evaluator.squad.is_v2() {
            distill_core::io::write_json_atomic(&dir.join("null_odds.json"), &odds)?;
        }
        distill_core::io::write_json_atomic(&dir.join("scores.json"), &scores)?;
    }
    println!("{}", serde_json::to_string_pretty(&json!({"scores": scores, "questions": predictions.len(), "examples_per_second": rate}))?);
    Ok(())
}
