//! What decides each stage's result, so that a run started again in the same output directory
//! reuses a finished stage (or resumes a checkpoint) only when it would train it the same way,
//! and otherwise is refused, naming the fields that differ, before anything is written.
//!
//! A stage's fingerprint holds its settings (as their JSON), the bytes of its teachers' files,
//! of its data and dev files and of the tokenizer, how the student is built, and the previous
//! stage's fingerprint, so a change upstream reaches every later stage. The trainer adds a hash
//! of every tokenized example and stores the whole in the checkpoint and `done.json`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::models::reads_differently;
use super::Task;
use super::stages::{StageRunner, stages};
use crate::data::rows::{DataColumns, RowFile};
use crate::error::{DistillError, Result};
use crate::hashing::{Fingerprint, hash_files};
use crate::pretrained::Pretrained;
use crate::train::trainer::{StageLoss, TrainConfig};

/// Hashes of files (`hashing::hash_files`), each read once however often a run asks: the
/// stages' fingerprints name a teacher several times, and its logit cache is keyed by the same.
#[derive(Default)]
pub(super) struct FileHashes(RefCell<HashMap<Vec<PathBuf>, u64>>);

impl FileHashes {
    pub fn of(&self, files: &[&Path]) -> Result<u64> {
        let key: Vec<PathBuf> = files.iter().map(|f| f.to_path_buf()).collect();
        if let Some(&h) = self.0.borrow().get(&key) {
            return Ok(h);
        }
        let h = hash_files(files)?;
        self.0.borrow_mut().insert(key, h);
        Ok(h)
    }

    /// A model's weights and config, as its teacher-logit cache is keyed.
    pub fn model(&self, model: &Pretrained) -> Result<u64> {
        let files = model.files.as_ref().ok_or_else(|| DistillError::Invalid("a loaded model without files".into()))?;
        self.of(&[&files.weights, &files.config])
    }
}

fn hex(hash: u64) -> String {
    format!("{hash:016x}")
}

