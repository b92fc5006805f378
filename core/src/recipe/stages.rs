//! A run's stages in order. Each writes its own directory (checkpoint, metrics, exported
//! student, `done.json`); a finished stage is skipped when the run is started again and hands
//! on the student it chose, so a run resumes at any stage.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde_json::{Map, Value, json};

use super::RunConfig;
use super::data::{TaskData, raw_texts, task_examples, teacher_views};
use super::fingerprint::FileHashes;
use super::models::{Teachers, reads_differently};
use crate::error::{DistillError, Result};
use crate::hashing::Fingerprint;
use crate::model::TaskModel;
use crate::pretrained::{Pretrained, save_model};
use crate::registry::{ArchitectureSpec, Registry};
use crate::strategy::Strategy;
use crate::strategy::compat::PairPlan;
use crate::strategy::intermediate::Projections;
use crate::tokenizer::TextTokenizer;
use crate::train::checkpoint::Trainable;
use crate::train::examples::TrainExample;
use crate::train::teacher_cache::{self, ExampleLogits, TeacherReading};
use crate::train::trainer::{Stage, StageLoss, TrainConfig, run_stage, total_steps};

/// The stages of a strategy: (name, is intermediate).
pub fn stages(strategy: Strategy) -> Vec<(&'static str, bool)> {
    match strategy {
        Strategy::Finetune => vec![("finetune", false)],
        Strategy::Prediction => vec![("prediction", false)],
        Strategy::Intermediate => vec![("intermediate", true)],
        Strategy::Tinybert => vec![("general-intermediate", true), ("task-intermediate", true), ("prediction", false)],
    }
}

/// What a finished stage hands on: its best dev checkpoint if it evaluated and exported one;
/// None means its last weights.
fn best_checkpoint(stage_dir: &Path, evaluated: bool) -> Option<PathBuf> {
    let best = stage_dir.join("best");
    (evaluated && best.is_dir()).then_some(best)
}

/// What every stage of a run shares.
pub(super) struct StageRunner<'a> {
    pub registry: &'a Registry,
    pub config: &'a RunConfig,
    pub device: &'a Device,
    pub output: &'a Path,
    pub task: super::Task,
    pub labels: &'a [String],
    /// The `--train` file.
    pub train: &'a Path,
    pub data: &'a TaskData,
    pub teachers: &'a Teachers,
    /// The prediction teachers' models (`teachers.prediction()`), as the stages take them.
    pub task_teachers: &'a [TaskModel],
    pub plan: &'a PairPlan,
    pub general_plan: Option<&'a PairPlan>,
    pub spec: &'a ArchitectureSpec,
    pub tokenizer: &'a TextTokenizer,
    pub base_config: &'a Map<String, Value>,
    /// Hashes of the files the run reads, shared by the stages' fingerprints and the teacher-logit cache keys.
    pub file_hashes: FileHashes,
}

