//! Where a student's first weights come from: a subset of the teacher's layers (DistilBERT
//! style, when widths match), optionally with narrower feed-forward blocks, a checkpoint, or a
//! random model in the student plugin's shape.

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{DistillError, Result};
use crate::inputs::TokenBatch;
use crate::model::{EncoderConfig, EncoderLayer, Head, TaskModel, init_random, to_host};
use crate::registry::{ArchitectureSpec, StudentShape};
use crate::strategy::prediction::cross_entropy;
use crate::train::examples::{LabelledTokens, Target, TrainExample, collate, gold_indices};

/// Teacher layers (counted from 1) a student of `m` layers copies from a teacher of `n` by
/// default: every `n / m`-th layer starting at the first (`floor(i * n / m) + 1`), so 6 -> 3
/// takes 1, 3, 5.
pub fn copied_layers(m: usize, n: usize) -> Result<Vec<usize>> {
    if m == 0 || m > n {
        return Err(DistillError::Invalid(format!("cannot take {m} layers from a teacher of {n}")));
    }
    Ok((0..m).map(|i| i * n / m + 1).collect())
}

/// A student copied from the teacher: its embeddings, the teacher layers `layers` (counted from
/// 1, increasing, as `--copy-layers` takes them) and its head.
pub fn from_teacher_layers(teacher: &TaskModel, layers: &[usize]) -> Result<TaskModel> {
    let n = teacher.encoder.layers.len();
    if layers.is_empty() {
        return Err(DistillError::Invalid("copy_layers: no teacher layer given".into()));
    }
    for (k, &l) in layers.iter().enumerate() {
        if l == 0 || l > n {
            return Err(DistillError::Invalid(format!("copy_layers: teacher layer {l} does not exist (layers 1..={n})")));
        }
        // Increasing, so that the copies keep the teacher's order and none is taken twice.
        if k > 0 && l <= layers[k - 1] {
            return Err(DistillError::Invalid(format!("copy_layers: layers must increase ({l} after {})", layers[k - 1])));
        }
    }
    let mut student = teacher.clone();
    student.encoder.layers = layers.iter().map(|&l| teacher.encoder.layers[l - 1].clone()).collect();
    student.encoder.config.num_layers = layers.len();
    Ok(student)
}

/// How a narrowed student's feed-forward neurons are chosen (`--neuron-importance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeuronImportance {
    /// By weight alone: the product of the norms of a neuron's input column and output row.
    #[default]
    Weights,
    /// By what the neuron adds to its layer's output on sample windows of the training data:
    /// the norm of its activations over the real tokens times the norm of its output row, which
    /// is the Frobenius norm of its contribution (Wanda's weight-times-input measure, per neuron).
    /// A neuron with heavy weights that the data never excites ranks low.
    Activations,
    /// By what removing the neuron would change the task loss on labelled sample windows, to
    /// first order (Taylor): the size of the loss's gradient with respect to a gate on the
    /// neuron's output, summed over the windows one by one (as Michel et al. rank attention
    /// heads). Unlike the other two it sees the whole network above the layer, down to the head,
    /// so it ranks well only through a trained head (a copied teacher's, or a given student's).
    Taylor,
}

impl std::str::FromStr for NeuronImportance {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "weights" => Ok(Self::Weights),
            "activations" => Ok(Self::Activations),
            "taylor" => Ok(Self::Taylor),
            other => Err(format!("unknown neuron importance {other:?}: expected weights, activations or taylor")),
        }
    }
}

/// Refuses a feed-forward width a model cannot be narrowed to (zero, or wider than it is).
pub fn check_intermediate_size(config: &EncoderConfig, size: usize) -> Result<()> {
    let width = config.intermediate_size;
    if size == 0 || size > width {
        return Err(DistillError::Invalid(format!("student_intermediate_size {size}: expected 1..={width}, the feed-forward width of the model it narrows")));
    }
    Ok(())
}

/// What ranks a narrowed block's inner neurons (see [`NeuronImportance`]), with the sample it needs.
pub enum Ranking {
    Weights,
    Activations(Vec<TokenBatch>),
    /// Batches of labelled examples (QA spans or class labels), and the padding id to collate them.
    Taylor { batches: Vec<Vec<TrainExample>>, pad_id: u32 },
}

