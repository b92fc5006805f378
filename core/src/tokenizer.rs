//! Tokenizers through the `tokenizers` crate: a `tokenizer.json`, a WordPiece `vocab.txt`
//! (BERT), or a byte-level BPE `vocab.json` + `merges.txt` (RoBERTa).

use std::path::{Path, PathBuf};

use tokenizers::models::bpe::BPE;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::processors::roberta::RobertaProcessing;
use tokenizers::{EncodeInput, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams, TruncationStrategy};

use crate::error::{DistillError, Result};
use crate::inputs::TokenBatch;

/// The tokenizer files found in a model directory, in order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerFiles {
    Json(PathBuf),
    WordPiece { vocab: PathBuf, config: Option<PathBuf> },
    ByteLevelBpe { vocab: PathBuf, merges: PathBuf },
}

impl TokenizerFiles {
    /// Looks for tokenizer files in `dir`.
    pub fn find(dir: &Path) -> Option<Self> {
        let file = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        if let Some(json) = file("tokenizer.json") {
            return Some(Self::Json(json));
        }
        if let Some(vocab) = file("vocab.txt") {
            return Some(Self::WordPiece { vocab, config: file("tokenizer_config.json") });
        }
        match (file("vocab.json"), file("merges.txt")) {
            (Some(vocab), Some(merges)) => Some(Self::ByteLevelBpe { vocab, merges }),
            _ => None,
        }
    }

    pub fn paths(&self) -> Vec<&Path> {
        match self {
            Self::Json(p) => vec![p],
            Self::WordPiece { vocab, config } => std::iter::once(vocab.as_path()).chain(config.as_deref()).collect(),
            Self::ByteLevelBpe { vocab, merges } => vec![vocab, merges],
        }
    }
}

/// A loaded tokenizer that turns text into [`TokenBatch`]es.
pub struct TextTokenizer {
    pub tokenizer: Tokenizer,
    pub files: TokenizerFiles,
    pad_id: u32,
}

fn tok_err(path: &Path, e: impl std::fmt::Display) -> DistillError {
    DistillError::Tokenizer { path: path.to_path_buf(), message: e.to_string() }
}

fn special(tokenizer: &Tokenizer, path: &Path, candidates: &[&str]) -> Result<(String, u32)> {
    candidates
        .iter()
        .find_map(|t| tokenizer.token_to_id(t).map(|id| (t.to_string(), id)))
        .ok_or_else(|| tok_err(path, format!("vocabulary lacks a special token ({})", candidates.join(" or "))))
}

/// Marks the vocabulary's special tokens as such, so text like "[MASK]" is never split, as
/// transformers' tokenizers do.
fn add_specials(t: &mut Tokenizer, candidates: &[&str]) {
    let present: Vec<tokenizers::AddedToken> = candidates
        .iter()
        .filter(|c| t.token_to_id(c).is_some())
        .map(|c| tokenizers::AddedToken::from(c.to_string(), true))
        .collect();
    t.add_special_tokens(&present);
}

/// `Tokenizer::from_file`, with the panics tokenizers 0.22 raises on some malformed files (an
/// `expect` in its decoder's deserializer) turned into an error naming the file.
fn from_json_file(path: &Path) -> Result<Tokenizer> {
    match crate::io::catch_library_panic(|| Tokenizer::from_file(path)) {
        Ok(result) => result.map_err(|e| tok_err(path, e)),
        Err(reason) => Err(tok_err(path, format!("malformed tokenizer.json (the tokenizers library gave up: {reason})"))),
    }
}

