//! Bad input gets an error that names the file and the field or tensor, never a panic.

use std::path::Path;

use distill_core::inputs::TokenBatch;
use distill_core::pretrained::Pretrained;
use distill_core::registry::Registry;
use distill_tests::fixture;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

/// A copy of the bert fixture in a temporary directory.
fn copy_bert() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture("bert").join(f), dir.path().join(f)).unwrap();
    }
    dir
}

fn load_error(dir: &Path) -> String {
    let registry = Registry::builtin().unwrap();
    match Pretrained::load(dir.to_str().unwrap(), None, &registry, &distill_core::default_device()) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(e) => e.to_string(),
    }
}

fn edit_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
    let path = dir.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(config.as_object_mut().unwrap());
    std::fs::write(path, serde_json::to_vec(&config).unwrap()).unwrap();
}

/// Rewrites model.safetensors, letting `edit` change (name, dtype, shape, bytes) entries.
fn edit_weights(dir: &Path, edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>)) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut entries: Vec<_> = st.tensors().into_iter().map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec())).collect();
    edit(&mut entries);
    let views: Vec<_> = entries.iter().map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn config_missing_a_key_names_file_and_key() {
    let dir = copy_bert();
    edit_config(dir.path(), |c| {
        c.remove("hidden_size");
    });
    let err = load_error(dir.path());
    assert!(err.contains("config.json") && err.contains("hidden_size") && err.contains("missing"), "{err}");
}

#[test]
fn config_with_unknown_model_type_lists_plugins() {
    let dir = copy_bert();
    edit_config(dir.path(), |c| {
        c.insert("model_type".into(), "xlnet".into());
    });
    let err = load_error(dir.path());
    assert!(err.contains("model_type") && err.contains("xlnet") && err.contains("roberta"), "{err}");
}

#[test]
fn malformed_config_json_names_file() {
    let dir = copy_bert();
    std::fs::write(dir.path().join("config.json"), "{\"hidden_size\": 32,").unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("config.json") && err.contains("malformed JSON"), "{err}");
}

#[test]
fn config_with_wrong_value_type_names_key() {
    let dir = copy_bert();
    edit_config(dir.path(), |c| {
        c.insert("num_attention_heads".into(), "four".into());
    });
    let err = load_error(dir.path());
    assert!(err.contains("num_attention_heads") && err.contains("integer"), "{err}");
}

#[test]
fn missing_tensor_is_named() {
    let dir = copy_bert();
    edit_weights(dir.path(), |e| e.retain(|(n, ..)| n != "encoder.layer.1.attention.self.key.weight"));
    let err = load_error(dir.path());
    assert!(err.contains("model.safetensors") && err.contains("encoder.layer.1.attention.self.key.weight") && err.contains("missing"), "{err}");
}

#[test]
fn tensor_of_wrong_shape_is_named() {
    let dir = copy_bert();
    edit_weights(dir.path(), |e| {
        let t = e.iter_mut().find(|(n, ..)| n == "encoder.layer.0.intermediate.dense.bias").unwrap();
        t.2 = vec![36];
        t.3.truncate(36 * 4);
    });
    let err = load_error(dir.path());
    assert!(err.contains("encoder.layer.0.intermediate.dense.bias") && err.contains("[36]") && err.contains("[37]"), "{err}");
}

#[test]
fn tensor_of_wrong_dtype_is_named() {
    let dir = copy_bert();
    edit_weights(dir.path(), |e| {
        let t = e.iter_mut().find(|(n, ..)| n == "embeddings.LayerNorm.weight").unwrap();
        t.1 = Dtype::I32;
    });
    let err = load_error(dir.path());
    assert!(err.contains("embeddings.LayerNorm.weight") && err.contains("I32"), "{err}");
}

#[test]
fn truncated_safetensors_is_reported() {
    let dir = copy_bert();
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("model.safetensors") && err.contains("not a valid safetensors"), "{err}");
}

#[test]
fn missing_weights_file_is_reported() {
    let dir = copy_bert();
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn token_ids_outside_the_vocabulary_are_named() {
    let registry = Registry::builtin().unwrap();
    let model = Pretrained::load(fixture("bert").to_str().unwrap(), None, &registry, &distill_core::default_device()).unwrap();
    let input = serde_json::json!({"input_ids": [[2, 5, 7], [3, 128, 0]]});
    let batch = TokenBatch::from_json(&input, None, 512, "in.json").unwrap();
    let err = batch.check_against(&model.config, "in.json").unwrap_err().to_string();
    assert!(err.contains("in.json") && err.contains("input_ids[1][1]") && err.contains("128"), "{err}");
    let negative = TokenBatch::from_json(&serde_json::json!({"input_ids": [[-1]]}), None, 512, "in.json").unwrap();
    assert!(negative.check_against(&model.config, "in.json").is_err());
    let types = TokenBatch::from_json(&serde_json::json!({"input_ids": [[1]], "token_type_ids": [[2]]}), None, 512, "in.json").unwrap();
    let err = types.check_against(&model.config, "in.json").unwrap_err().to_string();
    assert!(err.contains("token_type_ids[0][0]"), "{err}");
}

#[test]
fn ragged_rows_are_named() {
    let ragged = serde_json::json!({"input_ids": [[1, 2, 3], [4, 5]]});
    let err = TokenBatch::from_json(&ragged, None, 512, "in.json").unwrap_err().to_string();
    assert!(err.contains("in.json") && err.contains("input_ids[1]") && err.contains("padded"), "{err}");
    let mask = serde_json::json!({"input_ids": [[1, 2]], "attention_mask": [[1]]});
    let err = TokenBatch::from_json(&mask, None, 512, "in.json").unwrap_err().to_string();
    assert!(err.contains("attention_mask[0]"), "{err}");
    let not_int = serde_json::json!({"input_ids": [[1, "x"]]});
    let err = TokenBatch::from_json(&not_int, None, 512, "in.json").unwrap_err().to_string();
    assert!(err.contains("input_ids[0][1]"), "{err}");
    let text = serde_json::json!({"texts": ["hello"]});
    let err = TokenBatch::from_json(&text, None, 512, "in.json").unwrap_err().to_string();
    assert!(err.contains("tokenizer"), "{err}");
}

/// Values burn would assert on (a dropout of 1 or below 0) or that would make the loader
/// allocate without bound are refused by field, never a panic.
#[test]
fn config_values_burn_would_panic_on_name_their_field() {
    for (key, value, expected) in [
        ("hidden_dropout_prob", serde_json::json!(1.0), "hidden_dropout_prob"),
        ("hidden_dropout_prob", serde_json::json!(-0.1), "hidden_dropout_prob"),
        ("attention_probs_dropout_prob", serde_json::json!(1.5), "attention_probs_dropout_prob"),
        ("initializer_range", serde_json::json!(-1.0), "initializer_range"),
        ("pad_token_id", serde_json::json!(1_000_000), "pad_token_id"),
        ("vocab_size", serde_json::json!(1u64 << 40), "parameters"),
    ] {
        let dir = copy_bert();
        edit_config(dir.path(), |c| {
            c.insert(key.into(), value.clone());
        });
        let err = load_error(dir.path());
        assert!(err.contains("config.json") && err.contains(expected), "{key} = {value}: {err}");
    }
}
