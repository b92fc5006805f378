//! The models a run starts from: its teachers, and the student (a checkpoint, a copy of the
//! teacher's layers, or random in the student plugin's shape), with the checks of each teacher
//! against that student and the task head it trains.

use burn::tensor::Device;
use serde_json::{Map, Value};

use super::{RunConfig, Task, pair_options};
use crate::error::{DistillError, Result};
use crate::model::{Head, TaskModel};
use crate::pretrained::{Pretrained, labels_from_config};
use crate::registry::{ArchitectureSpec, Registry, StudentShape};
use crate::strategy::Strategy;
use crate::strategy::compat::{Candidate, CheckpointFacts, PairPlan, check_pair};
use crate::strategy::student_init::{NeuronImportance, check_intermediate_size, copied_layers as copied_layers_by_default, from_teacher_layers, prune_feed_forward, Ranking, random_student};
use crate::tokenizer::TextTokenizer;
use crate::train::examples::{TrainExample, collate};

/// The teachers of a run, loaded.
pub(super) struct Teachers {
    /// The task teacher, of every stage but the general one when `general` is given.
    pub main: Option<Pretrained>,
    /// Teachers whose softened distributions are averaged with the main one's.
    pub extra: Vec<Pretrained>,
    /// The general stage's own teacher (`--general-teacher`).
    pub general: Option<Pretrained>,
}

impl Teachers {
    pub fn load(registry: &Registry, config: &RunConfig, device: &Device) -> Result<Self> {
        let plugin = config.teacher_plugin.as_deref();
        let main = match &config.teacher {
            Some(t) => Some(Pretrained::load(t, plugin, registry, device)?),
            None if config.strategy.needs_teacher() => return Err(DistillError::Invalid(format!("strategy {} needs --teacher", config.strategy.name()))),
            None => None,
        };
        let extra = config.extra_teachers.iter().map(|t| Pretrained::load(t, plugin, registry, device)).collect::<Result<_>>()?;
        let general = config.general_teacher.as_ref().map(|g| Pretrained::load(g, plugin, registry, device)).transpose()?;
        Ok(Self { main, extra, general })
    }

    /// The teachers a prediction stage learns from: the main one, then the extra ones.
    pub fn prediction(&self) -> impl Iterator<Item = &Pretrained> {
        self.main.iter().chain(self.extra.iter())
    }
}

/// The student as a run starts it, with what saving it needs.
pub(super) struct InitialStudent {
    pub spec: ArchitectureSpec,
    pub model: TaskModel,
    pub tokenizer: TextTokenizer,
    /// The `config.json` the exported student's is written from.
    pub base_config: Map<String, Value>,
    /// The teacher layers (counted from 1) a student built from the teacher copies.
    pub copied_layers: Option<Vec<usize>>,
}

impl InitialStudent {
    pub fn build(registry: &Registry, config: &RunConfig, teacher: Option<&Pretrained>, device: &Device) -> Result<Self> {
        let loaded = config.student.as_ref().map(|s| Pretrained::load(s, config.student_plugin.as_deref(), registry, device)).transpose()?;
        let spec: ArchitectureSpec = match (&config.student_plugin, &loaded, teacher) {
            (Some(name), _, _) => registry.require(name)?.spec.clone(),
            (None, Some(s), _) => s.spec.clone(),
            (None, None, Some(t)) => t.spec.clone(),
            (None, None, None) => return Err(DistillError::Invalid("give --student or --teacher".into())),
        };
        let (model, tokenizer, base_config, copied_layers) = match (loaded, teacher) {
            (Some(p), _) => {
                let tokenizer = match p.tokenizer {
                    Some(t) => Some(t),
                    None => teacher.and_then(|t| t.tokenizer.as_ref()).map(|x| TextTokenizer::load(&x.files)).transpose()?,
                };
                (p.model, tokenizer, p.raw_config, None)
            }
            (None, Some(t)) => {
                let (model, layers) = from_teacher(&spec, config, t, device)?;
                let tokenizer = t.tokenizer.as_ref().map(|x| TextTokenizer::load(&x.files)).transpose()?;
                (model, tokenizer, t.raw_config.clone(), layers)
            }
            (None, None) => return Err(DistillError::Invalid("give --student or --teacher".into())),
        };
        // Narrowed once the training data is at hand (`narrow`); refused here, before any data is read.
        if let Some(size) = config.student_intermediate_size {
            check_intermediate_size(&model.encoder.config, size)?;
        }
        let tokenizer = tokenizer.ok_or_else(|| DistillError::Invalid("neither the student nor the teacher has a tokenizer".into()))?;
        Ok(Self { spec, model, tokenizer, base_config, copied_layers })
    }

