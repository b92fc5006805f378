//! A distillation run from one resolved configuration: loading teacher and student, checking
//! the pair, building the task's data, and running its stages in order (fine-tuning, prediction,
//! intermediate, or the 3-step TinyBERT recipe). Each stage writes its own directory with a
//! checkpoint, metrics and exported student, and a finished stage is skipped when the run is
//! started again, so a run resumes at any stage.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::data::classification::read_examples;
use crate::data::squad::SquadFile;
use crate::error::{DistillError, Result};
use crate::model::{Head, TaskModel};
use crate::pretrained::{Pretrained, save_model};
use crate::registry::{ArchitectureSpec, Registry, StudentShape};
use crate::strategy::Strategy;
use crate::strategy::compat::{Candidate, CheckpointFacts, PairOptions, PairPlan, check_pair};
use crate::strategy::intermediate::{IntermediateConfig, Projections};
use crate::strategy::mapping::LayerMapping;
use crate::strategy::prediction::PredictionConfig;
use crate::strategy::student_init::{copied_layers as copied_layers_by_default, from_teacher_layers, random_student};
use crate::task::qa::decode::DecodeConfig;
use crate::task::qa::features::{FeatureConfig, QaExample, build_features};
use crate::tokenizer::TextTokenizer;
use crate::train::checkpoint::Trainable;
use crate::train::evaluate::{ClassificationEvaluator, Evaluator, QaEvaluator};
use crate::train::examples::TrainExample;
use crate::train::teacher_cache;
use crate::train::trainer::{Stage, StageLoss, TrainConfig, run_stage};

/// The task a run trains for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Qa,
    Classification,
}

/// Every setting of a run, as resolved from defaults, a config file and flags.
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
    pub prediction: PredictionConfig,
    pub intermediate: IntermediateConfig,
    /// QA: exclude the question from the start/end distributions.
    pub mask_question: bool,
    pub features: FeatureConfig,
    pub decode: DecodeConfig,
    pub eval_batch_size: usize,
    /// Classification labels in id order; default: the teacher's, else sorted from the data.
    pub labels: Option<Vec<String>>,
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
            train: None,
            dev: None,
            general_train: None,
            intermediate_train: None,
            output: None,
            cache_dir: None,
            train_config: TrainConfig::default(),
            intermediate_epochs: 1,
            intermediate_learning_rate: 1e-4,
            prediction: PredictionConfig::default(),
            intermediate: IntermediateConfig { mapping: LayerMapping::Uniform, ..IntermediateConfig::default() },
            mask_question: false,
            features: FeatureConfig::default(),
            decode: DecodeConfig::default(),
            eval_batch_size: 32,
            labels: None,
            strict: false,
            resume: true,
            start_stage: None,
        }
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

/// Raw texts for general distillation: SQuAD contexts and questions, or the lines of a text file.
pub fn raw_texts(path: &Path) -> Result<Vec<String>> {
    if path.extension().is_some_and(|e| e == "json") {
        let (squad, _) = SquadFile::read(path, false)?;
        let mut texts = Vec::new();
        for article in &squad.data {
            for p in &article.paragraphs {
                texts.push(p.context.clone());
                texts.extend(p.qas.iter().map(|q| q.question.clone()));
            }
        }
        return Ok(texts);
    }
    let text = std::fs::read_to_string(path).map_err(|e| DistillError::io(path, e))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
}

struct TaskData {
    examples: Vec<TrainExample>,
    evaluator: Option<Box<dyn Evaluator>>,
}

fn task_data(task: Task, path: &Path, config: &RunConfig, tokenizer: &TextTokenizer, labels: &[String]) -> Result<Vec<TrainExample>> {
    match task {
        Task::Qa => {
            let (squad, report) = SquadFile::read(path, config.strict)?;
            if !report.skipped_answers.is_empty() {
                eprintln!("{}: skipped {} answers that do not match their context (first: {} {})", path.display(), report.skipped_answers.len(), report.skipped_answers[0].0, report.skipped_answers[0].1);
            }
            let examples = QaExample::from_squad(&squad);
            let features = build_features(&examples, tokenizer, &config.features)?;
            Ok(TrainExample::from_qa(&features, config.mask_question))
        }
        Task::Classification => TrainExample::from_classification(&read_examples(path)?, labels, tokenizer, config.features.max_seq_len),
    }
}

