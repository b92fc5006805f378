//! `distill [run]`: a distillation from flags, over their `DISTILL_*` environment variables, over
//! a `--config` file (TOML or JSON), over the defaults (merged in core, `recipe::layers`). The
//! resolved configuration, with what set each value, is written to OUTPUT/run-config.json.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::parser::ValueSource;
use distill_core::recipe::layers::{LayeredConfig, Override, SettingValue};
use distill_core::recipe::{RunConfig, Task, run_with_sources as run_recipe};
use distill_core::strategy::Strategy;
use distill_core::strategy::mapping::LayerMapping;
use distill_core::strategy::prediction::KdLoss;
use distill_core::train::precision::Precision;
use distill_core::strategy::student_init::NeuronImportance;
use serde::Serialize;

fn strategy(s: &str) -> Result<Strategy, String> {
    Strategy::parse(s).ok_or_else(|| format!("unknown strategy {s:?}: expected finetune, prediction, intermediate or tinybert"))
}

pub(crate) fn task(s: &str) -> Result<Task, String> {
    match s {
        "qa" => Ok(Task::Qa),
        "classification" => Ok(Task::Classification),
        "regression" => Ok(Task::Regression),
        "token-classification" | "token_classification" | "ner" => Ok(Task::TokenClassification),
        _ => Err(format!("unknown task {s:?}: expected qa, classification, regression or token-classification")),
    }
}

/// The run's flags. Each one given, on the command line or as its environment variable
/// (`DISTILL_` and the flag's name: `--max-seq-len` is `DISTILL_MAX_SEQ_LEN`), overrides the
/// configuration key `config_path` names; what is left out keeps the config file's value or the
/// default. Booleans take `--flag`, `--flag=true` or `--flag=false`.
#[derive(clap::Args, Default, Serialize)]
pub struct Args {
    /// Load an architecture plugin from this shared library (repeatable).
    #[arg(long = "plugin", value_name = "FILE")]
    #[serde(skip)]
    plugin_files: Vec<PathBuf>,
    /// Run configuration (TOML or JSON with the fields of run-config.json); flags override it.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// finetune (labels only, no teacher), prediction, intermediate, or tinybert (general
    /// intermediate -> task intermediate -> prediction) [default: prediction].
    #[arg(long, value_parser = strategy)]
    strategy: Option<Strategy>,
    /// qa, classification, regression (a one-output classification head) or token-classification
    /// [default: from the teacher's head].
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
    extra_teachers: Option<Vec<String>>,
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
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    random_student: Option<bool>,
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
    /// Clip gradients to this global norm; 0 turns clipping off [default: 1.0].
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
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    group_by_length: Option<bool>,
    /// Arithmetic of the student's passes: f32, or bf16 / f16 with f32 master weights and AdamW
    /// moments (f16 with loss scaling); teachers and saved students stay f32 [default: f32].
    #[arg(long, value_parser = |s: &str| s.parse::<Precision>())]
    precision: Option<Precision>,
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
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    mask_question: Option<bool>,
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
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    head_averaged_attention: Option<bool>,
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
    /// Classification labels (token classification: tags) in id order, comma-separated
    /// [default: the teacher's, else sorted from --train].
    #[arg(long, value_delimiter = ',')]
    labels: Option<Vec<String>>,
    /// Classification, regression: the column (JSON lines, Parquet) or header (CSV, TSV) of the
    /// text [default: text].
    #[arg(long, value_name = "NAME")]
    text_column: Option<String>,
    /// Classification, regression: the column of a pair's second text [default: text_pair].
    #[arg(long, value_name = "NAME")]
    text_pair_column: Option<String>,
    /// Classification, regression: the column of the label or score [default: label].
    #[arg(long, value_name = "NAME")]
    label_column: Option<String>,
    /// Token classification, JSON lines or Parquet: the column of each sentence's words
    /// [default: tokens].
    #[arg(long, value_name = "NAME")]
    tokens_column: Option<String>,
    /// Token classification, JSON lines or Parquet: the column of the words' tags, as names or
    /// as ids into --labels [default: ner_tags].
    #[arg(long, value_name = "NAME")]
    tags_column: Option<String>,
    /// QA, JSON lines or Parquet: the column of the question id [default: id].
    #[arg(long, value_name = "NAME")]
    id_column: Option<String>,
    /// QA, JSON lines or Parquet: the column of the article title, optional [default: title].
    #[arg(long, value_name = "NAME")]
    title_column: Option<String>,
    /// QA, JSON lines or Parquet: the column of the context [default: context].
    #[arg(long, value_name = "NAME")]
    context_column: Option<String>,
    /// QA, JSON lines or Parquet: the column of the question [default: question].
    #[arg(long, value_name = "NAME")]
    question_column: Option<String>,
    /// QA, JSON lines or Parquet: the column of the answers, `text` and `answer_start` lists
    /// [default: answers].
    #[arg(long, value_name = "NAME")]
    answers_column: Option<String>,
    /// Stop at an answer that does not match its context instead of skipping it.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    strict: Option<bool>,
    /// Resume checkpoints and skip finished stages [default: true].
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    resume: Option<bool>,
    /// Start over instead of resuming checkpoints and skipping finished stages (--resume=false).
    #[arg(long, conflicts_with = "resume")]
    #[serde(skip)]
    no_resume: bool,
    /// Start at this stage (1-based), taking the previous stage's student from its directory, or
    /// the student as built where that stage never ran (e.g. `--strategy tinybert --start-stage 2`
    /// leaves out the general stage).
    #[arg(long)]
    start_stage: Option<usize>,
}

