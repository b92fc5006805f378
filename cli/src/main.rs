//! The `distill` command line: a thin layer over distill-core. Each subcommand lives in its own
//! module under `commands/`; this file parses arguments and maps errors to exit codes.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Built-in architecture plugins register themselves through `inventory` once linked.
use distill_plugin_bert as _;
use distill_plugin_distilbert as _;
use distill_plugin_roberta as _;
use distill_plugin_tinybert as _;

/// Knowledge distillation for transformer encoders.
#[derive(Parser)]
#[command(name = "distill", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the architecture plugins: name, family, description and origin.
    Plugins(commands::plugins::Args),
    /// Run a model over token ids or text and write every hidden state, attention score and
    /// probability (and head outputs) to a safetensors file.
    Forward(commands::forward::Args),
    /// Score SQuAD predictions exactly as the official v1.1 / v2.0 evaluation scripts.
    Score(commands::score::Args),
}

/// Exit codes: 0 success, 1 failure while running, 2 bad usage or input rejected up front.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Plugins(args) => commands::plugins::run(args),
        Command::Forward(args) => commands::forward::run(args),
        Command::Score(args) => commands::score::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
