//! A distillation run from one resolved configuration: loading teacher and student, checking
//! the pair, building the task's data, and running its stages in order (fine-tuning, prediction,
//! intermediate, or the 3-step TinyBERT recipe). Each stage writes its own directory with a
//! checkpoint, metrics and exported student, and a finished stage is skipped when the run is
//! started again, so a run resumes at any stage.
//!
//! Here: the configuration, the checks made before anything is loaded, and `run`, which puts the
//! parts together: `models` (teachers, the initial student, the pair checks), `data` (task,
//! labels, examples, evaluator) and `stages` (the stage loop).

mod data;
mod fingerprint;
pub mod layers;
mod models;
mod stages;
mod validate;

use std::path::PathBuf;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::data::rows::DataColumns;
use crate::error::{DistillError, Result};
use crate::model::TaskModel;
use crate::registry::Registry;
use crate::strategy::Strategy;
use crate::strategy::compat::{Candidate, PairOptions, PairPlan, check_pair};
use crate::strategy::intermediate::IntermediateConfig;
use crate::strategy::mapping::LayerMapping;
use crate::strategy::prediction::PredictionConfig;
use crate::strategy::student_init::NeuronImportance;
use crate::task::qa::decode::DecodeConfig;
use crate::task::qa::features::FeatureConfig;
use crate::train::trainer::TrainConfig;
use layers::Sources;
use data::{TaskData, check_intermediate_labels, resolve_labels, resolve_task};
use models::{InitialStudent, Teachers, check_alignment, check_teacher_heads, check_pairs};
use stages::StageRunner;

/// The task a run trains for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Qa,
    Classification,
    /// A classification head with one output, trained on scores by squared error.
    Regression,
    TokenClassification,
}

/// Every setting of a run, as resolved from the defaults, a config file, the environment and
/// flags (`layers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    pub strategy: Strategy,
    pub task: Option<Task>,
    pub teacher_plugin: Option<String>,
    pub student_plugin: Option<String>,
    /// Teacher model: directory or hub id. Extra teachers average their soft targets.
    pub teacher: Option<String>,
    pub extra_teachers: Vec<String>,
    /// Teacher of the recipe's general stage [default: the teacher]: TinyBERT learns general
    /// knowledge from the pre-trained model and the task from the fine-tuned one, so this is
    /// typically the checkpoint the teacher was fine-tuned from. Its depth and width may differ.
    pub general_teacher: Option<String>,
    /// Student model to start from; without it the student is built (see `student_layers`).
    pub student: Option<String>,
    /// Layers of a student built from the teacher's layers; default: half the teacher's, or the
    /// student plugin's default when one is named and its width matches the teacher's.
    pub student_layers: Option<usize>,
    /// Teacher layers (counted from 1, increasing) a student built from the teacher copies;
    /// default: every (N / M)-th from the first, so 6 -> 3 copies 1, 3, 5.
    pub copy_layers: Option<Vec<usize>>,
    /// Build the student at random in the student plugin's default shape, even if widths match.
    pub random_student: bool,
    /// Feed-forward width of the student: a student copied from the teacher (or given by
    /// `student`) keeps that many of each layer's inner neurons, ranked as `neuron_importance`
    /// says (`strategy::student_init::prune_feed_forward`); a random one is built that wide.
    pub student_intermediate_size: Option<usize>,
    /// How the narrowed student's neurons are chosen: by weight, or by their activations on
    /// the training data.
    pub neuron_importance: NeuronImportance,
    pub train: Option<PathBuf>,
    pub dev: Option<PathBuf>,
    /// Raw text for the general stage of the TinyBERT recipe (SQuAD JSON or text lines).
    pub general_train: Option<PathBuf>,
    /// Task data for the intermediate stage of the recipe (e.g. augmented); default: `train`.
    pub intermediate_train: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub train_config: TrainConfig,
    /// Epochs of the intermediate stages (the recipe's general and task-intermediate stages).
    pub intermediate_epochs: usize,
    pub intermediate_learning_rate: f64,
    /// Weight of a prediction-layer term (`prediction`'s loss, temperature and weight, the
    /// teacher's logits from the same forward pass) added to the loss of the task's intermediate
    /// stage, which then trains the head too and is evaluated: joint training as TextBrewer's
    /// GeneralDistiller and PKD do it. 0 (the default) leaves intermediate stages as TinyBERT has them.
    pub intermediate_prediction_weight: f64,
    pub prediction: PredictionConfig,
    pub intermediate: IntermediateConfig,
    /// QA: exclude the question from the start/end distributions.
    pub mask_question: bool,
    pub features: FeatureConfig,
    pub decode: DecodeConfig,
    pub eval_batch_size: usize,
    /// Classification labels (token classification: tags) in id order; default: the teacher's,
    /// else sorted from the data.
    pub labels: Option<Vec<String>>,
    /// The columns of a JSON-lines or Parquet file (and of a CSV/TSV header) that hold each field.
    pub columns: DataColumns,
    /// Stop at the first answer that does not match its context instead of skipping it.
    pub strict: bool,
    pub resume: bool,
    /// Start at this stage (1-based), taking the student of the stage before from its directory.
    pub start_stage: Option<usize>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::Prediction,
            task: None,
            teacher_plugin: None,
            student_plugin: None,
            teacher: None,
            extra_teachers: vec![],
            general_teacher: None,
            student: None,
            student_layers: None,
            copy_layers: None,
            random_student: false,
            student_intermediate_size: None,
            neuron_importance: NeuronImportance::default(),
            train: None,
            dev: None,
            general_train: None,
            intermediate_train: None,
            output: None,
            cache_dir: None,
            train_config: TrainConfig::default(),
            intermediate_epochs: 1,
            intermediate_learning_rate: 1e-4,
            intermediate_prediction_weight: 0.0,
            prediction: PredictionConfig::default(),
            intermediate: IntermediateConfig { mapping: LayerMapping::Uniform, ..IntermediateConfig::default() },
            mask_question: false,
            features: FeatureConfig::default(),
            decode: DecodeConfig::default(),
            eval_batch_size: 32,
            labels: None,
            columns: DataColumns::default(),
            strict: false,
            resume: true,
            start_stage: None,
        }
    }
}

