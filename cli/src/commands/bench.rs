//! `distill bench`: teacher and student side by side: parameters, size on disk, latency at
//! batch 1 and throughput at batch 32 for sequences of 128 and 384 tokens, peak memory, the
//! student's speed-up, and with `--data` their EM/F1. Each model is measured in a child process
//! of its own, so peak memory is the model's; the speed-up is measured once more with both
//! models in this process, their forward passes timed in alternation (`paired_speedup`).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use distill_core::data::rows::DataColumns;
use distill_core::bench::{forward_time, paired_speedup, parameter_count, peak_rss_bytes, random_batch};
use distill_core::pretrained::Pretrained;
use distill_core::task::qa::decode::DecodeConfig;
use distill_core::task::qa::features::FeatureConfig;
use distill_core::train::evaluate::{Evaluator, QaEvaluator};
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct Args {
    /// Teacher model directory (or hub id).
    #[arg(long, value_name = "DIR|HUB_ID", required_unless_present = "single")]
    teacher: Option<String>,
    /// Student model directory (or hub id).
    #[arg(long, value_name = "DIR|HUB_ID", required_unless_present_any = ["single", "steps"])]
    student: Option<String>,
    /// SQuAD dev file: adds EM/F1 (QA models).
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON to this file (what `distill report --bench` reads).
    #[arg(long, value_name = "FILE")]
    json_file: Option<PathBuf>,
    /// Timed runs per measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    iterations: usize,
    /// Sequence lengths to measure [default: 128,384, each cut to a model's position table;
    /// a length given here that a model cannot hold is refused].
    #[arg(long, value_delimiter = ',')]
    seq: Option<Vec<usize>>,
    /// Batch size of the throughput measurement.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Instead of comparing two models: time the teacher's forward pass, a prediction-layer and an
    /// intermediate-layer distillation step (with the attention term, and without it as
    /// hidden_states_step_ms) for a student of --student-layers of its layers, and a plain GEMM
    /// (the Rust side of scripts/bench-vs-pytorch.sh).
    #[arg(long, requires = "teacher")]
    steps: bool,
    /// Arithmetic of the student's passes in --steps mode: f32, bf16 or f16 (mixed precision,
    /// as `distill run --precision`).
    #[arg(long, default_value = "f32", value_parser = |s: &str| s.parse::<distill_core::train::precision::Precision>())]
    precision: distill_core::train::precision::Precision,
    /// Layers of the student in --steps mode.
    #[arg(long, default_value_t = 3)]
    student_layers: usize,
    /// Measure one model in this process (what the parent runs per model).
    #[arg(long, hide = true, value_name = "DIR|HUB_ID")]
    single: Option<String>,
}

impl Args {
    /// The sequence lengths to measure: as given, else 128 and 384.
    fn seqs(&self) -> Vec<usize> {
        self.seq.clone().unwrap_or_else(|| vec![128, 384])
    }
}

/// A model on the default device, through the built-in plugins.
fn load(model: &str) -> Result<Pretrained> {
    let registry = distill_core::registry::Registry::builtin()?;
    Ok(Pretrained::load(model, None, &registry, &distill_core::default_device())?)
}

