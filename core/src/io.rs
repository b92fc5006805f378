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

/// Runs `f`, turning a panic inside a third-party library into `Err` with its message, so the
/// caller can say what went wrong instead of crashing: tokenizers and parquet panic on some
/// malformed files, and a GPU runtime that cannot start panics in its own worker threads. The
/// messages of every panic raised while `f` runs, in any thread, are kept (joined by `; `) and
/// none is printed. Calls are serialised, since the panic hook they swap is the process's.
pub fn catch_library_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    use std::sync::{Arc, Mutex};
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let messages = Arc::new(Mutex::new(Vec::<String>::new()));
    let kept = messages.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let text = payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned());
        kept.lock().unwrap_or_else(|e| e.into_inner()).push(text.unwrap_or_else(|| "a panic without a message".into()));
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    let messages = messages.lock().unwrap_or_else(|e| e.into_inner()).join("; ");
    result.map_err(|_| messages)
}

#[cfg(test)]
mod tests {
    use super::catch_library_panic;

    #[test]
    fn a_library_panic_becomes_the_messages_of_every_thread() {
        assert_eq!(catch_library_panic(|| 7), Ok(7));
        let caught = catch_library_panic(|| {
            // As a GPU runtime does: a worker thread panics first, then the caller gives up.
            let worker = std::thread::spawn(|| panic!("worker {} failed", 1));
            assert!(worker.join().is_err());
            panic!("caller gave up")
        });
        assert_eq!(caught, Err::<(), _>("worker 1 failed; caller gave up".to_string()));
    }
}
