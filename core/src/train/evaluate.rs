//! Evaluation on a dev set during and after training: QA scored exactly as the official SQuAD
//! scripts, classification by accuracy and macro-F1, token classification by entity-level
//! F1 as seqeval gives it.

use std::path::Path;
use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::data::squad::SquadFile;
use crate::error::Result;
use crate::model::{Keep, TaskModel, to_host};
use crate::task::classification::{accuracy_and_macro_f1, argmax, matthews_correlation};
use crate::task::regression::{mean_squared_error, pearson, spearman};
use crate::task::qa::decode::{DecodeConfig, QaPrediction, decode};
use crate::task::qa::features::{FeatureConfig, QaExample, QaFeature, batch_features, build_features};
use crate::task::qa::score::{V2Options, evaluate_v1, evaluate_v2};
use crate::data::rows::DataColumns;
use crate::data::tagged::TaggedSentence;
use crate::task::token_classification::entities::{Scheme, score as entity_scores};
use crate::task::token_classification::windows::WordWindow;
use crate::task::token_classification::{read_windows, window_logits, word_labels};
use crate::tokenizer::TextTokenizer;
use crate::train::batches::length_sorted_batches;
use crate::train::examples::{TrainExample, collate};

pub struct EvalReport {
    /// The metric early stopping and the best checkpoint follow (higher is better).
    pub metric: f64,
    pub metric_name: &'static str,
    pub values: Value,
    pub examples_per_second: f64,
}

pub trait Evaluator {
    fn evaluate(&self, model: &TaskModel) -> Result<EvalReport>;
}

/// Start and end logits of `model` for each feature (over the feature's tokens), in batches of
/// `batch_size` formed by length.
pub fn qa_logits(model: &TaskModel, features: &[QaFeature], pad_id: u32, batch_size: usize) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let lengths: Vec<usize> = features.iter().map(|f| f.input_ids.len()).collect();
    let (mut starts, mut ends) = (vec![vec![]; features.len()], vec![vec![]; features.len()]);
    for rows in length_sorted_batches(&lengths, batch_size) {
        let refs: Vec<&QaFeature> = rows.iter().map(|&i| &features[i]).collect();
        let batch = batch_features(&refs, pad_id);
        let seq = batch.seq_len();
        let qa = model.forward_keeping(&batch, Keep::LastHidden).qa.expect("QA logits come from a model with a QA head");
        let (_, s) = to_host(qa.start_logits);
        let (_, e) = to_host(qa.end_logits);
        for (row, &i) in rows.iter().enumerate() {
            starts[i] = s[row * seq..row * seq + lengths[i]].to_vec();
            ends[i] = e[row * seq..row * seq + lengths[i]].to_vec();
        }
    }
    (starts, ends)
}

/// Runs a QA model over a SQuAD dev file.
pub struct QaEvaluator {
    pub squad: SquadFile,
    pub examples: Vec<QaExample>,
    pub features: Vec<QaFeature>,
    pub pad_id: u32,
    pub batch_size: usize,
    pub decode: DecodeConfig,
}

impl QaEvaluator {
    pub fn new(path: &Path, columns: &DataColumns, tokenizer: &TextTokenizer, features: &FeatureConfig, decode: DecodeConfig, batch_size: usize) -> Result<Self> {
        let (squad, _) = SquadFile::read_with(path, false, columns)?;
        let examples = QaExample::from_squad(&squad);
        let features = build_features(&examples, tokenizer, features)?;
        let decode = DecodeConfig { null_threshold: if squad.is_v2() { decode.null_threshold.or(Some(0.0)) } else { None }, ..decode };
        Ok(Self { squad, examples, features, pad_id: tokenizer.pad_id(), batch_size, decode })
    }

    /// Predictions of `model`, one per question, and the questions per second.
    pub fn predict(&self, model: &TaskModel) -> (Vec<QaPrediction>, f64) {
        let started = Instant::now();
        let (starts, ends) = qa_logits(model, &self.features, self.pad_id, self.batch_size);
        let predictions = decode(&self.examples, &self.features, &starts, &ends, &self.decode);
        let rate = self.examples.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
        (predictions, rate)
    }

