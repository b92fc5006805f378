use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};

use crate::error::{DistillError, Result};

/// A safetensors file read into memory, with its tensor index.
pub struct Checkpoint {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl Checkpoint {
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| DistillError::io(path, e))?;
        // Parse once up front so a truncated or corrupt file fails here, with the file named.
        SafeTensors::deserialize(&bytes)
            .map_err(|e| DistillError::Safetensors { path: path.to_path_buf(), message: e.to_string() })?;
        Ok(Self { path: path.to_path_buf(), bytes })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn view(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("validated in Checkpoint::open")
    }

    /// The free-form string metadata of the file's header.
    pub fn metadata(&self) -> std::collections::HashMap<String, String> {
        SafeTensors::read_metadata(&self.bytes)
            .ok()
            .and_then(|(_, m)| m.metadata().clone())
            .unwrap_or_default()
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.view().names().into_iter().map(str::to_string).collect();
        names.sort();
        names
    }

    pub fn contains(&self, name: &str) -> bool {
        self.view().tensor(name).is_ok()
    }

    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.view().tensor(name).ok().map(|t| t.shape().to_vec())
    }

    /// The tensor `name` as f32 values and its shape; f16 and bf16 are widened.
    pub fn tensor_f32(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
        let view = self.view();
        let t = view.tensor(name).map_err(|_| DistillError::tensor(&self.path, name, "missing from the checkpoint"))?;
        let data = t.data();
        let values = match t.dtype() {
            Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => data.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::BF16 => data.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            other => {
                return Err(DistillError::tensor(&self.path, name, format!("has dtype {other:?}; expected F32, F16 or BF16")));
            }
        };
        Ok((t.shape().to_vec(), values))
    }
}

/// Writes f32 tensors to a safetensors file atomically, with `metadata` in the header
/// (transformers expects `{"format": "pt"}`).
pub fn write_safetensors(path: &Path, tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>, metadata: Option<std::collections::HashMap<String, String>>) -> Result<()> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(name, (shape, values))| (name.clone(), values.iter().flat_map(|v| v.to_le_bytes()).collect(), shape.clone()))
        .collect();
    let views = bytes
        .iter()
        .map(|(name, data, shape)| {
            safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| DistillError::tensor(path, name, e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let serialized = safetensors::serialize(views, metadata)
        .map_err(|e| DistillError::Safetensors { path: path.to_path_buf(), message: e.to_string() })?;
    crate::io::write_atomic(path, &serialized)
}
