//! A run's data: which task it trains for, the labels of a classification task, the training
//! examples of each stage and the dev-set evaluator.

use std::path::Path;

use super::{RunConfig, Task};
use crate::data::classification::read_examples_with;
use crate::data::squad::SquadFile;
use crate::data::tagged::read_tagged;
use crate::error::{DistillError, Result};
use crate::model::{Head, TaskModel};
use crate::pretrained::labels_from_config;
use crate::strategy::Strategy;
use crate::strategy::cross_tokenizer::{self, TeacherView};
use crate::task::qa::features::{QaExample, build_features};
use crate::tokenizer::TextTokenizer;
use crate::task::token_classification::read_windows;
use crate::train::evaluate::{ClassificationEvaluator, Evaluator, QaEvaluator, RegressionEvaluator, TokenClassificationEvaluator};
use crate::train::examples::TrainExample;

use super::models::{InitialStudent, Teachers};

/// The task: as configured, else the one the student's (or the teacher's) head is for, else QA.
pub(super) fn resolve_task(config: &RunConfig, student: &InitialStudent, teachers: &Teachers) -> Task {
    let model = match student.model.head() {
        Some(_) => Some(&student.model),
        None => teachers.main.as_ref().map(|t| &t.model).filter(|m| m.head().is_some()),
    };
    // A classification head with one output is a regression head, as in transformers.
    let regression = model.is_some_and(|m| m.classifier.as_ref().is_some_and(|c| c.num_labels() == 1));
    match (config.task, model.and_then(TaskModel::head)) {
        (Some(t), _) => t,
        (None, Some(Head::Classification)) if regression => Task::Regression,
        (None, Some(Head::Classification)) => Task::Classification,
        (None, Some(Head::TokenClassification)) => Task::TokenClassification,
        (None, _) => Task::Qa,
    }
}

/// Classification labels in id order: as configured, else the teacher's, else sorted from the
/// training data. QA has none. Every prediction teacher's classifier must name the same labels
/// in the same order (its logits are read by position), or only the generic `LABEL_i` of a
/// config without `id2label`, as many as there are labels.
pub(super) fn resolve_labels(config: &RunConfig, task: Task, teachers: &Teachers, train: &Path) -> Result<Vec<String>> {
    if matches!(task, Task::Qa | Task::Regression) {
        return Ok(config.labels.clone().unwrap_or_default());
    }
    let teacher_labels: Vec<(String, Vec<String>)> = teachers
        .prediction()
        .filter_map(|t| {
            let classes = t.model.num_labels()?;
            Some((t.files.as_ref().map_or_else(|| "teacher".to_string(), |f| f.name.clone()), labels_from_config(&t.raw_config, classes)))
        })
        .collect();
    let labels = match (&config.labels, teacher_labels.first()) {
        (Some(labels), _) => labels.clone(),
        (None, Some((_, labels))) => labels.clone(),
        (None, None) => {
            let mut labels: Vec<String> = match task {
                Task::TokenClassification => read_tagged(train, &config.columns, None)?.into_iter().flat_map(|s| s.tags).collect(),
                _ => read_examples_with(train, &config.columns)?.into_iter().map(|e| e.label).collect(),
            };
            labels.sort();
            labels.dedup();
            labels
        }
    };
    for (name, theirs) in &teacher_labels {
        let generic = theirs.iter().enumerate().all(|(i, l)| *l == format!("LABEL_{i}"));
        if *theirs != labels && !(generic && theirs.len() == labels.len()) {
            return Err(DistillError::Invalid(format!(
                "the labels {labels:?} do not match teacher {name}'s id2label {theirs:?}: its logits are read by position, so give --labels in the teacher's order (or leave --labels out)"
            )));
        }
    }
    Ok(labels)
}

/// Raw texts for general distillation: SQuAD contexts and questions, or the lines of a text file.
pub(super) fn raw_texts(path: &Path) -> Result<Vec<String>> {
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
    let path = crate::data::shards::single(path, "text")?;
    let text = std::fs::read_to_string(path).map_err(|e| DistillError::io(path, e))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
}

/// Whether a prediction term (a prediction stage, or a joint stage's) reads the gold labels: it
/// does unless the teacher alone teaches it (w 1).
fn prediction_reads_labels(config: &RunConfig) -> bool {
    !(config.prediction.weight >= 1.0 && config.teacher.is_some())
}

