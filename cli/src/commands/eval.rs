//! `distill eval`: a task model over a labelled file. QA: a SQuAD file, with predictions.json
//! and null_odds.json in the official formats and the official scores. Sequence classification:
//! a TSV, CSV or JSON-lines file, accuracy, macro-F1 and Matthews correlation; regression (one
//! output), the same formats, Pearson and Spearman correlation. Token classification: CoNLL or
//! JSON lines, entity-level precision, recall and F1 as seqeval gives them.

use std::path::{Path, PathBuf};

use anyhow::Result;
use distill_core::data::rows::DataColumns;
use distill_core::model::Head;
use distill_core::task::qa::decode::DecodeConfig;
use distill_core::task::qa::features::FeatureConfig;
use distill_core::train::evaluate::{ClassificationEvaluator, QaEvaluator, RegressionEvaluator, TokenClassificationEvaluator};
use distill_core::train::examples::TrainExample;
use serde_json::{Map, Value, json};

use super::task_model::TaskModel;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: super::task_model::TaskModelArgs,
    /// Labelled data for the model's task: SQuAD v1.1/v2.0 JSON or rows in the hub's `squad`
    /// layout (QA); TSV, CSV, JSON lines or Parquet (sequence classification, regression); CoNLL,
    /// JSON lines or Parquet (token classification); or a hub dataset split,
    /// hub:OWNER/NAME[:CONFIG]:SPLIT.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Where to write the predictions and scores.json.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Longest input in tokens [default: 384 for QA, else 128; at most the model's position table].
    #[arg(long)]
    max_seq_len: Option<usize>,
    /// QA: context tokens between window starts.
    #[arg(long, default_value_t = 128)]
    doc_stride: usize,
    /// QA: longest question in tokens.
    #[arg(long, default_value_t = 64)]
    max_query_length: usize,
    /// QA: longest answer in tokens.
    #[arg(long, default_value_t = 30)]
    max_answer_length: usize,
    /// QA, SQuAD 2.0: no answer when null odds exceed this.
    #[arg(long, default_value_t = 0.0)]
    null_threshold: f64,
    /// Classification, regression: the column (JSON lines, Parquet) or header (CSV, TSV) of the text.
    #[arg(long, default_value = "text", value_name = "NAME")]
    text_column: String,
    /// Classification, regression: the column of a pair's second text.
    #[arg(long, default_value = "text_pair", value_name = "NAME")]
    text_pair_column: String,
    /// Classification, regression: the column of the label or score.
    #[arg(long, default_value = "label", value_name = "NAME")]
    label_column: String,
    /// Token classification, JSON lines or Parquet: the column of each sentence's words.
    #[arg(long, default_value = "tokens", value_name = "NAME")]
    tokens_column: String,
    /// Token classification, JSON lines or Parquet: the column of the words' tags.
    #[arg(long, default_value = "ner_tags", value_name = "NAME")]
    tags_column: String,
    /// QA, JSON lines or Parquet: the column of the question id.
    #[arg(long, default_value = "id", value_name = "NAME")]
    id_column: String,
    /// QA, JSON lines or Parquet: the column of the article title (optional).
    #[arg(long, default_value = "title", value_name = "NAME")]
    title_column: String,
    /// QA, JSON lines or Parquet: the column of the context.
    #[arg(long, default_value = "context", value_name = "NAME")]
    context_column: String,
    /// QA, JSON lines or Parquet: the column of the question.
    #[arg(long, default_value = "question", value_name = "NAME")]
    question_column: String,
    /// QA, JSON lines or Parquet: the column of the answers (`text` and `answer_start` lists).
    #[arg(long, default_value = "answers", value_name = "NAME")]
    answers_column: String,
    /// Windows per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
}

impl Args {
    fn columns(&self) -> DataColumns {
        DataColumns {
            text: self.text_column.clone(),
            text_pair: self.text_pair_column.clone(),
            label: self.label_column.clone(),
            tokens: self.tokens_column.clone(),
            tags: self.tags_column.clone(),
            id: self.id_column.clone(),
            title: self.title_column.clone(),
            context: self.context_column.clone(),
            question: self.question_column.clone(),
            answers: self.answers_column.clone(),
        }
    }
}

pub fn run(mut args: Args, dirs: &crate::plugins::PluginDirs) -> Result<()> {
    args.data = distill_core::data::hub::resolve_data(&args.data)?;
    let model = args.model.load(dirs)?;
    let default_len = if model.head == Head::QuestionAnswering { 384 } else { 128 };
    let max_seq_len = model.pretrained.config.sequence_length(args.max_seq_len, default_len, "--max-seq-len", &args.model.model)?;
    match model.head {
        Head::QuestionAnswering => qa(&args, &model, max_seq_len),
        Head::Classification if model.labels.len() == 1 => regression(&args, &model, max_seq_len),
        Head::Classification => classification(&args, &model, max_seq_len),
        Head::TokenClassification => token_classification(&args, &model, max_seq_len),
        Head::MaskedLm => unreachable!("TaskModelArgs::load refuses models without a task head"),
    }
}

