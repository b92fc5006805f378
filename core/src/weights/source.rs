use std::collections::BTreeSet;

use super::checkpoint::Checkpoint;
use crate::error::{DistillError, Result};
use crate::model::{ParamKey, ParamSource};
use crate::registry::TensorNames;

/// Feeds a checkpoint's tensors to the model builder under an architecture's names, checking
/// each shape and remembering which tensors were used.
pub struct CheckpointSource<'a> {
    pub checkpoint: &'a Checkpoint,
    pub names: &'a TensorNames,
    pub base: String,
    used: BTreeSet<String>,
}

impl<'a> CheckpointSource<'a> {
    /// Picks the base prefix the checkpoint uses by looking for its word embeddings.
    pub fn new(checkpoint: &'a Checkpoint, names: &'a TensorNames) -> Result<Self> {
        let base = names
            .base_prefixes
            .iter()
            .find(|prefix| checkpoint.contains(&format!("{prefix}{}", names.word_embeddings)))
            .cloned()
            .ok_or_else(|| {
                let tried: Vec<String> = names.base_prefixes.iter().map(|p| format!("{p}{}", names.word_embeddings)).collect();
                DistillError::tensor(checkpoint.path(), tried.join(" or "), "missing: no word embeddings under any known prefix")
            })?;
        Ok(Self { checkpoint, names, base, used: BTreeSet::new() })
    }

    /// The name under which the checkpoint holds `key`, trying legacy layer-norm names too.
    pub fn resolve(&self, key: ParamKey) -> Option<String> {
        let name = self.names.name(key, &self.base)?;
        std::iter::once(name.clone())
            .chain(TensorNames::legacy_names(&name))
            .find(|candidate| self.checkpoint.contains(candidate))
    }

    pub fn has_key(&self, key: ParamKey) -> bool {
        self.resolve(key).is_some()
    }

    /// Tensors of the checkpoint that no parameter used and the plugin does not expect.
    pub fn unused(&self) -> Vec<String> {
        self.checkpoint
            .names()
            .into_iter()
            .filter(|n| !self.used.contains(n) && !self.names.is_ignored(n))
            .collect()
    }
}

impl ParamSource for CheckpointSource<'_> {
    fn tensor(&mut self, key: ParamKey, shape: &[usize]) -> Result<Vec<f32>> {
        let expected = self.names.name(key, &self.base).unwrap_or_else(|| format!("{key:?}"));
        let name = self
            .resolve(key)
            .ok_or_else(|| DistillError::tensor(self.checkpoint.path(), &expected, "missing from the checkpoint"))?;
        let (found, values) = self.checkpoint.tensor_f32(&name)?;
        if found != shape {
            return Err(DistillError::tensor(
                self.checkpoint.path(),
                &name,
                format!("has shape {found:?}, but config.json implies {shape:?}"),
            ));
        }
        self.used.insert(name);
        Ok(values)
    }

    fn has(&self, key: ParamKey) -> bool {
        self.resolve(key).is_some()
    }
}
