//! The report's charts, drawn by `plotters` into SVG strings: a panel grid per stage, the stage
//! timeline, and the comparison of runs.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{RunRecord, Series, StageRecord};
use crate::error::{DistillError, Result};

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn drawing<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> DistillError {
    DistillError::Invalid(format!("drawing a report chart: {e}"))
}

/// A range around `values` with a margin, never empty.
fn span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return None;
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { lo.abs().max(1e-9) * 0.1 };
    Some((lo - pad, hi + pad))
}

/// One panel: every series as a line (with points where there are few), a legend when
/// several, or a note when there is nothing to draw.
fn panel(area: &Area<'_>, title: &str, x_label: &str, lines: &[&Series]) -> Result<()> {
    let points = || lines.iter().flat_map(|s| s.points.iter());
    let (Some(xs), Some(ys)) = (span(points().map(|p| p.0)), span(points().map(|p| p.1))) else {
        area.titled(title, ("sans-serif", 16)).map_err(drawing)?.draw(&Text::new("nothing logged", (20, 20), ("sans-serif", 14))).map_err(drawing)?;
        return Ok(());
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(32)
        .y_label_area_size(64)
        .build_cartesian_2d(xs.0..xs.1, ys.0..ys.1)
        .map_err(drawing)?;
    chart.configure_mesh().x_desc(x_label).x_labels(6).y_labels(6).light_line_style(RGBColor(235, 235, 235)).draw().map_err(drawing)?;
    for (i, line) in lines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let drawn = chart.draw_series(LineSeries::new(line.points.iter().copied(), color.stroke_width(2))).map_err(drawing)?;
        drawn.label(line.name.as_str()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        if line.points.len() <= 30 {
            chart.draw_series(line.points.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(drawing)?;
        }
    }
    if lines.len() > 1 {
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK.mix(0.3)).position(SeriesLabelPosition::UpperRight).draw().map_err(drawing)?;
    }
    Ok(())
}

/// A stage's chart: loss and its terms, dev scores, learning rate, examples/s, resident memory
/// and gradient norm against the update, one panel each.
pub fn stage(stage: &StageRecord) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1080, 780)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let cells = root.split_evenly((3, 2));
        let losses: Vec<&Series> = stage.losses.iter().collect();
        let dev: Vec<&Series> = stage.dev.iter().collect();
        panel(&cells[0], "loss and its terms", "update", &losses)?;
        panel(&cells[1], "dev scores", "update", &dev)?;
        panel(&cells[2], "learning rate", "update", &[&stage.learning_rate])?;
        panel(&cells[3], "examples per second", "update", &[&stage.examples_per_second])?;
        panel(&cells[4], "resident memory, MB", "update", &[&stage.resident_mb])?;
        panel(&cells[5], "gradient norm (before clipping)", "update", &[&stage.grad_norm])?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// The stage timeline: one row per run, each stage a bar as long as its seconds.
pub fn timeline(runs: &[RunRecord]) -> Result<String> {
    let total = runs.iter().map(|r| r.stages.iter().filter_map(|s| s.seconds).sum::<f64>()).fold(0.0, f64::max).max(1.0);
    let height = 90 + 46 * runs.len() as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1080, height)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let rows = runs.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption("stage timeline (seconds of training)", ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(160)
            .build_cartesian_2d(0.0..total * 1.02, 0.0..rows)
            .map_err(drawing)?;
        let names: Vec<String> = runs.iter().map(|r| r.name.clone()).collect();
        chart
            .configure_mesh()
            .x_desc("seconds")
            .y_labels(runs.len().max(1) * 2 + 1)
            .y_label_formatter(&|y| {
                let row = rows - y - 0.5;
                if (row - row.round()).abs() < 1e-6 && row >= 0.0 { names.get(row.round() as usize).cloned().unwrap_or_default() } else { String::new() }
            })
            .disable_y_mesh()
            .draw()
            .map_err(drawing)?;
        for (row, run) in runs.iter().enumerate() {
            let (bottom, top) = (rows - row as f64 - 0.85, rows - row as f64 - 0.15);
            let mut start = 0.0;
            for (i, stage) in run.stages.iter().enumerate() {
                let Some(seconds) = stage.seconds else { continue };
                let color = Palette99::pick(i).to_rgba();
                chart.draw_series(std::iter::once(Rectangle::new([(start, bottom), (start + seconds, top)], color.filled()))).map_err(drawing)?;
                chart
                    .draw_series(std::iter::once(Text::new(format!("{} ({:.0} s)", stage.name, seconds), (start, top), ("sans-serif", 12))))
                    .map_err(drawing)?;
                start += seconds;
            }
        }
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// Runs compared: score against latency where every run has a bench, else against parameters.
pub fn comparison(runs: &[RunRecord]) -> Result<String> {
    let by_latency = runs.iter().all(|r| r.latency_ms().is_some());
    let x_label = if by_latency { "latency, batch 1, ms (distill bench)" } else { "parameters, millions" };
    let points: Vec<(String, f64, f64)> = runs
        .iter()
        .filter_map(|r| {
            let x = if by_latency { r.latency_ms()?.1 } else { r.parameters? as f64 / 1e6 };
            Some((r.name.clone(), x, r.score()?.1))
        })
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1080, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let (Some(xs), Some(ys)) = (span(points.iter().map(|p| p.1)), span(points.iter().map(|p| p.2))) else {
            root.draw(&Text::new("no run has both a score and a size or latency", (20, 20), ("sans-serif", 14))).map_err(drawing)?;
            root.present().map_err(drawing)?;
            drop(root);
            return Ok(svg);
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("score against {x_label}"), ("sans-serif", 16))
            .margin(16)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(xs.0..xs.1 + (xs.1 - xs.0) * 0.2, ys.0..ys.1)
            .map_err(drawing)?;
        chart.configure_mesh().x_desc(x_label).y_desc("score").light_line_style(RGBColor(235, 235, 235)).draw().map_err(drawing)?;
        for (i, (name, x, y)) in points.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart.draw_series(std::iter::once(Circle::new((*x, *y), 6, color.filled()))).map_err(drawing)?;
            chart.draw_series(std::iter::once(Text::new(name.clone(), (*x, *y), ("sans-serif", 13)))).map_err(drawing)?;
        }
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}
