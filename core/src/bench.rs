//! Measurements for `distill bench` and the comparison with PyTorch: forward latency and
//! throughput, distillation-step time, a plain GEMM's GFLOP/s, and analytic FLOP counts.

use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::Serialize;

use crate::inputs::TokenBatch;
use crate::model::{EncoderConfig, Keep, RandomInit, TaskModel};
use crate::strategy::intermediate::{IntermediateConfig, Projections, intermediate_loss};
use crate::strategy::prediction::{PredictionConfig, TeacherLogits, prediction_loss};
use crate::train::checkpoint::Trainable;
use crate::train::optimizer::{AdamW, AdamWConfig};
use crate::train::precision::Precision;

/// A batch of random ids (fixed seed) with every position attended. A batch of no examples, or
/// a length the model's position table does not hold, is refused (`--batch`, `--seq`).
pub fn random_batch(config: &EncoderConfig, batch: usize, seq: usize, seed: u64) -> crate::Result<TokenBatch> {
    if batch == 0 {
        return Err(crate::DistillError::Invalid("--batch is 0: expected at least 1 example".into()));
    }
    let seq = config.sequence_length(Some(seq), seq, "--seq", "under test")?;
    let mut rng = RandomInit::new(seed, 1.0);
    // Ordinary word ids: above the special and unused tokens where the vocabulary is large.
    let vocab = config.vocab_size as u64;
    let low = if vocab > 2000 { 1000 } else { 5.min(vocab - 1) };
    let rows: Vec<Vec<i64>> = (0..batch).map(|_| (0..seq).map(|_| (low + rng.next_u64() % (vocab - low)) as i64).collect()).collect();
    TokenBatch::from_rows(rows, None, None, "bench")
}

/// Forward FLOPs of the encoder on `batch` x `seq` tokens (multiply-adds counted as 2).
pub fn forward_flops(c: &EncoderConfig, batch: usize, seq: usize) -> f64 {
    let (b, l, h, f) = (batch as f64, seq as f64, c.hidden_size as f64, c.intermediate_size as f64);
    c.num_layers as f64 * (2.0 * b * l * (4.0 * h * h + 2.0 * h * f) + 4.0 * b * l * l * h)
}

#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// Median seconds per iteration.
    pub seconds: f64,
    pub iterations: usize,
}

/// Times `f` after one warm-up call: the median of `iterations` runs.
pub fn time<F: FnMut()>(iterations: usize, mut f: F) -> Timing {
    f();
    let mut samples: Vec<f64> = (0..iterations.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    Timing { seconds: samples[samples.len() / 2], iterations: samples.len() }
}

/// One forward pass of `model` on `batch`, waiting for the result.
fn forward_once(model: &TaskModel, batch: &TokenBatch) {
    let out = model.forward_keeping(batch, Keep::LastHidden);
    let _ = out.encoder.last_hidden_state().sum().into_scalar::<f32>();
}

/// Seconds of one forward pass (waiting for the result) of `model` on `batch`.
pub fn forward_time(model: &TaskModel, batch: &TokenBatch, iterations: usize) -> Timing {
    time(iterations, || forward_once(model, batch))
}

/// The student's speed-up over the teacher from forward passes timed in alternation on the same
/// batch: one ratio (teacher seconds / student seconds) per pair, summarised by its median and
/// quartiles. Timing the two models one after the other, each in a process of its own, lets a
/// slow spell of a shared machine land on one side only; the same student shape then measured
/// 1.73x to 2.36x at batch 1. Within a pair both see the same spell, and the order alternates
/// from pair to pair so that neither always runs with the other's data still in cache.
#[derive(Debug, Clone, Serialize)]
pub struct PairedSpeedup {
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
    pub pairs: usize,
    /// Median seconds per forward pass of each side, over the same pairs.
    pub teacher_seconds: f64,
    pub student_seconds: f64,
}

/// Times `pairs` alternating forward passes of `teacher` and `student` on `batch`, after one
/// warm-up pass each.
pub fn paired_speedup(teacher: &TaskModel, student: &TaskModel, batch: &TokenBatch, pairs: usize) -> PairedSpeedup {
    let timed = |model: &TaskModel| {
        let t = Instant::now();
        forward_once(model, batch);
        t.elapsed().as_secs_f64()
    };
    // The first pass of each model pays for allocation and page faults.
    timed(teacher);
    timed(student);
    let pairs = pairs.max(1);
    let (mut t_secs, mut s_secs) = (Vec::with_capacity(pairs), Vec::with_capacity(pairs));
    for i in 0..pairs {
        let (t, s) = if i % 2 == 0 {
            let t = timed(teacher);
            (t, timed(student))
        } else {
            let s = timed(student);
            (timed(teacher), s)
        };
        t_secs.push(t);
        s_secs.push(s);
    }
    let mut ratios: Vec<f64> = t_secs.iter().zip(&s_secs).map(|(t, s)| t / s).collect();
    PairedSpeedup {
        median: quantile(&mut ratios, 0.5),
        q1: quantile(&mut ratios, 0.25),
        q3: quantile(&mut ratios, 0.75),
        pairs,
        teacher_seconds: quantile(&mut t_secs, 0.5),
        student_seconds: quantile(&mut s_secs, 0.5),
    }
}

/// The `q` quantile of `values` (sorted in place), interpolating linearly between neighbours.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = q * (values.len() - 1) as f64;
    let (low, high) = (at.floor() as usize, at.ceil() as usize);
    values[low] + (values[high] - values[low]) * (at - low as f64)
}

