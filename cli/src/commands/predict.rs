//! `distill predict`: what a task model says of new text, for one input or a JSON-lines batch,
//! as JSON lines on stdout. QA: the answer to a question about a context. Sequence
//! classification: the label and each label's probability; regression: the score. Token
//! classification: the entities found, with their character spans in the text.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use distill_core::data::classification::ClassificationExample;
use distill_core::model::Head;
use distill_core::task::classification::argmax;
use distill_core::task::qa::decode::{DecodeConfig, decode};
use distill_core::task::qa::features::{FeatureConfig, QaExample, build_features};
use distill_core::task::token_classification::windows::{WordText, build_windows};
use distill_core::task::token_classification::{found_entities, window_logits, word_labels};
use distill_core::train::examples::TrainExample;
use serde_json::{Value, json};

use super::task_model::TaskModel;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: super::task_model::TaskModelArgs,
    /// QA: the question (with --context).
    #[arg(long, requires = "context", conflicts_with_all = ["input", "text"])]
    question: Option<String>,
    /// QA: the context to answer from.
    #[arg(long, requires = "question")]
    context: Option<String>,
    /// Classification: the text to classify (with --text-pair for pair models); token
    /// classification: the text to find entities in.
    #[arg(long, conflicts_with = "input")]
    text: Option<String>,
    /// Classification of pairs: the second text.
    #[arg(long, requires = "text")]
    text_pair: Option<String>,
    /// JSON lines, each {"id"?, "question", "context"} (QA) or {"id"?, "text", "text_pair"?}
    /// (classification, token classification).
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// QA: no answer when null odds exceed this; omit to always answer [default: always answer].
    #[arg(long)]
    null_threshold: Option<f64>,
    /// QA: longest answer in tokens.
    #[arg(long, default_value_t = 30)]
    max_answer_length: usize,
}

/// One input line of --input: its id (the line's index when absent) and its fields.
struct InputLine {
    id: String,
    fields: Value,
    at: String,
}

impl InputLine {
    fn field(&self, name: &str) -> Result<String> {
        self.fields.get(name).and_then(Value::as_str).map(str::to_string).with_context(|| format!("{}: missing string field `{name}`", self.at))
    }

    fn optional(&self, name: &str) -> Option<String> {
        self.fields.get(name).and_then(Value::as_str).map(str::to_string)
    }
}

fn read_input(path: &Path) -> Result<Vec<InputLine>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{} line {}", path.display(), i + 1);
        let fields: Value = serde_json::from_str(&line).with_context(|| format!("{at}: malformed JSON"))?;
        let id = fields.get("id").and_then(Value::as_str).map_or_else(|| i.to_string(), str::to_string);
        out.push(InputLine { id, fields, at });
    }
    Ok(out)
}

pub fn run(args: Args, dirs: &crate::plugins::PluginDirs) -> Result<()> {
    let model = args.model.load(dirs)?;
    let lines = args.input.as_deref().map(read_input).transpose()?;
    let outputs = match model.head {
        Head::QuestionAnswering => qa(&args, &model, lines)?,
        Head::Classification | Head::TokenClassification => {
            let inputs: Vec<(String, String, Option<String>)> = match (&args.text, lines) {
                (Some(text), _) => vec![("0".into(), text.clone(), args.text_pair.clone())],
                (None, Some(lines)) => lines.iter().map(|l| Ok((l.id.clone(), l.field("text")?, l.optional("text_pair")))).collect::<Result<_>>()?,
                (None, None) => bail!("give --text (with --text-pair for a pair model), or --input FILE"),
            };
            match model.head {
                Head::Classification => classification(&model, &inputs)?,
                _ => entities(&model, &inputs)?,
            }
        }
        Head::MaskedLm => unreachable!("TaskModelArgs::load refuses models without a task head"),
    };
    let mut stdout = std::io::stdout().lock();
    for line in outputs {
        writeln!(stdout, "{line}")?;
    }
    Ok(())
}

