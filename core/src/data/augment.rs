//! TinyBERT-style data augmentation for SQuAD (the method of TinyBERT's `data_augmentation` and
//! Haystack's `augment_squad`), keeping the answers: each eligible word of a context is
//! replaced with probability P by one of K candidates, from the masked-LM's top K at that
//! position when the word is a single word piece, else from its K nearest word vectors. Answer
//! spans are never touched and every `answer_start` is recomputed, stop words and non-alphabetic
//! tokens are left alone, case is kept, the original paragraph is kept and duplicates dropped.
//! Masked-LM queries are batched and computed once per paragraph; output is streamed.
//!
//! Tagged sentences (NER) are augmented the same way with every entity word and every tag kept:
//! only words tagged `O` are replaced, one word by one word, so the copies are a transfer set
//! for the teacher's soft tags that still carries the gold labels.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::glove::WordVectors;
use super::squad::{Answer, Paragraph, Question, SquadFile};
use super::tagged::{TaggedSentence, write_tagged};
use crate::error::{DistillError, Result};
use crate::model::{RandomInit, TaskModel, to_host};
use crate::tokenizer::TextTokenizer;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// Copies of each paragraph, the original included.
    pub multiplication_factor: usize,
    pub replace_probability: f64,
    /// Candidates per word (masked-LM top K or nearest word vectors).
    pub word_possibilities: usize,
    pub seed: u64,
    /// Also replace words of the questions (word vectors only).
    pub augment_questions: bool,
    pub mlm_batch_size: usize,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self { multiplication_factor: 20, replace_probability: 0.4, word_possibilities: 20, seed: 42, augment_questions: false, mlm_batch_size: 32 }
    }
}

/// What an augmentation read and wrote: SQuAD paragraphs and their questions, or tagged sentences.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AugmentStats {
    pub paragraphs: usize,
    pub paragraphs_out: usize,
    pub questions_in: usize,
    pub questions_out: usize,
    pub sentences: usize,
    pub sentences_out: usize,
    /// Word slots (over all copies) that could be replaced: eligible and with candidates.
    pub eligible_words: usize,
    pub replaced_words: usize,
    pub mlm_replacements: usize,
    pub vector_replacements: usize,
    pub duplicates_removed: usize,
    pub seconds: f64,
}

/// English stop words (NLTK's list): never replaced.
const STOP_WORDS: &[&str] = &[
    "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours", "yourself", "yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its", "itself", "they", "them", "their", "theirs", "themselves", "what", "which", "who", "whom", "this", "that", "these", "those", "am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had", "having", "do", "does", "did", "doing", "a", "an", "the", "and", "but", "if", "or", "because", "as", "until", "while", "of", "at", "by", "for", "with", "about", "against", "between", "into", "through", "during", "before", "after", "above", "below", "to", "from", "up", "down", "in", "out", "on", "off", "over", "under", "again", "further", "then", "once", "here", "there", "when", "where", "why", "how", "all", "any", "both", "each", "few", "more", "most", "other", "some", "such", "no", "nor", "not", "only", "own", "same", "so", "than", "too", "very", "s", "t", "can", "will", "just", "don", "should", "now", "d", "ll", "m", "o", "re", "ve", "y", "ain", "aren", "couldn", "didn", "doesn", "hadn", "hasn", "haven", "isn", "ma", "mightn", "mustn", "needn", "shan", "shouldn", "wasn", "weren", "won", "wouldn",
];

/// A run of text: a word (alphanumeric run) or the characters between words. Byte offsets.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: usize,
    end: usize,
    word: bool,
}

fn pieces(text: &str) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for (i, c) in text.char_indices() {
        let word = c.is_alphanumeric();
        match out.last_mut() {
            Some(p) if p.word == word => p.end = i + c.len_utf8(),
            _ => out.push(Piece { start: i, end: i + c.len_utf8(), word }),
        }
    }
    out
}