    /// The official scores of `predictions`. For SQuAD 2.0 the best spans are scored with the
    /// null odds as no-answer probabilities at the decoding threshold, as HF's squad_v2 metric
    /// does: exact/f1 are those of the thresholded answers, and best_exact/best_f1 show what the
    /// best threshold would give.
    pub fn score(&self, predictions: &[QaPrediction]) -> Value {
        if self.squad.is_v2() {
            let spans: Map<String, Value> = predictions.iter().map(|p| (p.id.clone(), Value::from(p.best_span.clone()))).collect();
            let odds: Map<String, Value> = predictions.iter().map(|p| (p.id.clone(), json!(p.null_odds.min(1e30)))).collect();
            let thresh = self.decode.null_threshold.unwrap_or(f64::INFINITY);
            evaluate_v2(&self.squad, &spans, &V2Options { na_probs: Some(&odds), na_prob_thresh: thresh })
        } else {
            let preds: Map<String, Value> = predictions.iter().map(|p| (p.id.clone(), Value::from(p.text.clone()))).collect();
            evaluate_v1(&self.squad, &preds)
        }
    }
}

impl Evaluator for QaEvaluator {
    fn evaluate(&self, model: &TaskModel) -> Result<EvalReport> {
        let (predictions, rate) = self.predict(model);
        let values = self.score(&predictions);
        let metric = values["f1"].as_f64().unwrap_or(0.0);
        Ok(EvalReport { metric, metric_name: "f1", values, examples_per_second: rate })
    }
}

/// Runs a classification model over labelled examples.
pub struct ClassificationEvaluator {
    pub examples: Vec<TrainExample>,
    pub num_labels: usize,
    pub pad_id: u32,
    pub batch_size: usize,
}

/// Each class's probability (softmax of the logits) for each of `rows`, in one batch.
pub fn class_probabilities(model: &TaskModel, rows: &[&TrainExample], pad_id: u32) -> Vec<Vec<f32>> {
    let batch = collate(rows, pad_id);
    let logits = model.forward_keeping(&batch.tokens, Keep::LastHidden).logits.expect("a classification model has class logits");
    let (shape, values) = to_host(burn::tensor::activation::softmax(logits, 1));
    values.chunks(shape[1]).map(<[f32]>::to_vec).collect()
}

impl ClassificationEvaluator {
    pub fn predict(&self, model: &TaskModel) -> Vec<usize> {
        let mut predicted = Vec::with_capacity(self.examples.len());
        for chunk in self.examples.chunks(self.batch_size.max(1)) {
            let refs: Vec<&TrainExample> = chunk.iter().collect();
            let probabilities = class_probabilities(model, &refs, self.pad_id);
            predicted.extend(probabilities.iter().map(|row| argmax(row).unwrap_or(0)));
        }
        predicted
    }
}

impl ClassificationEvaluator {
    /// Accuracy and macro-F1 of `predicted` label ids against the examples' labels.
    pub fn score(&self, predicted: &[usize]) -> Value {
        let gold: Vec<usize> = self.examples.iter().map(|e| e.target.label().unwrap_or(usize::MAX)).collect();
        let (accuracy, macro_f1) = accuracy_and_macro_f1(predicted, &gold, self.num_labels);
        let mcc = matthews_correlation(predicted, &gold, self.num_labels);
        json!({"accuracy": accuracy, "macro_f1": macro_f1, "matthews_correlation": mcc, "total": gold.len()})
    }
}

impl Evaluator for ClassificationEvaluator {
    fn evaluate(&self, model: &TaskModel) -> Result<EvalReport> {
        let started = Instant::now();
        let predicted = self.predict(model);
        let values = self.score(&predicted);
        let rate = self.examples.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
        Ok(EvalReport { metric: values["accuracy"].as_f64().unwrap_or(0.0), metric_name: "accuracy", values, examples_per_second: rate })
    }
}

/// Runs a regression model (a classification head with one output) over scored examples.
pub struct RegressionEvaluator {
    pub examples: Vec<TrainExample>,
    pub pad_id: u32,
    pub batch_size: usize,
}

impl RegressionEvaluator {
    /// The model's score for each example.
    pub fn predict(&self, model: &TaskModel) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.examples.len());
        for chunk in self.examples.chunks(self.batch_size.max(1)) {
            let refs: Vec<&TrainExample> = chunk.iter().collect();
            out.extend(regression_scores(model, &refs, self.pad_id));
        }
        out
    }

    /// Pearson and Spearman correlation (as scipy) and mean squared error against the gold scores.
    pub fn score(&self, predicted: &[f64]) -> Value {
        let gold: Vec<f64> = self.examples.iter().map(|e| e.target.score().map_or(f64::NAN, f64::from)).collect();
        json!({"pearson": pearson(predicted, &gold), "spearman": spearman(predicted, &gold), "mse": mean_squared_error(predicted, &gold), "total": gold.len()})
    }
}