/// Whether the stages on `--train` read its gold labels: fine-tuning does, and so does a
/// prediction term that reads them.
fn train_reads_labels(config: &RunConfig) -> bool {
    config.strategy == Strategy::Finetune || (super::learns_from_teacher_logits(config) && prediction_reads_labels(config))
}

/// Refuses a question that carries no label (no answers in the file, and not marked
/// `is_impossible`, as in `unlabelled-v2.0.json`) where the labels are read: it would silently
/// train as "no answer". A question whose answers were all skipped as not matching their context
/// is not counted: reading has reported it already.
fn refuse_unlabelled(path: &Path, squad: &SquadFile, skipped: &[(String, String)]) -> Result<()> {
    let unlabelled: Vec<&str> = squad
        .questions()
        .filter(|(_, q)| q.answers.is_empty() && !q.is_impossible && !skipped.iter().any(|(id, _)| *id == q.id))
        .map(|(_, q)| q.id.as_str())
        .collect();
    let Some(first) = unlabelled.first() else { return Ok(()) };
    Err(DistillError::input(
        path.display().to_string(),
        format!("question {first}"),
        format!(
            "{} questions have no answers and are not marked is_impossible, and this run learns from labels; \
             mark the unanswerable ones \"is_impossible\": true, or learn from the teacher alone (--distill-weight 1)",
            unlabelled.len()
        ),
    ))
}

/// Refuses, before anything is written, an `--intermediate-train` file with unlabelled questions
/// where the recipe's task-intermediate stage (stage 2) runs as a joint stage below w 1, which
/// reads labels; that stage reads its file only when it starts, after the general stage, and
/// leaves the check to this one.
pub(super) fn check_intermediate_labels(task: Task, config: &RunConfig) -> Result<()> {
    let joint_with_labels = config.intermediate_prediction_weight > 0.0 && prediction_reads_labels(config);
    let reads = config.strategy == Strategy::Tinybert && config.start_stage.unwrap_or(1) <= 2 && joint_with_labels;
    let (Task::Qa, Some(path), true) = (task, &config.intermediate_train, reads) else { return Ok(()) };
    let (squad, report) = SquadFile::read_with(path, config.strict, &config.columns)?;
    refuse_unlabelled(path, &squad, &report.skipped_answers)
}

/// The questions of a QA file, as the run trains on them; `reads_labels`: whether the stage
/// learns from its gold labels; `report_skipped`: whether to say what was left out.
fn qa_examples(path: &Path, config: &RunConfig, reads_labels: bool, report_skipped: bool) -> Result<Vec<QaExample>> {
    let (mut squad, report) = SquadFile::read_with(path, config.strict, &config.columns)?;
    if report_skipped && !report.skipped_answers.is_empty() {
        eprintln!("{}: skipped {} answers that do not match their context (first: {} {})", path.display(), report.skipped_answers.len(), report.skipped_answers[0].0, report.skipped_answers[0].1);
    }
    if reads_labels {
        refuse_unlabelled(path, &squad, &report.skipped_answers)?;
    }
    if let Some(first) = report.emptied_questions.first() {
        // With no answer left they would train as "no answer", in SQuAD 1.1 too.
        if report_skipped {
            eprintln!("{}: left out {} questions whose every answer was skipped (first: {first}), rather than train them as unanswerable", path.display(), report.emptied_questions.len());
        }
        squad.remove_questions(&report.emptied_questions);
    }
    Ok(QaExample::from_squad(&squad))
}

/// The training examples of a task file; `reads_labels`: whether the stage learns from its gold labels.
pub(super) fn task_examples(task: Task, path: &Path, config: &RunConfig, tokenizer: &TextTokenizer, labels: &[String], reads_labels: bool) -> Result<Vec<TrainExample>> {
    match task {
        Task::Qa => {
            let examples = qa_examples(path, config, reads_labels, true)?;
            let features = build_features(&examples, tokenizer, &config.features)?;
            Ok(TrainExample::from_qa(&features, config.mask_question))
        }
        Task::Classification => {
            TrainExample::read_classification(path, &config.columns, labels, tokenizer, config.features.max_seq_len)
        }
        Task::Regression => TrainExample::read_regression(path, &config.columns, tokenizer, config.features.max_seq_len),
        Task::TokenClassification => {
            let (sentences, windows) = read_windows(path, &config.columns, labels, tokenizer, config.features.max_seq_len)?;
            let ids: Vec<Vec<usize>> = sentences.iter().map(|s| s.tags.iter().map(|t| labels.iter().position(|l| l == t).expect("checked against the labels")).collect()).collect();
            Ok(TrainExample::from_windows(&windows, &ids))
        }
    }
}

