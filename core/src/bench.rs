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

/// A batch of random ids (fixed seed) with every position attended.
pub fn random_batch(config: &EncoderConfig, batch: usize, seq: usize, seed: u64) -> TokenBatch {
    let mut rng = RandomInit::new(seed, 1.0);
    // Ordinary word ids: above the special and unused tokens where the vocabulary is large.
    let vocab = config.vocab_size as u64;
    let low = if vocab > 2000 { 1000 } else { 5.min(vocab - 1) };
    let rows: Vec<Vec<i64>> = (0..batch).map(|_| (0..seq).map(|_| (low + rng.next_u64() % (vocab - low)) as i64).collect()).collect();
    TokenBatch::from_rows(rows, None, None, "bench").expect("rectangular")
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

/// Seconds of one forward pass (waiting for the result) of `model` on `batch`.
pub fn forward_time(model: &TaskModel, batch: &TokenBatch, iterations: usize) -> Timing {
    time(iterations, || {
        let out = model.forward_keeping(batch, Keep::LastHidden);
        let last = out.encoder.last_hidden_state();
        let _ = last.sum().into_scalar::<f32>();
    })
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
}

/// Seconds per distillation step of `student` learning from `teacher` on `batch` (QA heads).
pub fn step_time(teacher: &TaskModel, student: &TaskModel, batch: &TokenBatch, kind: StepKind, iterations: usize) -> Timing {
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
    time(iterations, || {
        let model = trainable.take().expect("put back after each step");
        let t_out = teacher.forward_keeping(batch, if kind == StepKind::Prediction { Keep::LastHidden } else { Keep::Everything });
        let s_out = model.model.forward(batch);
        let loss = match kind {
            StepKind::Prediction => {
                let (tq, sq) = (t_out.qa.expect("QA teacher"), s_out.qa.expect("QA student"));
                let config = PredictionConfig::default();
                let start = prediction_loss(sq.start_logits, Some(&TeacherLogits::One(tq.start_logits.autodiff())), Some(gold.clone()), &mask, &config);
                let end = prediction_loss(sq.end_logits, Some(&TeacherLogits::One(tq.end_logits.autodiff())), Some(gold.clone()), &mask, &config);
                (start.total + end.total).div_scalar(2.0)
            }
            StepKind::Intermediate => intermediate_loss(&s_out.encoder, &t_out.encoder, &model.projections, &mask, &pairs, &IntermediateConfig::default()).total,
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
    use super::processor_from_cpuinfo;

    #[test]
    fn processor_is_the_first_ones_name_family_and_model() {
        let info = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\nmodel name\t: Intel(R) Xeon(R) Processor\n\nprocessor\t: 1\nmodel name\t: Other\n";
        assert_eq!(processor_from_cpuinfo(info).as_deref(), Some("Intel(R) Xeon(R) Processor (family 6, model 207)"));
        // Without family and model numbers (some ARM kernels) the name alone; without a name, nothing.
        assert_eq!(processor_from_cpuinfo("model name : Neoverse\n").as_deref(), Some("Neoverse"));
        assert_eq!(processor_from_cpuinfo("processor : 0\nBogoMIPS : 50.00\n"), None);
    }
}