fn measure(model: &str, args: &Args) -> Result<Value> {
    let p = load(model)?;
    let files = p.files.as_ref().expect("a loaded model has files");
    let size = std::fs::metadata(&files.weights).map(|m| m.len()).unwrap_or(0);
    let mut out = json!({"model": model, "plugin": p.spec.name, "layers": p.config.num_layers, "hidden": p.config.hidden_size, "parameters": parameter_count(&p.model), "size_bytes": size});
    for seq in args.seqs() {
        let seq_eff = p.config.sequence_length(args.seq.is_some().then_some(seq), seq, "--seq", model)?;
        let one = forward_time(&p.model, &random_batch(&p.config, 1, seq_eff, 1)?, args.iterations);
        let many = forward_time(&p.model, &random_batch(&p.config, args.batch, seq_eff, 2)?, args.iterations);
        out[format!("latency_ms_b1_s{seq}")] = json!(one.seconds * 1e3);
        out[format!("throughput_seq_per_s_b{}_s{seq}", args.batch)] = json!(args.batch as f64 / many.seconds);
    }
    if let Some(data) = &args.data {
        let tok = p.tokenizer.as_ref().context("the model has no tokenizer for --data")?;
        let features = FeatureConfig { max_seq_len: p.config.sequence_length(None, 384, "--seq", model)?, ..FeatureConfig::default() };
        let eval = QaEvaluator::new(data, &DataColumns::default(), tok, &features, DecodeConfig::default(), 32)?;
        let report = eval.evaluate(&p.model)?;
        let (em, f1) = match (report.values.get("exact"), report.values.get("exact_match")) {
            (Some(e), _) | (None, Some(e)) => (e.clone(), report.values["f1"].clone()),
            _ => (Value::Null, Value::Null),
        };
        out["em"] = em;
        out["f1"] = f1;
        out["eval_examples_per_s"] = json!(report.examples_per_second);
    }
    out["peak_memory_mb"] = json!(peak_rss_bytes().map(|b| b as f64 / 1048576.0));
    Ok(out)
}

