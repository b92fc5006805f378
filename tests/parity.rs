//! Parity with PyTorch transformers: every hidden state, raw attention score and attention
//! probability (and head output) of random checkpoints of each architecture, and of the real
//! MiniLM checkpoint on real text, against activations transformers computed (see
//! scripts/make_fixtures.py).

use distill_core::forward::forward_tensors;
use distill_core::inputs::TokenBatch;
use distill_core::pretrained::Pretrained;
use distill_core::registry::Registry;
use distill_tests::{fixture, max_abs_diff, minilm_dir, read_tensors};

fn check(name: &str, expected_plugin: &str, expected_outputs: &[&str], tolerance: f32) {
    let dir = fixture(name);
    let registry = Registry::builtin().unwrap();
    let device = distill_core::default_device();
    // Run on a GPU backend (DISTILL_DEVICE=vulkan in a build with the feature), these checks
    // must not pass on the CPU the device fell back to.
    let asked = std::env::var("DISTILL_DEVICE").unwrap_or_default();
    if !["", "cpu", "flex"].contains(&asked.as_str()) {
        assert_eq!(distill_core::device_name(), asked, "DISTILL_DEVICE={asked} asked for, but its device did not start");
    }
    let model = Pretrained::load(dir.to_str().unwrap(), None, &registry, &device).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.spec.name, expected_plugin);
    assert!(model.unused_tensors.is_empty(), "{name}: unused tensors {:?}", model.unused_tensors);
    let input: serde_json::Value = distill_core::io::read_json(&dir.join("inputs.json")).unwrap();
    let batch = TokenBatch::from_json(&input, model.tokenizer.as_ref(), 512, "inputs.json").unwrap();
    batch.check_against(&model.config, "inputs.json").unwrap();
    let expected = read_tensors(&dir.join("reference.safetensors"));
    for output in expected_outputs {
        assert!(expected.contains_key(*output), "{name}: fixture lacks {output}");
    }
    let actual = forward_tensors(&model.model, &batch);
    let (worst, diff) = max_abs_diff(&expected, &actual);
    println!("{name} on {}: max |diff| {diff:.3e} (at {worst}) over {} tensors", distill_core::device_name(), expected.len());
    assert!(diff <= tolerance, "{name}: `{worst}` differs from transformers by {diff:e} > {tolerance:e}");
}

#[test]
fn bert_base_matches_transformers() {
    check("bert", "bert", &["hidden_states.2", "attention_scores.1", "attention_probs.1"], 1e-4);
}

#[test]
fn bert_question_answering_matches_transformers() {
    check("bert-qa", "bert", &["start_logits", "end_logits"], 1e-4);
}

#[test]
fn bert_classification_matches_transformers() {
    check("bert-cls", "bert", &["logits"], 1e-4);
}

#[test]
fn token_classification_heads_match_transformers() {
    check("bert-tok", "bert", &["token_logits"], 1e-4);
    check("roberta-tok", "roberta", &["token_logits", "hidden_states.2"], 1e-4);
    check("distilbert-tok", "distilbert", &["token_logits"], 1e-4);
}

#[test]
fn bert_masked_lm_with_tanh_gelu_matches_transformers() {
    check("bert-mlm", "bert", &["mlm_logits"], 1e-4);
}

#[test]
fn roberta_classification_matches_transformers() {
    check("roberta-cls", "roberta", &["logits", "hidden_states.2"], 1e-4);
}

#[test]
fn distilbert_bf16_sinusoidal_question_answering_matches_transformers() {
    check("distilbert-qa", "distilbert", &["start_logits", "hidden_states.3"], 1e-4);
}

#[test]
fn tinybert_shaped_f16_bert_matches_transformers() {
    check("tinybert", "bert", &["hidden_states.4", "attention_scores.3"], 1e-4);
}