/// The configuration key a flag's field sets: its own name, under the section it belongs to.
fn config_path(field: &str) -> String {
    let section = match field {
        "seed" | "epochs" | "max_steps" | "batch_size" | "grad_accum" | "learning_rate" | "warmup_ratio" | "eval_every" | "patience" | "save_every" | "group_by_length" | "precision" => "train_config.",
        "weight_decay" | "max_grad_norm" => "train_config.optimizer.",
        "temperature" | "distill_weight" | "kd_loss" => "prediction.",
        "layer_mapping" | "embedding_weight" | "hidden_weight" | "attention_weight" | "head_averaged_attention" => "intermediate.",
        "max_seq_len" | "doc_stride" | "max_query_length" => "features.",
        "max_answer_length" | "null_threshold" => "decode.",
        "text_column" | "text_pair_column" | "label_column" | "tokens_column" | "tags_column" | "id_column" | "title_column" | "context_column" | "question_column" | "answers_column" => "columns.",
        _ => "",
    };
    let key = match field {
        "text_column" => "text",
        "text_pair_column" => "text_pair",
        "label_column" => "label",
        "tokens_column" => "tokens",
        "tags_column" => "tags",
        "id_column" => "id",
        "title_column" => "title",
        "context_column" => "context",
        "question_column" => "question",
        "answers_column" => "answers",
        "distill_weight" => "weight",
        "kd_loss" => "loss",
        "layer_mapping" => "mapping",
        other => other,
    };
    format!("{section}{key}")
}

/// The environment variable that stands for a flag: `--max-seq-len` is `DISTILL_MAX_SEQ_LEN`.
pub fn env_name(long: &str) -> String {
    format!("DISTILL_{}", long.to_uppercase().replace('-', "_"))
}

/// Gives every flag that sets a configuration key its environment variable (clap then reads
/// it when the flag is absent, and says so in --help).
pub fn with_env(command: clap::Command) -> clap::Command {
    let keyed: Vec<String> = keyed_args().into_iter().map(|(id, _)| id).collect();
    command.mut_args(|arg| match arg.get_long() {
        Some(long) if keyed.iter().any(|id| id == arg.get_id().as_str()) => {
            let name = env_name(long);
            arg.env(name)
        }
        _ => arg,
    })
}