fn child(model: &str, args: &Args) -> Result<Value> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args(["bench", "--single", model, "--iterations", &args.iterations.to_string(), "--batch", &args.batch.to_string()]);
    if let Some(seq) = &args.seq {
        cmd.arg("--seq").arg(seq.iter().map(usize::to_string).collect::<Vec<_>>().join(","));
    }
    if let Some(d) = &args.data {
        cmd.arg("--data").arg(d);
    }
    let out = cmd.output()?;
    if !out.status.success() {
        bail!("benchmarking {model}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn steps(args: &Args) -> Result<Value> {
    use distill_core::bench::{StepKind, forward_flops, gemm_gflops, step_time};
    use distill_core::strategy::student_init::{copied_layers, from_teacher_layers};
    let mut teacher = load(args.teacher.as_deref().expect("required"))?;
    if teacher.model.qa.is_none() {
        // A base checkpoint (MiniLM ships without a head): time it with a new QA head.
        teacher.model = distill_core::model::with_new_head(teacher.model, (distill_core::model::Head::QuestionAnswering, 2), teacher.spec.head_layout(), 1)?;
    }
    let student = from_teacher_layers(&teacher.model, &copied_layers(args.student_layers, teacher.model.encoder.layers.len())?)?;
    args.precision.check_device(&distill_core::default_device())?;
    let seq = args.seqs()[0];
    let batch = random_batch(&teacher.config, args.batch, seq, 3)?;
    let forward = forward_time(&teacher.model, &batch, args.iterations);
    let prediction = step_time(&teacher.model, &student, &batch, StepKind::Prediction, args.precision, args.iterations);
    let intermediate = step_time(&teacher.model, &student, &batch, StepKind::Intermediate, args.precision, args.iterations);
    let hidden = step_time(&teacher.model, &student, &batch, StepKind::HiddenStates, args.precision, args.iterations);
    let t_flops = forward_flops(&teacher.config, args.batch, seq);
    let s_flops = forward_flops(&student.encoder.config, args.batch, seq);
    // A training step: the teacher's forward, the student's forward and backward (about 2x forward).
    let step_flops = t_flops + 3.0 * s_flops;
    let student_forward = forward_time(&student, &batch, args.iterations);
    let machine = distill_core::bench::machine();
    Ok(json!({
        "batch": args.batch, "seq": seq, "precision": args.precision.to_string(), "device": distill_core::device_name(), "threads": machine.threads, "processor": machine.processor,
        "forward_ms": forward.seconds * 1e3, "forward_gflops": t_flops / forward.seconds / 1e9,
        "student_forward_ms": student_forward.seconds * 1e3,
        "student_speedup": forward.seconds / student_forward.seconds, "flops_ratio": t_flops / s_flops,
        "prediction_step_ms": prediction.seconds * 1e3, "prediction_step_gflops": step_flops / prediction.seconds / 1e9,
        "intermediate_step_ms": intermediate.seconds * 1e3, "intermediate_step_gflops": step_flops / intermediate.seconds / 1e9,
        "hidden_states_step_ms": hidden.seconds * 1e3,
        "gemm_gflops": gemm_gflops(1024, &distill_core::default_device(), args.iterations),
        // The whole process, every step above included (the largest is the intermediate step's).
        "peak_memory_mb": peak_rss_bytes().map(|b| b as f64 / 1048576.0),
    }))
}

pub fn run(args: Args) -> Result<()> {
    if args.steps {
        println!("{}", serde_json::to_string_pretty(&steps(&args)?)?);
        return Ok(());
    }
    if let Some(model) = &args.single {
        println!("{}", measure(model, &args)?);
        return Ok(());
    }
    let (t, s) = (args.teacher.clone().expect("required"), args.student.clone().expect("required"));
    let teacher = child(&t, &args)?;
    let student = child(&s, &args)?;
    let mut speedup = json!({});
    for seq in args.seqs() {
        let l = format!("latency_ms_b1_s{seq}");
        let th = format!("throughput_seq_per_s_b{}_s{seq}", args.batch);
        speedup[&l] = json!(teacher[&l].as_f64().unwrap_or(0.0) / student[&l].as_f64().unwrap_or(f64::NAN));
        speedup[&th] = json!(student[&th].as_f64().unwrap_or(0.0) / teacher[&th].as_f64().unwrap_or(f64::NAN));
    }
    let paired = paired(&t, &s, &args)?;
    let machine = distill_core::bench::machine();
    let report = json!({"teacher": teacher, "student": student, "student_speedup": speedup, "paired_speedup": paired, "machine": machine});
    if let Some(path) = &args.json_file {
        distill_core::io::write_json_atomic(path, &report)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("{}, {} threads", machine.processor.as_deref().unwrap_or("processor unknown"), machine.threads);
    println!("{:<34} {:>16} {:>16} {:>9}", "", "teacher", "student", "speed-up");
    let keys: Vec<String> = teacher.as_object().expect("an object").keys().filter(|k| *k != "model").cloned().collect();
    for key in keys {
        let cell = |v: &Value| match v {
            Value::Number(n) if n.is_f64() => format!("{:.2}", n.as_f64().unwrap_or(0.0)),
            other => other.to_string().trim_matches('"').to_string(),
        };
        let sp = speedup.get(&key).and_then(Value::as_f64).map(|x| format!("{x:.2}x")).unwrap_or_default();
        println!("{:<34} {:>16} {:>16} {:>9}", key, cell(&teacher[&key]), cell(&student[&key]), sp);
    }
    for (key, p) in paired.as_object().expect("an object") {
        let q = |k: &str| p[k].as_f64().unwrap_or(f64::NAN);
        println!("paired speed-up, {key}: {:.2}x (quartiles {:.2}-{:.2}x, {} pairs)", q("median"), q("q1"), q("q3"), p["pairs"]);
    }
    Ok(())
}

/// The speed-up from alternating forward passes of both models in this process, for the
/// latency and throughput measurements, under the keys of `student_speedup`.
fn paired(teacher: &str, student: &str, args: &Args) -> Result<Value> {
    let (t, s) = (load(teacher)?, load(student)?);
    // Token ids valid for both vocabularies.
    let config = if t.config.vocab_size <= s.config.vocab_size { &t.config } else { &s.config };
    let mut out = json!({});
    for seq in args.seqs() {
        let requested = args.seq.is_some().then_some(seq);
        let seq_eff = t.config.sequence_length(requested, seq, "--seq", teacher)?.min(s.config.sequence_length(requested, seq, "--seq", student)?);
        for (key, batch, seed) in [(format!("latency_ms_b1_s{seq}"), 1, 1), (format!("throughput_seq_per_s_b{}_s{seq}", args.batch), args.batch, 2)] {
            out[key] = json!(paired_speedup(&t.model, &s.model, &random_batch(config, batch, seq_eff, seed)?, args.iterations));
        }
    }
    Ok(out)
}
