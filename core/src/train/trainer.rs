//! The training loop of one stage: seeded data order, dropout on in training only, gradient
//! accumulation, AdamW with linear warm-up and decay, clipping, evaluation every N steps with
//! early stopping and the best student kept, atomic checkpoints that resume exactly, a
//! progress bar and a JSON-lines metrics log; a NaN or infinite loss stops the run.

use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::batches::{epoch_batches, mix, padded_tokens};
use super::checkpoint::{self, TrainState, Trainable};
use super::evaluate::Evaluator;
use super::examples::{Collated, LabelledTokens, Target, TrainExample, collate, gold_indices};
use super::optimizer::{AdamW, AdamWConfig};
use super::precision::Precision;
use super::progress::{MetricsLog, bar};
use super::schedule::LinearSchedule;
use super::teacher_cache::ExampleLogits;
use crate::hashing::{Fingerprint, KeyHasher};
use crate::error::{DistillError, Result};
use crate::model::{Keep, TaskModel, TaskOutput};
use crate::strategy::intermediate::{IntermediateConfig, intermediate_loss};
use crate::strategy::prediction::{PredictionConfig, PredictionLoss, TeacherLogits, prediction_loss, regression_loss};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub seed: u64,
    pub epochs: usize,
    /// Stop after this many updates even if epochs remain.
    pub max_steps: Option<usize>,
    pub batch_size: usize,
    /// Micro-batches per update.
    pub grad_accum: usize,
    pub learning_rate: f64,
    /// Fraction of the updates spent warming up.
    pub warmup_ratio: f64,
    pub optimizer: AdamWConfig,
    /// Evaluate every N updates (and at the end) when a dev set is given.
    pub eval_every: Option<usize>,
    /// Stop after this many evaluations without a better dev metric.
    pub patience: Option<usize>,
    /// Write a checkpoint every N updates (and at the end).
    pub save_every: usize,
    /// Batch examples of similar length together (see `batches::epoch_batches`): less padding,
    /// faster epochs. Left out of the serialised form when off, so that checkpoints written
    /// before it existed still resume.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub group_by_length: bool,
    /// The float type of the student's forward and backward passes (`precision`): f32, or bf16
    /// or f16 with f32 master weights. Left out when f32, as `group_by_length` is when off.
    #[serde(skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            epochs: 2,
            max_steps: None,
            batch_size: 16,
            grad_accum: 1,
            learning_rate: 5e-5,
            warmup_ratio: 0.1,
            optimizer: AdamWConfig::default(),
            eval_every: None,
            patience: None,
            save_every: 200,
            group_by_length: false,
            precision: Precision::F32,
        }
    }
}

/// The loss a stage trains with.
#[derive(Debug, Clone, PartialEq)]
pub enum StageLoss {
    /// Labels only.
    Finetune,
    Prediction(PredictionConfig),
    Intermediate { config: IntermediateConfig, pairs: Vec<(usize, usize)> },
    /// Intermediate-layer and prediction-layer distillation at once (TextBrewer's
    /// GeneralDistiller, PKD): the intermediate loss plus `weight` times the prediction-layer
    /// loss, the teacher's logits taken from the same forward pass.
    Joint { config: IntermediateConfig, pairs: Vec<(usize, usize)>, weight: f64, prediction: PredictionConfig },
}

impl StageLoss {
    /// What the stage's forward passes (student and teacher) keep: the last hidden state, or
    /// what its intermediate loss compares.
    pub fn keep(&self) -> Keep {
        match self {
            Self::Finetune | Self::Prediction(_) => Keep::LastHidden,
            Self::Intermediate { config, .. } | Self::Joint { config, .. } => config.keep(),
        }
    }
}

