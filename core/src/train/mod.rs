//! Training: one loop serves fine-tuning and every distillation stage.

pub mod batches;
pub mod checkpoint;
pub mod evaluate;
pub mod examples;
pub mod optimizer;
pub mod precision;
pub mod progress;
pub mod schedule;
pub mod teacher_cache;
pub mod trainer;