    /// Narrows a copied or given student's feed-forward blocks to `--student-intermediate-size`,
    /// ranking neurons as `--neuron-importance` says (by activations or the loss, on windows
    /// spread evenly over `examples`); a random student is already built that wide.
    pub fn narrow(mut self, config: &RunConfig, examples: &[TrainExample]) -> Result<Self> {
        let width = self.model.encoder.config.intermediate_size;
        // Nothing to narrow (a random student built at that width): no sample is drawn.
        let Some(size) = config.student_intermediate_size.filter(|&size| size != width) else { return Ok(self) };
        let picked = spread(examples, IMPORTANCE_WINDOWS);
        let pad_id = self.tokenizer.pad_id();
        let (ranking, by) = match config.neuron_importance {
            NeuronImportance::Weights => (Ranking::Weights, "weight".to_string()),
            NeuronImportance::Activations => (
                Ranking::Activations(picked.chunks(config.eval_batch_size.max(1)).map(|c| collate(c, pad_id).tokens).collect()),
                format!("activations on {} training windows", picked.len()),
            ),
            // Batches of the training size: a backward pass holds what training holds.
            NeuronImportance::Taylor => (
                Ranking::Taylor { batches: picked.chunks(config.train_config.batch_size.max(1)).map(|c| c.iter().map(|&e| e.clone()).collect()).collect(), pad_id },
                format!("the loss's gradient (Taylor) on {} training windows", picked.len()),
            ),
        };
        eprintln!("note: each feed-forward block of the student keeps {size} of its {width} neurons, ranked by {by}");
        self.model = prune_feed_forward(self.model, size, &ranking)?;
        Ok(self)
    }

    fn facts(&self) -> CheckpointFacts {
        CheckpointFacts {
            config: self.model.encoder.config.clone(),
            vocabulary: Some(self.tokenizer.vocabulary()),
            head: self.model.head(),
            labels: self.model.num_labels().map(|n| labels_from_config(&self.base_config, n)),
        }
    }

    /// A student without a head for the task gets a new one, initialised at random, as
    /// transformers does when it loads a base checkpoint into a task class (a note says so).
    pub fn with_task_head(mut self, task: Task, labels: &[String], seed: u64) -> Result<Self> {
        let head = match task {
            Task::Qa if self.model.qa.is_none() => (Head::QuestionAnswering, 2),
            Task::Classification if self.model.classifier.as_ref().is_none_or(|c| c.num_labels() != labels.len()) => (Head::Classification, labels.len()),
            Task::Regression if self.model.classifier.as_ref().is_none_or(|c| c.num_labels() != 1) => (Head::Classification, 1),
            Task::TokenClassification if self.model.token_classifier.as_ref().is_none_or(|c| c.num_labels() != labels.len()) => (Head::TokenClassification, labels.len()),
            _ => {
                self.name_labels(task, labels);
                return Ok(self);
            }
        };
        self.name_labels(task, labels);
        eprintln!("note: the student has no {:?} head for this task; it gets a new one, initialised at random", head.0);
        self.model = crate::model::with_new_head(self.model, head, self.spec.head_layout(), seed)?;
        Ok(self)
    }

    /// Writes the run's label names into the config the student is saved with, so that the
    /// saved model names its classes (`id2label`) as the data does rather than `LABEL_i`.
    fn name_labels(&mut self, task: Task, labels: &[String]) {
        if task == Task::Regression {
            // transformers reads a one-output head as regression from this key (MSE loss).
            self.base_config.insert("problem_type".into(), "regression".into());
        }
        if labels.is_empty() {
            return;
        }
        let id2label: Map<String, Value> = labels.iter().enumerate().map(|(i, l)| (i.to_string(), l.clone().into())).collect();
        let label2id: Map<String, Value> = labels.iter().enumerate().map(|(i, l)| (l.clone(), i.into())).collect();
        self.base_config.insert("id2label".into(), Value::Object(id2label));
        self.base_config.insert("label2id".into(), Value::Object(label2id));
    }
}

/// How many training windows rank a narrowed student's neurons by their activations or the
/// loss: enough for every neuron's score to settle, few enough to take seconds (activations)
/// or a minute or two (a backward pass per batch).
const IMPORTANCE_WINDOWS: usize = 512;

/// Up to `count` of `examples`, spread evenly over them (the data is in file order, so the first
/// ones would all come from a few articles).
fn spread(examples: &[TrainExample], count: usize) -> Vec<&TrainExample> {
    let count = count.min(examples.len());
    (0..count).map(|i| &examples[i * examples.len() / count]).collect()
}

/// A student built from the teacher: a copy of its layers when the widths allow it (DistilBERT
/// style), else random in the student plugin's default shape; with the layers it copied.
fn from_teacher(spec: &ArchitectureSpec, config: &RunConfig, teacher: &Pretrained, device: &Device) -> Result<(TaskModel, Option<Vec<usize>>)> {
    let shape = spec.student;
    let copy_count = match (config.student_layers, &config.student_plugin) {
        _ if config.random_student => None,
        (Some(n), _) => Some(n),
        (None, Some(_)) if shape.hidden_size == teacher.config.hidden_size => Some(shape.num_layers.min(teacher.config.num_layers)),
        (None, Some(_)) => None,
        (None, None) => Some((teacher.config.num_layers / 2).max(1)),
    };
    let layers = match &config.copy_layers {
        Some(list) => Some(list.clone()),
        None => copy_count.map(|n| copied_layers_by_default(n, teacher.config.num_layers)).transpose()?,
    };
    let model = match &layers {
        Some(layers) => from_teacher_layers(&teacher.model, layers)?,
        None => {
            let shape = StudentShape {
                num_layers: config.student_layers.unwrap_or(shape.num_layers),
                intermediate_size: config.student_intermediate_size.unwrap_or(shape.intermediate_size),
                ..shape
            };
            let head = teacher.model.head().map(|h| (h, teacher.model.num_labels().unwrap_or(2)));
            random_student(spec, &teacher.config, Some(shape), head, config.train_config.seed, device)?
        }
    };
    Ok((model, layers))
}

