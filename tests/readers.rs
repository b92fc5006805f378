//! Every reader of user input, fed arbitrary bytes and mutations of a valid file (bytes changed,
//! inserted, deleted, cut short; numbers that overflow or ask for 2^40 elements; quotes, tabs,
//! empty containers): each answers `Ok` or an error, never a panic, and never allocates for a
//! size it has not checked. `DISTILL_READER_CASES` cases per reader (10,000 by default); the
//! ignored `soak` test runs 20 times as many.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use distill_core::data::classification::{read_examples, read_examples_with};
use distill_core::data::rows::DataColumns;
use distill_core::data::tagged::read_tagged;
use distill_core::task::token_classification::windows::{WordText, build_windows};
use distill_core::data::squad::SquadFile;
use distill_core::pretrained::Pretrained;
use distill_core::recipe::RunConfig;
use distill_core::registry::Registry;
use distill_core::registry::dynamic::parse_manifest;
use distill_core::task::qa::features::{FeatureConfig, QaExample, build_features};
use distill_core::tokenizer::{TextTokenizer, TokenizerFiles};
use distill_core::weights::Checkpoint;
use distill_tests::{fixture, shared};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Fragments spliced into inputs: what breaks parsers and what asks for huge allocations.
const TOKENS: &[&str] = &[
    "1e400", "-1", "0", "-0.0", "NaN", "18446744073709551616", "1099511627776", "4294967296", "null", "true", "\"\"", "[]", "{}", "[[]]", ",", ":", "\t", "\n",
    "\"", "\\", "\\u0000", "é", "\u{0}", "\u{202e}", "9999999999", "{\"a\":", "]]]]", "\"dtype\":\"F64\"", "\"shape\":[1099511627776]", "\"data_offsets\":[0,1099511627776]",
];

/// A mutation of `seed`: up to five edits, or (one case in five) arbitrary bytes.
fn mutated(seed: Vec<u8>, focus: usize) -> impl Strategy<Value = Vec<u8>> {
    let edits = proptest::collection::vec((0u8..5, any::<usize>(), any::<u8>(), 0..TOKENS.len()), 1..6).prop_map(move |edits| {
        let mut bytes = seed.clone();
        for (kind, at, byte, token) in edits {
            // Most edits land in the first `focus` bytes (a header, the structure of a file).
            let span = if at % 4 == 0 { bytes.len() } else { focus.min(bytes.len()) };
            let at = at % (span + 1);
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => {
                    let t = TOKENS[token].as_bytes();
                    bytes.splice(at..at, t.iter().copied());
                }
                2 => {
                    let end = (at + 1 + byte as usize % 16).min(bytes.len());
                    bytes.drain(at.min(end)..end);
                }
                3 => bytes.truncate(at),
                _ if at < bytes.len() => bytes.insert(at, byte),
                _ => bytes.push(byte),
            }
        }
        bytes
    });
    prop_oneof![1 => proptest::collection::vec(any::<u8>(), 0..512), 4 => edits]
}

fn cases(scale: u32) -> u32 {
    std::env::var("DISTILL_READER_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000) * scale
}

/// Runs `check` on `cases` inputs mutated from `seed`; a panic inside fails the test with the
/// (shrunk) input that caused it. `check` tells whether the reader accepted the input; how many
/// it did is printed, to see that the mutations reach past the first error.
fn fuzz(name: &str, seed: Vec<u8>, focus: usize, scale: u32, check: impl Fn(&[u8]) -> bool) {
    let mut runner = TestRunner::new(Config { cases: cases(scale), failure_persistence: None, ..Config::default() });
    let (tried, accepted) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    let result = runner.run(&mutated(seed, focus), |bytes| {
        tried.set(tried.get() + 1);
        accepted.set(accepted.get() + u32::from(check(&bytes)));
        Ok(())
    });
    if let Err(e) = result {
        panic!("reader {name}: {e}");
    }
    eprintln!("reader {name}: {} inputs, {} accepted, the rest refused with an error, no panic", tried.get(), accepted.get());
}

/// A file the readers are pointed at, rewritten for each case.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

fn wordpiece() -> &'static TextTokenizer {
    static T: OnceLock<TextTokenizer> = OnceLock::new();
    T.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        std::fs::copy(shared().join("data/vocab/bert-base-uncased-vocab.txt"), dir.join("vocab.txt")).unwrap();
        TextTokenizer::load(&TokenizerFiles::find(&dir).unwrap()).unwrap()
    })
}

