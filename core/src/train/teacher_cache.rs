//! Teacher logits for prediction-layer distillation, computed once and kept on disk, keyed by
//! the teacher (its weights and config) and the tokenized data, so epochs and later runs reuse them.
//! A teacher with another tokenizer reads its own views of the examples, and its logits are
//! kept carried over to the student's positions, keyed by both tokenizations.

use std::hash::Hasher;

use crate::hashing::KeyHasher;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{DistillError, Result};
use crate::model::{Keep, TaskModel, to_host};
use crate::strategy::cross_tokenizer::{Carry, TeacherView};
use crate::train::batches::length_sorted_batches;
use crate::train::examples::{TrainExample, collate};

/// Per example, the logit vectors of the teacher's head: QA `[start, end]` over the example's
/// positions, classification `[logits]`, token classification `[tokens * labels]` row-major.
pub type ExampleLogits = Vec<Vec<f32>>;

const MAGIC: &[u8; 8] = b"DSTLLOG1";

fn data_key(examples: &[TrainExample]) -> u64 {
    let mut h = KeyHasher::default();
    for e in examples {
        for v in [&e.input_ids, &e.token_type_ids] {
            h.write(&(v.len() as u64).to_le_bytes());
            v.iter().for_each(|x| h.write(&x.to_le_bytes()));
        }
    }
    h.finish()
}

/// How a teacher whose tokenizer differs from the student's reads the examples: one view per
/// example, its padding id, and the temperature QA's carried logits are computed at.
pub struct TeacherReading<'a> {
    pub views: &'a [TeacherView],
    pub pad_id: u32,
    pub temperature: f64,
}

impl TeacherReading<'_> {
    /// The teacher's inputs, as examples without targets.
    fn inputs(&self) -> Vec<TrainExample> {
        self.views.iter().map(|v| TrainExample { input_ids: v.input_ids.clone(), token_type_ids: v.token_type_ids.clone(), target: crate::train::examples::Target::None, positions: None }).collect()
    }

    /// What the carried logits depend on besides the teacher and the student's tokens: the
    /// teacher's tokens (`inputs`, as [`Self::inputs`] gives them), where its outputs go, and the
    /// temperature where QA's depend on it.
    fn key(&self, inputs: &[TrainExample]) -> u64 {
        let mut h = KeyHasher::default();
        h.write(&data_key(inputs).to_le_bytes());
        for v in self.views {
            let targets: Vec<&Vec<Option<usize>>> = match &v.carry {
                Carry::Whole => vec![],
                Carry::Tokens(to) => vec![to],
                Carry::Span { start, end } => vec![start, end],
            };
            for to in targets {
                h.write(&(to.len() as u64).to_le_bytes());
                to.iter().for_each(|p| h.write(&p.map_or(u64::MAX, |p| p as u64).to_le_bytes()));
            }
        }
        if self.views.iter().any(TeacherView::depends_on_temperature) {
            h.write(&self.temperature.to_le_bytes());
        }
        h.finish()
    }
}

/// The logits of one teacher on every example, in the examples' order; the batches are formed
/// by length, which changes the time only.
pub fn compute(teacher: &TaskModel, examples: &[TrainExample], pad_id: u32, batch_size: usize, progress: &indicatif::ProgressBar) -> Result<Vec<ExampleLogits>> {
    let lengths: Vec<usize> = examples.iter().map(|e| e.input_ids.len()).collect();
    let mut out: Vec<Option<ExampleLogits>> = vec![None; examples.len()];
    for rows in length_sorted_batches(&lengths, batch_size) {
        let refs: Vec<&TrainExample> = rows.iter().map(|&i| &examples[i]).collect();
        let batch = collate(&refs, pad_id);
        let seq = batch.tokens.seq_len();
        let output = teacher.forward_keeping(&batch.tokens, Keep::LastHidden);
        if let Some(qa) = output.qa {
            let (_, starts) = to_host(qa.start_logits);
            let (_, ends) = to_host(qa.end_logits);
            for (row, &i) in rows.iter().enumerate() {
                let n = lengths[i];
                out[i] = Some(vec![starts[row * seq..row * seq + n].to_vec(), ends[row * seq..row * seq + n].to_vec()]);
            }
        } else if let Some(logits) = output.logits {
            let (shape, values) = to_host(logits);
            let classes = shape[1];
            for (row, &i) in rows.iter().enumerate() {
                out[i] = Some(vec![values[row * classes..(row + 1) * classes].to_vec()]);
            }
        } else if let Some(logits) = output.token_logits {
            let (shape, values) = to_host(logits);
            let labels = shape[2];
            for (row, &i) in rows.iter().enumerate() {
                out[i] = Some(vec![values[row * seq * labels..(row * seq + lengths[i]) * labels].to_vec()]);
            }
        } else {
            return Err(DistillError::Invalid("the teacher has no task head (QA, classification or token classification) to give predictions".into()));
        }
        progress.inc(rows.len() as u64);
    }
    Ok(out.into_iter().map(|l| l.expect("every example is in one batch")).collect())
}

