//! Plugins loaded at run time from shared libraries. A library exports two C functions:
//!
//! ```c
//! uint32_t distill_plugin_abi_version(void);      // must return DISTILL_PLUGIN_ABI_VERSION
//! const char *distill_plugin_manifest(void);      // static NUL-terminated JSON
//! ```
//!
//! The manifest is `{"plugins": [ArchitectureSpec, ...]}`, the same spec built-in plugins give,
//! in the core's terms. The host copies the string and builds everything itself: no Rust trait
//! object, allocation or tensor crosses the boundary. Libraries are never unloaded.

use std::ffi::{CStr, c_char};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::spec::ArchitectureSpec;
use super::{PluginOrigin, Registry};
use crate::error::DistillError;

pub const ABI_VERSION: u32 = 1;
pub const ABI_SYMBOL: &[u8] = b"distill_plugin_abi_version";
pub const MANIFEST_SYMBOL: &[u8] = b"distill_plugin_manifest";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    plugins: Vec<ArchitectureSpec>,
}

/// Why a plugin library could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin library {}: {message}", path.display())]
pub struct PluginLoadError {
    pub path: PathBuf,
    pub message: String,
}

fn fail(path: &Path, message: impl Into<String>) -> PluginLoadError {
    PluginLoadError { path: path.to_path_buf(), message: message.into() }
}

/// Reads the specs a plugin library declares.
pub fn read_library(path: &Path) -> Result<Vec<ArchitectureSpec>, PluginLoadError> {
    // dlopen searches LD_LIBRARY_PATH and the system directories for a name without a slash
    // (`--plugin foo.so`): load the file that was named, by its absolute path.
    let path = &std::fs::canonicalize(path).map_err(|e| fail(path, format!("cannot open: {e}")))?;
    // SAFETY: loading runs the library's initialisers; plugin libraries are code the user chose
    // to trust by naming them, as with any native plugin system.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| fail(path, format!("not a loadable shared library: {e}")))?;
    let manifest = {
        // SAFETY: the symbol types are those the plugin ABI defines.
        let abi = unsafe { library.get::<unsafe extern "C" fn() -> u32>(ABI_SYMBOL) }
            .map_err(|_| fail(path, "missing entry point `distill_plugin_abi_version`"))?;
        let manifest = unsafe { library.get::<unsafe extern "C" fn() -> *const c_char>(MANIFEST_SYMBOL) }
            .map_err(|_| fail(path, "missing entry point `distill_plugin_manifest`"))?;
        let version = unsafe { abi() };
        if version != ABI_VERSION {
            return Err(fail(path, format!("plugin ABI version {version}, but this distill speaks version {ABI_VERSION}")));
        }
        let ptr = unsafe { manifest() };
        if ptr.is_null() {
            return Err(fail(path, "`distill_plugin_manifest` returned no manifest (null)"));
        }
        // SAFETY: the ABI requires a NUL-terminated string that lives as long as the library.
        unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|_| fail(path, "the manifest is not UTF-8"))?.to_string()
    };
    // Never unload: specs are copied, but unloading native code is a source of crashes.
    std::mem::forget(library);
    parse_manifest(&manifest).map_err(|message| fail(path, message))
}

/// The specs a manifest declares, each checked; the error says what is wrong with it.
pub fn parse_manifest(manifest: &str) -> Result<Vec<ArchitectureSpec>, String> {
    let manifest: Manifest = serde_json::from_str(manifest).map_err(|e| format!("malformed or incomplete manifest: {e}"))?;
    if manifest.plugins.is_empty() {
        return Err("the manifest declares no plugins".into());
    }
    for spec in &manifest.plugins {
        spec.validate().map_err(|e| e.to_string())?;
    }
    Ok(manifest.plugins)
}

fn is_library(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "so" || e == "dylib" || e == "dll")
}

/// The library files named by `--plugin` files, `--plugin-dir` directories and the
/// `DISTILL_PLUGIN_PATH` list (directories or files, separated like `PATH`).
pub fn discover(files: &[PathBuf], dirs: &[PathBuf], env_path: Option<&std::ffi::OsStr>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = files.to_vec();
    let mut all_dirs: Vec<PathBuf> = dirs.to_vec();
    if let Some(list) = env_path {
        for entry in std::env::split_paths(list) {
            if entry.is_dir() {
                all_dirs.push(entry);
            } else if !entry.as_os_str().is_empty() {
                out.push(entry);
            }
        }
    }
    for dir in all_dirs {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut found: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file() && is_library(p)).collect();
            found.sort();
            out.extend(found);
        }
    }
    out
}

impl Registry {
    /// Adds the plugins of each library; a broken library (or a duplicate name) is reported
    /// and skipped, so the rest keeps working.
    pub fn load_libraries(&mut self, paths: &[PathBuf]) -> Vec<PluginLoadError> {
        let mut errors = Vec::new();
        for path in paths {
            match read_library(path) {
                Ok(specs) => {
                    for spec in specs {
                        if let Err(e) = self.add(spec, PluginOrigin::Library(path.clone())) {
                            errors.push(fail(path, match e {
                                DistillError::Plugin { plugin, message } => format!("plugin `{plugin}`: {message}"),
                                other => other.to_string(),
                            }));
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        errors
    }
}
