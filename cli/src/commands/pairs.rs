//! `distill pairs`: which teacher/student plugin pairs support which strategies, and why the
//! others do not; with `--teacher` and `--student`, the check of two concrete checkpoints.

use anyhow::Result;
use distill_core::pretrained::Pretrained;
use distill_core::strategy::Strategy;
use distill_core::strategy::compat::{Candidate, PairOptions, check_pair};
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct Args {
    /// Load an architecture plugin from this shared library (repeatable).
    #[arg(long = "plugin", value_name = "FILE")]
    plugin_files: Vec<std::path::PathBuf>,
    /// Only this strategy (finetune, prediction, intermediate, tinybert) [default: all].
    #[arg(long, value_parser = |s: &str| Strategy::parse(s).ok_or_else(|| format!("unknown strategy {s:?}")))]
    strategy: Option<Strategy>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Check this teacher checkpoint (with --student) instead of listing plugin pairs.
    #[arg(long, value_name = "DIR|HUB_ID", requires = "student")]
    teacher: Option<String>,
    /// The student checkpoint to check against --teacher.
    #[arg(long, value_name = "DIR|HUB_ID", requires = "teacher")]
    student: Option<String>,
    /// Compare head-averaged attention maps when head counts differ.
    #[arg(long)]
    head_averaged_attention: bool,
}

fn strategies(only: Option<Strategy>) -> Vec<Strategy> {
    only.map_or_else(|| Strategy::ALL.iter().copied().filter(|s| *s != Strategy::Finetune).collect(), |s| vec![s])
}

pub fn run(args: Args, dirs: &crate::plugins::PluginDirs) -> Result<()> {
    let registry = &dirs.registry(&args.plugin_files);
    let options = PairOptions { head_averaged_attention: args.head_averaged_attention, ..PairOptions::default() };
    let mut rows: Vec<Value> = Vec::new();
    if let (Some(t), Some(s)) = (&args.teacher, &args.student) {
        let device = distill_core::default_device();
        let teacher = Pretrained::load(t, None, registry, &device)?;
        let student = Pretrained::load(s, None, registry, &device)?;
        let (tf, sf) = (teacher.facts(), student.facts());
        for strategy in strategies(args.strategy) {
            let result = check_pair(Candidate { spec: &teacher.spec, checkpoint: Some(&tf) }, Candidate { spec: &student.spec, checkpoint: Some(&sf) }, strategy, &options);
            rows.push(match result {
                Ok(plan) => json!({"teacher": t, "student": s, "strategy": strategy.name(), "ok": true, "plan": plan}),
                Err(r) => json!({"teacher": t, "student": s, "strategy": strategy.name(), "ok": false, "reasons": r.reasons}),
            });
        }
    } else {
        for teacher in registry.iter() {
            for student in registry.iter() {
                let (mut ok, mut rejected, mut aligned) = (vec![], vec![], vec![]);
                for strategy in strategies(args.strategy) {
                    match check_pair(Candidate { spec: &teacher.spec, checkpoint: None }, Candidate { spec: &student.spec, checkpoint: None }, strategy, &options) {
                        Ok(plan) => {
                            ok.push(strategy.name());
                            if let Some(how) = plan.alignment {
                                aligned.push(json!({"strategy": strategy.name(), "alignment": how}));
                            }
                        }
                        Err(r) => rejected.push(json!({"strategy": strategy.name(), "reasons": r.reasons})),
                    }
                }
                rows.push(json!({"teacher": teacher.spec.name, "student": student.spec.name, "strategies": ok, "aligned": aligned, "rejected": rejected}));
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for row in &rows {
        let pair = format!("{} -> {}", row["teacher"].as_str().unwrap_or_default(), row["student"].as_str().unwrap_or_default());
        if let Some(strategies) = row.get("strategies") {
            let names: Vec<&str> = strategies.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let aligned: Vec<&str> = row["aligned"].as_array().into_iter().flatten().filter_map(|a| a["strategy"].as_str()).collect();
            let names: Vec<String> = names.iter().map(|n| if aligned.contains(n) { format!("{n} (by character alignment)") } else { n.to_string() }).collect();
            println!("{pair:<28} {}", if names.is_empty() { "-".to_string() } else { names.join(", ") });
            for r in row["rejected"].as_array().into_iter().flatten() {
                println!("{:<28}   not {}: {}", "", r["strategy"].as_str().unwrap_or_default(), r["reasons"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join("; "));
            }
        } else if row["ok"] == true {
            println!("{pair}: {} ok, plan {}", row["strategy"].as_str().unwrap_or_default(), row["plan"]);
        } else {
            println!("{pair}: {} rejected: {}", row["strategy"].as_str().unwrap_or_default(), row["reasons"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join("; "));
        }
    }
    Ok(())
}
