//! `distill [run]`: a distillation from flags, over a `--config` file (TOML or JSON), over the
//! defaults. The resolved configuration is written to OUTPUT/run-config.json.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use distill_core::recipe::{RunConfig, Task, run as run_recipe};
use distill_core::strategy::Strategy;
use distill_core::strategy::mapping::LayerMapping;
use distill_core::strategy::prediction::KdLoss;
use distill_core::strategy::student_init::NeuronImportance;

fn strategy(s: &str) -> Result<Strategy, String> {
    Strategy::parse(s).ok_or_else(|| format!("unknown strategy {s:?}: expected finetune, prediction, intermediate or tinybert"))
}

fn task(s: &str) -> Result<Task, String> {
    match s {
        "qa" => Ok(Task::Qa),
        "classification" => Ok(Task::Classification),
        _ => Err(format!("unknown task {s:?}: expected qa or classification")),
    }
}

#[derive(clap::Args, Default)]
pub struct Args {
    /// Load an architecture plugin from this shared library (repeatable).
    #[arg(long = "plugin", value_name = "FILE")]
    plugin_files: Vec<PathBuf>,
    /// Run configuration (TOML or JSON with the fields of run-config.json); flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// finetune (labels only, no teacher), prediction, intermediate, or tinybert (general
    /// intermediate -> task intermediate -> prediction) [default: prediction].
    #[arg(long, value_parser = strategy)]
    strategy: Option<Strategy>,
    /// qa or classification [default: from the teacher's head].
    #[arg(long, value_parser = task)]
    task: Option<Task>,
    /// Architecture plugin of the teacher [default: from its config.json model_type].
    #[arg(long)]
    teacher_plugin: Option<String>,
    /// Architecture plugin of the student [default: the teacher's].
    #[arg(long)]
    student_plugin: Option<String>,
    /// Teacher model: directory in Hugging Face layout, or a hub id.
    #[arg(long, value_name = "DIR|HUB_ID")]
    teacher: Option<String>,
    /// A further teacher whose soft targets are averaged with the first's (repeatable).
    #[arg(long = "extra-teacher", value_name = "DIR|HUB_ID")]
    extra_teachers: Vec<String>,
    /// Teacher of the tinybert strategy's general stage, typically the pre-trained checkpoint
    /// the teacher was fine-tuned from (TinyBERT's general distillation) [default: --teacher].
    #[arg(long, value_name = "DIR|HUB_ID")]
    general_teacher: Option<String>,
    /// Student to start from [default: built from the teacher: half its layers, or with
    /// --student-plugin that plugin's default layer count when the widths match; otherwise
    /// random in the student plugin's default shape].
    #[arg(long, value_name = "DIR|HUB_ID")]
    student: Option<String>,
    /// Layers of a student built from the teacher [default: half the teacher's].
    #[arg(long)]
    student_layers: Option<usize>,
    /// Teacher layers a student built from the teacher copies, counted from 1, increasing
    /// ("2,4,6") [default: every (N / M)-th from the first: 6 -> 3 copies 1, 3, 5].
    #[arg(long, value_delimiter = ',', value_name = "LAYERS")]
    copy_layers: Option<Vec<usize>>,
    /// Build the student at random in the student plugin's shape even when widths match.
    #[arg(long)]
    random_student: bool,
    /// Feed-forward width of the student: one copied from the teacher (or given by --student)
    /// keeps that many of each layer's inner neurons, ranked as --neuron-importance says; a
    /// random one is built that wide [default: unchanged].
    #[arg(long, value_name = "N")]
    student_intermediate_size: Option<usize>,
    /// How --student-intermediate-size picks the neurons: "weights" (input and output weight
    /// norms), "activations" (what each adds to its layer's output on 512 training windows) or
    /// "taylor" (how much the task loss would change without it, to first order, on 512
    /// labelled training windows) [default: weights].
    #[arg(long, value_name = "HOW", value_parser = |s: &str| s.parse::<NeuronImportance>())]
    neuron_importance: Option<NeuronImportance>,
    /// Training data: SQuAD JSON (qa) or TSV/CSV/JSON lines with text, text_pair, label.
    #[arg(long, value_name = "FILE")]
    train: Option<PathBuf>,
    /// Dev data for evaluation, early stopping and the best checkpoint.
    #[arg(long, value_name = "FILE")]
    dev: Option<PathBuf>,
    /// Raw text for the recipe's general stage (SQuAD JSON or one text per line).
    #[arg(long, value_name = "FILE")]
    general_train: Option<PathBuf>,
    /// Data of the recipe's task-intermediate stage, e.g. from `distill augment` [default: --train].
    #[arg(long, value_name = "FILE")]
    intermediate_train: Option<PathBuf>,
    /// Output directory: stage-*/ (checkpoints, metrics.jsonl, students), student/, report.json.
    #[arg(long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// Where teacher logits are cached [default: OUTPUT/cache].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Seed of data order, dropout and new weights [default: 42].
    #[arg(long)]
    seed: Option<u64>,
    /// Epochs of the fine-tuning or prediction stage [default: 2].
    #[arg(long)]
    epochs: Option<usize>,
    /// Stop each stage after this many updates.
    #[arg(long)]
    max_steps: Option<usize>,
    /// Examples per micro-batch [default: 16].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Micro-batches per update [default: 1].
    #[arg(long)]
    grad_accum: Option<usize>,
    /// Peak learning rate [default: 5e-5].
    #[arg(long)]
    learning_rate: Option<f64>,
    /// Fraction of updates spent warming up [default: 0.1].
    #[arg(long)]
    warmup_ratio: Option<f64>,
    /// AdamW weight decay, not applied to biases and layer norms [default: 0.01].
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Clip gradients to this global norm; 0 disables [default: 1.0].
    #[arg(long)]
    max_grad_norm: Option<f64>,
    /// Evaluate on --dev every N updates (and at the end of each stage) [default: only at the end].
    #[arg(long)]
    eval_every: Option<usize>,
    /// Stop a stage after this many evaluations without a better dev score [default: never].
    #[arg(long)]
    patience: Option<usize>,
    /// Write a checkpoint every N updates [default: 200].
    #[arg(long)]
    save_every: Option<usize>,
    /// Put examples of similar length in the same batch (shuffled groups of 50 batches sorted by
    /// length, then the batches shuffled): less padding, faster epochs.
    #[arg(long)]
    group_by_length: bool,
    /// Epochs of each intermediate stage [default: 1].
    #[arg(long)]
    intermediate_epochs: Option<usize>,
    /// Peak learning rate of the intermediate stages [default: 1e-4].
    #[arg(long)]
    intermediate_learning_rate: Option<f64>,
    /// Softmax temperature T of prediction-layer distillation [default: 1.5].
    #[arg(long)]
    temperature: Option<f64>,
    /// Weight w of the distillation term: 0 = labels only, 1 = teacher only [default: 0.75].
    #[arg(long)]
    distill_weight: Option<f64>,
    /// kl, mse or soft_cross_entropy [default: kl].
    #[arg(long, value_parser = |s: &str| s.parse::<KdLoss>())]
    kd_loss: Option<KdLoss>,
    /// QA: leave the question out of the start/end distributions.
    #[arg(long)]
    mask_question: bool,
    /// uniform, last, or student:teacher pairs counted from 1 ("1:2,2:4,3:6") [default: uniform].
    #[arg(long, value_parser = |s: &str| s.parse::<LayerMapping>())]
    layer_mapping: Option<LayerMapping>,
    /// Weight of the embedding term [default: 1].
    #[arg(long)]
    embedding_weight: Option<f64>,
    /// Weight of the hidden-state term [default: 1].
    #[arg(long)]
    hidden_weight: Option<f64>,
    /// Weight of the attention-score term; 0 drops it [default: 1].
    #[arg(long)]
    attention_weight: Option<f64>,
    /// Joint stage: add this weight times the prediction-layer loss (--temperature,
    /// --distill-weight, --kd-loss; the teacher's logits from the same forward pass) to the
    /// task's intermediate stage, which then also trains and evaluates the head [default: 0].
    #[arg(long)]
    intermediate_prediction_weight: Option<f64>,
    /// Compare head-averaged attention maps (for different head counts).
    #[arg(long)]
    head_averaged_attention: bool,
    /// Longest input in tokens [default: 384].
    #[arg(long)]
    max_seq_len: Option<usize>,
    /// QA: context tokens between the starts of consecutive windows [default: 128].
    #[arg(long)]
    doc_stride: Option<usize>,
    /// QA: longest question in tokens [default: 64].
    #[arg(long)]
    max_query_length: Option<usize>,
    /// QA: longest answer in tokens [default: 30].
    #[arg(long)]
    max_answer_length: Option<usize>,
    /// QA: predict no answer when null odds exceed this (SQuAD 2.0) [default: 0].
    #[arg(long)]
    null_threshold: Option<f64>,
    /// Examples per evaluation or teacher-logit batch [default: 32].
    #[arg(long)]
    eval_batch_size: Option<usize>,
    /// Classification labels in id order, comma-separated [default: the teacher's, else sorted].
    #[arg(long, value_delimiter = ',')]
    labels: Option<Vec<String>>,
    /// Stop at an answer that does not match its context instead of skipping it.
    #[arg(long)]
    strict: bool,
    /// Start over instead of resuming checkpoints and skipping finished stages.
    #[arg(long)]
    no_resume: bool,
    /// Start at this stage (1-based), taking the previous stage's student from its directory, or
    /// the student as built where that stage never ran (e.g. `--strategy tinybert --start-stage 2`
    /// leaves out the general stage).
    #[arg(long)]
    start_stage: Option<usize>,
}