fn eligible(word: &str) -> bool {
    word.chars().count() >= 2 && word.chars().all(char::is_alphabetic) && !STOP_WORDS.contains(&word.to_lowercase().as_str())
}

fn match_case(original: &str, replacement: &str) -> String {
    let upper = original.chars().all(|c| !c.is_lowercase());
    if upper && original.chars().count() > 1 {
        return replacement.to_uppercase();
    }
    let mut chars = original.chars();
    if chars.next().is_some_and(char::is_uppercase) {
        let mut r = replacement.chars();
        return r.next().map(|f| f.to_uppercase().collect::<String>() + r.as_str()).unwrap_or_default();
    }
    replacement.to_lowercase()
}

fn good_candidate(candidate: &str, word: &str) -> bool {
    candidate.chars().count() >= 2 && candidate.chars().all(char::is_alphabetic) && !candidate.eq_ignore_ascii_case(word) && !STOP_WORDS.contains(&candidate)
}

/// Where candidates come from.
pub struct Augmenter<'a> {
    /// A model with a masked-LM head and its tokenizer.
    pub mlm: Option<(&'a TaskModel, &'a TextTokenizer)>,
    pub vectors: Option<&'a WordVectors>,
    pub config: AugmentConfig,
    /// Word-vector candidates by lower-cased word: a word recurs across paragraphs.
    pub neighbour_cache: std::cell::RefCell<std::collections::HashMap<String, Vec<String>>>,
}

impl<'a> Augmenter<'a> {
    pub fn new(mlm: Option<(&'a TaskModel, &'a TextTokenizer)>, vectors: Option<&'a WordVectors>, config: AugmentConfig) -> Self {
        Self { mlm, vectors, config, neighbour_cache: Default::default() }
    }

    fn neighbours(&self, vectors: &WordVectors, word: &str) -> Vec<String> {
        let key = word.to_lowercase();
        if let Some(c) = self.neighbour_cache.borrow().get(&key) {
            return c.clone();
        }
        let c: Vec<String> = vectors.neighbours(&key, self.config.word_possibilities).into_iter().filter(|c| good_candidate(c, word)).map(str::to_string).collect();
        self.neighbour_cache.borrow_mut().insert(key, c.clone());
        c
    }
}

/// Candidates of each piece of a text: `(from the masked LM, candidates)` or none.
type Candidates = Vec<Option<(bool, Vec<String>)>>;