impl RunConfig {
    /// This configuration with each data file named as a hub dataset split
    /// (`hub:OWNER/NAME[:CONFIG]:SPLIT`) replaced by the local file that holds it.
    pub fn with_hub_data_resolved(&self) -> Result<Self> {
        let resolve = |p: &Option<PathBuf>| p.as_deref().map(crate::data::hub::resolve_data).transpose();
        Ok(Self {
            train: resolve(&self.train)?,
            dev: resolve(&self.dev)?,
            general_train: resolve(&self.general_train)?,
            intermediate_train: resolve(&self.intermediate_train)?,
            ..self.clone()
        })
    }
}

/// What a finished run reports.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub output: PathBuf,
    pub student: PathBuf,
    pub stages: Vec<Value>,
    pub plan: PairPlan,
    /// The general stage's pair, when it has a teacher of its own (`general_teacher`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub general_plan: Option<PairPlan>,
    /// The teacher layers (counted from 1) a student built from the teacher started as.
    pub copied_layers: Option<Vec<usize>>,
}

fn require<'a, T>(value: &'a Option<T>, flag: &str) -> Result<&'a T> {
    value.as_ref().ok_or_else(|| DistillError::Invalid(format!("{flag} is required")))
}

/// Checks the plugin pair before anything is loaded; the rejection carries every reason.
pub fn check_plugins(registry: &Registry, config: &RunConfig) -> Result<()> {
    let (Some(t), Some(s)) = (&config.teacher_plugin, &config.student_plugin) else { return Ok(()) };
    let (t, s) = (&registry.require(t)?.spec, &registry.require(s)?.spec);
    check_pair(Candidate { spec: t, checkpoint: None }, Candidate { spec: s, checkpoint: None }, config.strategy, &pair_options(config))
        .map(|_| ())
        .map_err(DistillError::Incompatible)
}

fn pair_options(config: &RunConfig) -> PairOptions {
    PairOptions { mapping: config.intermediate.mapping.clone(), head_averaged_attention: config.intermediate.head_averaged_attention, attention: config.intermediate.attention_weight > 0.0 }
}

/// Whether a stage of the run learns from the teachers' logits: a prediction stage, or a joint
/// stage's prediction term.
fn learns_from_teacher_logits(config: &RunConfig) -> bool {
    matches!(config.strategy, Strategy::Prediction | Strategy::Tinybert) || config.intermediate_prediction_weight > 0.0
}

