//! A new architecture needs no edit of the core: this test crate registers a plugin of its own
//! (an architecture with other config keys and tensor names) and loads a checkpoint with it.

use distill_core::forward::forward_tensors;
use distill_core::inputs::TokenBatch;
use distill_core::pretrained::{Pretrained, save_model};
use distill_core::registry::{ArchitectureSpec, ConfigKeys, Registry, StaticPlugin};
use distill_tests::{fixture, max_abs_diff, read_tensors};

fn renamed_spec() -> ArchitectureSpec {
    let mut spec = distill_plugin_bert::spec();
    spec.name = "renamed-bert".into();
    spec.description = "a BERT with its own naming, registered from outside the core".into();
    spec.family = "renamed".into();
    spec.model_types = vec!["renamed-bert".into()];
    spec.export_model_type = "renamed-bert".into();
    spec.config_keys = ConfigKeys { hidden_size: vec!["d_model".into()], num_layers: vec!["depth".into()], ..ConfigKeys::bert() };
    let t = &mut spec.tensors;
    t.base_prefixes = vec!["backbone.".into(), "".into()];
    t.layer = "blocks.{i}.".into();
    t.query = "attn.q".into();
    t.key = "attn.k".into();
    t.value = "attn.v".into();
    t.attention_output = "attn.o".into();
    t.qa_outputs = "span_head".into();
    spec
}

distill_core::inventory::submit! { StaticPlugin { spec: renamed_spec } }

#[test]
fn plugin_registered_outside_core_loads_its_checkpoint() {
    let registry = Registry::builtin().unwrap();
    assert!(registry.get("renamed-bert").is_some(), "the test's plugin is registered");
    let device = distill_core::default_device();
    // Write the bert-qa fixture in the new architecture's layout, then load it by model_type.
    let bert = Pretrained::load(fixture("bert-qa").to_str().unwrap(), None, &registry, &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = registry.get("renamed-bert").unwrap().spec.clone();
    save_model(&bert.model, &spec, &serde_json::Map::new(), None, dir.path()).unwrap();
    let config: serde_json::Value = distill_core::io::read_json(&dir.path().join("config.json")).unwrap();
    assert_eq!(config["d_model"], 32);
    assert!(config.get("hidden_size").is_none());

    let model = Pretrained::load(dir.path().to_str().unwrap(), None, &registry, &device).unwrap();
    assert_eq!(model.spec.name, "renamed-bert");
    let names = distill_core::weights::Checkpoint::open(&dir.path().join("model.safetensors")).unwrap().names();
    assert!(names.contains(&"backbone.blocks.1.attn.q.weight".to_string()) && names.contains(&"span_head.bias".to_string()), "{names:?}");
    let input: serde_json::Value = distill_core::io::read_json(&fixture("bert-qa").join("inputs.json")).unwrap();
    let batch = TokenBatch::from_json(&input, None, 512, "inputs.json").unwrap();
    let (_, diff) = max_abs_diff(&read_tensors(&fixture("bert-qa").join("reference.safetensors")), &forward_tensors(&model.model, &batch));
    assert!(diff < 1e-4, "{diff}");
}

#[test]
fn duplicate_plugin_names_are_rejected() {
    let mut registry = Registry::builtin().unwrap();
    let err = registry.add(distill_plugin_bert::spec(), distill_core::registry::PluginOrigin::Builtin).unwrap_err().to_string();
    assert!(err.contains("bert") && err.contains("duplicate"), "{err}");
}

/// Two plugins claiming one model_type: the first added reads such checkpoints, and the
/// registry holds a warning naming both and which wins (the CLI prints it).
#[test]
fn a_model_type_claimed_twice_warns_and_the_first_plugin_wins() {
    use distill_core::registry::PluginOrigin;
    let mut registry = Registry::default();
    let mut first = distill_plugin_bert::spec();
    first.name = "zeta".into();
    let mut second = first.clone();
    second.name = "alpha".into();
    registry.add(first, PluginOrigin::Builtin).unwrap();
    assert!(registry.warnings().is_empty());
    registry.add(second, PluginOrigin::Library("/x/libalpha.so".into())).unwrap();
    // `alpha` sorts first by name, yet `zeta` was added first and keeps the model_type.
    assert_eq!(registry.for_model_type("bert").unwrap().spec.name, "zeta");
    let warning = registry.warnings().join("\n");
    assert!(warning.contains("`bert`") && warning.contains("`alpha`") && warning.contains("libalpha.so") && warning.contains("`zeta`, added first"), "{warning}");
}