/// Everything one stage needs besides the student.
pub struct Stage<'a> {
    pub name: &'a str,
    pub loss: StageLoss,
    pub examples: &'a [TrainExample],
    /// Teachers on the plain device (intermediate stages run them per batch).
    pub teachers: &'a [TaskModel],
    /// Cached teacher logits per teacher, per example (prediction stages).
    pub teacher_logits: &'a [Vec<ExampleLogits>],
    pub evaluator: Option<&'a dyn Evaluator>,
    /// Where the stage writes checkpoint.safetensors, metrics.jsonl, best/ and student/.
    pub dir: &'a Path,
    pub pad_id: u32,
    pub resume: bool,
    /// What the caller knows decides the stage's result beyond what the trainer sees (teacher
    /// and data files, the student it starts from); the trainer adds the loss, the training
    /// settings and a hash of every example, and resumes only a checkpoint with the same.
    pub fingerprint: Fingerprint,
}

pub struct StageOutcome {
    pub trainable: Trainable,
    pub state: TrainState,
    pub best_metric: Option<f64>,
    pub last_eval: Option<serde_json::Value>,
    pub seconds: f64,
}

/// Exports a student in Hugging Face layout; the caller knows its plugin and tokenizer.
pub type Exporter<'a> = &'a dyn Fn(&TaskModel, &Path) -> Result<()>;

/// Teacher logits of a batch, each padded to the batch length, as `[batch, seq]` tensors per head.
fn teacher_head(logits: &[ExampleLogits], rows: &[usize], head: usize, width: usize, device: &Device) -> Tensor<2> {
    let mut data = Vec::with_capacity(rows.len() * width);
    for &r in rows {
        let v = &logits[r][head];
        data.extend_from_slice(v);
        data.extend(std::iter::repeat_n(0.0, width - v.len()));
    }
    Tensor::from_data(TensorData::new(data, [rows.len(), width]), device)
}

