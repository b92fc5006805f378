//! `distill predict`: answers from a QA model, for one question or a JSON-lines batch.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use distill_core::task::qa::decode::{DecodeConfig, decode};
use distill_core::task::qa::features::{FeatureConfig, QaExample, build_features};
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: super::qa_model::QaModelArgs,
    /// The question (with --context).
    #[arg(long, requires = "context", conflicts_with = "input")]
    question: Option<String>,
    /// The context to answer from.
    #[arg(long, requires = "question")]
    context: Option<String>,
    /// JSON lines, each {"id"?, "question", "context"}; answers go to stdout as JSON lines.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// No answer when null odds exceed this; omit to always answer [default: always answer].
    #[arg(long)]
    null_threshold: Option<f64>,
    /// Longest answer in tokens.
    #[arg(long, default_value_t = 30)]
    max_answer_length: usize,
}

pub fn run(args: Args, dirs: &crate::plugins::PluginDirs) -> Result<()> {
    let model = args.model.load(dirs)?;
    let tokenizer = model.tokenizer.as_ref().expect("checked by load");
    let examples: Vec<QaExample> = match (&args.question, &args.context, &args.input) {
        (Some(q), Some(c), _) => vec![QaExample { id: "0".into(), question: q.clone(), context: Arc::from(c.as_str()), answers: vec![] }],
        (_, _, Some(path)) => {
            let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let mut out = Vec::new();
            for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                let v: serde_json::Value = serde_json::from_str(&line).with_context(|| format!("{} line {}: malformed JSON", path.display(), i + 1))?;
                let field = |f: &str| v.get(f).and_then(|x| x.as_str()).map(str::to_string).with_context(|| format!("{} line {}: missing string field `{f}`", path.display(), i + 1));
                out.push(QaExample { id: v.get("id").and_then(|x| x.as_str()).map_or_else(|| i.to_string(), str::to_string), question: field("question")?, context: Arc::from(field("context")?.as_str()), answers: vec![] });
            }
            out
        }
        _ => bail!("give --question and --context, or --input FILE"),
    };
    let features = FeatureConfig { max_seq_len: model.config.sequence_length(None, 384, "--max-seq-len", &args.model.model)?, ..FeatureConfig::default() };
    let feats = build_features(&examples, tokenizer, &features)?;
    let (starts, ends) = distill_core::train::evaluate::qa_logits(&model.model, &feats, tokenizer.pad_id(), 16);
    let config = DecodeConfig { n_best: 20, max_answer_length: args.max_answer_length, null_threshold: args.null_threshold };
    let mut stdout = std::io::stdout().lock();
    for p in decode(&examples, &feats, &starts, &ends, &config) {
        writeln!(stdout, "{}", json!({"id": p.id, "answer": p.text, "score": p.best_span_score, "null_odds": p.null_odds.min(1e30)}))?;
    }
    Ok(())
}