/// Exits on a command-line error as clap does, saying so when the bad value came from a flag's
/// environment variable: clap names only the flag, which the user never typed.
pub fn exit_naming_env(error: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue};
    if let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) {
        let long = arg.trim_start_matches("--").split([' ', '=', '[']).next().unwrap_or_default();
        let typed = std::env::args().any(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")));
        let name = env_name(long);
        if !typed && std::env::var_os(&name).is_some() {
            eprintln!("error: environment variable {name} (for --{long}): {}", error.kind());
            let _ = error.print();
            std::process::exit(2);
        }
    }
    error.exit()
}

/// The run flags that set configuration keys, by clap id (the field's name), with their long names.
fn keyed_args() -> Vec<(String, String)> {
    let command = <Args as clap::Args>::augment_args(clap::Command::new("run"));
    let serialized = serde_json::to_value(Args::default()).expect("flags serialise");
    command
        .get_arguments()
        .filter(|a| serialized.get(a.get_id().as_str()).is_some())
        .filter_map(|a| Some((a.get_id().to_string(), a.get_long()?.to_string())))
        .collect()
}

impl Args {
    /// The configuration keys the flags (or their environment variables) set, in that order
    /// of precedence, each with what set it; `matches` are the ones these flags were parsed from.
    pub fn overrides(&self, matches: &clap::ArgMatches) -> Result<Vec<Override>> {
        let given = SettingValue::serialize(self).context("serialising the flags")?;
        let given = given.into_dict().context("the flags serialise to a table")?;
        let mut from_env = vec![];
        let mut from_flags = vec![];
        for (id, long) in keyed_args() {
            let Some(value) = given.get(&id).filter(|v| !matches!(v, SettingValue::Empty(..))) else { continue };
            let path = config_path(&id);
            match matches.value_source(&id) {
                Some(ValueSource::EnvVariable) => from_env.push(Override { path, value: value.clone(), source: format!("environment {}", env_name(&long)) }),
                _ => from_flags.push(Override { path, value: value.clone(), source: format!("flag --{long}") }),
            }
        }
        if self.no_resume {
            from_flags.push(Override { path: "resume".into(), value: false.into(), source: "flag --no-resume".into() });
        }
        Ok(from_env.into_iter().chain(from_flags).collect())
    }

    /// The defaults, under the --config file, under the environment, under the flags.
    pub fn resolve(&self, matches: &clap::ArgMatches) -> Result<LayeredConfig> {
        Ok(RunConfig::layered(self.config.as_deref(), &self.overrides(matches)?)?)
    }
}

