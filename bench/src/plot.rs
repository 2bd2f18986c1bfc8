//! The plots, drawn as SVG by the bench itself (plotters, SVG backend only: text is left
//! as SVG text for the viewer to render, so no font files are needed):
//!
//! - `throughput-vs-batch.svg`: durable signed appends and raw sled insert + fsync
//!   against batch size, with the Ed25519 batch-verification ceiling and the targets;
//! - `latency-vs-load.svg`: submit-to-committed p50 and p99 of two nodes against offered
//!   load, with the 50 ms p99 target.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::report::Figures;
use super::{BenchError, BenchResult};

const SIZE: (u32, u32) = (860, 520);

/// Draws one plot on the whole area.
type Draw = fn(&DrawingArea<SVGBackend<'_>, Shift>, &Figures) -> Result<(), String>;
const BATCHES: [u32; 4] = [1, 10, 100, 1000];

pub fn draw(dir: &Path, figures: &Figures) -> BenchResult<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(BenchError::io(format!("create {}", dir.display())))?;
    let mut written = Vec::new();
    let plots: [(&str, Draw); 2] = [
        ("throughput-vs-batch.svg", throughput),
        ("latency-vs-load.svg", latency),
    ];
    for (name, draw) in plots {
        let path = dir.join(name);
        {
            let root = SVGBackend::new(&path, SIZE).into_drawing_area();
            let drawn = root
                .fill(&WHITE)
                .map_err(|e| e.to_string())
                .and_then(|()| draw(&root, figures))
                .and_then(|()| root.present().map_err(|e| e.to_string()));
            drawn.map_err(|reason| BenchError::Plot {
                path: path.clone(),
                reason,
            })?;
        }
        written.push(path);
    }
    Ok(written)
}

/// (x, y) points of the series whose key is `key(x)`, for the x that were measured.
fn points(figures: &Figures, xs: &[u32], key: impl Fn(u32) -> String) -> Vec<(f64, f64)> {
    xs.iter()
        .filter_map(|&x| Some((f64::from(x), figures.get(&key(x))?)))
        .collect()
}

fn subtitle(figures: &Figures) -> String {
    format!(
        "dyad {} · scale {} · {} cores · load {}–{} · {}",
        figures.text("dyad_version").unwrap_or("?"),
        figures.text("scale").unwrap_or("?"),
        figures.get("cores").unwrap_or(0.0),
        figures.get("load_average_start").unwrap_or(0.0),
        figures.get("load_average_end").unwrap_or(0.0),
        figures.text("cpu_model").unwrap_or("?"),
    )
}

fn throughput(root: &DrawingArea<SVGBackend, Shift>, f: &Figures) -> Result<(), String> {
    let dyad = points(f, &BATCHES, |b| format!("append_signed_batch{b}_per_s"));
    let sled = points(f, &BATCHES, |b| {
        format!("ceiling_sled_batch{b}_fsync_per_s")
    });
    let sig = f.get("ceiling_sig_verify_batch_per_s");
    let top = dyad
        .iter()
        .chain(&sled)
        .map(|p| p.1)
        .chain(sig)
        .fold(60_000.0, f64::max)
        * 2.0;
    let bottom = dyad.iter().chain(&sled).map(|p| p.1).fold(1000.0, f64::min) / 2.0;
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Durable appends vs batch size (one fsync per batch)",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d((0.7f64..1500f64).log_scale(), (bottom..top).log_scale())
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("batch size (entries)")
        .y_desc("entries / s")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(|x| e(&x))?;
    let blue = RGBColor(31, 119, 180);
    let grey = RGBColor(127, 127, 127);
    chart
        .draw_series(LineSeries::new(dyad.clone(), blue.stroke_width(3)))
        .map_err(|x| e(&x))?
        .label("dyad: signed entries, Channel::append_signed")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(3)));
    chart
        .draw_series(dyad.iter().map(|&p| Circle::new(p, 4, blue.filled())))
        .map_err(|x| e(&x))?;
    chart
        .draw_series(LineSeries::new(sled.clone(), grey.stroke_width(2)))
        .map_err(|x| e(&x))?
        .label("ceiling: raw sled insert + fsync, same-size values")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(2)));
    chart
        .draw_series(sled.iter().map(|&p| Circle::new(p, 3, grey.filled())))
        .map_err(|x| e(&x))?;
    if let Some(sig) = sig {
        chart
            .draw_series(DashedLineSeries::new(
                [(0.7, sig), (1500.0, sig)],
                6,
                4,
                RED.stroke_width(1),
            ))
            .map_err(|x| e(&x))?
            .label("ceiling: Ed25519 batch verification, one core")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    }
    let green = RGBColor(44, 160, 44);
    chart
        .draw_series(
            [(1.0, 2000.0), (1000.0, 50_000.0)]
                .into_iter()
                .map(|p| TriangleMarker::new(p, 7, green.filled())),
        )
        .map_err(|x| e(&x))?
        .label("targets: 2,000/s at batch 1, 50,000/s at batch 1000")
        .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 6, green.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(&x))?;
    root.draw_text(
        &subtitle(f),
        &("sans-serif", 12).into_font().color(&grey),
        (16, SIZE.1 as i32 - 16),
    )
    .map_err(|x| e(&x))?;
    Ok(())
}

fn latency(root: &DrawingArea<SVGBackend, Shift>, f: &Figures) -> Result<(), String> {
    let mut loads: Vec<u32> = f
        .keys()
        .filter_map(|k| {
            k.strip_prefix("load_")?
                .strip_suffix("_p99_ms")?
                .parse()
                .ok()
        })
        .collect();
    loads.sort_unstable();
    let p50 = points(f, &loads, |r| format!("load_{r}_p50_ms"));
    let p99 = points(f, &loads, |r| format!("load_{r}_p99_ms"));
    let right = loads.last().map_or(2000.0, |&r| f64::from(r)) * 1.1;
    // Logarithmic: an overloaded stage's seconds must not flatten the milliseconds.
    let top = p99.iter().map(|p| p.1).fold(60.0, f64::max) * 2.0;
    let bottom = p50.iter().map(|p| p.1).fold(50.0, f64::min) / 2.0;
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Two nodes on loopback: submit-to-committed latency vs offered load",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..right, (bottom..top).log_scale())
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("offered load (entries / s)")
        .y_desc("latency until co-signed (ms)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(|x| e(&x))?;
    let blue = RGBColor(31, 119, 180);
    let orange = RGBColor(255, 127, 14);
    for (series, colour, label) in [(&p50, blue, "p50"), (&p99, orange, "p99")] {
        chart
            .draw_series(LineSeries::new(series.clone(), colour.stroke_width(3)))
            .map_err(|x| e(&x))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
            });
        chart
            .draw_series(series.iter().map(|&p| Circle::new(p, 4, colour.filled())))
            .map_err(|x| e(&x))?;
    }
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, 50.0), (right, 50.0)],
            6,
            4,
            RED.stroke_width(1),
        ))
        .map_err(|x| e(&x))?
        .label("target: p99 <= 50 ms at 1,000/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(&x))?;
    let grey = RGBColor(127, 127, 127);
    root.draw_text(
        &subtitle(f),
        &("sans-serif", 12).into_font().color(&grey),
        (16, SIZE.1 as i32 - 16),
    )
    .map_err(|x| e(&x))?;
    Ok(())
}