impl StageRunner<'_> {
    /// The fingerprint of every stage of the run, in order.
    pub fn fingerprints(&self) -> Result<Vec<Fingerprint>> {
        let config = self.config;
        let hashes = &self.file_hashes;
        let student_files = match &config.student {
            Some(s) => {
                let files = crate::hub::resolve(s)?;
                hex(hashes.of(&[&files.weights, &files.config])?)
            }
            None => "(built from the teacher)".into(),
        };
        let tokenizer = hex(hashes.of(&self.tokenizer.files.paths())?);
        let mut previous = "(the initial student)".to_string();
        let mut out = Vec::new();
        for &(name, intermediate) in &stages(config.strategy) {
            let plan = match (&self.teachers.general, self.general_plan, name) {
                (Some(_), Some(p), "general-intermediate") => p,
                _ => self.plan,
            };
            let (loss, train_config) = self.loss(name, intermediate, plan)?;
            let mut f = Fingerprint::default();
            f.insert("stage", name);
            f.insert("previous_stage", previous.clone());
            f.setting("strategy", &config.strategy);
            f.setting("task", &self.task);
            f.setting("labels", &self.labels);
            f.setting("plugins", &json!([config.teacher_plugin, config.student_plugin, self.spec.name]));
            f.setting("student_build", &json!({
                "student_layers": config.student_layers, "copy_layers": config.copy_layers, "random_student": config.random_student,
                "student_intermediate_size": config.student_intermediate_size, "neuron_importance": config.neuron_importance,
            }));
            f.insert("student_files", student_files.clone());
            f.insert("tokenizer_files", tokenizer.clone());
            f.setting("features", &json!({"features": config.features, "mask_question": config.mask_question, "strict": config.strict}));
            f.setting("train_config", &TrainConfig { save_every: 0, ..train_config });
            f.setting("loss", &loss_settings(&loss));
            f.insert("teachers", self.stage_teachers(name, &loss).iter().map(|t| hashes.model(t).map(hex)).collect::<Result<Vec<_>>>()?.join(","));
            // A teacher reading with a tokenizer of its own: its targets depend on that tokenizer
            // too (recorded only then, so the fingerprints of other runs stay as they were).
            let own_tokenizers: Vec<String> = self
                .stage_teachers(name, &loss)
                .iter()
                .filter(|_| matches!(loss, StageLoss::Prediction(_)))
                .filter_map(|t| t.tokenizer.as_ref().filter(|tok| reads_differently(tok, self.tokenizer)))
                .map(|tok| hashes.of(&tok.files.paths()).map(hex))
                .collect::<Result<_>>()?;
            if !own_tokenizers.is_empty() {
                f.insert("teacher_tokenizers", own_tokenizers.join(","));
            }
            // Contents, not paths: a moved file with the same bytes trains the same.
            f.insert("data", hex(hashes.of(&[self.stage_data(name)])?));
            // Other columns of the same bytes are other examples.
            if let Some(columns) = columns_read(self.task, &config.columns, &[Some(self.stage_data(name)), config.dev.as_deref()]) {
                f.insert("columns", columns.to_string());
            }
            let evaluated = !matches!(loss, StageLoss::Intermediate { .. });
            f.insert("dev", match (&config.dev, evaluated) {
                (Some(dev), true) => format!("{} {}", hex(hashes.of(&[dev])?), serde_json::to_string(&config.decode).expect("serialises")),
                _ => "(none)".into(),
            });
            previous = f.digest();
            out.push(f);
        }
        Ok(out)
    }

    /// The models a stage learns from.
    fn stage_teachers(&self, name: &str, loss: &StageLoss) -> Vec<&Pretrained> {
        match (name, &self.teachers.general) {
            ("general-intermediate", Some(g)) => vec![g],
            _ if matches!(loss, StageLoss::Prediction(_)) => self.teachers.prediction().collect(),
            _ => self.teachers.main.iter().collect(),
        }
    }

    /// The file a stage's training examples come from (`examples` reads it).
    fn stage_data(&self, name: &str) -> &Path {
        let config = self.config;
        match (name, &config.general_train, &config.intermediate_train) {
            ("general-intermediate", Some(g), _) => g,
            ("task-intermediate", _, Some(i)) => i,
            _ => self.train,
        }
    }

    /// Refuses, before anything is written, a rerun whose finished stages (`done.json`) or
    /// checkpoints were made with other settings than `fingerprints`; stages before
    /// `--start-stage` are taken as they are, and `--no-resume` starts every stage over.
    pub fn check_earlier_outputs(&self, fingerprints: &[Fingerprint]) -> Result<()> {
        if !self.config.resume {
            return Ok(());
        }
        let start = self.config.start_stage.unwrap_or(1);
        for (index, (&(name, _), now)) in stages(self.config.strategy).iter().zip(fingerprints).enumerate() {
            let number = index + 1;
            if number < start {
                continue;
            }
            let dir = self.stage_dir(number, name);
            let (done, checkpoint) = (dir.join("done.json"), dir.join("checkpoint.safetensors"));
            let (what, recorded) = if done.is_file() {
                let report: Value = crate::io::read_json(&done)?;
                match report.get("fingerprint").cloned().map(serde_json::from_value::<Fingerprint>) {
                    Some(Ok(f)) => ("finished", f),
                    _ => {
                        eprintln!("warning: {} records no fingerprint (written by an earlier distill): stage {number} ({name}) is taken as finished without checking its settings", done.display());
                        continue;
                    }
                }
            } else if checkpoint.is_file() {
                ("checkpointed", crate::train::checkpoint::read_state(&checkpoint)?.fingerprint)
            } else {
                continue;
            };
            // The recorded fingerprint also holds what the trainer adds; compare the fields both have.
            let differences = recorded.differences(now, true);
            if !differences.is_empty() {
                return Err(DistillError::Invalid(format!(
                    "stage {number} ({name}) in {} was {what} with other settings or data: {}. Rerun with the same settings, start over with --no-resume, or give another --output",
                    dir.display(),
                    differences.join("; ")
                )));
            }
        }
        Ok(())
    }
}

/// The columns the task's readers take their fields from, where the files name them: a
/// classification or regression file's (rows and CSV/TSV headers alike), a token-classification
/// or QA row file's. SQuAD JSON and CoNLL have no columns; runs on them record none, so their
/// fingerprints stay as they were.
fn columns_read(task: Task, columns: &DataColumns, files: &[Option<&Path>]) -> Option<Value> {
    match task {
        Task::Classification | Task::Regression => Some(json!({"text": columns.text, "text_pair": columns.text_pair, "label": columns.label})),
        Task::TokenClassification if files.iter().flatten().any(|f| RowFile::of(f, true).is_some()) => Some(json!({"tokens": columns.tokens, "tags": columns.tags})),
        Task::Qa if files.iter().flatten().any(|f| RowFile::of(f, false).is_some()) => {
            Some(json!({"id": columns.id, "title": columns.title, "context": columns.context, "question": columns.question, "answers": columns.answers}))
        }
        Task::TokenClassification | Task::Qa => None,
    }
}

/// A stage loss as the settings that make it, under the names the run configuration uses.
fn loss_settings(loss: &StageLoss) -> Value {
    match loss {
        StageLoss::Finetune => json!("finetune"),
        StageLoss::Prediction(p) => json!({"prediction": p}),
        StageLoss::Intermediate { config, pairs } => json!({"intermediate": config, "layer_pairs": pairs}),
        StageLoss::Joint { config, pairs, weight, prediction } => json!({"intermediate": config, "layer_pairs": pairs, "intermediate_prediction_weight": weight, "prediction": prediction}),
    }
}
