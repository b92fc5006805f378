//! The rules a run configuration must meet before anything is loaded or written, in one place
//! so that the CLI and library callers get the same refusals. Each message names the field as
//! the configuration file spells it and the flag that sets it.

use super::RunConfig;
use crate::error::{DistillError, Result};
use crate::strategy::Strategy;
use crate::strategy::student_init::NeuronImportance;

/// A refusal naming the field, its flag and what was expected.
fn refuse(field: &str, flag: &str, value: impl std::fmt::Display, expected: &str) -> DistillError {
    DistillError::Invalid(format!("{field} ({flag}) is {value}: expected {expected}"))
}

fn at_least_one(field: &str, flag: &str, value: usize) -> Result<()> {
    if value == 0 { Err(refuse(field, flag, value, "at least 1")) } else { Ok(()) }
}

fn some_at_least_one(field: &str, flag: &str, value: Option<usize>) -> Result<()> {
    value.map_or(Ok(()), |v| at_least_one(field, flag, v))
}

fn positive(field: &str, flag: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 { Ok(()) } else { Err(refuse(field, flag, value, "a finite number above 0")) }
}

fn non_negative(field: &str, flag: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 { Ok(()) } else { Err(refuse(field, flag, value, "a finite number >= 0")) }
}

fn unit_interval(field: &str, flag: &str, value: f64) -> Result<()> {
    if (0.0..=1.0).contains(&value) { Ok(()) } else { Err(refuse(field, flag, value, "a number in [0, 1]")) }
}

impl RunConfig {
    /// Checks every setting against the others; the first violation is returned, naming its
    /// field and flag. Called by [`super::run`] before anything is loaded.
    pub fn validate(&self) -> Result<()> {
        self.validate_numbers()?;
        self.validate_students()?;
        self.validate_stages()
    }

    /// Sizes, counts, rates and weights: values that burn or the trainer would otherwise take
    /// silently (a batch of 0 became 1, no epochs exported an untrained student) or panic on.
    fn validate_numbers(&self) -> Result<()> {
        let t = &self.train_config;
        at_least_one("train_config.batch_size", "--batch-size", t.batch_size)?;
        at_least_one("train_config.grad_accum", "--grad-accum", t.grad_accum)?;
        at_least_one("train_config.epochs", "--epochs", t.epochs)?;
        some_at_least_one("train_config.max_steps", "--max-steps", t.max_steps)?;
        some_at_least_one("train_config.eval_every", "--eval-every", t.eval_every)?;
        some_at_least_one("train_config.patience", "--patience", t.patience)?;
        at_least_one("train_config.save_every", "--save-every", t.save_every)?;
        // 0 is allowed: one update at learning rate 0 exports the student as built.
        non_negative("train_config.learning_rate", "--learning-rate", t.learning_rate)?;
        unit_interval("train_config.warmup_ratio", "--warmup-ratio", t.warmup_ratio)?;
        let o = &t.optimizer;
        non_negative("train_config.optimizer.weight_decay", "--weight-decay", o.weight_decay)?;
        if let Some(n) = o.max_grad_norm {
            // The CLI reads --max-grad-norm 0 as "off"; in a file, off is leaving the field out.
            positive("train_config.optimizer.max_grad_norm", "--max-grad-norm", n)?;
        }
        for (field, beta) in [("train_config.optimizer.beta1", o.beta1), ("train_config.optimizer.beta2", o.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(refuse(field, "config file", beta, "a number in [0, 1)"));
            }
        }
        positive("train_config.optimizer.epsilon", "config file", o.epsilon)?;
        if self.strategy.needs_intermediate() {
            at_least_one("intermediate_epochs", "--intermediate-epochs", self.intermediate_epochs)?;
            non_negative("intermediate_learning_rate", "--intermediate-learning-rate", self.intermediate_learning_rate)?;
        }
        positive("prediction.temperature", "--temperature", self.prediction.temperature)?;
        unit_interval("prediction.weight", "--distill-weight", self.prediction.weight)?;
        let i = &self.intermediate;
        non_negative("intermediate.embedding_weight", "--embedding-weight", i.embedding_weight)?;
        non_negative("intermediate.hidden_weight", "--hidden-weight", i.hidden_weight)?;
        non_negative("intermediate.attention_weight", "--attention-weight", i.attention_weight)?;
        non_negative("intermediate_prediction_weight", "--intermediate-prediction-weight", self.intermediate_prediction_weight)?;
        // Against each other they are checked once the task is known (QA windows,
        // `FeatureConfig::validate`); a classification run reads only max_seq_len.
        at_least_one("features.max_seq_len", "--max-seq-len", self.features.max_seq_len)?;
        at_least_one("features.doc_stride", "--doc-stride", self.features.doc_stride)?;
        at_least_one("features.max_query_length", "--max-query-length", self.features.max_query_length)?;
        at_least_one("decode.max_answer_length", "--max-answer-length", self.decode.max_answer_length)?;
        at_least_one("decode.n_best", "config file", self.decode.n_best)?;
        if let Some(t) = self.decode.null_threshold
            && !t.is_finite()
        {
            return Err(refuse("decode.null_threshold", "--null-threshold", t, "a finite number"));
        }
        at_least_one("eval_batch_size", "--eval-batch-size", self.eval_batch_size)?;
        some_at_least_one("start_stage", "--start-stage", self.start_stage)?;
        if let Some(labels) = &self.labels {
            if labels.is_empty() || labels.iter().any(|l| l.trim().is_empty()) {
                return Err(DistillError::Invalid(format!("labels (--labels) is {labels:?}: expected one or more non-empty names")));
            }
            if let Some(dup) = labels.iter().enumerate().find_map(|(i, l)| labels[..i].contains(l).then_some(l)) {
                return Err(DistillError::Invalid(format!("labels (--labels) names {dup:?} twice")));
            }
        }
        Ok(())
    }

