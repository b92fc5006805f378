use std::path::PathBuf;

use anyhow::{Context, Result};
use distill_core::inputs::TokenBatch;
use distill_core::pretrained::Pretrained;

#[derive(clap::Args)]
pub struct Args {
    /// Architecture plugin: a name, or a plugin library file to load and use [default: the
    /// plugin that config.json's model_type names].
    #[arg(long, value_name = "NAME|FILE")]
    plugin: Option<String>,
    /// Model directory in Hugging Face layout, or a hub id looked up in the HF cache.
    #[arg(long)]
    model: String,
    /// JSON input: {"input_ids": [[..]], "attention_mask"?, "token_type_ids"?}, {"texts": [..]} or {"pairs": [[q, c], ..]}.
    #[arg(long)]
    input: PathBuf,
    /// Output safetensors file (f32): hidden_states.{i}, attention_scores.{i}, attention_probs.{i},
    /// head outputs; its metadata names the plugin and the device (backend) that computed them.
    #[arg(long)]
    output: PathBuf,
    /// Longest tokenized sequence for text input [default: 512, or the model's position table if shorter].
    #[arg(long)]
    max_length: Option<usize>,
}

pub fn run(args: Args, dirs: &crate::plugins::PluginDirs) -> Result<()> {
    let (registry, plugin) = dirs.registry_with_choice(args.plugin.as_deref())?;
    let registry = &registry;
    let device = distill_core::default_device();
    let model = Pretrained::load(&args.model, plugin.as_deref(), registry, &device)?;
    let source = args.input.display().to_string();
    let value: serde_json::Value = distill_core::io::read_json(&args.input)?;
    let max_len = model.config.sequence_length(args.max_length, 512, "--max-length", &args.model)?;
    let batch = TokenBatch::from_json(&value, model.tokenizer.as_ref(), max_len, &source)?;
    batch.check_against(&model.config, &source)?;
    let started = std::time::Instant::now();
    let tensors = distill_core::forward::forward_tensors(&model.model, &batch);
    let elapsed = started.elapsed();
    let count = tensors.len();
    // The device is recorded so that a comparison across backends can tell a run that fell back
    // to the CPU (DISTILL_DEVICE naming a backend that did not start) from one that did not.
    let device_name = distill_core::device_name();
    let metadata = std::collections::HashMap::from([
        ("plugin".to_string(), model.spec.name.to_string()),
        ("device".to_string(), device_name.to_string()),
    ]);
    distill_core::weights::write_safetensors(&args.output, &tensors, Some(metadata))
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!(
        "{} on {device_name}: {} layers, batch {} x {} tokens, forward {:.1} ms: wrote {count} tensors to {}",
        model.spec.name,
        model.config.num_layers,
        batch.batch_size(),
        batch.seq_len(),
        elapsed.as_secs_f64() * 1e3,
        args.output.display()
    );
    Ok(())
}