impl Augmenter<'_> {
    fn mask_token(tokenizer: &TextTokenizer) -> Option<(String, u32)> {
        ["[MASK]", "<mask>"].iter().find_map(|t| tokenizer.tokenizer.token_to_id(t).map(|id| (t.to_string(), id)))
    }

    /// Candidates for every eligible word of `text` outside `protected` byte ranges.
    fn candidates(&self, text: &str, pieces: &[Piece], protected: &[(usize, usize)], use_mlm: bool) -> Result<Candidates> {
        let k = self.config.word_possibilities;
        let mut out: Candidates = vec![None; pieces.len()];
        let mut mlm_queries: Vec<(usize, String)> = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            let word = &text[p.start..p.end];
            if !p.word || !eligible(word) || protected.iter().any(|&(s, e)| p.start < e && s < p.end) {
                continue;
            }
            if use_mlm && let Some((_, tok)) = self.mlm {
                let enc = tok.tokenizer.encode(word.to_lowercase(), false).map_err(|e| DistillError::Invalid(e.to_string()))?;
                if enc.get_ids().len() == 1 && !enc.get_tokens()[0].starts_with('[') {
                    // Mask the word in a window of text around it, so long paragraphs fit the model.
                    let from = text[..p.start].char_indices().rev().nth(300).map_or(0, |(b, _)| b);
                    let to = text[p.end..].char_indices().nth(300).map_or(text.len(), |(b, _)| p.end + b);
                    let (mask, _) = Self::mask_token(tok).ok_or_else(|| DistillError::Invalid("the masked-LM tokenizer has no mask token".into()))?;
                    mlm_queries.push((i, format!("{}{mask}{}", &text[from..p.start], &text[p.end..to])));
                    continue;
                }
            }
            if let Some(v) = self.vectors {
                let c = self.neighbours(v, word);
                if !c.is_empty() {
                    out[i] = Some((false, c));
                }
            }
        }
        if let (Some((model, tok)), false) = (self.mlm, mlm_queries.is_empty()) {
            let (_, mask_id) = Self::mask_token(tok).expect("checked above");
            for chunk in mlm_queries.chunks(self.config.mlm_batch_size.max(1)) {
                let texts: Vec<String> = chunk.iter().map(|(_, t)| t.clone()).collect();
                let batch = tok.encode_texts(&texts, model.encoder.config.max_sequence_length().min(512))?;
                let seq = batch.seq_len();
                let logits = model.forward_keeping(&batch, crate::model::Keep::LastHidden).mlm_logits.expect("checked: the model has a masked-LM head");
                let (shape, values) = to_host(logits);
                let vocab = shape[2];
                for (row, (piece, _)) in chunk.iter().enumerate() {
                    let Some(pos) = (0..seq).find(|&j| batch.input_ids[row * seq + j] == mask_id as i64) else { continue };
                    let scores = &values[(row * seq + pos) * vocab..(row * seq + pos + 1) * vocab];
                    let mut ids: Vec<usize> = (0..vocab).collect();
                    ids.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
                    let word = &text[pieces[*piece].start..pieces[*piece].end];
                    let c: Vec<String> = ids
                        .into_iter()
                        .take(k)
                        .filter_map(|id| tok.tokenizer.id_to_token(id as u32))
                        .filter(|t| good_candidate(t, word))
                        .collect();
                    if !c.is_empty() {
                        out[*piece] = Some((true, c));
                    }
                }
            }
        }
        Ok(out)
    }

    /// One augmented copy of `text`: the new text and, per piece, its new byte start.
    fn replace(&self, text: &str, pieces: &[Piece], candidates: &Candidates, rng: &mut RandomInit, stats: &mut AugmentStats) -> (String, Vec<usize>) {
        let mut out = String::with_capacity(text.len() + 16);
        let mut starts = Vec::with_capacity(pieces.len());
        for (p, c) in pieces.iter().zip(candidates) {
            starts.push(out.len());
            let original = &text[p.start..p.end];
            match c {
                Some((from_mlm, options)) => {
                    stats.eligible_words += 1;
                    if rng.uniform() < self.config.replace_probability {
                        let pick = &options[(rng.uniform() * options.len() as f64) as usize % options.len()];
                        out.push_str(&match_case(original, pick));
                        stats.replaced_words += 1;
                        if *from_mlm { stats.mlm_replacements += 1 } else { stats.vector_replacements += 1 }
                    } else {
                        out.push_str(original);
                    }
                }
                None => out.push_str(original),
            }
        }
        (out, starts)
    }
}

fn char_to_byte(text: &str, char_index: usize) -> usize {
    text.char_indices().nth(char_index).map_or(text.len(), |(b, _)| b)
}

fn byte_to_char(text: &str, byte: usize) -> usize {
    text[..byte].chars().count()
}

/// Maps an old byte offset to the new text: inside an unchanged piece, shifted with it.
fn map_offset(pieces: &[Piece], starts: &[usize], old: usize) -> usize {
    let i = pieces.partition_point(|p| p.end <= old).min(pieces.len().saturating_sub(1));
    starts[i] + (old - pieces[i].start)
}

fn remap(answers: &[Answer], old: &str, new: &str, pieces: &[Piece], starts: &[usize]) -> Vec<Answer> {
    answers
        .iter()
        .map(|a| {
            let byte = char_to_byte(old, a.answer_start);
            Answer { text: a.text.clone(), answer_start: byte_to_char(new, map_offset(pieces, starts, byte)) }
        })
        .collect()
}

