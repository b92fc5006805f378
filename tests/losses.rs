//! The distillation losses against PyTorch values of their textbook formulas
//! (tests/fixtures/losses/losses.json, made by scripts/make_fixtures.py): KL, MSE and soft
//! cross-entropy with padding masks and the T^2 factor, label cross-entropy, multi-teacher
//! soft targets, and the TinyBERT hidden-state and attention terms.

use distill_core::burn::tensor::{Int, Tensor, TensorData};
use distill_core::strategy::intermediate::{masked_attention_mse, masked_hidden_mse};
use distill_core::strategy::prediction::{KdLoss, PredictionConfig, TeacherLogits, cross_entropy, kd_loss, prediction_loss};
use distill_tests::fixture;
use serde_json::Value;

fn flat(v: &Value) -> (Vec<usize>, Vec<f32>) {
    fn walk(v: &Value, depth: usize, shape: &mut Vec<usize>, out: &mut Vec<f32>) {
        match v {
            Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len());
                }
                items.iter().for_each(|i| walk(i, depth + 1, shape, out));
            }
            n => out.push(n.as_f64().unwrap() as f32),
        }
    }
    let (mut shape, mut out) = (vec![], vec![]);
    walk(v, 0, &mut shape, &mut out);
    (shape, out)
}

fn t<const D: usize>(v: &Value) -> Tensor<D> {
    let (shape, data) = flat(v);
    let shape: [usize; D] = shape.try_into().unwrap();
    Tensor::from_data(TensorData::new(data, shape), &distill_core::default_device())
}

fn scalar(x: Tensor<1>) -> f64 {
    x.into_scalar::<f32>() as f64
}

fn fixtures() -> Value {
    distill_core::io::read_json(&fixture("losses").join("losses.json")).unwrap()
}

fn close(got: f64, want: &Value, what: &str) {
    let want = want.as_f64().unwrap();
    assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "{what}: {got} vs PyTorch {want}");
}

#[test]
fn prediction_losses_match_pytorch_with_masks_and_temperature() {
    let f = fixtures();
    for case in f["prediction"].as_array().unwrap() {
        let temp = case["temperature"].as_f64().unwrap();
        let what = format!("{} T={temp}", case["name"]);
        let (s, teacher, mask) = (t::<2>(&case["student"]), TeacherLogits::One(t::<2>(&case["teacher"])), t::<2>(&case["mask"]));
        close(scalar(kd_loss(s.clone(), &teacher, &mask, KdLoss::Kl, temp)), &case["kl"], &format!("{what} kl"));
        close(scalar(kd_loss(s.clone(), &teacher, &mask, KdLoss::Mse, temp)), &case["mse"], &format!("{what} mse"));
        close(scalar(kd_loss(s.clone(), &teacher, &mask, KdLoss::SoftCrossEntropy, temp)), &case["soft_cross_entropy"], &format!("{what} soft ce"));
        let gold: Vec<i64> = case["gold"].as_array().unwrap().iter().map(|g| g.as_i64().unwrap()).collect();
        let gold = Tensor::<1, Int>::from_data(TensorData::new(gold.clone(), [gold.len()]), &distill_core::default_device());
        close(scalar(cross_entropy(s.clone(), gold.clone(), &mask)), &case["ce"], &format!("{what} ce"));
        // The combination: w * KD + (1 - w) * CE.
        let config = PredictionConfig { loss: KdLoss::Kl, temperature: temp, weight: 0.75 };
        let combined = prediction_loss(s, Some(&teacher), Some(gold), &mask, &config);
        let want = 0.75 * case["kl"].as_f64().unwrap() + 0.25 * case["ce"].as_f64().unwrap();
        close(scalar(combined.total), &Value::from(want), &format!("{what} combined"));
    }
}

#[test]
fn temperature_squared_factor_is_applied() {
    // Identical logits give zero KD; scaling T rescales the MSE term's inside by 1/T^2 and T^2 cancels it.
    let f = fixtures();
    let case = &f["prediction"][0];
    let (s, mask) = (t::<2>(&case["student"]), t::<2>(&case["mask"]));
    let teacher = TeacherLogits::One(t::<2>(&case["teacher"]));
    let mse1 = scalar(kd_loss(s.clone(), &teacher, &mask, KdLoss::Mse, 1.0));
    let mse3 = scalar(kd_loss(s.clone(), &teacher, &mask, KdLoss::Mse, 3.0));
    assert!((mse1 - mse3).abs() < 1e-5 * mse1, "T^2 * MSE(s/T, t/T) does not depend on T: {mse1} vs {mse3}");
    let same = TeacherLogits::One(s.clone());
    assert!(scalar(kd_loss(s, &same, &mask, KdLoss::Kl, 2.0)).abs() < 1e-6);
}

#[test]
fn padding_does_not_change_the_loss() {
    // Changing logits at masked positions must not change any loss.
    let f = fixtures();
    let case = &f["prediction"][1]; // qa, T = 2, row 1 padded after 4 positions
    let mask = t::<2>(&case["mask"]);
    let s = t::<2>(&case["student"]);
    let teacher = TeacherLogits::One(t::<2>(&case["teacher"]));
    let noise = t::<2>(&case["teacher"]).mul_scalar(7.0) * (mask.clone().neg().add_scalar(1.0));
    for kind in [KdLoss::Kl, KdLoss::Mse, KdLoss::SoftCrossEntropy] {
        let a = scalar(kd_loss(s.clone(), &teacher, &mask, kind, 2.0));
        let b = scalar(kd_loss(s.clone() + noise.clone(), &teacher, &mask, kind, 2.0));
        assert!((a - b).abs() < 1e-5, "{kind:?}: {a} vs {b}");
    }
}

#[test]
fn multi_teacher_soft_targets_match_pytorch() {
    let f = fixtures();
    let m = &f["multi_teacher"];
    let s = t::<2>(&m["student"]);
    let teachers = TeacherLogits::Many(m["teachers"].as_array().unwrap().iter().map(t::<2>).collect());
    let mask = Tensor::<2>::ones(s.dims(), &distill_core::default_device());
    close(scalar(kd_loss(s, &teachers, &mask, KdLoss::Kl, m["temperature"].as_f64().unwrap())), &m["kl"], "multi-teacher kl");
}

#[test]
fn intermediate_losses_match_pytorch() {
    let f = fixtures();
    let i = &f["intermediate"];
    let mask = t::<2>(&i["mask"]);
    let w = t::<2>(&i["weight"]).transpose();
    let b = t::<1>(&i["bias"]);
    let hs = t::<3>(&i["student_hidden"]);
    let [bsz, seq, width] = hs.dims();
    let projected = (hs.reshape([bsz * seq, width]).matmul(w) + b.unsqueeze()).reshape([bsz, seq, 6]);
    close(scalar(masked_hidden_mse(projected, t::<3>(&i["teacher_hidden"]), &mask)), &i["hidden_mse"], "hidden mse");
    let (a_s, a_t) = (t::<4>(&i["student_scores"]), t::<4>(&i["teacher_scores"]));
    close(scalar(masked_attention_mse(a_s.clone(), a_t.clone(), &mask, false)), &i["attention_mse"], "attention mse");
    close(scalar(masked_attention_mse(a_s, a_t, &mask, true)), &i["head_averaged_attention_mse"], "head-averaged attention mse");
}
