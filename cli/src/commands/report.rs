//! `distill report RUN_DIR [RUN_DIR ...] --output report.html`: one self-contained HTML page of
//! the runs' stages (loss and its terms, dev scores, learning rate, speed, memory), their
//! timeline and, for several runs, a comparison (distill-core's `report`).

use std::path::PathBuf;

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// Run directories (a run's --output); `eval/scores.json` (`distill eval --output-dir
    /// RUN/eval`) and `bench.json` (`distill bench --json`) inside one are shown when present.
    #[arg(required = true, value_name = "RUN_DIR")]
    runs: Vec<PathBuf>,
    /// A pair bench (`distill bench --teacher RUN1/student --student RUN2/student --json`):
    /// each side's latency and size go to the run whose student it measured (repeatable).
    #[arg(long = "bench", value_name = "FILE")]
    benches: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE", default_value = "report.html")]
    output: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let summary = distill_core::report::write(&args.runs, &args.benches, &args.output)?;
    eprintln!("{}: {} runs, {} stages, {} charts", args.output.display(), summary.runs, summary.stages, summary.charts);
    Ok(())
}
