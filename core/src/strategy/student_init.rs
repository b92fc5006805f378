//! Where a student's first weights come from: a subset of the teacher's layers (DistilBERT
//! style, when widths match), a checkpoint, or a random model in the student plugin's shape.

use burn::tensor::Device;

use crate::error::{DistillError, Result};
use crate::model::{EncoderConfig, Head, TaskModel, init_random};
use crate::registry::{ArchitectureSpec, StudentShape};

/// Teacher layers (0-based) a student of `m` layers copies from a teacher of `n`: every
/// `n / m`-th layer starting at the first (`floor(i * n / m)`), so 6 -> 3 takes 0, 2, 4.
pub fn copied_layers(m: usize, n: usize) -> Vec<usize> {
    (0..m).map(|i| i * n / m).collect()
}

/// A student of `num_layers` layers copied from the teacher: embeddings, the chosen layers and
/// the head.
pub fn from_teacher_layers(teacher: &TaskModel, num_layers: usize) -> Result<TaskModel> {
    let n = teacher.encoder.layers.len();
    if num_layers == 0 || num_layers > n {
        return Err(DistillError::Invalid(format!("cannot take {num_layers} layers from a teacher of {n}")));
    }
    let mut student = teacher.clone();
    student.encoder.layers = copied_layers(num_layers, n).into_iter().map(|i| teacher.encoder.layers[i].clone()).collect();
    student.encoder.config.num_layers = num_layers;
    Ok(student)
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
    #[test]
    fn every_other_layer() {
        assert_eq!(super::copied_layers(3, 6), [0, 2, 4]);
        assert_eq!(super::copied_layers(6, 12), [0, 2, 4, 6, 8, 10]);
        assert_eq!(super::copied_layers(4, 6), [0, 1, 3, 4]);
    }
}