fn qa(args: &Args, model: &TaskModel, lines: Option<Vec<InputLine>>) -> Result<Vec<Value>> {
    let tokenizer = model.pretrained.tokenizer.as_ref().expect("checked by load");
    let examples: Vec<QaExample> = match (&args.question, &args.context, lines) {
        (Some(q), Some(c), _) => vec![QaExample { id: "0".into(), question: q.clone(), context: Arc::from(c.as_str()), answers: vec![] }],
        (_, _, Some(lines)) => lines
            .iter()
            .map(|l| Ok(QaExample { id: l.id.clone(), question: l.field("question")?, context: Arc::from(l.field("context")?.as_str()), answers: vec![] }))
            .collect::<Result<_>>()?,
        _ => bail!("a QA model answers --question about --context, or the lines of --input FILE"),
    };
    let features = FeatureConfig { max_seq_len: model.pretrained.config.sequence_length(None, 384, "--max-seq-len", &args.model.model)?, ..FeatureConfig::default() };
    let feats = build_features(&examples, tokenizer, &features)?;
    let (starts, ends) = distill_core::train::evaluate::qa_logits(&model.pretrained.model, &feats, tokenizer.pad_id(), 16);
    let config = DecodeConfig { n_best: 20, max_answer_length: args.max_answer_length, null_threshold: args.null_threshold };
    Ok(decode(&examples, &feats, &starts, &ends, &config)
        .into_iter()
        .map(|p| json!({"id": p.id, "answer": p.text, "score": p.best_span_score, "null_odds": p.null_odds.min(1e30)}))
        .collect())
}

fn classification(model: &TaskModel, inputs: &[(String, String, Option<String>)]) -> Result<Vec<Value>> {
    let tokenizer = model.pretrained.tokenizer.as_ref().expect("checked by load");
    let max_len = model.pretrained.config.sequence_length(None, 512, "--max-seq-len", "the model")?;
    let examples: Vec<ClassificationExample> = inputs.iter().map(|(_, text, pair)| ClassificationExample { text: text.clone(), text_pair: pair.clone(), label: String::new(), at: String::new() }).collect();
    if examples.iter().any(|e| e.text_pair.is_some()) != examples.iter().all(|e| e.text_pair.is_some()) {
        bail!("give every input a text_pair, or none");
    }
    let mut out = Vec::with_capacity(inputs.len());
    for (chunk, ids) in examples.chunks(32).zip(inputs.chunks(32)) {
        let rows = TrainExample::encode_classification(chunk, tokenizer, max_len)?;
        let refs: Vec<&TrainExample> = rows.iter().collect();
        if model.labels.len() == 1 {
            // A regression head: its one output is the score.
            let scores = distill_core::train::evaluate::regression_scores(&model.pretrained.model, &refs, tokenizer.pad_id());
            out.extend(ids.iter().zip(scores).map(|((id, _, _), score)| json!({"id": id, "score": score})));
            continue;
        }
        let probabilities = distill_core::train::evaluate::class_probabilities(&model.pretrained.model, &refs, tokenizer.pad_id());
        for ((id, _, _), p) in ids.iter().zip(probabilities) {
            let best = argmax(&p).unwrap_or(0);
            let by_label: serde_json::Map<String, Value> = model.labels.iter().zip(&p).map(|(l, &q)| (l.clone(), json!(q))).collect();
            out.push(json!({"id": id, "label": model.labels[best], "probabilities": by_label}));
        }
    }
    Ok(out)
}

fn entities(model: &TaskModel, inputs: &[(String, String, Option<String>)]) -> Result<Vec<Value>> {
    let tokenizer = model.pretrained.tokenizer.as_ref().expect("checked by load");
    let max_len = model.pretrained.config.sequence_length(None, 512, "--max-seq-len", "the model")?;
    let texts: Vec<WordText> = inputs.iter().map(|(_, text, _)| WordText::from_text(text)).collect();
    let windows = build_windows(&texts, tokenizer, max_len)?;
    let rows: Vec<TrainExample> = windows.iter().map(TrainExample::from_window).collect();
    let logits = window_logits(&model.pretrained.model, &rows, tokenizer.pad_id(), 32);
    let words: Vec<usize> = texts.iter().map(|t| t.words.len()).collect();
    let outside = model.labels.iter().position(|l| l == "O").unwrap_or(0);
    let labels = word_labels(&windows, &logits, &words, model.labels.len(), outside);
    Ok(inputs
        .iter()
        .zip(&texts)
        .zip(labels)
        .map(|(((id, _, _), text), ids)| {
            let tags: Vec<&str> = ids.iter().map(|&i| model.labels[i].as_str()).collect();
            json!({"id": id, "entities": found_entities(text, &tags)})
        })
        .collect())
}
