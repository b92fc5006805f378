//! The report page: one HTML file with its styles and charts inline, so it opens anywhere
//! without a network. Every chart is a `<figure>` whose class says what it shows.

use std::fmt::Write;

use serde_json::Value;

use super::{RunRecord, charts};
use crate::error::Result;

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1120px;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}\
th{background:#f3f3f3}figure{margin:1em 0}svg{max-width:100%;height:auto}.note{color:#666}";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn figure(class: &str, svg: &str) -> String {
    format!("<figure class=\"{class}\">{svg}</figure>\n")
}

fn or_dash<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "–".to_string(), |v| v.to_string())
}

/// A run-config.json value as text, for the settings table.
fn setting(config: &Value, path: &str) -> String {
    let value = path.split('.').try_fold(config, |v, key| v.get(key));
    match value {
        None | Some(Value::Null) => "–".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

const SETTINGS: [(&str, &str); 10] = [
    ("strategy", "strategy"),
    ("teacher", "teacher"),
    ("student", "student"),
    ("student layers", "student_layers"),
    ("training data", "train"),
    ("dev data", "dev"),
    ("epochs", "train_config.epochs"),
    ("batch size", "train_config.batch_size"),
    ("learning rate", "train_config.learning_rate"),
    ("temperature / weight", "prediction"),
];

fn settings_table(config: &Value) -> String {
    let mut rows = String::new();
    for (label, path) in SETTINGS {
        let value = if path == "prediction" { format!("{} / {}", setting(config, "prediction.temperature"), setting(config, "prediction.weight")) } else { setting(config, path) };
        let _ = write!(rows, "<tr><th>{}</th><td>{}</td></tr>", escape(label), escape(&value));
    }
    format!("<table class=\"settings\">{rows}</table>\n")
}

fn comparison_table(runs: &[RunRecord]) -> String {
    let mut rows = String::from("<tr><th>run</th><th>score</th><th>what the score is</th><th>parameters</th><th>latency, batch 1</th><th>training seconds</th></tr>");
    for run in runs {
        let (what, score) = run.score().map_or(("–", None), |(w, s)| (w, Some(format!("{s:.2}"))));
        let latency = run.latency_ms().map(|(seq, ms)| format!("{ms:.1} ms at {seq} tokens"));
        let seconds: f64 = run.stages.iter().filter_map(|s| s.seconds).sum();
        let parameters = run.parameters.map(|p| format!("{:.2} M", p as f64 / 1e6));
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td></tr>",
            escape(&run.name),
            or_dash(score),
            what,
            or_dash(parameters),
            escape(&or_dash(latency)),
            seconds
        );
    }
    format!("<table class=\"comparison\">{rows}</table>\n")
}

/// The whole page and the number of charts on it.
pub fn page(runs: &[RunRecord]) -> Result<(String, usize)> {
    let mut body = String::new();
    let mut charts_drawn = 0;
    let _ = writeln!(body, "<h1>distill report</h1>\n<p class=\"note\">{} run{}: {}</p>", runs.len(), if runs.len() == 1 { "" } else { "s" }, escape(&runs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")));
    if runs.len() > 1 {
        body.push_str("<h2>Runs compared</h2>\n");
        body.push_str(&comparison_table(runs));
        body.push_str(&figure("comparison-chart", &charts::comparison(runs)?));
        charts_drawn += 1;
    }
    body.push_str("<h2>Stage timeline</h2>\n");
    body.push_str(&figure("timeline-chart", &charts::timeline(runs)?));
    charts_drawn += 1;
    for run in runs {
        let _ = writeln!(body, "<section class=\"run\">\n<h2>{}</h2>\n<p class=\"note\">{}</p>", escape(&run.name), escape(&run.dir.display().to_string()));
        match &run.config {
            Some(config) => body.push_str(&settings_table(config)),
            None => body.push_str("<p class=\"note\">no run-config.json</p>\n"),
        }
        for stage in &run.stages {
            let summary = format!(
                "{} updates, {} s, best dev metric {}",
                or_dash(stage.steps),
                or_dash(stage.seconds.map(|s| format!("{s:.0}"))),
                or_dash(stage.best_metric.map(|m| format!("{m:.3}")))
            );
            let _ = writeln!(body, "<h3>{}</h3>\n<p class=\"note\">{}</p>", escape(&stage.name), escape(&summary));
            body.push_str(&figure("stage-chart", &charts::stage(stage)?));
            charts_drawn += 1;
        }
        body.push_str("</section>\n");
    }
    let page = format!("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>distill report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n");
    Ok((page, charts_drawn))
}
