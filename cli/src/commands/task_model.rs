//! The `--model` / `--plugin` pair of the commands that run a task model (eval, predict).

use anyhow::{Result, bail};
use distill_core::model::Head;
use distill_core::pretrained::{Pretrained, labels_from_config};

#[derive(clap::Args)]
pub struct TaskModelArgs {
    /// Model with a task head (QA, sequence or token classification): directory in Hugging
    /// Face layout, or a hub id.
    #[arg(long, value_name = "DIR|HUB_ID")]
    pub model: String,
    /// Architecture plugin: a name, or a plugin library file to load and use [default: the
    /// plugin that config.json's model_type names].
    #[arg(long, value_name = "NAME|FILE")]
    pub plugin: Option<String>,
}

/// A loaded model, its task head and its label names in id order (none for QA).
pub struct TaskModel {
    pub pretrained: Pretrained,
    pub head: Head,
    pub labels: Vec<String>,
}

impl TaskModelArgs {
    /// Loads the model, which must have a task head and a tokenizer.
    pub fn load(&self, dirs: &crate::plugins::PluginDirs) -> Result<TaskModel> {
        let (registry, plugin) = dirs.registry_with_choice(self.plugin.as_deref())?;
        let model = Pretrained::load(&self.model, plugin.as_deref(), &registry, &distill_core::default_device())?;
        let head = match model.model.head() {
            Some(Head::MaskedLm) | None => bail!("{}: the model has no task head (question answering, sequence or token classification)", self.model),
            Some(head) => head,
        };
        if model.tokenizer.is_none() {
            bail!("{}: the model has no tokenizer", self.model);
        }
        let labels = model.model.num_labels().map(|n| labels_from_config(&model.raw_config, n)).unwrap_or_default();
        Ok(TaskModel { pretrained: model, head, labels })
    }
}