struct StepLoss {
    total: Tensor<1>,
    parts: Vec<(&'static str, Tensor<1>)>,
}

impl StepLoss {
    /// A prediction-layer loss, its label term logged as `label_term`.
    fn of(loss: PredictionLoss, label_term: &'static str) -> Self {
        let parts = loss.kd.map(|k| ("kd", k)).into_iter().chain(loss.ce.map(|c| (label_term, c))).collect();
        Self { total: loss.total, parts }
    }
}

/// The prediction-layer loss of a batch's head outputs. `teacher(head, width)` gives the
/// teacher's logits of head 0 (QA start, the classes, a regression score, or every token's
/// labels as `[batch, seq * labels]`) or 1 (QA end), padded to `width`.
fn prediction_term(student: TaskOutput, teacher: &dyn Fn(usize, usize) -> Result<TeacherLogits>, config: &PredictionConfig, stage: &Stage<'_>, rows: &[usize], positions: &Tensor<2>, device: &Device) -> Result<StepLoss> {
    let b = rows.len();
    let targets: Vec<Target> = rows.iter().map(|&r| stage.examples[r].target.clone()).collect();
    let gold = |pick: fn(&Target) -> Option<usize>, what: &str| -> Result<Tensor<1, Int>> {
        gold_indices(&targets, pick, device).ok_or_else(|| DistillError::Invalid(format!("stage {}: examples without {what} cannot train with labels", stage.name)))
    };
    let have_teacher = config.weight > 0.0;
    if let Some(qa) = student.qa {
        let seq = positions.dims()[1];
        let gs = (config.weight < 1.0).then(|| gold(Target::span_start, "QA spans")).transpose()?;
        let ge = (config.weight < 1.0).then(|| gold(Target::span_end, "QA spans")).transpose()?;
        let (ts, te) = if have_teacher { (Some(teacher(0, seq)?), Some(teacher(1, seq)?)) } else { (None, None) };
        let ls = prediction_loss(qa.start_logits, ts.as_ref(), gs, positions, config);
        let le = prediction_loss(qa.end_logits, te.as_ref(), ge, positions, config);
        let mut parts = vec![];
        if let (Some(a), Some(b)) = (ls.kd, le.kd) {
            parts.push(("kd", (a + b).div_scalar(2.0)));
        }
        if let (Some(a), Some(b)) = (ls.ce, le.ce) {
            parts.push(("ce", (a + b).div_scalar(2.0)));
        }
        Ok(StepLoss { total: (ls.total + le.total).div_scalar(2.0), parts })
    } else if student.logits.as_ref().is_some_and(|l| l.dims()[1] == 1) {
        let scores: Option<Vec<f32>> = targets.iter().map(Target::score).collect();
        let gold = match (config.weight < 1.0, scores) {
            (false, _) => None,
            (true, Some(s)) => Some(Tensor::<2>::from_data(TensorData::new(s, [b, 1]), device)),
            (true, None) => return Err(DistillError::Invalid(format!("stage {}: examples without scores cannot train a regression head with labels", stage.name))),
        };
        let t = have_teacher.then(|| teacher(0, 1)).transpose()?;
        Ok(StepLoss::of(regression_loss(student.logits.expect("checked above"), t.as_ref(), gold, config.weight), "mse"))
    } else if let Some(logits) = student.logits {
        let classes = logits.dims()[1];
        let mask = Tensor::<2>::ones([b, classes], device);
        let g = (config.weight < 1.0).then(|| gold(Target::label, "labels")).transpose()?;
        let t = have_teacher.then(|| teacher(0, classes)).transpose()?;
        Ok(StepLoss::of(prediction_loss(logits, t.as_ref(), g, &mask, config), "ce"))
    } else if let Some(logits) = student.token_logits {
        let [_, seq, labels] = logits.dims();
        let labelled = LabelledTokens::of(&targets, seq, device).ok_or_else(|| DistillError::Invalid(format!("stage {}: token classification trains on tagged examples only", stage.name)))?;
        let t = have_teacher.then(|| teacher(0, seq * labels)).transpose()?.map(|t| t.map(|l| labelled.select(l.reshape([b * seq, labels]))));
        let student_rows = labelled.select(logits.reshape([b * seq, labels]));
        let mask = Tensor::<2>::ones([labelled.count, labels], device);
        Ok(StepLoss::of(prediction_loss(student_rows, t.as_ref(), (config.weight < 1.0).then(|| labelled.gold.clone()), &mask, config), "ce"))
    } else {
        Err(DistillError::Invalid(format!("stage {}: the student has no task head (QA, classification or token classification) to train", stage.name)))
    }
}

/// The teacher's logits of one head from a live forward pass (joint stages), lifted to the
/// student's autodiff graph as constants.
fn live_teacher_head(teacher: &TaskOutput, head: usize, stage: &str) -> Result<TeacherLogits> {
    let logits = match (&teacher.qa, &teacher.logits, head) {
        (Some(qa), _, 0) => qa.start_logits.clone(),
        (Some(qa), _, _) => qa.end_logits.clone(),
        (None, Some(l), _) => l.clone(),
        (None, None, _) if teacher.token_logits.is_some() => {
            let l = teacher.token_logits.clone().expect("checked by the guard");
            let [b, seq, labels] = l.dims();
            l.reshape([b, seq * labels])
        }
        (None, None, _) => return Err(DistillError::Invalid(format!("stage {stage}: the prediction term of a joint stage needs a teacher with the student's task head, and the teacher has none"))),
    };
    Ok(TeacherLogits::One(logits.autodiff()))
}

fn batch_loss(student: &Trainable, stage: &Stage<'_>, rows: &[usize], batch: &Collated, precision: Precision, device: &Device) -> Result<StepLoss> {
    let b = rows.len();
    let seq = batch.tokens.seq_len();
    let keep = stage.loss.keep();
    let out = precision.forward(&student.model, &batch.tokens, keep);
    let positions = Tensor::<2>::from_data(TensorData::new(batch.positions.clone(), [b, seq]), device);
    match &stage.loss {
        StageLoss::Finetune => {
            let config = PredictionConfig { weight: 0.0, ..PredictionConfig::default() };
            let no_teacher = |_: usize, _: usize| -> Result<TeacherLogits> { unreachable!("weight 0 needs no teacher") };
            prediction_term(out, &no_teacher, &config, stage, rows, &positions, device)
        }
        StageLoss::Prediction(config) => {
            let cached = |head: usize, width: usize| -> Result<TeacherLogits> {
                let all: Vec<Tensor<2>> = stage.teacher_logits.iter().map(|l| teacher_head(l, rows, head, width, device)).collect();
                Ok(if all.len() == 1 { TeacherLogits::One(all.into_iter().next().expect("one")) } else { TeacherLogits::Many(all) })
            };
            prediction_term(out, &cached, config, stage, rows, &positions, device)
        }
        StageLoss::Intermediate { config, pairs } | StageLoss::Joint { config, pairs, .. } => {
            let teacher = stage.teachers.first().ok_or_else(|| DistillError::Invalid(format!("stage {}: intermediate distillation needs a teacher", stage.name)))?;
            let t_out = if matches!(stage.loss, StageLoss::Joint { .. }) {
                teacher.forward_keeping(&batch.tokens, keep)
            } else {
                // Without a prediction term the heads are not needed (a masked-LM head would
                // cost a vocabulary-wide projection per token).
                TaskOutput { encoder: teacher.encoder.forward_keeping(&batch.tokens, keep), qa: None, logits: None, token_logits: None, mlm_logits: None }
            };
            let mask = Tensor::<2>::from_data(
                TensorData::new(batch.tokens.attention_mask.iter().map(|&m| m as f32).collect::<Vec<_>>(), [b, seq]),
                device,
            );
            let l = intermediate_loss(&out.encoder, &t_out.encoder, &student.projections, &mask, pairs, config);
            let mut parts = vec![("embedding", l.embedding), ("hidden", l.hidden)];
            if let Some(a) = l.attention {
                parts.push(("attention", a));
            }
            let mut total = l.total;
            if let StageLoss::Joint { weight, prediction, .. } = &stage.loss {
                let live = |head: usize, _: usize| live_teacher_head(&t_out, head, stage.name);
                let p = prediction_term(out, &live, prediction, stage, rows, &positions, device)?;
                total = total + p.total.mul_scalar(*weight);
                parts.extend(p.parts);
            }
            Ok(StepLoss { total, parts })
        }
    }
}

/// A hash of every example the stage trains on: its tokens, target and positions.
fn examples_hash(examples: &[TrainExample]) -> String {
    let mut h = KeyHasher::default();
    for e in examples {
        for v in [&e.input_ids, &e.token_type_ids] {
            h.write(&(v.len() as u64).to_le_bytes());
            v.iter().for_each(|x| h.write(&x.to_le_bytes()));
        }
        h.write(format!("{:?}", e.target).as_bytes());
        if let Some(p) = &e.positions {
            p.iter().for_each(|x| h.write(&x.to_le_bytes()));
        }
    }
    format!("{:016x}/{}", h.finish(), examples.len())
}

/// The stage's fingerprint: the caller's fields and what the trainer sees. How often the stage
/// saves is left out: it does not change the result.
pub fn fingerprint(stage: &Stage<'_>, config: &TrainConfig) -> Fingerprint {
    let mut f = stage.fingerprint.clone();
    f.insert("stage", stage.name);
    f.insert("stage_loss", format!("{:?}", stage.loss));
    f.setting("train_config", &TrainConfig { save_every: 0, ..config.clone() });
    f.insert("examples", examples_hash(stage.examples));
    f
}

/// The number of updates a stage takes.
pub fn total_steps(examples: usize, config: &TrainConfig) -> usize {
    let micro_per_epoch = examples.div_ceil(config.batch_size.max(1));
    let updates = (micro_per_epoch * config.epochs).div_ceil(config.grad_accum.max(1));
    config.max_steps.map_or(updates, |m| m.min(updates))
}

/// The rows of each micro-batch, by its index counted over all epochs; an epoch's order is
/// drawn when its first micro-batch is asked for.
struct BatchOrder<'a> {
    lengths: Vec<usize>,
    config: &'a TrainConfig,
    micro_per_epoch: usize,
    epoch: Option<(usize, Vec<Vec<usize>>)>,
}

