use anyhow::Result;
use distill_core::registry::PluginOrigin;
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    /// Load an architecture plugin from this shared library (repeatable).
    #[arg(long = "plugin", value_name = "FILE")]
    plugin_files: Vec<std::path::PathBuf>,
    /// Print the list as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, dirs: &crate::plugins::PluginDirs) -> Result<()> {
    let registry = &dirs.registry(&args.plugin_files);
    if args.json {
        let list: Vec<_> = registry
            .iter()
            .map(|p| {
                json!({
                    "name": p.spec.name,
                    "family": p.spec.family,
                    "description": p.spec.description,
                    "origin": p.origin,
                    "model_types": p.spec.model_types,
                    "student": p.spec.student,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!("{:<12} {:<9} {:<22} DESCRIPTION", "NAME", "FAMILY", "ORIGIN");
    for p in registry.iter() {
        let origin = match &p.origin {
            PluginOrigin::Builtin => "built-in".to_string(),
            PluginOrigin::Library(path) => path.display().to_string(),
        };
        println!("{:<12} {:<9} {:<22} {}", p.spec.name, p.spec.family, origin, p.spec.description);
    }
    Ok(())
}