    /// How the student is built: settings that contradict each other.
    fn validate_students(&self) -> Result<()> {
        some_at_least_one("student_layers", "--student-layers", self.student_layers)?;
        some_at_least_one("student_intermediate_size", "--student-intermediate-size", self.student_intermediate_size)?;
        if self.student_intermediate_size.is_none() && self.neuron_importance != NeuronImportance::default() {
            return Err(DistillError::Invalid("neuron_importance ranks the neurons student_intermediate_size keeps, and that is not set".into()));
        }
        let Some(list) = &self.copy_layers else { return Ok(()) };
        if self.student.is_some() || self.random_student {
            return Err(DistillError::Invalid("copy_layers builds the student from the teacher's layers: leave out --student and --random-student".into()));
        }
        match self.student_layers {
            Some(n) if n != list.len() => Err(DistillError::Invalid(format!("student_layers is {n} but copy_layers names {} layers", list.len()))),
            _ => Ok(()),
        }
    }

    /// Settings that only some strategies use: given where no stage would read them, they
    /// would be ignored without a word.
    fn validate_stages(&self) -> Result<()> {
        let strategy = self.strategy.name();
        if self.general_teacher.is_some() && self.strategy != Strategy::Tinybert {
            return Err(DistillError::Invalid(format!("--general-teacher teaches the general stage of --strategy tinybert; strategy {strategy} has no general stage")));
        }
        if self.intermediate_prediction_weight > 0.0 && !self.strategy.needs_intermediate() {
            return Err(DistillError::Invalid(format!("--intermediate-prediction-weight adds to the task's intermediate stage; strategy {strategy} has none")));
        }
        if !self.extra_teachers.is_empty() && !matches!(self.strategy, Strategy::Prediction | Strategy::Tinybert) {
            return Err(DistillError::Invalid(format!(
                "--extra-teacher averages the soft targets of a prediction stage; strategy {strategy} has none (intermediate and joint stages learn from --teacher alone)"
            )));
        }
        if self.strategy.needs_teacher() && self.teacher.is_none() {
            return Err(DistillError::Invalid(format!("strategy {strategy} needs --teacher")));
        }
        Ok(())
    }
}
