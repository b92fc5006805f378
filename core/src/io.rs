//! File helpers: reading JSON with errors that name the file, and atomic writes
//! (a temporary file in the target's directory, then a rename), so an interrupted run never
//! leaves a half-written output behind.

use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{DistillError, Result};

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|e| DistillError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|source| DistillError::Json { path: path.to_path_buf(), source })
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// Writes through `fill` into a temporary file next to `path`, syncs it, then renames it over `path`.
pub fn write_atomic_with(path: &Path, fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| DistillError::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| DistillError::io(dir, e))?;
    fill(tmp.as_file_mut()).map_err(|e| DistillError::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| DistillError::io(path, e))?;
    tmp.persist(path).map_err(|e| DistillError::io(path, e.error))?;
    Ok(())
}

pub fn write_json_atomic(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value).expect("serialising a JSON value cannot fail");
    text.push(b'\n');
    write_atomic(path, &text)
}

/// Runs `f`, turning a panic inside a third-party reader (tokenizers and parquet both panic on
/// some malformed files) into `Err` with the panic's message, so the caller can name the file.
/// The panic message is not printed: the caller's error says what is wrong instead.
pub fn catch_library_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    result.map_err(|panic| panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "unknown".into()))
}