fn squad_reader(scale: u32) {
    let seed = std::fs::read(shared().join("data/squad/tiny-v2.0.json")).unwrap();
    let scratch = Scratch::new();
    let features = FeatureConfig { max_seq_len: 64, doc_stride: 16, max_query_length: 16 };
    fuzz("squad", seed, 4096, scale, |bytes| {
        let path = scratch.write("train.json", bytes);
        let _ = SquadFile::read(&path, true);
        let Ok((squad, _)) = SquadFile::read(&path, false) else { return false };
        let examples = QaExample::from_squad(&squad);
        build_features(&examples[..examples.len().min(8)], wordpiece(), &features).is_ok()
    });
}

fn classification_reader(scale: u32) {
    let scratch = Scratch::new();
    let seeds = [
        ("a.tsv", "text\ttext_pair\tlabel\ngood film\tyes\tpos\nbad\tno\tneg\n"),
        ("a.csv", "label,text\npos,\"good, \"\"fine\"\" film\"\nneg,bad\n"),
        ("a.jsonl", "{\"text\": \"good\", \"label\": \"pos\"}\n{\"text\": \"bad\", \"text_pair\": \"x\", \"label\": 0}\n"),
    ];
    for (name, seed) in seeds {
        fuzz(name, seed.as_bytes().to_vec(), 256, scale, |bytes| {
            read_examples(&scratch.write(name, bytes)).is_ok()
        });
    }
}

fn tagged_and_row_readers(scale: u32) {
    let scratch = Scratch::new();
    let columns = DataColumns::default();
    let labels: Vec<String> = ["O", "B-location", "I-location", "B-person"].iter().map(|s| s.to_string()).collect();
    let seeds = [
        ("a.conll", "-DOCSTART-\tO\n\nEmpire\tB-location\nState\tI-location\nis\tO\n\nAsk\tO\nAlice\tB-person\n".to_string()),
        ("a.jsonl", "{\"tokens\": [\"Empire\", \"State\"], \"ner_tags\": [1, 2]}\n{\"tokens\": [\"Ask\", \"Alice\"], \"ner_tags\": [\"O\", \"B-person\"]}\n".to_string()),
    ];
    for (name, seed) in seeds {
        fuzz(name, seed.into_bytes(), 256, scale, |bytes| {
            let path = scratch.write(name, bytes);
            let Ok(sentences) = read_tagged(&path, &columns, Some(&labels)) else { return false };
            let texts: Vec<WordText> = sentences.iter().take(8).map(|s| WordText::from_words(&s.words)).collect();
            build_windows(&texts, wordpiece(), 16).is_ok()
        });
    }
    // SQuAD rows in the hub layout, as JSON lines.
    let squad = "{\"id\": \"q1\", \"title\": \"t\", \"context\": \"Alpha beta.\", \"question\": \"What?\", \"answers\": {\"text\": [\"beta\"], \"answer_start\": [6]}}\n";
    fuzz("squad.jsonl", squad.as_bytes().to_vec(), 256, scale, |bytes| SquadFile::read(&scratch.write("squad.jsonl", bytes), false).is_ok());
    // Parquet files written by pyarrow, mutated: a corrupt file is an error, never a panic.
    for name in ["pairs.parquet", "ner.parquet", "squad.parquet"] {
        let seed = std::fs::read(fixture("parquet").join(name)).unwrap();
        let focus = seed.len();
        fuzz(name, seed, focus, scale, |bytes| {
            let path = scratch.write(name, bytes);
            match name {
                "pairs.parquet" => read_examples_with(&path, &DataColumns { text: "sentence1".into(), text_pair: "sentence2".into(), ..DataColumns::default() }).is_ok(),
                "ner.parquet" => read_tagged(&path, &columns, Some(&labels)).is_ok(),
                _ => SquadFile::read(&path, false).is_ok(),
            }
        });
    }
}

