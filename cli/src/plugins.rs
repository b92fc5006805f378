//! Building the plugin registry: the built-in plugins plus shared libraries from `--plugin FILE`,
//! `--plugin-dir DIR` and `DISTILL_PLUGIN_PATH`. A broken library is reported and skipped.

use std::path::{Path, PathBuf};

use distill_core::registry::Registry;
use distill_core::registry::dynamic::{discover, read_library};

#[derive(clap::Args, Default, Clone)]
pub struct PluginDirs {
    /// Load architecture plugins from the shared libraries in this directory (repeatable). Also
    /// read: DISTILL_PLUGIN_PATH, directories or library files separated by ':'.
    #[arg(long = "plugin-dir", global = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
}

impl PluginDirs {
    /// The registry with the libraries of the directories, the environment and `files`.
    pub fn registry(&self, files: &[PathBuf]) -> Registry {
        let mut registry = match Registry::builtin() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("warning: built-in plugins: {e}");
                Registry::default()
            }
        };
        let env = std::env::var_os("DISTILL_PLUGIN_PATH");
        let libraries = discover(files, &self.dirs, env.as_deref());
        for error in registry.load_libraries(&libraries) {
            eprintln!("warning: {error} (skipped)");
        }
        for warning in registry.warnings() {
            eprintln!("warning: {warning}");
        }
        registry
    }

    /// For `--plugin NAME|FILE`: a path to a library loads it and selects its first plugin;
    /// anything else is a plugin name.
    pub fn registry_with_choice(&self, plugin: Option<&str>) -> anyhow::Result<(Registry, Option<String>)> {
        match plugin {
            Some(value) if Path::new(value).is_file() => {
                let specs = read_library(Path::new(value))?;
                let name = specs.first().map(|s| s.name.clone());
                Ok((self.registry(&[PathBuf::from(value)]), name))
            }
            other => Ok((self.registry(&[]), other.map(str::to_string))),
        }
    }
}
