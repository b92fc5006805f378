//! The one error type of the core. Every variant names the file, field or tensor it is about,
//! so a user can fix the input without reading code.

use std::path::PathBuf;

pub type Result<T, E = DistillError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum DistillError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: malformed JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: field `{field}`: {message}")]
    Config {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error("{path}: tensor `{tensor}`: {message}")]
    Tensor {
        path: PathBuf,
        tensor: String,
        message: String,
    },
    #[error("{path}: not a valid safetensors file: {message}")]
    Safetensors { path: PathBuf, message: String },
    #[error("{path}: tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("{source_name}: input `{field}`: {message}")]
    Input {
        source_name: String,
        field: String,
        message: String,
    },
    #[error("plugin `{plugin}`: {message}")]
    Plugin { plugin: String, message: String },
    #[error("model `{model}`: {message}")]
    Hub { model: String, message: String },
    #[error("{0}")]
    Invalid(String),
    /// A teacher/student pair that cannot be distilled as asked, with every reason.
    #[error("{0}")]
    Incompatible(crate::strategy::compat::Rejection),
}

impl DistillError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    pub fn config(path: impl Into<PathBuf>, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config { path: path.into(), field: field.into(), message: message.into() }
    }

    pub fn tensor(path: impl Into<PathBuf>, tensor: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Tensor { path: path.into(), tensor: tensor.into(), message: message.into() }
    }

    pub fn input(source_name: impl Into<String>, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Input { source_name: source_name.into(), field: field.into(), message: message.into() }
    }
}