/// How a teacher whose tokenizer differs from the student's reads the examples `task_examples`
/// gives for the same file: one view per example, in order. `teacher_limit`: the most tokens the
/// teacher reads of a QA or token-classification window (its own position table); a
/// classification text is cut at `--max-seq-len` tokens, as the student's is.
pub(super) fn teacher_views(task: Task, path: &Path, config: &RunConfig, student: &TextTokenizer, teacher: &TextTokenizer, teacher_limit: usize, labels: &[String]) -> Result<Vec<TeacherView>> {
    match task {
        Task::Qa => {
            let examples = qa_examples(path, config, false, false)?;
            let features = build_features(&examples, student, &config.features)?;
            cross_tokenizer::qa::views(&examples, &features, teacher, config.features.max_query_length, teacher_limit)
        }
        Task::Classification | Task::Regression => cross_tokenizer::whole_views(&read_examples_with(path, &config.columns)?, teacher, config.features.max_seq_len),
        Task::TokenClassification => {
            let (sentences, windows) = read_windows(path, &config.columns, labels, student, config.features.max_seq_len)?;
            cross_tokenizer::tokens::views(&sentences, &windows, teacher, teacher_limit).map_err(|e| DistillError::Invalid(format!("{}: {e}", path.display())))
        }
    }
}

/// The training examples of `--train` and the evaluator of `--dev`, where one is given.
pub(super) struct TaskData {
    pub examples: Vec<TrainExample>,
    pub evaluator: Option<Box<dyn Evaluator>>,
}

impl TaskData {
    pub fn load(task: Task, config: &RunConfig, tokenizer: &TextTokenizer, labels: &[String], train: &Path) -> Result<Self> {
        let examples = task_examples(task, train, config, tokenizer, labels, train_reads_labels(config))?;
        let evaluator: Option<Box<dyn Evaluator>> = match (&config.dev, task) {
            (None, _) => None,
            (Some(dev), Task::Qa) => Some(Box::new(QaEvaluator::new(dev, &config.columns, tokenizer, &config.features, config.decode, config.eval_batch_size)?)),
            (Some(dev), Task::Classification) => Some(Box::new(ClassificationEvaluator {
                examples: task_examples(task, dev, config, tokenizer, labels, false)?,
                num_labels: labels.len(),
                pad_id: tokenizer.pad_id(),
                batch_size: config.eval_batch_size,
            })),
            (Some(dev), Task::Regression) => Some(Box::new(RegressionEvaluator {
                examples: task_examples(task, dev, config, tokenizer, labels, false)?,
                pad_id: tokenizer.pad_id(),
                batch_size: config.eval_batch_size,
            })),
            (Some(dev), Task::TokenClassification) => {
                Some(Box::new(TokenClassificationEvaluator::read(dev, &config.columns, labels, tokenizer, config.features.max_seq_len, config.eval_batch_size)?))
            }
        };
        Ok(Self { examples, evaluator })
    }
}

#[cfg(test)]
mod tests {
    use super::raw_texts;

    #[test]
    fn raw_texts_are_squad_contexts_and_questions_or_the_nonblank_lines_of_a_text_file() {
        let dir = std::env::temp_dir().join(format!("distill-raw-texts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json = dir.join("raw.json");
        let squad = r#"{"version": "v2.0", "data": [{"title": "t", "paragraphs": [
            {"context": "Alpha beta.", "qas": [{"id": "1", "question": "What?", "answers": [], "is_impossible": true}]},
            {"context": "Gamma.", "qas": []}]}]}"#;
        std::fs::write(&json, squad).unwrap();
        assert_eq!(raw_texts(&json).unwrap(), ["Alpha beta.", "What?", "Gamma."]);
        let txt = dir.join("raw.txt");
        std::fs::write(&txt, "  first line \n\n\t\nsecond\n").unwrap();
        assert_eq!(raw_texts(&txt).unwrap(), ["first line", "second"]);
        let missing = raw_texts(&dir.join("missing.txt")).unwrap_err().to_string();
        assert!(missing.contains("missing.txt"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
