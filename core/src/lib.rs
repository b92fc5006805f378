//! distill-core: transformer encoders, their checkpoints, and the registry of architectures
//! that knowledge distillation composes.
//!
//! Map of the crate, one concept per module:
//! - [`model`]: the configurable post-LN encoder of the BERT family and its task heads.
//! - [`registry`]: architecture specs (what a plugin contributes) and the plugin registry.
//! - [`weights`]: safetensors in and out, under each architecture's tensor names.
//! - [`tokenizer`]: tokenizers from `tokenizer.json`, `vocab.txt` or `vocab.json` + `merges.txt`.
//! - [`hub`]: resolving a local directory or a Hugging Face hub id to files.
//! - [`pretrained`]: a checkpoint directory as a whole (config, weights, tokenizer), loaded and saved.
//! - [`forward`]: a forward pass as named host tensors.
//! - [`strategy`]: distillation losses, layer mappings, the compatibility check, student initialisation.
//! - [`train`]: the training loop, AdamW, schedules, checkpoints, evaluation, teacher-logit cache.
//! - [`bench`]: timings, FLOP counts and memory for `distill bench`.
//! - [`data`]: SQuAD JSON and classification files.
//! - [`device`]: the compute device, CPU or a GPU backend chosen with `DISTILL_DEVICE`.
//! - [`task`]: QA features, decoding and official scoring; classification metrics.
//! - [`recipe`]: a whole run from its configuration (layered: defaults, file, environment, flags): stages, data, pair checks.
//! - [`report`]: run directories read back and drawn into one HTML page.
//! - [`inputs`]: batches of token ids, from JSON or from text.

pub mod bench;
pub mod data;
pub mod device;
pub mod error;
pub mod forward;
pub mod hashing;
pub mod host;
pub mod hub;
pub mod inputs;
pub mod io;
pub mod model;
pub mod pretrained;
pub mod recipe;
pub mod registry;
pub mod report;
pub mod strategy;
pub mod task;
pub mod tokenizer;
pub mod train;
pub mod weights;

pub use burn;
pub use device::{default_device, device_name};
pub use error::{DistillError, Result};
pub use inventory;