fn write(dir: Option<&Path>, predictions: (&str, &Value), scores: &Value) -> Result<()> {
    if let Some(dir) = dir {
        distill_core::io::write_json_atomic(&dir.join(predictions.0), predictions.1)?;
        distill_core::io::write_json_atomic(&dir.join("scores.json"), scores)?;
    }
    Ok(())
}

fn qa(args: &Args, model: &TaskModel, max_seq_len: usize) -> Result<()> {
    let tokenizer = model.pretrained.tokenizer.as_ref().expect("checked by load");
    let features = FeatureConfig { max_seq_len, doc_stride: args.doc_stride, max_query_length: args.max_query_length };
    features.validate()?;
    let decode = DecodeConfig { n_best: 20, max_answer_length: args.max_answer_length, null_threshold: Some(args.null_threshold) };
    let evaluator = QaEvaluator::new(&args.data, &args.columns(), tokenizer, &features, decode, args.batch_size)?;
    let (predictions, rate) = evaluator.predict(&model.pretrained.model);
    let scores = evaluator.score(&predictions);
    if let Some(dir) = &args.output_dir {
        let odds: Map<String, Value> = predictions.iter().map(|p| (p.id.clone(), json!(p.null_odds.min(1e30)))).collect();
        if evaluator.squad.is_v2() {
            distill_core::io::write_json_atomic(&dir.join("null_odds.json"), &odds)?;
        }
    }
    let preds: Map<String, Value> = predictions.iter().map(|p| (p.id.clone(), Value::from(p.text.clone()))).collect();
    write(args.output_dir.as_deref(), ("predictions.json", &Value::Object(preds)), &scores)?;
    println!("{}", serde_json::to_string_pretty(&json!({"scores": scores, "questions": predictions.len(), "examples_per_second": rate}))?);
    Ok(())
}

fn classification(args: &Args, model: &TaskModel, max_seq_len: usize) -> Result<()> {
    let tokenizer = model.pretrained.tokenizer.as_ref().expect("checked by load");
    let started = std::time::Instant::now();
    let examples = TrainExample::read_classification(&args.data, &args.columns(), &model.labels, tokenizer, max_seq_len)?;
    let evaluator = ClassificationEvaluator { examples, num_labels: model.labels.len(), pad_id: tokenizer.pad_id(), batch_size: args.batch_size };
    let predicted = evaluator.predict(&model.pretrained.model);
    let scores = evaluator.score(&predicted);
    let rate = predicted.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let preds: Vec<Value> = predicted.iter().map(|&i| Value::from(model.labels[i].clone())).collect();
    write(args.output_dir.as_deref(), ("predictions.json", &Value::Array(preds)), &scores)?;
    println!("{}", serde_json::to_string_pretty(&json!({"scores": scores, "examples": predicted.len(), "examples_per_second": rate}))?);
    Ok(())
}

fn regression(args: &Args, model: &TaskModel, max_seq_len: usize) -> Result<()> {
    let tokenizer = model.pretrained.tokenizer.as_ref().expect("checked by load");
    let started = std::time::Instant::now();
    let examples = TrainExample::read_regression(&args.data, &args.columns(), tokenizer, max_seq_len)?;
    let evaluator = RegressionEvaluator { examples, pad_id: tokenizer.pad_id(), batch_size: args.batch_size };
    let predicted = evaluator.predict(&model.pretrained.model);
    let scores = evaluator.score(&predicted);
    let rate = predicted.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
    write(args.output_dir.as_deref(), ("predictions.json", &json!(predicted)), &scores)?;
    println!("{}", serde_json::to_string_pretty(&json!({"scores": scores, "examples": predicted.len(), "examples_per_second": rate}))?);
    Ok(())
}

fn token_classification(args: &Args, model: &TaskModel, max_seq_len: usize) -> Result<()> {
    let tokenizer = model.pretrained.tokenizer.as_ref().expect("checked by load");
    let started = std::time::Instant::now();
    let evaluator = TokenClassificationEvaluator::read(&args.data, &args.columns(), &model.labels, tokenizer, max_seq_len, args.batch_size)?;
    let predicted = evaluator.predict(&model.pretrained.model);
    let scores = evaluator.score(&predicted);
    let rate = predicted.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let preds: Vec<Value> = evaluator.sentences.iter().zip(&predicted).map(|(s, p)| json!({"tokens": s.words, "tags": s.tags, "predicted": p})).collect();
    write(args.output_dir.as_deref(), ("predictions.json", &Value::Array(preds)), &scores)?;
    println!("{}", serde_json::to_string_pretty(&json!({"scores": scores, "sentences": predicted.len(), "examples_per_second": rate}))?);
    Ok(())
}
