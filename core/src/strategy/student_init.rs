//! Where a student's first weights come from: a subset of the teacher's layers (DistilBERT
//! style, when widths match), optionally with narrower feed-forward blocks, a checkpoint, or a
//! random model in the student plugin's shape.

use burn::module::Param;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::error::{DistillError, Result};
use crate::model::{EncoderConfig, Head, TaskModel, init_random};
use crate::registry::{ArchitectureSpec, StudentShape};

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

/// Narrows every layer's feed-forward block to the `size` inner neurons that weigh most, the
/// product of the norms of a neuron's input column and output row (structured pruning of width,
/// as DynaBERT and CoFi prune it). Depth costs a CPU more than width does (attention is a large
/// share of each layer's time), so a deeper, narrower student can be as fast as a shallower one.
/// Each kept neuron computes exactly what it did before; the model stays a plain BERT of
/// `intermediate_size` `size`, which transformers loads.
pub fn prune_feed_forward(mut model: TaskModel, size: usize) -> Result<TaskModel> {
    let width = model.encoder.config.intermediate_size;
    if size == 0 || size > width {
        return Err(DistillError::Invalid(format!("student_intermediate_size {size}: expected 1..={width}, the feed-forward width of the model it narrows")));
    }
    if size == width {
        return Ok(model);
    }
    for layer in &mut model.encoder.layers {
        let kept = kept_neurons(layer.ffn_in.weight.val(), layer.ffn_out.weight.val(), size);
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

/// The indices (increasing) of the `size` inner neurons of the largest weight, ties to the lower index.
fn kept_neurons(ffn_in: Tensor<2>, ffn_out: Tensor<2>, size: usize) -> Vec<i64> {
    let norms = |t: Tensor<2>, dim: usize| -> Vec<f32> { t.powf_scalar(2.0).sum_dim(dim).sqrt().into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data after conversion") };
    let (inputs, outputs) = (norms(ffn_in, 0), norms(ffn_out, 1));
    let weight: Vec<f32> = inputs.iter().zip(&outputs).map(|(a, b)| a * b).collect();
    let mut order: Vec<usize> = (0..weight.len()).collect();
    order.sort_by(|&a, &b| weight[b].total_cmp(&weight[a]).then(a.cmp(&b)));
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

    fn start_logits(model: &TaskModel) -> Vec<f32> {
        let batch = TokenBatch::from_rows(vec![vec![2, 9, 17, 33, 5, 3], vec![2, 11, 4, 3, 0, 0]], None, None, "test").unwrap();
        to_host(model.forward_keeping(&batch, Keep::Everything).qa.unwrap().start_logits).1
    }

    /// The narrowed student computes what the teacher computes with the dropped neurons silenced:
    /// the kept neurons are the heaviest ones and each keeps its own weights.
    #[test]
    fn narrowed_feed_forward_keeps_the_heaviest_neurons_exactly() {
        let mut teacher = small_model();
        // Neuron 3 of layer 0 made the heaviest and neuron 8 of layer 1 silent.
        let scale = |t: Tensor<2>, dim: usize, neuron: usize, by: f32, width: usize| {
            let mut factors = vec![1.0f32; width];
            factors[neuron] = by;
            let shape = if dim == 0 { [width, 1] } else { [1, width] };
            t.clone() * Tensor::<2>::from_data(TensorData::new(factors, shape), &t.device())
        };
        let layer = &mut teacher.encoder.layers[0];
        layer.ffn_in.weight = Param::from_tensor(scale(layer.ffn_in.weight.val(), 1, 3, 10.0, 12));
        let layer = &mut teacher.encoder.layers[1];
        layer.ffn_out.weight = Param::from_tensor(scale(layer.ffn_out.weight.val(), 0, 8, 0.0, 12));

        let student = super::prune_feed_forward(teacher.clone(), 5).unwrap();
        assert_eq!(student.encoder.config.intermediate_size, 5);
        let kept: Vec<Vec<i64>> = teacher.encoder.layers.iter().map(|l| super::kept_neurons(l.ffn_in.weight.val(), l.ffn_out.weight.val(), 5)).collect();
        assert!(kept[0].contains(&3) && !kept[1].contains(&8), "{kept:?}");
        for (layer, kept) in student.encoder.layers.iter().zip(&kept) {
            assert_eq!(layer.ffn_in.weight.val().dims(), [16, 5]);
            assert_eq!(layer.ffn_out.weight.val().dims(), [5, 16]);
            assert_eq!(kept.len(), 5);
            assert!(kept.windows(2).all(|w| w[0] < w[1]));
        }

        // The teacher with every dropped neuron's output row zeroed.
        let mut silenced = teacher.clone();
        for (layer, kept) in silenced.encoder.layers.iter_mut().zip(&kept) {
            let mask: Vec<f32> = (0..12).map(|i| if kept.contains(&(i as i64)) { 1.0 } else { 0.0 }).collect();
            let w = layer.ffn_out.weight.val();
            layer.ffn_out.weight = Param::from_tensor(w.clone() * Tensor::<2>::from_data(TensorData::new(mask, [12, 1]), &w.device()));
        }
        let (expected, got, unpruned) = (start_logits(&silenced), start_logits(&student), start_logits(&teacher));
        let gap = expected.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(gap < 1e-4, "narrowed student differs from the silenced teacher by {gap}");
        // Silencing seven of twelve neurons does change the outputs, so the comparison above has teeth.
        assert!(unpruned.iter().zip(&got).any(|(a, b)| (a - b).abs() > 1e-2));
    }

    #[test]
    fn narrowing_is_refused_outside_the_model_width() {
        assert!(super::prune_feed_forward(small_model(), 0).is_err());
        let err = super::prune_feed_forward(small_model(), 13).unwrap_err().to_string();
        assert!(err.contains("student_intermediate_size 13") && err.contains("1..=12"), "{err}");
        assert_eq!(super::prune_feed_forward(small_model(), 12).unwrap().encoder.config.intermediate_size, 12);
    }
}