fn model_config_reader(scale: u32) {
    let registry = Registry::builtin().unwrap();
    let scratch = Scratch::new();
    for (fixture_name, plugin) in [("bert", "bert"), ("distilbert-qa", "distilbert"), ("roberta-cls", "roberta")] {
        let seed = std::fs::read(fixture(fixture_name).join("config.json")).unwrap();
        let spec = &registry.get(plugin).unwrap().spec;
        fuzz(fixture_name, seed, 1024, scale, |bytes| {
            let path = scratch.write("config.json", bytes);
            serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|value| spec.config_keys.parse(&value, &spec.config_defaults, spec.position_scheme, &path).is_ok())
        });
    }
}

fn run_config_reader(scale: u32) {
    let seed = serde_json::to_vec_pretty(&RunConfig { teacher: Some("t".into()), labels: Some(vec!["a".into()]), ..RunConfig::default() }).unwrap();
    // Through the reader the CLI uses: the layers, from a file on disk.
    let dir = tempfile::tempdir().unwrap();
    let layered = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        RunConfig::layered(Some(&path), &[]).is_ok_and(|l| l.config.validate().is_ok())
    };
    fuzz("run-config.json", seed, 2048, scale, |bytes| layered("run-config.json", bytes));
    let seed = b"strategy = \"tinybert\"\nteacher = \"t\"\n[train_config]\nepochs = 2\nbatch_size = 8\n[train_config.optimizer]\nmax_grad_norm = 1.0\n[prediction]\ntemperature = 2.0\n[intermediate]\nmapping = \"uniform\"\n".to_vec();
    fuzz("run.toml", seed, 512, scale, |bytes| layered("run.toml", bytes));
}

fn manifest_reader(scale: u32) {
    let spec = distill_plugin_roberta::spec();
    let seed = serde_json::to_vec(&serde_json::json!({"plugins": [spec]})).unwrap();
    let len = seed.len();
    fuzz("plugin manifest", seed, len, scale, |bytes| {
        std::str::from_utf8(bytes).is_ok_and(|text| parse_manifest(text).is_ok())
    });
}

fn safetensors_reader(scale: u32) {
    let registry = Registry::builtin().unwrap();
    let device = distill_core::default_device();
    let seed = std::fs::read(fixture("bert").join("model.safetensors")).unwrap();
    let header = 8 + u64::from_le_bytes(seed[..8].try_into().unwrap()) as usize;
    let scratch = Scratch::new();
    std::fs::copy(fixture("bert").join("config.json"), scratch.0.path().join("config.json")).unwrap();
    fuzz("safetensors", seed, header, scale, |bytes| {
        let path = scratch.write("model.safetensors", bytes);
        let Ok(ckpt) = Checkpoint::open(&path) else { return false };
        for name in ckpt.names() {
            let _ = ckpt.tensor_f32(&name);
        }
        let _ = ckpt.metadata();
        Pretrained::load(scratch.0.path().to_str().unwrap(), None, &registry, &device).is_ok()
    });
}