/// The copies of one paragraph (article `ai`, paragraph `pi`): the original first, then up to
/// `multiplication_factor - 1` with words replaced, each with every answer moved to where its
/// text now stands; a copy identical to an earlier one is dropped.
fn augment_paragraph(augmenter: &Augmenter<'_>, paragraph: &Paragraph, ai: usize, pi: usize, use_mlm: bool, stats: &mut AugmentStats) -> Result<Vec<Paragraph>> {
    let context = &paragraph.context;
    let pcs = pieces(context);
    // Answer spans are left as they are, so every answer survives augmentation.
    let protected: Vec<(usize, usize)> = paragraph
        .qas
        .iter()
        .flat_map(|q| q.answers.iter().chain(&q.plausible_answers))
        .map(|a| (char_to_byte(context, a.answer_start), char_to_byte(context, a.answer_start + a.text.chars().count())))
        .collect();
    let candidates = augmenter.candidates(context, &pcs, &protected, use_mlm)?;
    let mut seen: HashSet<String> = HashSet::new();
    let mut copies = Vec::new();
    for copy in 0..augmenter.config.multiplication_factor.max(1) {
        let mut rng = RandomInit::new(crate::hashing::stable_hash(&[augmenter.config.seed, ai as u64, pi as u64, copy as u64]), 1.0);
        let (new_context, starts) = if copy == 0 {
            (context.clone(), pcs.iter().map(|p| p.start).collect())
        } else {
            augmenter.replace(context, &pcs, &candidates, &mut rng, stats)
        };
        if !seen.insert(new_context.clone()) {
            stats.duplicates_removed += 1;
            continue;
        }
        let qas: Vec<Question> = paragraph
            .qas
            .iter()
            .map(|q| {
                let question = if copy > 0 && augmenter.config.augment_questions {
                    let qp = pieces(&q.question);
                    let qc = augmenter.candidates(&q.question, &qp, &[], false).unwrap_or_default();
                    augmenter.replace(&q.question, &qp, &qc, &mut rng, &mut AugmentStats::default()).0
                } else {
                    q.question.clone()
                };
                Question {
                    id: if copy == 0 { q.id.clone() } else { format!("{}-aug{copy}", q.id) },
                    question,
                    answers: remap(&q.answers, context, &new_context, &pcs, &starts),
                    is_impossible: q.is_impossible,
                    plausible_answers: remap(&q.plausible_answers, context, &new_context, &pcs, &starts),
                }
            })
            .collect();
        stats.questions_out += qas.len();
        stats.paragraphs_out += 1;
        copies.push(Paragraph { context: new_context, qas });
    }
    Ok(copies)
}

/// Augments `input` into `output` (written atomically, streamed paragraph by paragraph).
pub fn augment_file(input: &Path, output: &Path, augmenter: &Augmenter<'_>, progress: &indicatif::ProgressBar) -> Result<AugmentStats> {
    let started = Instant::now();
    let (file, _) = SquadFile::read(input, true)?;
    let mut stats = AugmentStats { paragraphs: file.data.iter().map(|a| a.paragraphs.len()).sum(), ..AugmentStats::default() };
    progress.set_length(stats.paragraphs as u64);
    let use_mlm = augmenter.mlm.is_some();
    let mut error = None;
    crate::io::write_atomic_with(output, |f| {
        let mut w = std::io::BufWriter::new(f);
        write!(w, "{{\"version\":{},\"data\":[", serde_json::to_string(&file.version).expect("a string"))?;
        for (ai, article) in file.data.iter().enumerate() {
            write!(w, "{}{{\"title\":{},\"paragraphs\":[", if ai > 0 { "," } else { "" }, serde_json::to_string(&article.title).expect("a string"))?;
            let mut first = true;
            for (pi, paragraph) in article.paragraphs.iter().enumerate() {
                let copies = match augment_paragraph(augmenter, paragraph, ai, pi, use_mlm, &mut stats) {
                    Ok(c) => c,
                    Err(e) => {
                        error = Some(e);
                        return Err(std::io::Error::other("augmentation failed"));
                    }
                };
                for copy in copies {
                    if !first {
                        w.write_all(b",")?;
                    }
                    first = false;
                    serde_json::to_writer(&mut w, &copy).map_err(std::io::Error::other)?;
                }
                stats.questions_in += paragraph.qas.len();
                progress.inc(1);
            }
            w.write_all(b"]}")?;
        }
        w.write_all(b"]}\n")?;
        w.flush()
    })
    .map_err(|e| error.take().unwrap_or(e))?;
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}

