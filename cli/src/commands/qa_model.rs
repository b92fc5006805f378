//! The `--model` / `--plugin` pair of the commands that run a QA model (eval, predict).

use anyhow::{Result, bail};
use distill_core::pretrained::Pretrained;

#[derive(clap::Args)]
pub struct QaModelArgs {
    /// QA model: directory in Hugging Face layout, or a hub id.
    #[arg(long, value_name = "DIR|HUB_ID")]
    pub model: String,
    /// Architecture plugin: a name, or a plugin library file to load and use [default: the
    /// plugin that config.json's model_type names].
    #[arg(long, value_name = "NAME|FILE")]
    pub plugin: Option<String>,
}

impl QaModelArgs {
    /// Loads the model, which must have a QA head and a tokenizer.
    pub fn load(&self, dirs: &crate::plugins::PluginDirs) -> Result<Pretrained> {
        let (registry, plugin) = dirs.registry_with_choice(self.plugin.as_deref())?;
        let model = Pretrained::load(&self.model, plugin.as_deref(), &registry, &distill_core::default_device())?;
        if model.model.qa.is_none() {
            bail!("{}: the model has no QA head (qa_outputs)", self.model);
        }
        if model.tokenizer.is_none() {
            bail!("{}: the model has no tokenizer", self.model);
        }
        Ok(model)
    }
}