/// `--max-seq-len` against the position table of every model the run feeds.
fn check_sequence_length(config: &RunConfig, teachers: &Teachers, student: &InitialStudent) -> Result<()> {
    let length = Some(config.features.max_seq_len);
    for t in teachers.main.iter().chain(&teachers.extra).chain(&teachers.general) {
        let name = t.files.as_ref().map_or("teacher", |f| f.name.as_str());
        t.config.sequence_length(length, 0, "--max-seq-len", name)?;
    }
    student.model.encoder.config.sequence_length(length, 0, "--max-seq-len", "student")?;
    Ok(())
}

/// Runs a whole distillation (or fine-tuning) as configured.
pub fn run(registry: &Registry, config: &RunConfig, device: &Device) -> Result<RunReport> {
    run_with_sources(registry, config, &Sources::new(), device)
}

/// [`run`], recording in `run-config.json` what set each value (`layers::RunConfig::layered`).
pub fn run_with_sources(registry: &Registry, config: &RunConfig, sources: &Sources, device: &Device) -> Result<RunReport> {
    config.validate()?;
    config.train_config.precision.check_device(device)?;
    let config = &config.with_hub_data_resolved()?;
    check_plugins(registry, config)?;
    let output = require(&config.output, "--output")?.clone();
    let train_path = require(&config.train, "--train")?.clone();

    let teachers = Teachers::load(registry, config, device)?;
    if config.strategy == Strategy::Tinybert && !config.extra_teachers.is_empty() {
        eprintln!("note: --extra-teacher joins the prediction stage (3); the intermediate stages learn from --teacher alone");
    }
    let student = InitialStudent::build(registry, config, teachers.main.as_ref(), device)?;
    check_sequence_length(config, &teachers, &student)?;
    let (plan, general_plan) = check_pairs(config, &teachers, &student)?;
    let task = resolve_task(config, &student, &teachers);
    if task == Task::Qa {
        config.features.validate()?;
    }
    if task == Task::Regression && config.labels.is_some() {
        return Err(DistillError::Invalid("--labels: a regression task has scores, not labels".into()));
    }
    check_teacher_heads(config, task, &teachers)?;
    check_alignment(config, task, &teachers, &student)?;
    let labels = resolve_labels(config, task, &teachers, &train_path)?;
    let student = student.with_task_head(task, &labels, config.train_config.seed)?;
    let data = TaskData::load(task, config, &student.tokenizer, &labels, &train_path)?;
    let InitialStudent { spec, model, tokenizer, base_config, copied_layers } = student.narrow(config, &data.examples)?;
    check_intermediate_labels(task, config)?;
    let task_teachers: Vec<TaskModel> = teachers.prediction().map(|t| t.model.clone()).collect();

    let runner = StageRunner {
        registry,
        config,
        device,
        output: &output,
        task,
        labels: &labels,
        train: &train_path,
        data: &data,
        teachers: &teachers,
        task_teachers: &task_teachers,
        plan: &plan,
        general_plan: general_plan.as_ref(),
        spec: &spec,
        tokenizer: &tokenizer,
        base_config: &base_config,
        file_hashes: Default::default(),
    };
    let fingerprints = runner.fingerprints()?;
    runner.check_earlier_outputs(&fingerprints)?;
    // Written only once the models, the pair, the data and what earlier runs left have passed
    // their checks, so that a refused run leaves no output behind and changes none.
    std::fs::create_dir_all(&output).map_err(|e| DistillError::io(&output, e))?;
    let mut recorded = serde_json::to_value(config).expect("a run configuration serialises");
    if !sources.is_empty() {
        recorded[layers::SOURCES_KEY] = serde_json::to_value(sources).expect("sources serialise");
    }
    crate::io::write_json_atomic(&output.join("run-config.json"), &recorded)?;
    let (trained, stage_reports) = runner.run_all(model, &fingerprints)?;
    let student_dir = output.join("student");
    runner.export(&trained, &student_dir)?;
    let report = RunReport { output: output.clone(), student: student_dir, stages: stage_reports, plan, general_plan, copied_layers };
    crate::io::write_json_atomic(&output.join("report.json"), &report)?;
    Ok(report)
}