/// Examples per partial file while the logits are computed, in batches: two to four minutes of
/// MiniLM teacher forward passes on two cores (4,096 windows of 256 tokens at the evaluation
/// batch of 32), the most an interrupted computation loses.
const SHARD_BATCHES: usize = 128;

/// The cached logits of `teacher` (identified by `teacher_key`, a hash of its weights and config
/// files: `hashing::hash_files`) on `examples`, computed and written to `cache_dir` atomically
/// on a miss. With a `reading`, the teacher runs on its own views of the examples and the logits
/// kept are those carried over to the student's positions. The computation keeps its finished shards beside
/// the cache, so a run stopped while computing resumes where it stopped (on 40,000 augmented
/// windows it takes most of an hour on two cores).
pub fn cached(teacher: &TaskModel, teacher_key: u64, examples: &[TrainExample], reading: Option<&TeacherReading<'_>>, pad_id: u32, batch_size: usize, cache_dir: &Path) -> Result<(Vec<ExampleLogits>, PathBuf, bool)> {
    let mut key = format!("{teacher_key:016x}-{:016x}", data_key(examples));
    let own_inputs;
    let (inputs, pad_id) = match reading {
        Some(r) => {
            if r.views.len() != examples.len() {
                return Err(DistillError::Invalid(format!("{} teacher views for {} examples", r.views.len(), examples.len())));
            }
            own_inputs = r.inputs();
            key.push_str(&format!("-{:016x}", r.key(&own_inputs)));
            (own_inputs.as_slice(), r.pad_id)
        }
        None => (examples, pad_id),
    };
    let path = cache_dir.join(format!("teacher-logits-{key}.bin"));
    if let Ok(bytes) = std::fs::read(&path)
        && let Some(logits) = decode(&bytes, examples.len())
    {
        return Ok((logits, path, true));
    }
    let batch_size = batch_size.max(1);
    let partial = cache_dir.join(format!("teacher-logits-{key}.partial"));
    let bar = crate::train::progress::bar(examples.len() as u64, "teacher logits");
    let mut logits = compute_in_shards(&partial, inputs, batch_size * SHARD_BATCHES, &bar, |shard| compute(teacher, shard, pad_id, batch_size, &bar))?;
    bar.finish_and_clear();
    if let Some(r) = reading {
        logits = logits.iter().zip(r.views).zip(examples).map(|((l, v), e)| v.carry(l, e.input_ids.len(), r.temperature)).collect();
    }
    crate::io::write_atomic_with(&path, |f| write_logits(f, &logits))?;
    // The shards are only a means to the whole file; a leftover costs disk space, not correctness.
    let _ = std::fs::remove_dir_all(&partial);
    Ok((logits, path, false))
}

/// The logits of `examples`, `shard_len` examples at a time by `compute_shard`. Each finished
/// shard is written to `partial_dir` (named by its example range), and a shard found there from
/// an interrupted run is read instead of computed. Shards start at multiples of `shard_len`, a
/// multiple of the batch size, so the batches are the ones an uninterrupted run forms.
fn compute_in_shards(
    partial_dir: &Path,
    examples: &[TrainExample],
    shard_len: usize,
    progress: &indicatif::ProgressBar,
    mut compute_shard: impl FnMut(&[TrainExample]) -> Result<Vec<ExampleLogits>>,
) -> Result<Vec<ExampleLogits>> {
    let shard_len = shard_len.max(1);
    let mut out = Vec::with_capacity(examples.len());
    for (i, shard) in examples.chunks(shard_len).enumerate() {
        let first = i * shard_len;
        let file = partial_dir.join(format!("examples-{first:09}-{:09}.bin", first + shard.len()));
        if let Some(done) = std::fs::read(&file).ok().and_then(|bytes| decode(&bytes, shard.len())) {
            progress.inc(shard.len() as u64);
            out.extend(done);
            continue;
        }
        let logits = compute_shard(shard)?;
        crate::io::write_atomic_with(&file, |f| write_logits(f, &logits))?;
        out.extend(logits);
    }
    Ok(out)
}