/// Narrows every layer's feed-forward block to the `size` inner neurons that matter most, as
/// `ranking` ranks them; structured pruning of width, as DynaBERT and CoFi prune it. Depth
/// costs a CPU more than width does (attention is a large share of each layer's time), so a
/// deeper, narrower student can be as fast as a shallower one. Each kept neuron computes exactly
/// what it did before; the model stays a plain BERT of `intermediate_size` `size`, which
/// transformers loads.
pub fn prune_feed_forward(mut model: TaskModel, size: usize, ranking: &Ranking) -> Result<TaskModel> {
    check_intermediate_size(&model.encoder.config, size)?;
    if size == model.encoder.config.intermediate_size {
        return Ok(model);
    }
    let scores = match ranking {
        Ranking::Weights => model.encoder.layers.iter().map(weight_scores).collect(),
        Ranking::Activations(batches) => activation_scores(&model, batches),
        Ranking::Taylor { batches, pad_id } => taylor_scores(&model, batches, *pad_id)?,
    };
    for (layer, scores) in model.encoder.layers.iter_mut().zip(&scores) {
        let kept = top_neurons(scores, size);
        let device = layer.ffn_in.weight.val().device();
        let index = Tensor::<1, Int>::from_data(TensorData::new(kept, [size]), &device);
        // burn's Linear weights are [d_in, d_out]: the inner neurons are ffn_in's columns and ffn_out's rows.
        layer.ffn_in.weight = Param::from_tensor(layer.ffn_in.weight.val().select(1, index.clone()));
        layer.ffn_in.bias = layer.ffn_in.bias.as_ref().map(|b| Param::from_tensor(b.val().select(0, index.clone())));
        layer.ffn_out.weight = Param::from_tensor(layer.ffn_out.weight.val().select(0, index));
    }
    model.encoder.config.intermediate_size = size;
    Ok(model)
}

/// The norms of each inner neuron's weights along `dim` of a `[d_in, d_out]` Linear weight.
fn neuron_norms(weight: Tensor<2>, dim: usize) -> Vec<f32> {
    to_host(weight.powf_scalar(2.0).sum_dim(dim).sqrt()).1
}

/// Per inner neuron: input-column norm times output-row norm.
fn weight_scores(layer: &EncoderLayer) -> Vec<f32> {
    let (inputs, outputs) = (neuron_norms(layer.ffn_in.weight.val(), 0), neuron_norms(layer.ffn_out.weight.val(), 1));
    inputs.iter().zip(&outputs).map(|(a, b)| a * b).collect()
}

/// Per layer and inner neuron: the norm of its activations over the real (unpadded) tokens of
/// `batches`, times the norm of its output row. One pass of the unnarrowed model; padding
/// positions are zeroed before the sum, so the batches' lengths do not matter.
fn activation_scores(model: &TaskModel, batches: &[TokenBatch]) -> Vec<Vec<f32>> {
    let encoder = &model.encoder;
    let device = encoder.device();
    let width = encoder.config.intermediate_size;
    let mut squares: Vec<Tensor<1>> = encoder.layers.iter().map(|_| Tensor::<1>::zeros([width], &device)).collect();
    for batch in batches {
        let real: Vec<f32> = batch.attention_mask.iter().map(|&m| if m == 0 { 0.0 } else { 1.0 }).collect();
        let real = Tensor::<3>::from_data(TensorData::new(real, [batch.batch_size(), batch.seq_len(), 1]), &device);
        encoder.forward_tapping_feed_forward(batch, |l, inner| {
            squares[l] = squares[l].clone() + (inner.clone() * real.clone()).powf_scalar(2.0).sum_dim(0).sum_dim(1).reshape([width]);
            inner
        });
    }
    encoder
        .layers
        .iter()
        .zip(squares)
        .map(|(layer, sum)| to_host(sum.sqrt()).1.iter().zip(neuron_norms(layer.ffn_out.weight.val(), 1)).map(|(a, w)| a * w).collect())
        .collect()
}

