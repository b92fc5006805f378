//! Teacher logits for prediction-layer distillation, computed once and kept on disk, keyed by
//! the teacher (its weights and config) and the tokenized data, so epochs and later runs reuse them.

use std::hash::Hasher;

use crate::hashing::KeyHasher;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{DistillError, Result};
use crate::model::{Keep, TaskModel, to_host};
use crate::train::examples::{TrainExample, collate};

/// Per example, the logit vectors of the teacher's head: QA `[start, end]` over the example's
/// positions, classification `[logits]`.
pub type ExampleLogits = Vec<Vec<f32>>;

const MAGIC: &[u8; 8] = b"DSTLLOG1";

/// A key for the teacher: the bytes of its weights and config files.
pub fn teacher_key(files: &[&Path]) -> Result<u64> {
    let mut h = KeyHasher::default();
    for f in files {
        let mut file = std::fs::File::open(f).map_err(|e| DistillError::io(f, e))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(|e| DistillError::io(f, e))?;
            if n == 0 {
                break;
            }
            h.write(&buf[..n]);
        }
    }
    Ok(h.finish())
}

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

/// The logits of one teacher on every example.
pub fn compute(teacher: &TaskModel, examples: &[TrainExample], pad_id: u32, batch_size: usize, progress: &indicatif::ProgressBar) -> Result<Vec<ExampleLogits>> {
    let mut out = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(batch_size.max(1)) {
        let refs: Vec<&TrainExample> = chunk.iter().collect();
        let batch = collate(&refs, pad_id);
        let seq = batch.tokens.seq_len();
        let output = teacher.forward_keeping(&batch.tokens, Keep::LastHidden);
        if let Some(qa) = output.qa {
            let (_, starts) = to_host(qa.start_logits);
            let (_, ends) = to_host(qa.end_logits);
            for (row, e) in chunk.iter().enumerate() {
                let n = e.input_ids.len();
                out.push(vec![starts[row * seq..row * seq + n].to_vec(), ends[row * seq..row * seq + n].to_vec()]);
            }
        } else if let Some(logits) = output.logits {
            let (shape, values) = to_host(logits);
            let classes = shape[1];
            out.extend((0..chunk.len()).map(|row| vec![values[row * classes..(row + 1) * classes].to_vec()]));
        } else {
            return Err(DistillError::Invalid("the teacher has no QA or classification head to give predictions".into()));
        }
        progress.inc(chunk.len() as u64);
    }
    Ok(out)
}

/// The cached logits of `teacher` (identified by `teacher_key`) on `examples`, computed and
/// written to `cache_dir` atomically on a miss.
pub fn cached(teacher: &TaskModel, teacher_key: u64, examples: &[TrainExample], pad_id: u32, batch_size: usize, cache_dir: &Path) -> Result<(Vec<ExampleLogits>, PathBuf, bool)> {
    let key = format!("{teacher_key:016x}-{:016x}", data_key(examples));
    let path = cache_dir.join(format!("teacher-logits-{key}.bin"));
    if let Ok(bytes) = std::fs::read(&path)
        && let Some(logits) = decode(&bytes, examples.len())
    {
        return Ok((logits, path, true));
    }
    let bar = crate::train::progress::bar(examples.len() as u64, "teacher logits");
    let logits = compute(teacher, examples, pad_id, batch_size, &bar)?;
    bar.finish_and_clear();
    crate::io::write_atomic_with(&path, |f| {
        f.write_all(MAGIC)?;
        f.write_all(&(logits.len() as u64).to_le_bytes())?;
        for heads in &logits {
            f.write_all(&(heads.len() as u32).to_le_bytes())?;
            for v in heads {
                f.write_all(&(v.len() as u32).to_le_bytes())?;
                for x in v {
                    f.write_all(&x.to_le_bytes())?;
                }
            }
        }
        Ok(())
    })?;
    Ok((logits, path, false))
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