/// The one output of a regression model for each of `rows`, in one batch.
pub fn regression_scores(model: &TaskModel, rows: &[&TrainExample], pad_id: u32) -> Vec<f64> {
    let batch = collate(rows, pad_id);
    let logits = model.forward_keeping(&batch.tokens, Keep::LastHidden).logits.expect("a regression model has a classification head");
    to_host(logits).1.into_iter().map(f64::from).collect()
}

impl Evaluator for RegressionEvaluator {
    fn evaluate(&self, model: &TaskModel) -> Result<EvalReport> {
        let started = Instant::now();
        let predicted = self.predict(model);
        let values = self.score(&predicted);
        let rate = self.examples.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
        Ok(EvalReport { metric: values["pearson"].as_f64().unwrap_or(0.0), metric_name: "pearson", values, examples_per_second: rate })
    }
}

/// Runs a token-classification model over tagged sentences.
pub struct TokenClassificationEvaluator {
    pub sentences: Vec<TaggedSentence>,
    pub windows: Vec<WordWindow>,
    /// Label names in id order.
    pub labels: Vec<String>,
    pub pad_id: u32,
    pub batch_size: usize,
}

impl TokenClassificationEvaluator {
    /// Over the sentences of a tagged file (CoNLL or JSON lines) whose tags are all among `labels`.
    pub fn read(path: &Path, columns: &DataColumns, labels: &[String], tokenizer: &TextTokenizer, max_len: usize, batch_size: usize) -> Result<Self> {
        let (sentences, windows) = read_windows(path, columns, labels, tokenizer, max_len)?;
        Ok(Self { sentences, windows, labels: labels.to_vec(), pad_id: tokenizer.pad_id(), batch_size })
    }

    /// The predicted tag of every word, one sequence per sentence.
    pub fn predict(&self, model: &TaskModel) -> Vec<Vec<String>> {
        let inputs: Vec<TrainExample> = self.windows.iter().map(TrainExample::from_window).collect();
        let logits = window_logits(model, &inputs, self.pad_id, self.batch_size);
        let words: Vec<usize> = self.sentences.iter().map(|s| s.words.len()).collect();
        let outside = self.labels.iter().position(|l| l == "O").unwrap_or(0);
        word_labels(&self.windows, &logits, &words, self.labels.len(), outside)
            .into_iter()
            .map(|ids| ids.into_iter().map(|i| self.labels[i].clone()).collect())
            .collect()
    }

    /// Entity-level scores in seqeval's default mode (the reported precision, recall and F1),
    /// its strict IOB2 mode where every label is IOB2, and token accuracy.
    pub fn score(&self, predicted: &[Vec<String>]) -> Value {
        let gold: Vec<Vec<String>> = self.sentences.iter().map(|s| s.tags.clone()).collect();
        let lenient = entity_scores(&gold, predicted, Scheme::Lenient);
        let iob2 = self.labels.iter().all(|l| l == "O" || l.starts_with("B-") || l.starts_with("I-"));
        let strict = iob2.then(|| entity_scores(&gold, predicted, Scheme::StrictIob2));
        let (words, right) = gold.iter().zip(predicted).flat_map(|(g, p)| g.iter().zip(p)).fold((0usize, 0usize), |(n, r), (g, p)| (n + 1, r + usize::from(g == p)));
        json!({
            "precision": lenient.micro.precision,
            "recall": lenient.micro.recall,
            "f1": lenient.micro.f1,
            "token_accuracy": right as f64 / words.max(1) as f64,
            "entities": lenient.micro.support,
            "per_type": lenient.per_type,
            "strict_iob2": strict.map(|s| json!({"precision": s.micro.precision, "recall": s.micro.recall, "f1": s.micro.f1, "per_type": s.per_type})),
            "sentences": gold.len(),
        })
    }
}

impl Evaluator for TokenClassificationEvaluator {
    fn evaluate(&self, model: &TaskModel) -> Result<EvalReport> {
        let started = Instant::now();
        let predicted = self.predict(model);
        let values = self.score(&predicted);
        let rate = self.sentences.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
        Ok(EvalReport { metric: values["f1"].as_f64().unwrap_or(0.0), metric_name: "f1", values, examples_per_second: rate })
    }
}