#[test]
fn real_minilm_on_real_text_matches_transformers() {
    let dir = minilm_dir();
    let registry = Registry::builtin().unwrap();
    let device = distill_core::default_device();
    let model = Pretrained::load(dir.to_str().unwrap(), None, &registry, &device).unwrap();
    assert_eq!((model.config.num_layers, model.config.hidden_size, model.config.num_heads), (6, 384, 12));
    let fx = fixture("minilm");
    let input: serde_json::Value = distill_core::io::read_json(&fx.join("inputs.json")).unwrap();
    let batch = TokenBatch::from_json(&input, model.tokenizer.as_ref(), 512, "inputs.json").unwrap();
    // Our tokenization of the pairs equals transformers' (ids, types and mask).
    let ids: serde_json::Value = distill_core::io::read_json(&fx.join("token_ids.json")).unwrap();
    let reference = TokenBatch::from_json_ids(&ids, "token_ids.json").unwrap();
    assert_eq!(batch, reference, "tokenization differs from transformers'");
    let actual = forward_tensors(&model.model, &batch);
    let (worst, diff) = max_abs_diff(&read_tensors(&fx.join("reference.safetensors")), &actual);
    println!("minilm: max |diff| {diff:.3e} (at {worst})");
    assert!(diff <= 2e-4, "MiniLM `{worst}` differs from transformers by {diff:e}");
}

#[test]
fn fused_inference_path_gives_the_same_head_outputs_and_hidden_states() {
    use distill_core::model::Keep;
    let registry = Registry::builtin().unwrap();
    // The random fixtures have zero biases; the real MiniLM (on padded real text) has trained ones.
    let cases = [("bert-qa", fixture("bert-qa"), fixture("bert-qa")), ("roberta-cls", fixture("roberta-cls"), fixture("roberta-cls")), ("distilbert-qa", fixture("distilbert-qa"), fixture("distilbert-qa")), ("minilm", minilm_dir(), fixture("minilm"))];
    for (name, dir, inputs) in cases {
        let model = Pretrained::load(dir.to_str().unwrap(), None, &registry, &distill_core::default_device()).unwrap();
        let input: serde_json::Value = distill_core::io::read_json(&inputs.join("inputs.json")).unwrap();
        let batch = TokenBatch::from_json(&input, model.tokenizer.as_ref(), 512, "inputs.json").unwrap();
        let full = model.model.forward(&batch);
        let fused = model.model.forward_keeping(&batch, Keep::LastHidden);
        assert!(fused.encoder.attention_scores.is_empty());
        let diff = |a: &distill_core::burn::tensor::Tensor<3>, b: &distill_core::burn::tensor::Tensor<3>| {
            let (a, b) = (distill_core::model::to_host(a.clone()).1, distill_core::model::to_host(b.clone()).1);
            a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max)
        };
        let last = diff(full.encoder.hidden_states.last().unwrap(), fused.encoder.hidden_states.last().unwrap());
        assert!(last < 1e-5, "{name}: last hidden state of the fused path differs by {last}");
        // Every hidden state without the attention maps (a teacher matched without its
        // attention term): the same states as the unfused pass, one per layer and embeddings.
        let states = model.model.encoder.forward_keeping(&batch, Keep::HiddenStates);
        assert!(states.attention_scores.is_empty() && states.attention_probs.is_empty());
        assert_eq!(states.hidden_states.len(), full.encoder.hidden_states.len());
        for (layer, (a, b)) in full.encoder.hidden_states.iter().zip(&states.hidden_states).enumerate() {
            let diff = diff(a, b);
            assert!(diff < 1e-5, "{name}: hidden state {layer} without attention maps differs by {diff}");
        }
        let host = |t: distill_core::burn::tensor::Tensor<2>| distill_core::model::to_host(t).1;
        let pairs: Vec<(Vec<f32>, Vec<f32>)> = match (full.qa, fused.qa, full.logits, fused.logits) {
            (Some(a), Some(b), _, _) => vec![(host(a.start_logits), host(b.start_logits)), (host(a.end_logits), host(b.end_logits))],
            (_, _, Some(a), Some(b)) => vec![(host(a), host(b))],
            _ if name == "minilm" => vec![], // a bare encoder: its hidden states are compared above
            _ => panic!("{name}: no head output"),
        };
        for (a, b) in pairs {
            let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(diff < 1e-5, "{name}: fused path differs by {diff}");
        }
    }
}