impl TextTokenizer {
    pub fn load(files: &TokenizerFiles) -> Result<Self> {
        let tokenizer = match files {
            TokenizerFiles::Json(path) => from_json_file(path)?,
            TokenizerFiles::WordPiece { vocab, config } => {
                let lowercase = match config {
                    Some(c) => crate::io::read_json::<serde_json::Value>(c)?.get("do_lower_case").and_then(|v| v.as_bool()).unwrap_or(true),
                    None => true,
                };
                let model = WordPiece::from_file(&vocab.to_string_lossy()).unk_token("[UNK]".into()).build().map_err(|e| tok_err(vocab, e))?;
                let mut t = Tokenizer::new(model);
                t.with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)));
                t.with_pre_tokenizer(Some(BertPreTokenizer));
                let sep = special(&t, vocab, &["[SEP]"])?;
                let cls = special(&t, vocab, &["[CLS]"])?;
                t.with_post_processor(Some(BertProcessing::new(sep, cls)));
                t.with_decoder(Some(tokenizers::decoders::wordpiece::WordPiece::default()));
                add_specials(&mut t, &["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
                t
            }
            TokenizerFiles::ByteLevelBpe { vocab, merges } => {
                let model = BPE::from_file(&vocab.to_string_lossy(), &merges.to_string_lossy()).build().map_err(|e| tok_err(vocab, e))?;
                let mut t = Tokenizer::new(model);
                t.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
                let sep = special(&t, vocab, &["</s>"])?;
                let cls = special(&t, vocab, &["<s>"])?;
                t.with_post_processor(Some(RobertaProcessing::new(sep, cls).trim_offsets(true).add_prefix_space(false)));
                t.with_decoder(Some(ByteLevel::default()));
                add_specials(&mut t, &["<s>", "<pad>", "</s>", "<unk>", "<mask>"]);
                t
            }
        };
        // A tokenizer.json may carry its own truncation and padding (MiniLM's: 128 tokens, padded
        // to 128). Features decide windows and padding themselves, so both are switched off here.
        let mut tokenizer = tokenizer;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| tok_err(files.paths()[0], e))?;
        let path = files.paths()[0].to_path_buf();
        let pad_id = special(&tokenizer, &path, &["[PAD]", "<pad>"]).map(|(_, id)| id).unwrap_or(0);
        Ok(Self { tokenizer, files: files.clone(), pad_id })
    }

    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The vocabulary as (token, id) sorted by id: what decides whether two models' token-level
    /// outputs align.
    pub fn vocabulary(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = self.tokenizer.get_vocab(true).into_iter().collect();
        v.sort_by_key(|(_, id)| *id);
        v
    }

    fn encode<'s>(&self, inputs: Vec<EncodeInput<'s>>, max_len: usize) -> Result<TokenBatch> {
        let mut tokenizer = self.tokenizer.clone();
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id: self.pad_id,
            pad_token: self.tokenizer.id_to_token(self.pad_id).unwrap_or_default(),
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: max_len, strategy: TruncationStrategy::LongestFirst, ..Default::default() }))
            .map_err(|e| tok_err(self.files.paths()[0], e))?;
        let encodings = tokenizer.encode_batch(inputs, true).map_err(|e| tok_err(self.files.paths()[0], e))?;
        let to_i64 = |v: &[u32]| v.iter().map(|&x| x as i64).collect::<Vec<_>>();
        TokenBatch::from_rows(
            encodings.iter().map(|e| to_i64(e.get_ids())).collect(),
            Some(encodings.iter().map(|e| to_i64(e.get_attention_mask())).collect()),
            Some(encodings.iter().map(|e| to_i64(e.get_type_ids())).collect()),
            "tokenizer",
        )
    }

    pub fn encode_texts(&self, texts: &[String], max_len: usize) -> Result<TokenBatch> {
        self.encode(texts.iter().map(|t| EncodeInput::Single(t.as_str().into())).collect(), max_len)
    }

    pub fn encode_pairs(&self, pairs: &[(String, String)], max_len: usize) -> Result<TokenBatch> {
        self.encode(pairs.iter().map(|(a, b)| EncodeInput::Dual(a.as_str().into(), b.as_str().into())).collect(), max_len)
    }
}