fn tokenizer_readers(scale: u32) {
    let scratch = Scratch::new();
    let check = |files: &TokenizerFiles| TextTokenizer::load(files).is_ok_and(|t| t.encode_pairs(&[("What is it?".into(), "A hat, a cat é.".into())], 32).is_ok());
    // WordPiece: the first 1,100 lines of bert-base-uncased's vocabulary (the specials and more).
    let vocab: Vec<u8> = std::fs::read_to_string(shared().join("data/vocab/bert-base-uncased-vocab.txt")).unwrap().lines().take(1100).flat_map(|l| format!("{l}\n").into_bytes()).collect();
    fuzz("vocab.txt", vocab, 4096, scale, |bytes| {
        let vocab = scratch.write("vocab.txt", bytes);
        check(&TokenizerFiles::WordPiece { vocab, config: None })
    });
    // Byte-level BPE: vocab.json and merges.txt.
    let bpe = fixture("roberta-tokenizer");
    let (vocab_json, merges) = (std::fs::read(bpe.join("vocab.json")).unwrap(), std::fs::read(bpe.join("merges.txt")).unwrap());
    let merges_path = scratch.write("merges.txt", &merges);
    fuzz("vocab.json", vocab_json.clone(), 4096, scale, |bytes| {
        check(&TokenizerFiles::ByteLevelBpe { vocab: scratch.write("vocab.json", bytes), merges: merges_path.clone() })
    });
    let vocab_path = scratch.write("vocab-ok.json", &vocab_json);
    fuzz("merges.txt", merges, 1024, scale, |bytes| {
        check(&TokenizerFiles::ByteLevelBpe { vocab: vocab_path.clone(), merges: scratch.write("merges-m.txt", bytes) })
    });
    // tokenizer.json: the same BPE tokenizer as transformers saves it.
    let loaded = TextTokenizer::load(&TokenizerFiles::ByteLevelBpe { vocab: vocab_path.clone(), merges: bpe.join("merges.txt") }).unwrap();
    let json = loaded.tokenizer.to_string(false).unwrap().into_bytes();
    let len = json.len();
    fuzz("tokenizer.json", json, len, scale, |bytes| {
        check(&TokenizerFiles::Json(scratch.write("tokenizer.json", bytes)))
    });
}

#[test]
fn squad_json_never_panics() {
    squad_reader(1);
}

#[test]
fn classification_files_never_panic() {
    classification_reader(1);
}

#[test]
fn tagged_sentences_and_rows_never_panic() {
    tagged_and_row_readers(1);
}

#[test]
fn model_configs_never_panic() {
    model_config_reader(1);
}

#[test]
fn run_configs_never_panic() {
    run_config_reader(1);
}

#[test]
fn plugin_manifests_never_panic() {
    manifest_reader(1);
}

#[test]
fn safetensors_files_never_panic() {
    safetensors_reader(1);
}

#[test]
fn tokenizer_files_never_panic() {
    tokenizer_readers(1);
}

/// A length field of 2^40 in a safetensors header or a config.json is refused before
/// anything of that size is allocated.
#[test]
fn huge_sizes_are_refused_before_allocating() {
    let scratch = Scratch::new();
    let mut bytes = (1u64 << 40).to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    let e = Checkpoint::open(&scratch.write("model.safetensors", &bytes)).err().expect("refused").to_string();
    assert!(e.contains("model.safetensors"), "{e}");
    let registry = Registry::builtin().unwrap();
    let spec = &registry.get("bert").unwrap().spec;
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture("bert").join("config.json")).unwrap()).unwrap();
    config["vocab_size"] = (1u64 << 40).into();
    let e = spec.config_keys.parse(&config, &spec.config_defaults, spec.position_scheme, Path::new("config.json")).unwrap_err().to_string();
    assert!(e.contains("config.json") && e.contains("parameters"), "{e}");
}

#[test]
#[ignore = "soak: 20x the cases of the readers' tests (minutes)"]
fn soak() {
    squad_reader(20);
    classification_reader(20);
    tagged_and_row_readers(20);
    model_config_reader(20);
    run_config_reader(20);
    manifest_reader(20);
    safetensors_reader(20);
    tokenizer_readers(20);
}