/// The concrete pair checks (vocabularies, heads, layer and head counts, widths): the task
/// teacher's plan, after every extra teacher is checked for prediction-layer distillation, and
/// the general teacher's own plan, since it may differ from the task teacher in depth and width.
pub(super) fn check_pairs(config: &RunConfig, teachers: &Teachers, student: &InitialStudent) -> Result<(PairPlan, Option<PairPlan>)> {
    let student_facts = student.facts();
    let options = pair_options(config);
    let check = |teacher: &Pretrained, strategy: Strategy| {
        let facts = teacher.facts();
        check_pair(Candidate { spec: &teacher.spec, checkpoint: Some(&facts) }, Candidate { spec: &student.spec, checkpoint: Some(&student_facts) }, strategy, &options)
    };
    let plan = match &teachers.main {
        Some(t) => {
            let plan = check(t, config.strategy).map_err(DistillError::Incompatible)?;
            for e in &teachers.extra {
                check(e, Strategy::Prediction).map_err(DistillError::Incompatible)?;
            }
            plan
        }
        None => PairPlan::default(),
    };
    let general_plan = teachers
        .general
        .as_ref()
        .map(|g| check(g, Strategy::Intermediate).map_err(|r| DistillError::Invalid(format!("--general-teacher {}: {r}", config.general_teacher.as_deref().unwrap_or_default()))))
        .transpose()?;
    Ok((plan, general_plan))
}

/// Whether a teacher with tokenizer `teacher` reads text differently from the student: their
/// vocabularies differ, so its outputs are carried over by characters (`strategy::cross_tokenizer`).
pub(super) fn reads_differently(teacher: &TextTokenizer, student: &TextTokenizer) -> bool {
    teacher.vocabulary() != student.vocabulary()
}

/// The checks of prediction teachers whose tokenizers differ from the student's, before
/// anything is written: each needs its own tokenizer to read the text, and QA's carried
/// distributions are compared as distributions (KL or soft cross-entropy), not logit by logit.
pub(super) fn check_alignment(config: &RunConfig, task: Task, teachers: &Teachers, student: &InitialStudent) -> Result<()> {
    if !super::learns_from_teacher_logits(config) || config.prediction.weight <= 0.0 {
        return Ok(());
    }
    let names = config.teacher.iter().chain(config.extra_teachers.iter());
    for (teacher, name) in teachers.prediction().zip(names) {
        let aligned = match &teacher.tokenizer {
            Some(t) => reads_differently(t, &student.tokenizer),
            None if teacher.config.vocab_size != student.model.encoder.config.vocab_size => {
                return Err(DistillError::Invalid(format!(
                    "teacher {name}: its vocabulary ({} tokens) differs from the student's ({}), and it has no tokenizer files to read the text its own way",
                    teacher.config.vocab_size, student.model.encoder.config.vocab_size
                )));
            }
            None => false,
        };
        if aligned && task == Task::Qa && config.prediction.loss == crate::strategy::prediction::KdLoss::Mse {
            return Err(DistillError::Invalid(format!(
                "--kd-loss mse: teacher {name} has another tokenizer, and QA's start and end distributions carried over to the student's tokens have no logits to compare one by one; use kl or soft_cross_entropy"
            )));
        }
    }
    Ok(())
}

/// Every stage that learns from the teachers' logits (prediction stages, and a joint stage's
/// prediction term) reads each teacher's own head for the task, so each prediction teacher needs
/// that head: checked here, before anything is written, rather than at a stage's first batch,
/// where a head of another task gives logits of the wrong shape.
pub(super) fn check_teacher_heads(config: &RunConfig, task: Task, teachers: &Teachers) -> Result<()> {
    if !super::learns_from_teacher_logits(config) {
        return Ok(());
    }
    let needed = match task {
        Task::Qa => Head::QuestionAnswering,
        Task::Classification | Task::Regression => Head::Classification,
        Task::TokenClassification => Head::TokenClassification,
    };
    let names = config.teacher.iter().chain(config.extra_teachers.iter());
    for (teacher, name) in teachers.prediction().zip(names) {
        match teacher.model.head() {
            Some(head) if head == needed => {}
            other => {
                let has = other.map_or("no task head".to_string(), |h| format!("a {h:?} head"));
                return Err(DistillError::Invalid(format!("the prediction-layer loss needs each teacher's {needed:?} head (task {task:?}), and the teacher {name} has {has}")));
            }
        }
    }
    Ok(())
}