/// The copies of one tagged sentence (number `index`): the original first, then up to
/// `multiplication_factor - 1` with eligible words tagged `O` replaced, entity words and every
/// tag kept; a copy identical to an earlier one is dropped.
fn augment_sentence(augmenter: &Augmenter<'_>, sentence: &TaggedSentence, index: usize, stats: &mut AugmentStats) -> Result<Vec<TaggedSentence>> {
    // The sentence as text, one piece per word (a word is never split or merged), spaces between.
    let mut text = String::new();
    let mut pcs = Vec::with_capacity(2 * sentence.words.len());
    for (i, word) in sentence.words.iter().enumerate() {
        if i > 0 {
            pcs.push(Piece { start: text.len(), end: text.len() + 1, word: false });
            text.push(' ');
        }
        pcs.push(Piece { start: text.len(), end: text.len() + word.len(), word: true });
        text.push_str(word);
    }
    let protected: Vec<(usize, usize)> = sentence.tags.iter().enumerate().filter(|(_, t)| *t != "O").map(|(i, _)| (pcs[2 * i].start, pcs[2 * i].end)).collect();
    let candidates = augmenter.candidates(&text, &pcs, &protected, augmenter.mlm.is_some())?;
    let mut seen: HashSet<String> = HashSet::new();
    let mut copies = Vec::new();
    for copy in 0..augmenter.config.multiplication_factor.max(1) {
        let mut rng = RandomInit::new(crate::hashing::stable_hash(&[augmenter.config.seed, index as u64, copy as u64]), 1.0);
        let (new_text, starts) = if copy == 0 { (text.clone(), pcs.iter().map(|p| p.start).collect()) } else { augmenter.replace(&text, &pcs, &candidates, &mut rng, stats) };
        if !seen.insert(new_text.clone()) {
            stats.duplicates_removed += 1;
            continue;
        }
        let words = (0..sentence.words.len()).map(|i| new_text[starts[2 * i]..starts.get(2 * i + 1).copied().unwrap_or(new_text.len())].to_string()).collect();
        let at = if copy == 0 { sentence.at.clone() } else { format!("{} (copy {copy})", sentence.at) };
        copies.push(TaggedSentence { words, tags: sentence.tags.clone(), at });
    }
    stats.sentences_out += copies.len();
    Ok(copies)
}

/// Augments the tagged sentences of `input` (CoNLL, JSON lines or Parquet with tag names) into
/// `output` (CoNLL, or JSON lines with `tokens` and `ner_tags` for a `.jsonl` name; atomically).
pub fn augment_tagged_file(input: &Path, output: &Path, augmenter: &Augmenter<'_>, progress: &indicatif::ProgressBar) -> Result<AugmentStats> {
    let started = Instant::now();
    let sentences = super::tagged::read_tagged(input, &super::rows::DataColumns::default(), None)?;
    let mut stats = AugmentStats { sentences: sentences.len(), ..AugmentStats::default() };
    progress.set_length(sentences.len() as u64);
    let mut out = Vec::with_capacity(sentences.len() * augmenter.config.multiplication_factor.max(1));
    for (i, sentence) in sentences.iter().enumerate() {
        out.extend(augment_sentence(augmenter, sentence, i, &mut stats)?);
        progress.inc(1);
    }
    write_tagged(output, &out)?;
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}
