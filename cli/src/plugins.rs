//! Building the plugin registry: the built-in plugins plus shared libraries from `--plugin`,
//! `--plugin-dir` and `DISTILL_PLUGIN_PATH`. A broken library is reported and skipped.

use std::path::PathBuf;

use distill_core::registry::Registry;
use distill_core::registry::dynamic::discover;

#[derive(clap::Args, Default)]
pub struct PluginArgs {
    /// Load architecture plugins from the shared libraries in this directory (repeatable).
    #[arg(long = "plugin-dir", global = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Load an architecture plugin from this shared library (repeatable). Also read:
    /// DISTILL_PLUGIN_PATH, directories or files separated by ':'.
    #[arg(long = "plugin", global = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

impl PluginArgs {
    pub fn registry(&self) -> Registry {
        let mut registry = match Registry::builtin() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("warning: built-in plugins: {e}");
                Registry::default()
            }
        };
        let env = std::env::var_os("DISTILL_PLUGIN_PATH");
        let libraries = discover(&self.files, &self.dirs, env.as_deref());
        for error in registry.load_libraries(&libraries) {
            eprintln!("warning: {error} (skipped)");
        }
        registry
    }
}