/// Per layer and inner neuron: the sum over the examples of `batches` of |dL/dg|, where g gates
/// the neuron's output (1 in the model as it is) and L is the example's task loss against its
/// label (QA: the mean of the start and end cross-entropies). One forward and backward pass per
/// batch with a gate per example, so one pass gives every example's gradient; the weights are
/// frozen (no gradients) and dropout is off. Padding needs no mask: it reaches neither the real
/// tokens (attention masks it) nor the loss.
fn taylor_scores(model: &TaskModel, batches: &[Vec<TrainExample>], pad_id: u32) -> Result<Vec<Vec<f32>>> {
    let frozen = model.clone().freeze().train();
    let encoder = &frozen.encoder;
    let device = encoder.device();
    let width = encoder.config.intermediate_size;
    let mut totals = vec![vec![0.0f32; width]; encoder.layers.len()];
    for examples in batches.iter().filter(|b| !b.is_empty()) {
        let b = examples.len();
        let refs: Vec<&TrainExample> = examples.iter().collect();
        let batch = collate(&refs, pad_id);
        let gates: Vec<Tensor<3>> = encoder.layers.iter().map(|_| Tensor::<3>::ones([b, 1, width], &device).require_grad()).collect();
        let hidden = encoder.forward_tapping_feed_forward(&batch.tokens, |l, inner| inner * gates[l].clone());
        let loss = label_loss(&frozen, hidden, examples, batch.positions, &device)?;
        let grads = loss.backward();
        for (gate, total) in gates.iter().zip(totals.iter_mut()) {
            let grad = gate.grad(&grads).ok_or_else(|| DistillError::Invalid("taylor neuron importance: no gradient reached a feed-forward gate".into()))?;
            // The loss is the batch's mean: each example's own gradient is b times its share.
            let per_example = to_host(grad).1;
            for row in per_example.chunks(width) {
                for (t, g) in total.iter_mut().zip(row) {
                    *t += (g * b as f32).abs();
                }
            }
        }
    }
    Ok(totals)
}

/// The mean over `examples` of their task loss against their labels, from the last hidden
/// state `hidden` of `model` (which has the head the labels are for).
fn label_loss(model: &TaskModel, hidden: Tensor<3>, examples: &[TrainExample], positions: Vec<f32>, device: &Device) -> Result<Tensor<1>> {
    let b = examples.len();
    let targets: Vec<Target> = examples.iter().map(|e| e.target.clone()).collect();
    let gold = |pick: fn(&Target) -> Option<usize>| -> Result<Tensor<1, Int>> {
        gold_indices(&targets, pick, device).ok_or_else(|| DistillError::Invalid("taylor neuron importance needs labelled training examples (QA answers or class labels) for the student's head".into()))
    };
    if let Some(qa) = &model.qa {
        let out = qa.forward(hidden);
        let seq = positions.len() / b;
        let mask = Tensor::<2>::from_data(TensorData::new(positions, [b, seq]), device);
        Ok((cross_entropy(out.start_logits, gold(Target::span_start)?, &mask) + cross_entropy(out.end_logits, gold(Target::span_end)?, &mask)).div_scalar(2.0))
    } else if let Some(head) = &model.classifier {
        let logits = head.forward(hidden);
        let mask = Tensor::<2>::ones([b, head.num_labels()], device);
        Ok(cross_entropy(logits, gold(Target::label)?, &mask))
    } else if let Some(head) = &model.token_classifier {
        let logits = head.forward(hidden);
        let [_, seq, labels] = logits.dims();
        let labelled = LabelledTokens::of(&targets, seq, device).ok_or_else(|| DistillError::Invalid("taylor neuron importance needs tagged training examples for a token-classification student".into()))?;
        let mask = Tensor::<2>::ones([labelled.count, labels], device);
        Ok(cross_entropy(labelled.select(logits.reshape([b * seq, labels])), labelled.gold.clone(), &mask))
    } else {
        Err(DistillError::Invalid("taylor neuron importance needs a student with a QA, classification or token-classification head".into()))
    }
}

/// The indices (increasing) of the `size` neurons of the highest score, ties to the lower index.
fn top_neurons(scores: &[f32], size: usize) -> Vec<i64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut kept: Vec<i64> = order[..size].iter().map(|&i| i as i64).collect();
    kept.sort_unstable();
    kept
}

/// The config of a new student in `shape`, sharing the teacher's vocabulary, positions and
/// token types so that their inputs and outputs align.
pub fn student_config(teacher: &EncoderConfig, shape: StudentShape) -> EncoderConfig {
    EncoderConfig {
        num_layers: shape.num_layers,
        hidden_size: shape.hidden_size,
        num_heads: shape.num_heads,
        intermediate_size: shape.intermediate_size,
        ..teacher.clone()
    }
}