impl BatchOrder<'_> {
    fn rows(&mut self, micro_batch: usize) -> Vec<usize> {
        let epoch = micro_batch / self.micro_per_epoch;
        if self.epoch.as_ref().is_none_or(|(e, _)| *e != epoch) {
            self.epoch = Some((epoch, epoch_batches(&self.lengths, self.config.batch_size, self.config.seed, epoch, self.config.group_by_length)));
        }
        self.epoch.as_ref().expect("set above").1[micro_batch % self.micro_per_epoch].clone()
    }
}

/// Sums over the micro-batches of one update, for its metrics line.
#[derive(Default)]
struct UpdateSums {
    loss: f64,
    parts: Vec<(&'static str, f64)>,
    examples: usize,
}

/// One update: its index, its micro-batches (counted over all epochs) and the factor its loss is
/// multiplied by before backward (f16's loss scale, else 1).
struct Update<'a> {
    step: usize,
    micro: &'a [usize],
    loss_scale: f64,
}

/// The forward and backward passes of one update's micro-batches: their gradients (each loss
/// divided by their number, then multiplied by the loss scale) and the sums for the metrics line.
/// A loss that is not finite stops the stage, naming the last good checkpoint.
fn accumulate_update(student: &Trainable, stage: &Stage<'_>, order: &mut BatchOrder<'_>, update: Update<'_>, ckpt_path: &Path, ad: &Device) -> Result<(GradientsParams, UpdateSums)> {
    let Update { step, micro, loss_scale } = update;
    let mut accumulator = GradientsAccumulator::<Trainable>::new();
    let mut sums = UpdateSums::default();
    for &g in micro {
        let rows = order.rows(g);
        let refs: Vec<&TrainExample> = rows.iter().map(|&r| &stage.examples[r]).collect();
        let batch = collate(&refs, stage.pad_id);
        // Dropout masks depend only on (seed, micro-batch): a resumed run draws the same ones.
        ad.seed(mix(order.config.seed, g as u64, 1));
        let loss = batch_loss(student, stage, &rows, &batch, order.config.precision, ad)?;
        let value = loss.total.clone().into_scalar::<f32>() as f64;
        if !value.is_finite() {
            return Err(DistillError::Invalid(format!(
                "stage {}: the loss became {value} at step {} (epoch {}); stopped. The last good checkpoint is {}{}",
                stage.name,
                step + 1,
                g / order.micro_per_epoch,
                ckpt_path.display(),
                if ckpt_path.is_file() { "" } else { " (none written yet)" }
            )));
        }
        sums.loss += value;
        for (name, t) in &loss.parts {
            let v = t.clone().into_scalar::<f32>() as f64;
            match sums.parts.iter_mut().find(|(n, _)| n == name) {
                Some(p) => p.1 += v,
                None => sums.parts.push((name, v)),
            }
        }
        let mut total = loss.total.div_scalar(micro.len() as f64);
        if loss_scale != 1.0 {
            total = total.mul_scalar(loss_scale);
        }
        let grads = total.backward();
        accumulator.accumulate(student, GradientsParams::from_grads(grads, student));
        sums.examples += rows.len();
    }
    Ok((accumulator.grads(), sums))
}