fn load_data(task: Task, config: &RunConfig, tokenizer: &TextTokenizer, labels: &[String], train: &Path) -> Result<TaskData> {
    let examples = task_data(task, train, config, tokenizer, labels)?;
    let evaluator: Option<Box<dyn Evaluator>> = match (&config.dev, task) {
        (None, _) => None,
        (Some(dev), Task::Qa) => Some(Box::new(QaEvaluator::new(dev, tokenizer, &config.features, config.decode, config.eval_batch_size)?)),
        (Some(dev), Task::Classification) => Some(Box::new(ClassificationEvaluator {
            examples: task_data(task, dev, config, tokenizer, labels)?,
            num_labels: labels.len(),
            pad_id: tokenizer.pad_id(),
            batch_size: config.eval_batch_size,
        })),
    };
    Ok(TaskData { examples, evaluator })
}

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

/// `copy_layers` against the other student settings, before anything is loaded or written.
fn check_copy_layers(config: &RunConfig) -> Result<()> {
    let Some(list) = &config.copy_layers else { return Ok(()) };
    if config.student.is_some() || config.random_student {
        return Err(DistillError::Invalid("copy_layers builds the student from the teacher's layers: leave out --student and --random-student".into()));
    }
    match config.student_layers {
        Some(n) if n != list.len() => Err(DistillError::Invalid(format!("student_layers is {n} but copy_layers names {} layers", list.len()))),
        _ => Ok(()),
    }
}

/// `general_teacher` teaches the recipe's general stage: refused where no such stage runs.
fn check_general_teacher(config: &RunConfig) -> Result<()> {
    match &config.general_teacher {
        Some(_) if config.strategy != Strategy::Tinybert => {
            Err(DistillError::Invalid(format!("--general-teacher teaches the general stage of --strategy tinybert; strategy {} has no general stage", config.strategy.name())))
        }
        _ => Ok(()),
    }
}

