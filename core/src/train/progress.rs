//! Progress bars (hidden when stderr is not a terminal) and the JSON-lines metrics log.

use std::io::Write;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{DistillError, Result};

pub fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// Appends one JSON object per line to `metrics.jsonl`.
pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| DistillError::io(dir, e))?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| DistillError::io(path, e))?;
        Ok(Self { path: path.to_path_buf(), file })
    }

    pub fn write(&mut self, record: &serde_json::Value) -> Result<()> {
        let mut line = serde_json::to_vec(record).expect("JSON values serialise");
        line.push(b'\n');
        self.file.write_all(&line).map_err(|e| DistillError::io(&self.path, e))
    }
}
