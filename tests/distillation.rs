//! Distillation on a small synthetic task with fixed seeds: a student distilled from a trained
//! teacher beats the same student trained on labels alone, by prediction-layer distillation and
//! by intermediate + prediction-layer distillation, and by both at once (a joint stage);
//! projections are trained.
//!
//! The task: sequences of token ids; the label says whether at least three "marked" tokens occur.
//! The teacher learns it from 2,000 labelled sequences. The students see 120 labelled sequences
//! (labels only) or, distilled, 2,000 unlabelled sequences with the teacher's soft targets (a
//! transfer set, as in Hinton et al.).

use distill_core::burn::module::Module;
use distill_core::model::TaskModel;
use distill_core::strategy::intermediate::{IntermediateConfig, Projections};
use distill_core::strategy::mapping::LayerMapping;
use distill_core::strategy::prediction::{KdLoss, PredictionConfig};
use distill_core::train::checkpoint::Trainable;
use distill_core::train::examples::TrainExample;
use distill_core::train::teacher_cache;
use distill_core::train::trainer::{Stage, StageLoss, TrainConfig, run_stage};

use distill_tests::marked::{accuracy, examples, model};

#[allow(clippy::too_many_arguments)] // the trainer's inputs, spelled out for each test case
fn train(student: TaskModel, projections_for: Option<usize>, loss: StageLoss, data: &[TrainExample], teachers: &[TaskModel], logits: &[Vec<teacher_cache::ExampleLogits>], cfg: &TrainConfig, dir: &std::path::Path) -> Trainable {
    let width = student.encoder.config.hidden_size;
    let projections = match projections_for {
        Some(t) => Projections::new(width, t, 9, &distill_core::default_device()),
        None => Projections { embedding: None, hidden: None },
    };
    let stage = Stage { name: "test", loss, examples: data, teachers, teacher_logits: logits, evaluator: None, dir, pad_id: 0, resume: false, fingerprint: Default::default() };
    run_stage(Trainable { model: student, projections }, &stage, cfg, &|_, _| Ok(())).unwrap().trainable
}

#[test]
fn distilled_students_beat_the_label_only_student() {
    let tmp = tempfile::tempdir().unwrap();
    let labelled = examples(2000, 1, true);
    let transfer = examples(2000, 2, false);
    let few = examples(120, 3, true);
    let dev = examples(600, 4, true);

    let cfg = |epochs, lr| TrainConfig { seed: 7, epochs, batch_size: 32, learning_rate: lr, warmup_ratio: 0.1, save_every: 10_000, ..TrainConfig::default() };
    let teacher = train(model(2, 32, 11), None, StageLoss::Finetune, &labelled, &[], &[], &cfg(8, 2e-3), &tmp.path().join("teacher")).model;
    let teacher_acc = accuracy(&teacher, &dev);

    let student = || model(1, 16, 12);
    let labels_only = train(student(), None, StageLoss::Finetune, &few, &[], &[], &cfg(60, 2e-3), &tmp.path().join("a")).model;
    let a = accuracy(&labels_only, &dev);

    let bar = indicatif::ProgressBar::hidden();
    let logits = vec![teacher_cache::compute(&teacher, &transfer, 0, 64, &bar).unwrap()];
    let kd = StageLoss::Prediction(PredictionConfig { loss: KdLoss::Kl, temperature: 2.0, weight: 1.0 });
    let teachers = [teacher.clone()];
    let b_model = train(student(), None, kd.clone(), &transfer, &teachers, &logits, &cfg(8, 2e-3), &tmp.path().join("b")).model;
    let b = accuracy(&b_model, &dev);

    let pairs = LayerMapping::Uniform.resolve(1, 2).unwrap();
    let inter = StageLoss::Intermediate { config: IntermediateConfig::default(), pairs };
    let c_stage1 = train(student(), Some(32), inter, &transfer, &teachers, &[], &cfg(3, 2e-3), &tmp.path().join("c1"));
    let c_model = train(c_stage1.model, None, kd, &transfer, &teachers, &logits, &cfg(8, 2e-3), &tmp.path().join("c2")).model;
    let c = accuracy(&c_model, &dev);

    // One joint stage: hidden states and soft targets matched at once.
    let pairs = LayerMapping::Uniform.resolve(1, 2).unwrap();
    let joint = StageLoss::Joint { config: IntermediateConfig::default(), pairs, weight: 1.0, prediction: PredictionConfig { loss: KdLoss::Kl, temperature: 2.0, weight: 1.0 } };
    let d_model = train(student(), Some(32), joint, &transfer, &teachers, &[], &cfg(8, 2e-3), &tmp.path().join("d")).model;
    let d = accuracy(&d_model, &dev);

    println!("teacher {teacher_acc:.3}; students: labels only {a:.3}, prediction {b:.3}, intermediate + prediction {c:.3}, joint {d:.3}");
    assert!(teacher_acc > 0.85, "the teacher learns the task ({teacher_acc})");
    assert!(b > a + 0.03, "prediction-layer distillation ({b}) beats labels alone ({a})");
    assert!(c > a + 0.03, "intermediate + prediction ({c}) beats labels alone ({a})");
    assert!(d > a + 0.03, "the joint stage ({d}) beats labels alone ({a})");
}