fn write_logits(f: &mut std::fs::File, logits: &[ExampleLogits]) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(f);
    w.write_all(MAGIC)?;
    w.write_all(&(logits.len() as u64).to_le_bytes())?;
    for heads in logits {
        w.write_all(&(heads.len() as u32).to_le_bytes())?;
        for v in heads {
            w.write_all(&(v.len() as u32).to_le_bytes())?;
            for x in v {
                w.write_all(&x.to_le_bytes())?;
            }
        }
    }
    w.flush()
}

fn decode(bytes: &[u8], expected: usize) -> Option<Vec<ExampleLogits>> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = bytes.get(at..at + n)?;
        at += n;
        Some(s)
    };
    if take(8)? != MAGIC {
        return None;
    }
    let n = u64::from_le_bytes(take(8)?.try_into().ok()?) as usize;
    if n != expected {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let heads = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        let mut example = Vec::with_capacity(heads);
        for _ in 0..heads {
            let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
            let raw = take(len * 4)?;
            example.push(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect());
        }
        out.push(example);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::examples::Target;

    fn examples(n: usize) -> Vec<TrainExample> {
        (0..n).map(|i| TrainExample { input_ids: vec![i as i64; 3], token_type_ids: vec![0; 3], target: Target::None, positions: None }).collect()
    }

    /// Made-up logits that name their example, so a mix-up of shards shows.
    fn logits_of(shard: &[TrainExample]) -> Vec<ExampleLogits> {
        shard.iter().map(|e| vec![vec![e.input_ids[0] as f32, 0.5], vec![-(e.input_ids[0] as f32)]]).collect()
    }

    #[test]
    fn an_interrupted_computation_resumes_from_its_finished_shards() {
        let dir = tempfile::tempdir().unwrap();
        let partial = dir.path().join("partial");
        let data = examples(10);
        let bar = indicatif::ProgressBar::hidden();
        // The first sitting computes two shards of 4, then stops.
        let mut calls = 0;
        let stopped = compute_in_shards(&partial, &data, 4, &bar, |shard| {
            calls += 1;
            if calls == 3 { Err(DistillError::Invalid("stopped".into())) } else { Ok(logits_of(shard)) }
        });
        assert!(stopped.is_err());
        let mut kept: Vec<_> = std::fs::read_dir(&partial).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        kept.sort();
        assert_eq!(kept, ["examples-000000000-000000004.bin", "examples-000000004-000000008.bin"]);
        // The second computes only the last shard and returns every example's logits in order.
        let mut computed = Vec::new();
        let bar = indicatif::ProgressBar::hidden();
        let all = compute_in_shards(&partial, &data, 4, &bar, |shard| {
            computed.push(shard.len());
            Ok(logits_of(shard))
        })
        .unwrap();
        assert_eq!(computed, [2]);
        assert_eq!(all, logits_of(&data));
        assert_eq!(bar.position(), 8, "the reused shards count as progress");
    }

    #[test]
    fn a_damaged_shard_is_computed_again() {
        let dir = tempfile::tempdir().unwrap();
        let data = examples(6);
        std::fs::create_dir_all(dir.path()).unwrap();
        std::fs::write(dir.path().join("examples-000000000-000000004.bin"), b"DSTLLOG1 cut short").unwrap();
        let mut computed = Vec::new();
        let all = compute_in_shards(dir.path(), &data, 4, &indicatif::ProgressBar::hidden(), |shard| {
            computed.push(shard.len());
            Ok(logits_of(shard))
        })
        .unwrap();
        assert_eq!(computed, [4, 2]);
        assert_eq!(all, logits_of(&data));
    }

    #[test]
    fn written_logits_read_back_and_a_wrong_count_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logits.bin");
        let logits = logits_of(&examples(3));
        crate::io::write_atomic_with(&path, |f| write_logits(f, &logits)).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(decode(&bytes, 3), Some(logits));
        assert_eq!(decode(&bytes, 4), None);
    }
}