impl StageRunner<'_> {
    /// Saves a student in Hugging Face layout with the run's plugin, config and tokenizer.
    pub fn export(&self, model: &TaskModel, dir: &Path) -> Result<()> {
        save_model(model, self.spec, self.base_config, Some(&self.tokenizer.files), dir)
    }

    /// The directory of stage `number` (counted from 1).
    pub fn stage_dir(&self, number: usize, name: &str) -> PathBuf {
        self.output.join(format!("stage-{number}-{name}"))
    }

    /// Runs (or skips) every stage from `student`; returns the last stage's student and one
    /// report per stage. `fingerprints` (one per stage) were checked against what earlier runs
    /// left (`check_earlier_outputs`).
    pub fn run_all(&self, mut student: TaskModel, fingerprints: &[Fingerprint]) -> Result<(TaskModel, Vec<Value>)> {
        let stage_list = stages(self.config.strategy);
        let start = self.config.start_stage.unwrap_or(1).max(1);
        if start > stage_list.len() {
            return Err(DistillError::Invalid(format!("--start-stage {start}: strategy {} has {} stages", self.config.strategy.name(), stage_list.len())));
        }
        let mut reports = Vec::new();
        for (index, &(name, intermediate)) in stage_list.iter().enumerate() {
            let number = index + 1;
            let dir = self.stage_dir(number, name);
            let done = dir.join("done.json");
            if number < start && !dir.exists() {
                // A stage skipped by --start-stage that never ran here (e.g. the general stage for a
                // student that is already a copy of the teacher's layers): the next stage starts
                // from the student as built.
                eprintln!("stage {number}/{} {name}: not run (--start-stage {start}, no {}); the next stage starts from the initial student", stage_list.len(), dir.display());
                reports.push(json!({"stage": name, "skipped": true, "ran": false, "steps": 0, "seconds": 0.0}));
                continue;
            }
            let (next, report) = if number < start || (self.config.resume && done.is_file()) {
                self.finished(number, name, &dir, &done)?
            } else {
                if !self.config.resume && dir.exists() {
                    // Starting over: no metrics, best student or report of an earlier run may remain.
                    std::fs::remove_dir_all(&dir).map_err(|e| DistillError::io(&dir, e))?;
                }
                self.train(number, stage_list.len(), name, intermediate, &dir, student, &fingerprints[index])?
            };
            student = next;
            reports.push(report);
        }
        Ok((student, reports))
    }

    /// A finished stage (or one before --start-stage): its student, chosen as when it ran, and
    /// its report, kept so that a run ending in a later sitting still accounts for every stage
    /// (a stage before --start-stage may have none).
    fn finished(&self, number: usize, name: &str, dir: &Path, done: &Path) -> Result<(TaskModel, Value)> {
        let mut report = if done.is_file() { crate::io::read_json::<Value>(done)? } else { json!({"stage": name}) };
        if !report.is_object() {
            return Err(DistillError::Invalid(format!("{}: expected a JSON object, the report of stage {number} ({name})", done.display())));
        }
        report["skipped"] = json!(true);
        let weights = best_checkpoint(dir, !report["best_step"].is_null()).unwrap_or_else(|| dir.join("student"));
        let student = self
            .load_student(&weights)
            .map_err(|e| DistillError::Invalid(format!("stage {number} ({name}) is skipped, but its student {} cannot be loaded: {e}", weights.display())))?;
        Ok((student, report))
    }

    fn load_student(&self, dir: &Path) -> Result<TaskModel> {
        Ok(Pretrained::load(dir.to_str().unwrap_or_default(), Some(&self.spec.name), self.registry, self.device)?.model)
    }

    /// A stage's training examples: raw text for the general stage, `--intermediate-train` for
    /// the task-intermediate stage where given, else `--train`.
    fn examples(&self, name: &str) -> Result<Cow<'_, [TrainExample]>> {
        let config = self.config;
        Ok(match name {
            "general-intermediate" => {
                let path = super::require(&config.general_train, "--general-train (raw text for the general stage)")?;
                Cow::Owned(TrainExample::from_texts(&raw_texts(path)?, self.tokenizer, config.features.max_seq_len)?)
            }
            "task-intermediate" if config.intermediate_train.is_some() => {
                let path = config.intermediate_train.as_ref().expect("checked");
                // Its labels were checked before anything was written (check_intermediate_labels).
                Cow::Owned(task_examples(self.task, path, config, self.tokenizer, self.labels, false)?)
            }
            _ => Cow::Borrowed(&self.data.examples),
        })
    }

    /// The loss and schedule of a stage: intermediate stages use the intermediate epochs and
    /// learning rate, and add the prediction term where `intermediate_prediction_weight` asks
    /// (never in the general stage: raw text, and a teacher that may have no task head); the
    /// others fine-tune, or distil the prediction layer where there is a teacher.
    pub(super) fn loss(&self, name: &str, intermediate: bool, plan: &PairPlan) -> Result<(StageLoss, TrainConfig)> {
        let config = self.config;
        Ok(if intermediate {
            let pairs = plan.layer_pairs.clone().ok_or_else(|| DistillError::Invalid("no layer mapping for intermediate distillation".into()))?;
            let c = TrainConfig { epochs: config.intermediate_epochs, learning_rate: config.intermediate_learning_rate, ..config.train_config.clone() };
            let weight = config.intermediate_prediction_weight;
            let loss = if weight > 0.0 && name != "general-intermediate" {
                StageLoss::Joint { config: config.intermediate.clone(), pairs, weight, prediction: config.prediction }
            } else {
                StageLoss::Intermediate { config: config.intermediate.clone(), pairs }
            };
            (loss, c)
        } else if config.strategy == Strategy::Finetune || self.teachers.main.is_none() {
            (StageLoss::Finetune, config.train_config.clone())
        } else {
            (StageLoss::Prediction(config.prediction), config.train_config.clone())
        })
    }

    /// Each prediction teacher's logits for `examples`, from the cache or computed into it.
    fn teacher_logits(&self, loss: &StageLoss, examples: &[TrainExample]) -> Result<Vec<Vec<ExampleLogits>>> {
        let StageLoss::Prediction(p) = loss else { return Ok(vec![]) };
        if p.weight <= 0.0 {
            return Ok(vec![]);
        }
        let cache = self.config.cache_dir.clone().unwrap_or_else(|| self.output.join("cache"));
        let mut all = Vec::new();
        for t in self.teachers.prediction() {
            let key = self.file_hashes.model(t)?;
            let views = match t.tokenizer.as_ref().filter(|tok| reads_differently(tok, self.tokenizer)) {
                // A prediction stage trains on --train (cross-tokenizer pairs have no intermediate stages).
                Some(tok) => Some(teacher_views(self.task, self.train, self.config, self.tokenizer, tok, t.config.max_sequence_length(), self.labels)?),
                None => None,
            };
            let reading = views.as_deref().map(|views| TeacherReading { views, pad_id: t.tokenizer.as_ref().map_or(0, TextTokenizer::pad_id), temperature: p.temperature });
            if reading.is_some() {
                eprintln!("teacher {}: its tokenizer differs from the student's; it reads each example its own way, carried over by characters", t.files.as_ref().map_or("", |f| f.name.as_str()));
            }
            let (logits, path, hit) = teacher_cache::cached(&t.model, key, examples, reading.as_ref(), self.tokenizer.pad_id(), self.config.eval_batch_size, &cache)?;
            eprintln!("teacher logits {}: {}", if hit { "reused from" } else { "computed into" }, path.display());
            all.push(logits);
        }
        Ok(all)
    }

    /// Trains one stage from `student`; returns the student it hands on (its best dev
    /// checkpoint where it evaluated, else its last weights) and its report, also written to
    /// `done.json`.
    #[allow(clippy::too_many_arguments)] // the stage's place in the run, its directory, student and fingerprint
    fn train(&self, number: usize, count: usize, name: &str, intermediate: bool, dir: &Path, student: TaskModel, fingerprint: &Fingerprint) -> Result<(TaskModel, Value)> {
        let examples = self.examples(name)?;
        // The general stage learns from the general teacher where one is given.
        let (teachers, plan): (&[TaskModel], &PairPlan) = match (&self.teachers.general, self.general_plan, name) {
            (Some(g), Some(p), "general-intermediate") => (std::slice::from_ref(&g.model), p),
            _ => (self.task_teachers, self.plan),
        };
        let (loss, train_config) = self.loss(name, intermediate, plan)?;
        // A stage that trains the head (every stage but a purely intermediate one) is evaluated.
        let evaluator = if matches!(loss, StageLoss::Intermediate { .. }) { None } else { self.data.evaluator.as_deref() };
        let logits = self.teacher_logits(&loss, &examples)?;
        let width = student.encoder.config.hidden_size;
        let (s_width, t_width) = plan.projection.unwrap_or((width, width));
        let projections = Projections::new(s_width, if intermediate { t_width } else { s_width }, self.config.train_config.seed, self.device);
        let stage = Stage {
            name,
            loss,
            examples: &examples,
            teachers,
            teacher_logits: &logits,
            evaluator,
            dir,
            pad_id: self.tokenizer.pad_id(),
            resume: self.config.resume,
            fingerprint: fingerprint.clone(),
        };
        eprintln!("stage {number}/{count} {name}: {} examples, {} updates", examples.len(), total_steps(examples.len(), &train_config));
        let export = |model: &TaskModel, dir: &Path| self.export(model, dir);
        let outcome = run_stage(Trainable { model: student, projections }, &stage, &train_config, &export)?;
        let next = match best_checkpoint(dir, outcome.state.best_step.is_some()) {
            Some(best) => self.load_student(&best)?,
            None => outcome.trainable.model,
        };
        let report = json!({
            "stage": name, "steps": outcome.state.step, "seconds": outcome.seconds, "best_metric": outcome.best_metric,
            "best_step": outcome.state.best_step, "stopped_early": outcome.state.stopped_early, "eval": outcome.last_eval,
            "fingerprint": outcome.state.fingerprint,
        });
        crate::io::write_json_atomic(&dir.join("done.json"), &report)?;
        Ok((next, report))
    }
}