fn classifier_weights(model: &TaskModel) -> Vec<f32> {
    distill_core::model::to_host(model.classifier.as_ref().unwrap().out.weight.val()).1
}

/// The last metrics line of a stage trained into `dir`.
fn last_metrics(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    serde_json::from_str(text.lines().rfind(|l| l.contains("\"loss\"")).unwrap()).unwrap()
}

#[test]
fn a_joint_stage_trains_the_head_and_an_intermediate_one_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let data = examples(64, 5, false);
    let teachers = [model(2, 32, 21)];
    let cfg = TrainConfig { seed: 1, epochs: 1, max_steps: Some(2), batch_size: 16, learning_rate: 1e-3, warmup_ratio: 0.0, ..TrainConfig::default() };
    let before = classifier_weights(&model(1, 16, 22));
    let kd = PredictionConfig { loss: KdLoss::Kl, temperature: 2.0, weight: 1.0 };

    let inter = StageLoss::Intermediate { config: IntermediateConfig::default(), pairs: vec![(1, 2)] };
    let only_inter = train(model(1, 16, 22), Some(32), inter, &data, &teachers, &[], &cfg, &tmp.path().join("i"));
    assert_eq!(classifier_weights(&only_inter.model), before, "no gradient reaches the head without a prediction term");
    let log = last_metrics(&tmp.path().join("i"));
    assert!(log.get("kd").is_none(), "{log}");

    let joint = StageLoss::Joint { config: IntermediateConfig::default(), pairs: vec![(1, 2)], weight: 0.5, prediction: kd };
    let trained = train(model(1, 16, 22), Some(32), joint, &data, &teachers, &[], &cfg, &tmp.path().join("j"));
    assert_ne!(classifier_weights(&trained.model), before, "the prediction term trains the head");
    let log = last_metrics(&tmp.path().join("j"));
    let part = |k: &str| log[k].as_f64().unwrap_or_else(|| panic!("{k} missing from {log}"));
    assert!(part("kd") > 0.0, "{log}");
    // The total: the intermediate terms at their unit weights plus half the prediction term.
    let expected = part("embedding") + part("hidden") + part("attention") + 0.5 * part("kd");
    assert!((part("loss") - expected).abs() < 1e-4 * expected.max(1.0), "loss {} against the sum of its parts {expected}: {log}", part("loss"));
}

#[test]
fn projection_weights_change_after_a_step() {
    let tmp = tempfile::tempdir().unwrap();
    let data = examples(64, 5, false);
    let teacher = model(2, 32, 21);
    let student = model(1, 16, 22);
    let before = Projections::new(16, 32, 9, &distill_core::default_device());
    let w0 = distill_core::model::to_host(before.hidden.as_ref().unwrap().weight.val()).1;
    let e0 = distill_core::model::to_host(before.embedding.as_ref().unwrap().weight.val()).1;
    let cfg = TrainConfig { seed: 1, epochs: 1, max_steps: Some(1), batch_size: 16, learning_rate: 1e-3, warmup_ratio: 0.0, ..TrainConfig::default() };
    let inter = StageLoss::Intermediate { config: IntermediateConfig::default(), pairs: vec![(1, 2)] };
    let trained = train(student, Some(32), inter, &data, &[teacher], &[], &cfg, tmp.path());
    let w1 = distill_core::model::to_host(trained.projections.hidden.as_ref().unwrap().weight.val()).1;
    let e1 = distill_core::model::to_host(trained.projections.embedding.as_ref().unwrap().weight.val()).1;
    assert_ne!(w0, w1, "W_h is trained");
    assert_ne!(e0, e1, "W_e is trained");
    assert!(trained.num_params() > 0);
}
