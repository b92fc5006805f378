//! Weights in safetensors files: reading f32/f16/bf16 tensors with errors that name the file and
//! tensor, feeding them to the model builder under an architecture's names, and writing them back.

mod checkpoint;
mod source;

pub use checkpoint::{Checkpoint, write_safetensors};
pub use source::CheckpointSource;