/// Resumes from the stage's checkpoint; refuses one written with other settings or data,
/// naming the fields that differ.
fn resume(ckpt_path: &Path, fingerprint: &Fingerprint, student: Trainable, optimizer: &mut AdamW) -> Result<(Trainable, TrainState)> {
    let (restored, saved) = checkpoint::load(ckpt_path, student, optimizer)?;
    let differences = saved.fingerprint.differences(fingerprint, false);
    if !differences.is_empty() {
        return Err(DistillError::Invalid(format!(
            "{}: written by a run with other settings or data ({}); resume with the same settings, start over with --no-resume, or use a fresh output directory",
            ckpt_path.display(),
            differences.join("; ")
        )));
    }
    Ok((restored, saved))
}

/// Evaluates the student on the dev set, exports it to best/ when it beats the best so far, and
/// counts evaluations without a gain towards early stopping. Returns the scores.
fn evaluate_and_keep_best(evaluator: &dyn Evaluator, student: &Trainable, stage: &Stage<'_>, config: &TrainConfig, state: &mut TrainState, log: &mut MetricsLog, export: Exporter<'_>) -> Result<serde_json::Value> {
    let model = student.model.valid();
    let report = evaluator.evaluate(&model)?;
    log.write(&json!({"stage": stage.name, "step": state.step, "eval": report.values, "eval_examples_per_s": report.examples_per_second}))?;
    if state.best_metric.is_none_or(|b| report.metric > b) {
        state.best_metric = Some(report.metric);
        state.best_step = Some(state.step);
        state.evals_since_best = 0;
        export(&model, &stage.dir.join("best"))?;
    } else {
        state.evals_since_best += 1;
        if config.patience.is_some_and(|p| state.evals_since_best >= p) {
            state.stopped_early = true;
            log.write(&json!({"stage": stage.name, "step": state.step, "early_stop": true, "best_step": state.best_step}))?;
        }
    }
    Ok(report.values)
}

