//! `distill augment`: TinyBERT-style augmentation of a SQuAD file that keeps every answer, or of
//! tagged sentences (NER) that keeps every entity and tag.

use std::path::PathBuf;

use anyhow::{Result, bail};
use distill_core::data::augment::{AugmentConfig, Augmenter, augment_file, augment_tagged_file};
use distill_core::data::glove::WordVectors;
use distill_core::pretrained::Pretrained;
use distill_core::recipe::Task;

#[derive(clap::Args)]
pub struct Args {
    /// SQuAD JSON, or tagged sentences (CoNLL; JSON lines or Parquet with --task
    /// token-classification), to augment.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Where to write the augmented file (atomically): SQuAD JSON, or tagged sentences as CoNLL
    /// (JSON lines for a .jsonl name).
    #[arg(long, value_name = "FILE")]
    output: PathBuf,
    /// What the input holds: qa or token-classification [default: qa for .json, token-classification
    /// for .conll, .iob2, .txt].
    #[arg(long, value_parser = super::run::task)]
    task: Option<Task>,
    /// Masked-LM model (directory or hub id) for words that stay one word piece.
    #[arg(long, value_name = "DIR|HUB_ID")]
    mlm: Option<String>,
    /// Refuse to run when --mlm has no masked-LM head, instead of using word vectors for every word.
    #[arg(long, requires = "mlm")]
    require_mlm: bool,
    /// GloVe vectors (text format) for the other words, and for every word without a masked LM.
    #[arg(long, value_name = "FILE")]
    glove: Option<PathBuf>,
    /// Copies of each paragraph, the original included.
    #[arg(long, default_value_t = 20)]
    multiplication_factor: usize,
    /// Probability that an eligible word is replaced.
    #[arg(long, default_value_t = 0.4)]
    replace_probability: f64,
    /// Candidates per word.
    #[arg(long, default_value_t = 20)]
    word_possibilities: usize,
    /// Seed of the replacements.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Also replace words of the questions (with word vectors).
    #[arg(long)]
    augment_questions: bool,
    /// Masked sentences per masked-LM forward pass.
    #[arg(long, default_value_t = 32)]
    mlm_batch_size: usize,
}

pub fn run(args: Args, dirs: &crate::plugins::PluginDirs) -> Result<()> {
    if !(0.0..=1.0).contains(&args.replace_probability) {
        bail!("--replace-probability must lie in [0, 1], not {}", args.replace_probability);
    }
    let extension = args.input.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let task = match (args.task, extension.as_str()) {
        (Some(task @ (Task::Qa | Task::TokenClassification)), _) => task,
        (Some(other), _) => bail!("--task {other:?}: augment reads qa or token-classification data"),
        (None, "json") => Task::Qa,
        (None, "conll" | "iob2" | "txt") => Task::TokenClassification,
        (None, _) => bail!("{}: give --task qa or --task token-classification for this file", args.input.display()),
    };
    let registry = dirs.registry(&[]);
    let device = distill_core::default_device();
    let mlm = match &args.mlm {
        Some(m) => {
            let p = Pretrained::load(m, None, &registry, &device)?;
            if p.model.mlm.is_none() {
                if args.require_mlm {
                    bail!("{m}: the model has no masked-LM head (cls.predictions / lm_head), and --require-mlm was given");
                }
                eprintln!("{m}: the model has no masked-LM head; using word-vector neighbours for every word");
                None
            } else if p.tokenizer.is_none() {
                bail!("{m}: the masked-LM model has no tokenizer");
            } else {
                Some(p)
            }
        }
        None => None,
    };
    let vectors = args.glove.as_ref().map(|g| WordVectors::read(g)).transpose()?;
    if mlm.is_none() && vectors.is_none() {
        bail!("no source of candidates: give --glove FILE (and/or --mlm with a masked-LM head)");
    }
    let augmenter = Augmenter::new(
        mlm.as_ref().map(|p| (&p.model, p.tokenizer.as_ref().expect("checked above"))),
        vectors.as_ref(),
        AugmentConfig {
            multiplication_factor: args.multiplication_factor,
            replace_probability: args.replace_probability,
            word_possibilities: args.word_possibilities,
            seed: args.seed,
            augment_questions: args.augment_questions,
            mlm_batch_size: args.mlm_batch_size,
        },
    );
    let bar = distill_core::train::progress::bar(0, "augment");
    let stats = match task {
        Task::TokenClassification => augment_tagged_file(&args.input, &args.output, &augmenter, &bar)?,
        _ => augment_file(&args.input, &args.output, &augmenter, &bar)?,
    };
    bar.finish_and_clear();
    let mut report = serde_json::to_value(&stats)?;
    let (texts, examples) = if task == Task::Qa { (stats.paragraphs, stats.questions_out) } else { (stats.sentences, stats.sentences_out) };
    report["texts_per_second"] = (texts as f64 / stats.seconds.max(1e-9)).into();
    report["examples_per_second"] = (examples as f64 / stats.seconds.max(1e-9)).into();
    report["replaced_fraction"] = (stats.replaced_words as f64 / stats.eligible_words.max(1) as f64).into();
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