/// A random student in `spec`'s default shape (or `shape` when given).
pub fn random_student(spec: &ArchitectureSpec, teacher: &EncoderConfig, shape: Option<StudentShape>, head: Option<(Head, usize)>, seed: u64, device: &Device) -> Result<TaskModel> {
    let config = student_config(teacher, shape.unwrap_or(spec.student));
    config.validate(std::path::Path::new("student shape"))?;
    init_random(&config, head, spec.head_layout(), seed, device)
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::tensor::{Tensor, TensorData};

    use crate::inputs::TokenBatch;
    use crate::train::examples::{Target, TrainExample, collate};
    use crate::model::{Activation, EncoderConfig, Head, HeadLayout, Keep, PoolerActivation, PositionScheme, TaskModel, init_random, to_host};

    #[test]
    fn every_other_layer() {
        assert_eq!(super::copied_layers(3, 6).unwrap(), [1, 3, 5]);
        assert_eq!(super::copied_layers(6, 12).unwrap(), [1, 3, 5, 7, 9, 11]);
        assert_eq!(super::copied_layers(4, 6).unwrap(), [1, 2, 4, 5]);
        assert_eq!(super::copied_layers(6, 6).unwrap(), [1, 2, 3, 4, 5, 6]);
        assert!(super::copied_layers(0, 6).is_err());
        assert!(super::copied_layers(7, 6).is_err());
    }

    fn small_model() -> TaskModel {
        let config = EncoderConfig {
            vocab_size: 40, hidden_size: 16, num_layers: 2, num_heads: 2, intermediate_size: 12, max_position_embeddings: 16,
            type_vocab_size: 2, layer_norm_eps: 1e-12, activation: Activation::Gelu, position_scheme: PositionScheme::Absolute,
            sinusoidal_positions: false, pad_token_id: 0, hidden_dropout: 0.0, attention_dropout: 0.0, initializer_range: 0.5,
        };
        let layout = HeadLayout { pooler_activation: PoolerActivation::Tanh };
        init_random(&config, Some((Head::QuestionAnswering, 2)), layout, 7, &crate::device::default_device()).unwrap()
    }

    fn sample_batch() -> TokenBatch {
        TokenBatch::from_rows(vec![vec![2, 9, 17, 33, 5, 3], vec![2, 11, 4, 3, 0, 0]], None, None, "test").unwrap()
    }

    fn start_logits(model: &TaskModel) -> Vec<f32> {
        to_host(model.forward_keeping(&sample_batch(), Keep::Everything).qa.unwrap().start_logits).1
    }

    /// `t` with the weights of one inner neuron (`dim` 1: an input column, 0: an output row) scaled `by`.
    fn scale_neuron(t: Tensor<2>, dim: usize, neuron: usize, by: f32) -> Tensor<2> {
        let width = t.dims()[dim];
        let mut factors = vec![1.0f32; width];
        factors[neuron] = by;
        let shape = if dim == 0 { [width, 1] } else { [1, width] };
        t.clone() * Tensor::<2>::from_data(TensorData::new(factors, shape), &t.device())
    }

    /// A model whose neuron 3 of layer 0 has the heaviest weights but never fires (its bias far
    /// below anything its input reaches, so GELU gives 0) and whose neuron 8 of layer 1 is silent
    /// (output row zero).
    fn teacher_with_a_dead_heavy_neuron() -> TaskModel {
        let mut teacher = small_model();
        let layer = &mut teacher.encoder.layers[0];
        layer.ffn_in.weight = Param::from_tensor(scale_neuron(layer.ffn_in.weight.val(), 1, 3, 10.0));
        let bias = layer.ffn_in.bias.as_ref().unwrap().val();
        let mut shift = vec![0.0f32; 12];
        shift[3] = -1000.0;
        layer.ffn_in.bias = Some(Param::from_tensor(bias.clone() + Tensor::<1>::from_data(TensorData::new(shift, [12]), &bias.device())));
        let layer = &mut teacher.encoder.layers[1];
        layer.ffn_out.weight = Param::from_tensor(scale_neuron(layer.ffn_out.weight.val(), 0, 8, 0.0));
        teacher
    }

    /// The narrowed student computes what the teacher computes with the dropped neurons silenced:
    /// each kept neuron keeps its own weights, at increasing indices.
    fn assert_is_the_silenced_teacher(teacher: &TaskModel, student: &TaskModel, kept: &[Vec<i64>]) {
        assert_eq!(student.encoder.config.intermediate_size, 5);
        for (layer, kept) in student.encoder.layers.iter().zip(kept) {
            assert_eq!(layer.ffn_in.weight.val().dims(), [16, 5]);
            assert_eq!(layer.ffn_out.weight.val().dims(), [5, 16]);
            assert_eq!(kept.len(), 5);
            assert!(kept.windows(2).all(|w| w[0] < w[1]));
        }
        // The teacher with every dropped neuron's output row zeroed.
        let mut silenced = teacher.clone();
        for (layer, kept) in silenced.encoder.layers.iter_mut().zip(kept) {
            let mask: Vec<f32> = (0..12).map(|i| if kept.contains(&(i as i64)) { 1.0 } else { 0.0 }).collect();
            let w = layer.ffn_out.weight.val();
            layer.ffn_out.weight = Param::from_tensor(w.clone() * Tensor::<2>::from_data(TensorData::new(mask, [12, 1]), &w.device()));
        }
        let (expected, got, unpruned) = (start_logits(&silenced), start_logits(student), start_logits(teacher));
        let gap = expected.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(gap < 1e-4, "narrowed student differs from the silenced teacher by {gap}");
        // Silencing seven of twelve neurons does change the outputs, so the comparison above has teeth.
        assert!(unpruned.iter().zip(&got).any(|(a, b)| (a - b).abs() > 1e-2));
    }

    /// By weight, the heaviest neurons are kept, the dead heavy one among them.
    #[test]
    fn narrowed_by_weight_keeps_the_heaviest_neurons_exactly() {
        let teacher = teacher_with_a_dead_heavy_neuron();
        let student = super::prune_feed_forward(teacher.clone(), 5, &super::Ranking::Weights).unwrap();
        let kept: Vec<Vec<i64>> = teacher.encoder.layers.iter().map(|l| super::top_neurons(&super::weight_scores(l), 5)).collect();
        assert!(kept[0].contains(&3) && !kept[1].contains(&8), "{kept:?}");
        assert_is_the_silenced_teacher(&teacher, &student, &kept);
    }

    /// By activations, the heavy neuron the data never excites is dropped, and so is the silent one.
    #[test]
    fn narrowed_by_activations_drops_neurons_the_data_never_excites() {
        let teacher = teacher_with_a_dead_heavy_neuron();
        let sample = [sample_batch()];
        let scores = super::activation_scores(&teacher, &sample);
        assert!(scores[0][3] < 1e-3 && scores[1][8] == 0.0, "{scores:?}");
        let student = super::prune_feed_forward(teacher.clone(), 5, &super::Ranking::Activations(sample.to_vec())).unwrap();
        let kept: Vec<Vec<i64>> = scores.iter().map(|s| super::top_neurons(s, 5)).collect();
        assert!(!kept[0].contains(&3) && !kept[1].contains(&8), "{kept:?}");
        assert_is_the_silenced_teacher(&teacher, &student, &kept);
    }

    /// Padding does not count: the same rows padded further, or split into batches of one, give
    /// the same scores (unmasked, the padded positions' activations would add to the sums).
    #[test]
    fn activation_scores_count_real_tokens_only() {
        let model = small_model();
        let rows = [vec![2, 9, 17, 33, 5, 3], vec![2, 11, 4, 3]];
        let padded = |len: usize| {
            let ids: Vec<Vec<i64>> = rows.iter().map(|r| { let mut r = r.clone(); r.resize(len, 0); r }).collect();
            let mask: Vec<Vec<i64>> = rows.iter().map(|r| (0..len).map(|i| i64::from(i < r.len())).collect()).collect();
            TokenBatch::from_rows(ids, Some(mask), None, "test").unwrap()
        };
        let one = |r: &Vec<i64>| TokenBatch::from_rows(vec![r.clone()], None, None, "test").unwrap();
        let reference = super::activation_scores(&model, &[padded(6)]);
        for other in [super::activation_scores(&model, &[padded(10)]), super::activation_scores(&model, &[one(&rows[0]), one(&rows[1])])] {
            for (a, b) in reference.iter().flatten().zip(other.iter().flatten()) {
                assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "{a} against {b}");
            }
        }
        assert!(reference.iter().flatten().all(|&s| s > 0.0));
    }

    fn labelled(rows: &[(Vec<i64>, usize, usize)]) -> Vec<TrainExample> {
        let example = |(ids, start, end): &(Vec<i64>, usize, usize)| TrainExample { input_ids: ids.clone(), token_type_ids: vec![0; ids.len()], target: Target::Span { start: *start, end: *end }, positions: None };
        rows.iter().map(example).collect()
    }

    /// The loss of each example alone with neuron `neuron` of layer `layer` gated by `gate` (its
    /// output row scaled), on the plain device.
    fn gated_losses(model: &TaskModel, examples: &[TrainExample], layer: usize, neuron: usize, gate: f32) -> Vec<f32> {
        let mut gated = model.clone();
        let l = &mut gated.encoder.layers[layer];
        l.ffn_out.weight = Param::from_tensor(scale_neuron(l.ffn_out.weight.val(), 0, neuron, gate));
        examples
            .iter()
            .map(|e| {
                let batch = collate(&[e], 0);
                let hidden = gated.encoder.forward_keeping(&batch.tokens, Keep::Everything).last_hidden_state();
                let loss = super::label_loss(&gated, hidden, std::slice::from_ref(e), batch.positions, &gated.encoder.device()).unwrap();
                to_host(loss).1[0]
            })
            .collect()
    }

    /// Each score is the sum over the examples of the size of that example's loss gradient with
    /// respect to the neuron's gate, as central finite differences measure it; batching (two
    /// examples of different lengths in one padded batch) changes nothing.
    #[test]
    fn taylor_scores_are_per_example_loss_gradients() {
        let model = small_model();
        let examples = labelled(&[(vec![2, 9, 17, 33, 5, 3], 2, 3), (vec![2, 11, 4, 3], 1, 2), (vec![2, 7, 7, 21, 30, 12, 3], 0, 0)]);
        let scores = super::taylor_scores(&model, &[examples[..2].to_vec(), examples[2..].to_vec()], 0).unwrap();
        let eps = 1e-2;
        for (layer, layer_scores) in scores.iter().enumerate() {
            for (neuron, &got) in layer_scores.iter().enumerate() {
                let (up, down) = (gated_losses(&model, &examples, layer, neuron, 1.0 + eps), gated_losses(&model, &examples, layer, neuron, 1.0 - eps));
                let want: f32 = up.iter().zip(&down).map(|(u, d)| ((u - d) / (2.0 * eps)).abs()).sum();
                assert!((got - want).abs() <= 2e-3 * want.max(1.0), "layer {layer} neuron {neuron}: {got} against {want}");
            }
        }
        assert!(scores.iter().flatten().any(|&s| s > 1e-2));
    }

    /// By the loss, the silent neuron scores nothing and goes, and the narrowed model is the
    /// silenced teacher; examples without labels are refused by name.
    #[test]
    fn narrowed_by_taylor_drops_silent_neurons_and_needs_labels() {
        let teacher = teacher_with_a_dead_heavy_neuron();
        let examples = labelled(&[(vec![2, 9, 17, 33, 5, 3], 2, 3), (vec![2, 11, 4, 3], 1, 2)]);
        let ranking = super::Ranking::Taylor { batches: vec![examples.clone()], pad_id: 0 };
        let scores = super::taylor_scores(&teacher, std::slice::from_ref(&examples), 0).unwrap();
        assert!(scores[1][8] == 0.0 && scores[0][3] < 1e-3, "{scores:?}");
        let kept: Vec<Vec<i64>> = scores.iter().map(|s| super::top_neurons(s, 5)).collect();
        assert!(!kept[0].contains(&3) && !kept[1].contains(&8), "{kept:?}");
        assert_is_the_silenced_teacher(&teacher, &super::prune_feed_forward(teacher.clone(), 5, &ranking).unwrap(), &kept);
        let raw = vec![TrainExample { target: Target::None, ..examples[0].clone() }];
        let err = super::prune_feed_forward(teacher, 5, &super::Ranking::Taylor { batches: vec![raw], pad_id: 0 }).unwrap_err().to_string();
        assert!(err.contains("taylor") && err.contains("labelled"), "{err}");
    }

    #[test]
    fn narrowing_is_refused_outside_the_model_width() {
        assert!(super::prune_feed_forward(small_model(), 0, &super::Ranking::Weights).is_err());
        let err = super::prune_feed_forward(small_model(), 13, &super::Ranking::Activations(vec![sample_batch()])).unwrap_err().to_string();
        assert!(err.contains("student_intermediate_size 13") && err.contains("1..=12"), "{err}");
        assert_eq!(super::prune_feed_forward(small_model(), 12, &super::Ranking::Weights).unwrap().encoder.config.intermediate_size, 12);
    }
}