/// Trains `trainable` (on the plain device) through one stage.
pub fn run_stage(trainable: Trainable, stage: &Stage<'_>, config: &TrainConfig, export: Exporter<'_>) -> Result<StageOutcome> {
    let started = Instant::now();
    let n = stage.examples.len();
    if n == 0 {
        return Err(DistillError::Invalid(format!("stage {}: no training examples", stage.name)));
    }
    std::fs::create_dir_all(stage.dir).map_err(|e| DistillError::io(stage.dir, e))?;
    let ckpt_path: PathBuf = stage.dir.join("checkpoint.safetensors");
    let plain = trainable.model.encoder.device();
    config.precision.check_device(&plain)?;
    let ad = plain.clone().autodiff();
    let total = total_steps(n, config);
    let schedule = LinearSchedule { peak: config.learning_rate, warmup_steps: (total as f64 * config.warmup_ratio).round() as usize, total_steps: total };
    let mut optimizer = AdamW::new(config.optimizer);
    let fp = fingerprint(stage, config);
    let mut state = TrainState { step: 0, total_steps: total, best_metric: None, best_step: None, evals_since_best: 0, stopped_early: false, fingerprint: fp.clone(), optimizer_updates: 0, seconds: 0.0, loss_scaler: config.precision.loss_scaler() };
    let mut student = trainable.train();
    if stage.resume && ckpt_path.is_file() {
        (student, state) = resume(&ckpt_path, &fp, student, &mut optimizer)?;
    }
    // Seconds of earlier sittings, as of the checkpoint resumed from.
    let earlier_seconds = state.seconds;
    let mut log = MetricsLog::open(&stage.dir.join("metrics.jsonl"))?;
    let micro_per_epoch = n.div_ceil(config.batch_size.max(1));
    let accum = config.grad_accum.max(1);
    let progress = bar(total as u64, stage.name);
    progress.set_position(state.step as u64);
    let mut last_eval = None;
    let mut order = BatchOrder { lengths: stage.examples.iter().map(|e| e.input_ids.len()).collect(), config, micro_per_epoch, epoch: None };
    if state.step == 0 {
        // What the batching costs in padding: the tokens of an epoch against the positions its
        // batches compute on.
        let first = epoch_batches(&order.lengths, config.batch_size, config.seed, 0, config.group_by_length);
        log.write(&json!({"stage": stage.name, "epoch_tokens": order.lengths.iter().sum::<usize>(), "epoch_padded_tokens": padded_tokens(&order.lengths, &first), "group_by_length": config.group_by_length}))?;
        // The first epoch's order is the one just drawn: keep it rather than draw it again.
        order.epoch = Some((0, first));
    }
    let mut rate_clock = Instant::now();

    while state.step < total && !state.stopped_early {
        let step = state.step;
        let micro: Vec<usize> = (0..accum).map(|j| step * accum + j).filter(|g| *g < micro_per_epoch * config.epochs).collect();
        let loss_scale = state.loss_scaler.map_or(1.0, |s| s.scale);
        let (grads, sums) = accumulate_update(&student, stage, &mut order, Update { step, micro: &micro, loss_scale }, &ckpt_path, &ad).inspect_err(|_| progress.abandon())?;
        let lr = schedule.lr(step);
        let (updated, grad_norm) = match &mut state.loss_scaler {
            None => optimizer.step(student, grads, lr),
            Some(scaler) => {
                let (updated, norm) = optimizer.step_scaled(student, grads, lr, scaler.scale);
                scaler.update(norm.is_finite());
                (updated, norm)
            }
        };
        student = updated;
        state.step += 1;
        state.optimizer_updates = optimizer.updates;
        let k = micro.len() as f64;
        let mut record = json!({
            "stage": stage.name, "step": state.step, "epoch": (step * accum) / micro_per_epoch,
            "loss": sums.loss / k, "lr": lr, "grad_norm": grad_norm,
            "examples_per_s": sums.examples as f64 / rate_clock.elapsed().as_secs_f64().max(1e-9),
            // Resident memory, to see that a long run does not grow step by step.
            "rss_mb": crate::bench::rss_bytes().map(|b| b as f64 / 1048576.0),
        });
        rate_clock = Instant::now();
        if state.loss_scaler.is_some() {
            // f16: the scale this update's loss was multiplied by, and whether its gradients
            // overflowed (the update then skipped, the scale halved).
            record["loss_scale"] = json!(loss_scale);
            record["skipped"] = json!(!grad_norm.is_finite());
        }
        for (name, v) in &sums.parts {
            record[*name] = json!(v / k);
        }
        log.write(&record)?;
        progress.set_message(format!("loss {:.4}", sums.loss / k));
        progress.inc(1);

        let at_end = state.step == total;
        if let Some(evaluator) = stage.evaluator
            && (at_end || config.eval_every.is_some_and(|e| e > 0 && state.step.is_multiple_of(e)))
        {
            last_eval = Some(evaluate_and_keep_best(evaluator, &student, stage, config, &mut state, &mut log, export)?);
        }
        if at_end || state.stopped_early || state.step.is_multiple_of(config.save_every.max(1)) {
            state.seconds = earlier_seconds + started.elapsed().as_secs_f64();
            checkpoint::save(&ckpt_path, &student, &optimizer, &state)?;
        }
    }
    progress.finish_and_clear();
    let trainable = student.valid();
    export(&trainable.model, &stage.dir.join("student"))?;
    let seconds = earlier_seconds + started.elapsed().as_secs_f64();
    Ok(StageOutcome { best_metric: state.best_metric, trainable, state, last_eval, seconds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_passes_keep_attention_maps_only_for_an_attention_term() {
        let with = |attention_weight: f64| IntermediateConfig { attention_weight, ..IntermediateConfig::default() };
        let pairs = vec![(1, 2)];
        assert_eq!(StageLoss::Finetune.keep(), Keep::LastHidden);
        assert_eq!(StageLoss::Prediction(PredictionConfig::default()).keep(), Keep::LastHidden);
        assert_eq!(StageLoss::Intermediate { config: with(1.0), pairs: pairs.clone() }.keep(), Keep::Everything);
        assert_eq!(StageLoss::Intermediate { config: with(0.0), pairs: pairs.clone() }.keep(), Keep::HiddenStates);
        let joint = |a: f64| StageLoss::Joint { config: with(a), pairs: pairs.clone(), weight: 0.25, prediction: PredictionConfig::default() };
        assert_eq!(joint(0.1).keep(), Keep::Everything);
        assert_eq!(joint(0.0).keep(), Keep::HiddenStates);
    }
}