/// GFLOP/s of an `n` x `n` by `n` x `n` matrix product on `device`.
pub fn gemm_gflops(n: usize, device: &Device, iterations: usize) -> f64 {
    let a = Tensor::<2>::from_data(TensorData::new(vec![0.5f32; n * n], [n, n]), device);
    let b = Tensor::<2>::from_data(TensorData::new(vec![0.25f32; n * n], [n, n]), device);
    let t = time(iterations, || {
        let _ = a.clone().matmul(b.clone()).slice([0..1, 0..1]).into_scalar::<f32>();
    });
    2.0 * (n as f64).powi(3) / t.seconds / 1e9
}

/// Which distillation step to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// Teacher forward, student forward and backward of the prediction loss, AdamW.
    Prediction,
    /// Teacher forward, student forward and backward of the TinyBERT loss, AdamW.
    Intermediate,
    /// The same without the attention term (embeddings and hidden states only, as the headline
    /// experiment's task stages run): neither forward keeps attention maps.
    HiddenStates,
}

/// Seconds per distillation step of `student` learning from `teacher` on `batch` (QA heads),
/// the student's passes in `precision`.
pub fn step_time(teacher: &TaskModel, student: &TaskModel, batch: &TokenBatch, kind: StepKind, precision: Precision, iterations: usize) -> Timing {
    let device = student.encoder.device();
    let (b, l) = (batch.batch_size(), batch.seq_len());
    let s_width = student.encoder.config.hidden_size;
    let t_width = teacher.encoder.config.hidden_size;
    let mut trainable = Some(Trainable { model: student.clone(), projections: Projections::new(s_width, t_width, 1, &device) }.train());
    let mut optimizer = AdamW::new(AdamWConfig::default());
    let mask = Tensor::<2>::ones([b, l], &device.clone().autodiff());
    let gold = Tensor::<1, Int>::zeros([b], &device.clone().autodiff());
    let layers = student.encoder.layers.len();
    let pairs = crate::strategy::mapping::LayerMapping::Uniform.resolve(layers, teacher.encoder.layers.len()).unwrap_or_default();
    let intermediate = match kind {
        StepKind::Prediction => None,
        StepKind::Intermediate => Some(IntermediateConfig::default()),
        StepKind::HiddenStates => Some(IntermediateConfig { attention_weight: 0.0, ..IntermediateConfig::default() }),
    };
    time(iterations, || {
        let model = trainable.take().expect("put back after each step");
        let t_out = teacher.forward_keeping(batch, intermediate.as_ref().map_or(Keep::LastHidden, IntermediateConfig::keep));
        // The prediction step's student keeps every layer, as it has since it was first timed.
        let s_out = precision.forward(&model.model, batch, intermediate.as_ref().map_or(Keep::Everything, IntermediateConfig::keep));
        let loss = match &intermediate {
            None => {
                let (tq, sq) = (t_out.qa.expect("QA teacher"), s_out.qa.expect("QA student"));
                let config = PredictionConfig::default();
                let start = prediction_loss(sq.start_logits, Some(&TeacherLogits::One(tq.start_logits.autodiff())), Some(gold.clone()), &mask, &config);
                let end = prediction_loss(sq.end_logits, Some(&TeacherLogits::One(tq.end_logits.autodiff())), Some(gold.clone()), &mask, &config);
                (start.total + end.total).div_scalar(2.0)
            }
            Some(config) => intermediate_loss(&s_out.encoder, &t_out.encoder, &model.projections, &mask, &pairs, config).total,
        };
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let (updated, _) = optimizer.step(model, grads, 1e-5);
        let _ = updated.model.encoder.embeddings.word.weight.val().slice([0..1, 0..1]).into_scalar::<f32>();
        trainable = Some(updated);
    })
}

