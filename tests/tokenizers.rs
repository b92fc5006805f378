//! Tokenizers from each layout give transformers' ids: tokenizer.json and a bare WordPiece
//! vocab.txt (on the real MiniLM checkpoint's text), byte-level BPE vocab.json + merges.txt.

use distill_core::inputs::TokenBatch;
use distill_core::tokenizer::{TextTokenizer, TokenizerFiles};
use distill_tests::{fixture, minilm_dir, shared};

fn minilm_pairs() -> Vec<(String, String)> {
    let input: serde_json::Value = distill_core::io::read_json(&fixture("minilm").join("inputs.json")).unwrap();
    input["pairs"].as_array().unwrap().iter().map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string())).collect()
}

fn transformers_ids() -> TokenBatch {
    let ids: serde_json::Value = distill_core::io::read_json(&fixture("minilm").join("token_ids.json")).unwrap();
    TokenBatch::from_json_ids(&ids, "token_ids.json").unwrap()
}

#[test]
fn tokenizer_json_matches_transformers() {
    let files = TokenizerFiles::find(&minilm_dir()).unwrap();
    assert!(matches!(files, TokenizerFiles::Json(_)));
    let tok = TextTokenizer::load(&files).unwrap();
    assert_eq!(tok.encode_pairs(&minilm_pairs(), 512).unwrap(), transformers_ids());
}

#[test]
fn wordpiece_vocab_txt_matches_transformers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(shared().join("data/vocab/bert-base-uncased-vocab.txt"), dir.path().join("vocab.txt")).unwrap();
    let files = TokenizerFiles::find(dir.path()).unwrap();
    assert!(matches!(files, TokenizerFiles::WordPiece { .. }));
    let tok = TextTokenizer::load(&files).unwrap();
    assert_eq!(tok.vocabulary().len(), 30522);
    assert_eq!(tok.encode_pairs(&minilm_pairs(), 512).unwrap(), transformers_ids());
}

#[test]
fn byte_level_bpe_matches_transformers() {
    let fx = fixture("roberta-tokenizer");
    let files = TokenizerFiles::find(&fx).unwrap();
    assert!(matches!(files, TokenizerFiles::ByteLevelBpe { .. }));
    let tok = TextTokenizer::load(&files).unwrap();
    let expected: serde_json::Value = distill_core::io::read_json(&fx.join("expected.json")).unwrap();
    let pairs: Vec<(String, String)> = expected["pairs"].as_array().unwrap().iter().map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into())).collect();
    let batch = tok.encode_pairs(&pairs, 512).unwrap();
    let reference = TokenBatch::from_json_ids(&expected, "expected.json").unwrap();
    assert_eq!(batch.input_ids, reference.input_ids);
    assert_eq!(batch.attention_mask, reference.attention_mask);
}