pub fn run(args: Args, matches: &clap::ArgMatches, dirs: &crate::plugins::PluginDirs) -> Result<()> {
    let registry = &dirs.registry(&args.plugin_files);
    let LayeredConfig { config, sources } = args.resolve(matches)?;
    if config.output.is_none() && config.train.is_none() && config.teacher.is_none() {
        bail!("nothing to do: give --teacher, --train and --output (see distill --help), or a subcommand");
    }
    let device = distill_core::default_device();
    let report = run_recipe(registry, &config, &sources, &device)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: Args,
    }

    fn resolve(argv: &[&str]) -> Result<LayeredConfig> {
        let matches = with_env(Cli::command()).try_get_matches_from(std::iter::once("distill").chain(argv.iter().copied()))?;
        Cli::from_arg_matches(&matches)?.run.resolve(&matches)
    }

    /// Every flag that sets a key reaches the key it names: given a value other than the
    /// default, the resolved configuration differs from the defaults there and nowhere else.
    #[test]
    fn each_flag_sets_its_own_key() {
        let defaults = serde_json::to_value(RunConfig::default()).unwrap();
        let values: &[(&str, &str)] = &[
            ("strategy", "finetune"), ("task", "classification"), ("teacher-plugin", "bert"), ("student-plugin", "tinybert"),
            ("teacher", "t"), ("extra-teacher", "x"), ("general-teacher", "g"), ("student", "s"), ("student-layers", "2"),
            ("copy-layers", "1,3"), ("random-student", "true"), ("student-intermediate-size", "8"), ("neuron-importance", "taylor"),
            ("train", "a"), ("dev", "b"), ("general-train", "c"), ("intermediate-train", "d"), ("output", "o"), ("cache-dir", "k"),
            ("seed", "7"), ("epochs", "3"), ("max-steps", "9"), ("batch-size", "4"), ("grad-accum", "2"), ("learning-rate", "0.001"),
            ("warmup-ratio", "0.2"), ("weight-decay", "0.5"), ("max-grad-norm", "2"), ("eval-every", "5"), ("patience", "2"),
            ("save-every", "11"), ("group-by-length", "true"), ("precision", "bf16"), ("intermediate-epochs", "3"), ("intermediate-learning-rate", "0.01"),
            ("temperature", "3"), ("distill-weight", "0.5"), ("kd-loss", "mse"), ("mask-question", "true"), ("layer-mapping", "last"),
            ("embedding-weight", "2"), ("hidden-weight", "2"), ("attention-weight", "0"), ("intermediate-prediction-weight", "0.5"),
            ("head-averaged-attention", "true"), ("max-seq-len", "128"), ("doc-stride", "32"), ("max-query-length", "16"),
            ("max-answer-length", "10"), ("null-threshold", "1.5"), ("eval-batch-size", "8"), ("labels", "a,b"), ("text-column", "sentence1"), ("text-pair-column", "sentence2"), ("label-column", "gold"), ("tokens-column", "words"), ("tags-column", "tags"),
            ("id-column", "qid"), ("title-column", "topic"), ("context-column", "passage"), ("question-column", "query"), ("answers-column", "gold"), ("strict", "true"),
            ("resume", "false"), ("start-stage", "2"),
        ];
        assert_eq!(values.len(), keyed_args().len(), "a flag without a case here");
        for (flag, value) in values {
            let layered = resolve(&[&format!("--{flag}={value}")]).unwrap_or_else(|e| panic!("--{flag}: {e:#}"));
            let resolved = serde_json::to_value(&layered.config).unwrap();
            let mut changed = vec![];
            for (path, source) in &layered.sources {
                let pointer = format!("/{}", path.replace('.', "/"));
                if resolved.pointer(&pointer) != defaults.pointer(&pointer) {
                    changed.push(path.clone());
                    let expected = if path == "prediction.weight" && *flag == "strategy" { "strategy finetune (labels alone)".to_string() } else { format!("flag --{flag}") };
                    assert_eq!(source, &expected, "{path}");
                }
            }
            // Fine-tuning also zeroes the prediction weight.
            let expected = if *flag == "strategy" { 2 } else { 1 };
            assert_eq!(changed.len(), expected, "--{flag}={value} changed {changed:?}");
        }
    }

    #[test]
    fn a_boolean_from_the_config_file_is_switched_off_by_its_flag() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.toml");
        std::fs::write(&file, "strict = true\n[train_config]\ngroup_by_length = true\n").unwrap();
        let config = |argv: &[&str]| resolve(&[&["--config", file.to_str().unwrap()], argv].concat()).unwrap().config;
        assert!(config(&[]).train_config.group_by_length && config(&[]).strict);
        assert!(!config(&["--group-by-length=false"]).train_config.group_by_length);
        assert!(!config(&["--strict=false"]).strict);
        assert!(config(&["--strict"]).strict);
        assert!(!config(&["--no-resume"]).resume);
        assert_eq!(config(&["--max-grad-norm", "0"]).train_config.optimizer.max_grad_norm, None, "0 turns clipping off");
        assert!(resolve(&["--no-resume", "--resume"]).is_err(), "contradicting flags");
    }
}