/// What a measurement ran on. The same binary compares differently with PyTorch from one
/// processor to another (README, "On another processor"), so every benchmark report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// The processor's model name with its family and model numbers (Linux `/proc/cpuinfo`).
    pub processor: Option<String>,
    /// Threads of the pool burn's CPU kernels run on: `RAYON_NUM_THREADS`, else every core.
    pub threads: usize,
}

/// The machine this process measures on.
pub fn machine() -> Machine {
    let processor = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|info| processor_from_cpuinfo(&info));
    Machine { processor, threads: rayon::current_num_threads() }
}

/// `model name (family F, model M)` of the first processor a `/proc/cpuinfo` text lists.
fn processor_from_cpuinfo(info: &str) -> Option<String> {
    let first = info.split("\n\n").next()?;
    let field = |key: &str| {
        first.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    let name = field("model name")?;
    Some(match (field("cpu family"), field("model")) {
        (Some(family), Some(model)) => format!("{name} (family {family}, model {model})"),
        _ => name,
    })
}

fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

/// The process's peak resident memory so far, in bytes (Linux `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    proc_status_bytes("VmHWM:")
}

/// The process's resident memory now, in bytes (Linux `VmRSS`).
pub fn rss_bytes() -> Option<u64> {
    proc_status_bytes("VmRSS:")
}

/// Number of float parameters of a module.
pub fn parameter_count<M: Module>(m: &M) -> usize {
    m.num_params()
}

#[cfg(test)]
mod tests {
    use super::{processor_from_cpuinfo, quantile};

    #[test]
    fn quantiles_interpolate_between_sorted_neighbours() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0, 5.0];
        assert_eq!((quantile(&mut v, 0.5), quantile(&mut v, 0.25), quantile(&mut v, 0.75)), (3.0, 2.0, 4.0));
        let mut v = vec![2.0, 1.0];
        assert_eq!(quantile(&mut v, 0.5), 1.5);
        assert_eq!(quantile(&mut [7.0], 0.25), 7.0);
    }

    #[test]
    fn processor_is_the_first_ones_name_family_and_model() {
        let info = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\nmodel name\t: Intel(R) Xeon(R) Processor\n\nprocessor\t: 1\nmodel name\t: Other\n";
        assert_eq!(processor_from_cpuinfo(info).as_deref(), Some("Intel(R) Xeon(R) Processor (family 6, model 207)"));
        // Without family and model numbers (some ARM kernels) the name alone; without a name, nothing.
        assert_eq!(processor_from_cpuinfo("model name : Neoverse\n").as_deref(), Some("Neoverse"));
        assert_eq!(processor_from_cpuinfo("processor : 0\nBogoMIPS : 50.00\n"), None);
    }
}