/// Reads a TOML or JSON run configuration.
pub fn read_config(path: &PathBuf) -> Result<RunConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).with_context(|| format!("{}: not a valid run configuration", path.display()))
    } else {
        toml::from_str(&text).with_context(|| format!("{}: not a valid run configuration", path.display()))
    }
}

macro_rules! set {
    ($target:expr, $value:expr) => {
        if let Some(v) = $value {
            $target = v;
        }
    };
}

impl Args {
    pub fn resolve(self) -> Result<RunConfig> {
        let mut c = match &self.config {
            Some(path) => read_config(path)?,
            None => RunConfig::default(),
        };
        set!(c.strategy, self.strategy);
        c.task = self.task.or(c.task);
        c.teacher_plugin = self.teacher_plugin.or(c.teacher_plugin);
        c.student_plugin = self.student_plugin.or(c.student_plugin);
        c.teacher = self.teacher.or(c.teacher);
        if !self.extra_teachers.is_empty() {
            c.extra_teachers = self.extra_teachers;
        }
        c.general_teacher = self.general_teacher.or(c.general_teacher);
        c.student = self.student.or(c.student);
        c.student_layers = self.student_layers.or(c.student_layers);
        c.copy_layers = self.copy_layers.or(c.copy_layers);
        c.random_student |= self.random_student;
        c.student_intermediate_size = self.student_intermediate_size.or(c.student_intermediate_size);
        set!(c.neuron_importance, self.neuron_importance);
        c.train = self.train.or(c.train);
        c.dev = self.dev.or(c.dev);
        c.general_train = self.general_train.or(c.general_train);
        c.intermediate_train = self.intermediate_train.or(c.intermediate_train);
        c.output = self.output.or(c.output);
        c.cache_dir = self.cache_dir.or(c.cache_dir);
        let t = &mut c.train_config;
        set!(t.seed, self.seed);
        set!(t.epochs, self.epochs);
        t.max_steps = self.max_steps.or(t.max_steps);
        set!(t.batch_size, self.batch_size);
        set!(t.grad_accum, self.grad_accum);
        set!(t.learning_rate, self.learning_rate);
        set!(t.warmup_ratio, self.warmup_ratio);
        set!(t.optimizer.weight_decay, self.weight_decay);
        if let Some(n) = self.max_grad_norm {
            // 0 turns clipping off; anything else, a negative norm too, is checked by the core.
            t.optimizer.max_grad_norm = (n != 0.0).then_some(n);
        }
        t.eval_every = self.eval_every.or(t.eval_every);
        t.patience = self.patience.or(t.patience);
        set!(t.save_every, self.save_every);
        t.group_by_length |= self.group_by_length;
        set!(c.intermediate_epochs, self.intermediate_epochs);
        set!(c.intermediate_learning_rate, self.intermediate_learning_rate);
        set!(c.intermediate_prediction_weight, self.intermediate_prediction_weight);
        set!(c.prediction.temperature, self.temperature);
        set!(c.prediction.weight, self.distill_weight);
        set!(c.prediction.loss, self.kd_loss);
        c.mask_question |= self.mask_question;
        set!(c.intermediate.mapping, self.layer_mapping);
        set!(c.intermediate.embedding_weight, self.embedding_weight);
        set!(c.intermediate.hidden_weight, self.hidden_weight);
        set!(c.intermediate.attention_weight, self.attention_weight);
        c.intermediate.head_averaged_attention |= self.head_averaged_attention;
        set!(c.features.max_seq_len, self.max_seq_len);
        set!(c.features.doc_stride, self.doc_stride);
        set!(c.features.max_query_length, self.max_query_length);
        set!(c.decode.max_answer_length, self.max_answer_length);
        if let Some(t) = self.null_threshold {
            c.decode.null_threshold = Some(t);
        }
        set!(c.eval_batch_size, self.eval_batch_size);
        c.labels = self.labels.or(c.labels);
        c.strict |= self.strict;
        if self.no_resume {
            c.resume = false;
        }
        c.start_stage = self.start_stage.or(c.start_stage);
        if c.strategy == Strategy::Finetune {
            c.prediction.weight = 0.0;
        }
        Ok(c)
    }
}

pub fn run(args: Args, dirs: &crate::plugins::PluginDirs) -> Result<()> {
    let registry = &dirs.registry(&args.plugin_files);
    let config = args.resolve()?;
    if config.output.is_none() && config.train.is_none() && config.teacher.is_none() {
        bail!("nothing to do: give --teacher, --train and --output (see distill --help), or a subcommand");
    }
    let device = distill_core::default_device();
    let report = run_recipe(registry, &config, &device)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