/// Runs a whole distillation (or fine-tuning) as configured.
pub fn run(registry: &Registry, config: &RunConfig, device: &Device) -> Result<RunReport> {
    check_plugins(registry, config)?;
    check_copy_layers(config)?;
    check_general_teacher(config)?;
    let output = require(&config.output, "--output")?.clone();
    let train_path = require(&config.train, "--train")?.clone();
    std::fs::create_dir_all(&output).map_err(|e| DistillError::io(&output, e))?;
    crate::io::write_json_atomic(&output.join("run-config.json"), config)?;

    let teacher = match &config.teacher {
        Some(t) => Some(Pretrained::load(t, config.teacher_plugin.as_deref(), registry, device)?),
        None if config.strategy.needs_teacher() => return Err(DistillError::Invalid(format!("strategy {} needs --teacher", config.strategy.name()))),
        None => None,
    };
    let extra: Vec<Pretrained> = config.extra_teachers.iter().map(|t| Pretrained::load(t, config.teacher_plugin.as_deref(), registry, device)).collect::<Result<_>>()?;
    let general_teacher = config.general_teacher.as_ref().map(|g| Pretrained::load(g, config.teacher_plugin.as_deref(), registry, device)).transpose()?;

    // The student: a checkpoint, the teacher's layers, or random in the student plugin's shape.
    let student_loaded = config.student.as_ref().map(|s| Pretrained::load(s, config.student_plugin.as_deref(), registry, device)).transpose()?;
    let student_spec: ArchitectureSpec = match (&config.student_plugin, &student_loaded, &teacher) {
        (Some(name), _, _) => registry.require(name)?.spec.clone(),
        (None, Some(s), _) => s.spec.clone(),
        (None, None, Some(t)) => t.spec.clone(),
        (None, None, None) => return Err(DistillError::Invalid("give --student or --teacher".into())),
    };
    let (mut student_model, tokenizer, base_config, copied_layers) = match (student_loaded, &teacher) {
        (Some(p), _) => {
            let tok = match p.tokenizer {
                Some(t) => Some(t),
                None => teacher.as_ref().and_then(|t| t.tokenizer.as_ref()).map(|x| TextTokenizer::load(&x.files)).transpose()?,
            };
            (p.model, tok, p.raw_config, None)
        }
        (None, Some(t)) => {
            // Copy teacher layers when the widths allow it (DistilBERT style), else start at random
            // in the student plugin's default shape.
            let shape = student_spec.student;
            let copy_count = match (config.student_layers, &config.student_plugin) {
                _ if config.random_student => None,
                (Some(n), _) => Some(n),
                (None, Some(_)) if shape.hidden_size == t.config.hidden_size => Some(shape.num_layers.min(t.config.num_layers)),
                (None, Some(_)) => None,
                (None, None) => Some((t.config.num_layers / 2).max(1)),
            };
            let layers = match &config.copy_layers {
                Some(list) => Some(list.clone()),
                None => copy_count.map(|n| copied_layers_by_default(n, t.config.num_layers)).transpose()?,
            };
            let model = match &layers {
                Some(layers) => from_teacher_layers(&t.model, layers)?,
                None => {
                    let shape = StudentShape { num_layers: config.student_layers.unwrap_or(shape.num_layers), ..shape };
                    let head = t.model.head().map(|h| (h, t.model.classifier.as_ref().map_or(2, |c| c.num_labels())));
                    random_student(&student_spec, &t.config, Some(shape), head, config.train_config.seed, device)?
                }
            };
            let tok = t.tokenizer.as_ref().map(|x| TextTokenizer::load(&x.files)).transpose()?;
            (model, tok, t.raw_config.clone(), layers)
        }
        (None, None) => return Err(DistillError::Invalid("give --student or --teacher".into())),
    };
    let tokenizer = tokenizer.ok_or_else(|| DistillError::Invalid("neither the student nor the teacher has a tokenizer".into()))?;

    // The concrete pair check: vocabularies, heads, layer and head counts, widths.
    let student_facts = CheckpointFacts {
        config: student_model.encoder.config.clone(),
        vocabulary: Some(tokenizer.vocabulary()),
        head: student_model.head(),
        labels: student_model.classifier.as_ref().map(|c| crate::pretrained::labels_from_config(&base_config, c.num_labels())),
    };
    let plan = match &teacher {
        Some(t) => {
            let tf = t.facts();
            let plan = check_pair(Candidate { spec: &t.spec, checkpoint: Some(&tf) }, Candidate { spec: &student_spec, checkpoint: Some(&student_facts) }, config.strategy, &pair_options(config))
                .map_err(DistillError::Incompatible)?;
            for e in &extra {
                let ef = e.facts();
                check_pair(Candidate { spec: &e.spec, checkpoint: Some(&ef) }, Candidate { spec: &student_spec, checkpoint: Some(&student_facts) }, Strategy::Prediction, &pair_options(config)).map_err(DistillError::Incompatible)?;
            }
            plan
        }
        None => PairPlan::default(),
    };
    // The general stage's own pair: its teacher may differ from the task teacher in depth and width.
    let general_plan = general_teacher
        .as_ref()
        .map(|g| {
            let gf = g.facts();
            check_pair(Candidate { spec: &g.spec, checkpoint: Some(&gf) }, Candidate { spec: &student_spec, checkpoint: Some(&student_facts) }, Strategy::Intermediate, &pair_options(config))
                .map_err(|r| DistillError::Invalid(format!("--general-teacher {}: {r}", config.general_teacher.as_deref().unwrap_or_default())))
        })
        .transpose()?;

    let head = student_model.head().or(teacher.as_ref().and_then(|t| t.model.head()));
    let task = match (config.task, head) {
        (Some(t), _) => t,
        (None, Some(Head::Classification)) => Task::Classification,
        (None, _) => Task::Qa,
    };
    let labels: Vec<String> = match (&config.labels, task) {
        (Some(l), _) => l.clone(),
        (None, Task::Classification) => match teacher.as_ref().and_then(|t| t.model.classifier.as_ref().map(|c| crate::pretrained::labels_from_config(&t.raw_config, c.num_labels()))) {
            Some(l) => l,
            None => {
                let mut l: Vec<String> = read_examples(&train_path)?.into_iter().map(|e| e.label).collect();
                l.sort();
                l.dedup();
                l
            }
        },
        (None, Task::Qa) => vec![],
    };

    // A base checkpoint gets a new head for the task, as transformers does when it loads one
    // into a task class (a note says so).
    let needs_head = match task {
        Task::Qa => student_model.qa.is_none(),
        Task::Classification => student_model.classifier.as_ref().is_none_or(|c| c.num_labels() != labels.len()),
    };
    if needs_head {
        let head = match task {
            Task::Qa => (Head::QuestionAnswering, 2),
            Task::Classification => (Head::Classification, labels.len()),
        };
        eprintln!("note: the student has no {:?} head for this task; it gets a new one, initialised at random", head.0);
        student_model = crate::model::with_new_head(student_model, head, student_spec.head_layout(), config.train_config.seed)?;
    }
    let data = load_data(task, config, &tokenizer, &labels, &train_path)?;
    let export = |model: &TaskModel, dir: &Path| save_model(model, &student_spec, &base_config, Some(&tokenizer.files), dir);
    let teachers: Vec<TaskModel> = teacher.iter().chain(extra.iter()).map(|t| t.model.clone()).collect();
    let mut stage_reports = Vec::new();
    let stage_list = stages(config.strategy);
    let start = config.start_stage.unwrap_or(1).max(1);
    if start > stage_list.len() {
        return Err(DistillError::Invalid(format!("--start-stage {start}: strategy {} has {} stages", config.strategy.name(), stage_list.len())));
    }
    for (index, (name, intermediate)) in stage_list.iter().enumerate() {
        let number = index + 1;
        let dir = output.join(format!("stage-{number}-{name}"));
        let done = dir.join("done.json");
        if number < start && !dir.exists() {
            // A stage skipped by --start-stage that never ran here (e.g. the general stage for a
            // student that is already a copy of the teacher's layers): the next stage starts
            // from the student as built.
            eprintln!("stage {number}/{} {name}: not run (--start-stage {start}, no {}); the next stage starts from the initial student", stage_list.len(), dir.display());
            stage_reports.push(json!({"stage": name, "skipped": true, "ran": false, "steps": 0, "seconds": 0.0}));
            continue;
        }
        if number < start || (config.resume && done.is_file()) {
            // Keep what the finished stage reported (steps, seconds, scores), so a run that ends in a
            // later sitting still accounts for every stage. (A stage before --start-stage may
            // have no report.)
            let mut report = if done.is_file() { crate::io::read_json::<serde_json::Value>(&done)? } else { json!({"stage": name}) };
            if !report.is_object() {
                return Err(DistillError::Invalid(format!("{}: expected a JSON object, the report of stage {number} ({name})", done.display())));
            }
            report["skipped"] = json!(true);
            // The next stage starts from this one's result, chosen as when it ran.
            let weights = best_checkpoint(&dir, !report["best_step"].is_null()).unwrap_or_else(|| dir.join("student"));
            let p = Pretrained::load(weights.to_str().unwrap_or_default(), Some(&student_spec.name), registry, device)
                .map_err(|e| DistillError::Invalid(format!("stage {number} ({name}) is skipped, but its student {} cannot be loaded: {e}", weights.display())))?;
            student_model = p.model;
            stage_reports.push(report);
            continue;
        }
        let examples_owned;
        let examples: &[TrainExample] = match (*name, config.strategy) {
            ("general-intermediate", _) => {
                let path = require(&config.general_train, "--general-train (raw text for the general stage)")?;
                examples_owned = TrainExample::from_texts(&raw_texts(path)?, &tokenizer, config.features.max_seq_len)?;
                &examples_owned
            }
            ("task-intermediate", _) if config.intermediate_train.is_some() => {
                examples_owned = task_data(task, config.intermediate_train.as_ref().expect("checked"), config, &tokenizer, &labels)?;
                &examples_owned
            }
            _ => &data.examples,
        };
        // The general stage learns from the general teacher where one is given.
        let (stage_teachers, stage_plan): (&[TaskModel], &PairPlan) = match (&general_teacher, &general_plan, *name) {
            (Some(g), Some(p), "general-intermediate") => (std::slice::from_ref(&g.model), p),
            _ => (&teachers, &plan),
        };
        let (loss, train_config) = if *intermediate {
            let pairs = stage_plan.layer_pairs.clone().ok_or_else(|| DistillError::Invalid("no layer mapping for intermediate distillation".into()))?;
            let c = TrainConfig { epochs: config.intermediate_epochs, learning_rate: config.intermediate_learning_rate, ..config.train_config.clone() };
            (StageLoss::Intermediate { config: config.intermediate.clone(), pairs }, c)
        } else if config.strategy == Strategy::Finetune || teacher.is_none() {
            (StageLoss::Finetune, config.train_config.clone())
        } else {
            (StageLoss::Prediction(config.prediction), config.train_config.clone())
        };
        let logits = match &loss {
            StageLoss::Prediction(p) if p.weight > 0.0 => {
                let cache = config.cache_dir.clone().unwrap_or_else(|| output.join("cache"));
                let mut all = Vec::new();
                for t in teacher.iter().chain(extra.iter()) {
                    let files = t.files.as_ref().expect("loaded teachers have files");
                    let key = teacher_cache::teacher_key(&[&files.weights, &files.config])?;
                    let (logits, path, hit) = teacher_cache::cached(&t.model, key, examples, tokenizer.pad_id(), config.eval_batch_size, &cache)?;
                    eprintln!("teacher logits {}: {}", if hit { "reused from" } else { "computed into" }, path.display());
                    all.push(logits);
                }
                all
            }
            _ => vec![],
        };
        let (s_width, t_width) = stage_plan.projection.unwrap_or((student_model.encoder.config.hidden_size, student_model.encoder.config.hidden_size));
        let projections = Projections::new(s_width, if *intermediate { t_width } else { s_width }, config.train_config.seed, device);
        let stage = Stage {
            name,
            loss,
            examples,
            teachers: stage_teachers,
            teacher_logits: &logits,
            evaluator: if *intermediate { None } else { data.evaluator.as_deref() },
            dir: &dir,
            pad_id: tokenizer.pad_id(),
            resume: config.resume,
        };
        eprintln!("stage {number}/{} {name}: {} examples, {} updates", stage_list.len(), examples.len(), crate::train::trainer::total_steps(examples.len(), &train_config));
        let outcome = run_stage(Trainable { model: student_model, projections }, &stage, &train_config, &export)?;
        student_model = match best_checkpoint(&dir, outcome.state.best_step.is_some()) {
            Some(best) => Pretrained::load(best.to_str().unwrap_or_default(), Some(&student_spec.name), registry, device)?.model,
            None => outcome.trainable.model,
        };
        let report = json!({"stage": name, "steps": outcome.state.step, "seconds": outcome.seconds, "best_metric": outcome.best_metric, "best_step": outcome.state.best_step, "stopped_early": outcome.state.stopped_early, "eval": outcome.last_eval});
        crate::io::write_json_atomic(&done, &report)?;
        stage_reports.push(report);
    }
    let student_dir = output.join("student");
    export(&student_model, &student_dir)?;
    let report = RunReport { output: output.clone(), student: student_dir, stages: stage_reports, plan, general_plan, copied_layers };
    crate::io::write_json_atomic(&output.join("report.json"), &report)?;
    Ok(report)
}
