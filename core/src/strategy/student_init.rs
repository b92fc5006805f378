//! Where a student's first weights come from: a subset of the teacher's layers (DistilBERT
//! style, when widths match), a checkpoint, or a random model in the student plugin's shape.

use burn::tensor::Device;

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
        assert_eq!(super::copied_layers(3, 6).unwrap(), [1, 3, 5]);
        assert_eq!(super::copied_layers(6, 12).unwrap(), [1, 3, 5, 7, 9, 11]);
        assert_eq!(super::copied_layers(4, 6).unwrap(), [1, 2, 4, 5]);
        assert_eq!(super::copied_layers(6, 6).unwrap(), [1, 2, 3, 4, 5, 6]);
        assert!(super::copied_layers(0, 6).is_err());
        assert!(super::copied_layers(7, 6).is_err());
    }
}
