//! The `distill` command line: a thin layer over distill-core. Without a subcommand it runs a
//! distillation (`distill --teacher-plugin bert --student-plugin tinybert ...`); each subcommand
//! lives in its own module under `commands/`.

mod commands;
mod plugins;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

// Built-in architecture plugins register themselves through `inventory` once linked.
use distill_plugin_bert as _;
use distill_plugin_distilbert as _;
use distill_plugin_roberta as _;
use distill_plugin_tinybert as _;

mod allocator;

/// Knowledge distillation for transformer encoders.
///
/// Without a subcommand, runs a distillation: the teacher teaches the student with the chosen
/// strategy, each flag overriding the --config file, and writes the students, metrics and the
/// resolved configuration into --output.
#[derive(Parser)]
#[command(name = "distill", version, args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    plugin_dirs: plugins::PluginDirs,
    #[command(flatten)]
    run: commands::run::Args,
}

// `Run` carries every trainer flag; the enum is parsed once, so its size costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run a distillation (the same as giving the flags without a subcommand).
    Run(commands::run::Args),
    /// List the architecture plugins: name, family, description and origin.
    Plugins(commands::plugins::Args),
    /// List teacher/student plugin pairs and the strategies each supports, or check two checkpoints.
    Pairs(commands::pairs::Args),
    /// Run a model over token ids or text and write every hidden state, attention score and
    /// probability (and head outputs) to a safetensors file.
    Forward(commands::forward::Args),
    /// Score SQuAD predictions exactly as the official v1.1 / v2.0 evaluation scripts.
    Score(commands::score::Args),
    /// Run a QA model over a SQuAD file: predictions.json, null_odds.json and the official scores.
    Eval(commands::eval::Args),
    /// Answer a question from a context with a QA model (or a JSON-lines batch of them).
    Predict(commands::predict::Args),
    /// Multiply SQuAD training data by replacing words (masked LM and word vectors), keeping answers.
    Augment(commands::augment::Args),
    /// Teacher and student side by side: size, latency, throughput, memory, speed-up, EM/F1.
    Bench(commands::bench::Args),
    /// One HTML page of run directories: each stage's losses, dev scores, learning rate, speed
    /// and memory, the stage timeline, and a comparison of the runs.
    Report(commands::report::Args),
}

/// Exit codes: 0 success; 1 failure while running; 2 bad usage, or a teacher/student pair
/// rejected before anything is loaded.
fn main() -> ExitCode {
    allocator::keep_freed_memory();
    let matches = commands::run::with_env(Cli::command())
        .mut_subcommand("run", commands::run::with_env)
        .try_get_matches()
        .unwrap_or_else(|e| commands::run::exit_naming_env(e));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let dirs = cli.plugin_dirs;
    let result = match cli.command {
        None => commands::run::run(cli.run, &matches, &dirs),
        Some(Command::Run(args)) => commands::run::run(args, matches.subcommand_matches("run").expect("the run subcommand's matches"), &dirs),
        Some(Command::Plugins(args)) => commands::plugins::run(args, &dirs),
        Some(Command::Pairs(args)) => commands::pairs::run(args, &dirs),
        Some(Command::Forward(args)) => commands::forward::run(args, &dirs),
        Some(Command::Score(args)) => commands::score::run(args),
        Some(Command::Eval(args)) => commands::eval::run(args, &dirs),
        Some(Command::Predict(args)) => commands::predict::run(args, &dirs),
        Some(Command::Augment(args)) => commands::augment::run(args, &dirs),
        Some(Command::Bench(args)) => commands::bench::run(args),
        Some(Command::Report(args)) => commands::report::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The chain of causes, each once: a core error's message often quotes its source.
            let mut message = err.to_string();
            for cause in err.chain().skip(1).map(|c| c.to_string()) {
                if !message.contains(&cause) {
                    message = format!("{message}: {cause}");
                }
            }
            eprintln!("error: {message}");
            let rejected = err.downcast_ref::<distill_core::DistillError>().is_some_and(|e| matches!(e, distill_core::DistillError::Incompatible(_)));
            ExitCode::from(if rejected { 2 } else { 1 })
        }
    }
}
