//! Training checkpoints: the student, the projections, the optimizer's moments and the loop's
//! state in one safetensors file, written atomically, so a killed run resumes exactly.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use burn::module::Module;
use serde::{Deserialize, Serialize};

use super::optimizer::{AdamW, load_named_params, named_params};
use super::precision::LossScaler;
use crate::error::{DistillError, Result};
use crate::hashing::Fingerprint;
use crate::model::TaskModel;
use crate::strategy::intermediate::Projections;
use crate::weights::{Checkpoint, write_safetensors};

/// What is trained: the student and, for intermediate distillation, its projections.
#[derive(Module, Debug)]
pub struct Trainable {
    pub model: TaskModel,
    pub projections: Projections,
}

/// The loop's position and early-stopping state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Updates completed.
    pub step: usize,
    pub total_steps: usize,
    pub best_metric: Option<f64>,
    pub best_step: Option<usize>,
    pub evals_since_best: usize,
    pub stopped_early: bool,
    /// What decides the stage's result (settings, teachers, data), so a checkpoint is not
    /// resumed by a run with other settings. Checkpoints of older versions hold one opaque hash,
    /// read as a field `digest` that no current fingerprint matches.
    #[serde(deserialize_with = "fingerprint_or_digest")]
    pub fingerprint: Fingerprint,
    pub optimizer_updates: u64,
    /// Wall-clock seconds spent in this stage over every sitting up to the checkpoint, so a
    /// resumed run reports its whole training time.
    #[serde(default)]
    pub seconds: f64,
    /// f16 mixed precision: the loss scale and its run of finite updates, so a resumed run
    /// scales as the uninterrupted one would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_scaler: Option<LossScaler>,
}

fn fingerprint_or_digest<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Fingerprint, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Fields(Fingerprint),
        Digest(String),
    }
    Ok(match Stored::deserialize(d)? {
        Stored::Fields(f) => f,
        Stored::Digest(digest) => Fingerprint([("digest".to_string(), digest)].into()),
    })
}

pub fn save(path: &Path, trainable: &Trainable, optimizer: &AdamW, state: &TrainState) -> Result<()> {
    let mut tensors = BTreeMap::new();
    for (name, value) in named_params(trainable) {
        tensors.insert(format!("param.{name}"), value);
    }
    for (name, (m, v)) in &optimizer.moments {
        tensors.insert(format!("adam_m.{name}"), crate::model::to_host(m.clone()));
        tensors.insert(format!("adam_v.{name}"), crate::model::to_host(v.clone()));
    }
    let metadata = HashMap::from([("state".to_string(), serde_json::to_string(state).expect("state serialises"))]);
    write_safetensors(path, &tensors, Some(metadata))
}

/// The loop's state a checkpoint holds (in its header's metadata).
pub fn read_state(path: &Path) -> Result<TrainState> {
    let ckpt = Checkpoint::open(path)?;
    state_of(&ckpt, path)
}

fn state_of(ckpt: &Checkpoint, path: &Path) -> Result<TrainState> {
    ckpt.metadata()
        .get("state")
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| DistillError::Safetensors { path: path.to_path_buf(), message: "no training state in the header: not a distill training checkpoint".into() })
}

/// Restores `trainable` and `optimizer` from `path`; returns the restored module and state.
pub fn load(path: &Path, trainable: Trainable, optimizer: &mut AdamW) -> Result<(Trainable, TrainState)> {
    let ckpt = Checkpoint::open(path)?;
    let state = state_of(&ckpt, path)?;
    let mut params = BTreeMap::new();
    let device = trainable.model.encoder.device();
    optimizer.moments.clear();
    let mut moments: BTreeMap<String, (Option<burn::tensor::Tensor<1>>, Option<burn::tensor::Tensor<1>>)> = BTreeMap::new();
    for name in ckpt.names() {
        let (shape, values) = ckpt.tensor_f32(&name)?;
        if let Some(p) = name.strip_prefix("param.") {
            params.insert(p.to_string(), (shape, values));
        } else if let Some((kind, p)) = name.strip_prefix("adam_m.").map(|p| ("m", p)).or_else(|| name.strip_prefix("adam_v.").map(|p| ("v", p))) {
            let n = values.len();
            let t = burn::tensor::Tensor::<1>::from_data(burn::tensor::TensorData::new(values, [n]), &device.clone().inner());
            let entry = moments.entry(p.to_string()).or_default();
            if kind == "m" { entry.0 = Some(t) } else { entry.1 = Some(t) }
        }
    }
    for (name, (m, v)) in moments {
        match (m, v) {
            (Some(m), Some(v)) => {
                optimizer.moments.insert(name, (m, v));
            }
            _ => return Err(DistillError::tensor(path, name, "optimizer moments are incomplete")),
        }
    }
    optimizer.updates = state.optimizer_updates;
    let (trainable, problems) = load_named_params(trainable, &params);
    if let Some(first) = problems.first() {
        return Err(DistillError::tensor(path, format!("param.{first}"), format!("missing or of another shape ({} parameters in all): the checkpoint is of another model", problems.len())));
    }
    Ok((trainable, state))
}
