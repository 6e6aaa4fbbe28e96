//! The SVG chart: requests per second, one group of bars per route, one bar
//! per variant.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::Result;
use crate::report::Row;

/// The chart's height, and its width when there are few bars.
const SIZE: (u32, u32) = (1100, 620);
/// The width a bar needs so that its value label does not run into its
/// neighbour's: the chart grows wider with more bars.
const BAR_SPACE: u32 = 38;
/// The chart's width outside the plot: margins and the y axis's labels.
const FRAME: u32 = 120;
/// The plot's height: the chart's, less the title, margins and x labels.
const PLOT_HEIGHT: f64 = 520.0;
/// The height of a line of the legend, which has a line per variant and
/// sits above the bars, with their labels.
const LEGEND_LINE: f64 = 15.0;
/// The share of a route's slot that its bars fill.
const GROUP_WIDTH: f64 = 0.8;

/// Draws the rows' median requests per second into `path`.
pub fn draw(rows: &[Row], title: &str, path: &Path) -> Result<()> {
    let routes = distinct(rows.iter().map(|row| row.route));
    let variants = distinct(rows.iter().map(|row| row.variant));
    let tallest = rows
        .iter()
        .map(|row| row.requests_per_second)
        .fold(1.0, f64::max);
    let legend = LEGEND_LINE * (variants.len() + 3) as f64;
    let top = tallest * PLOT_HEIGHT / (PLOT_HEIGHT - legend).max(PLOT_HEIGHT / 3.0);

    let bars = (routes.len() * variants.len()) as u32;
    let size = (SIZE.0.max(FRAME + BAR_SPACE * bars), SIZE.1);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..routes.len() as f64, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .y_desc("requests per second (median)")
        .y_label_formatter(&|value| format!("{:.0}k", value / 1000.0))
        // Route `i` spans x = i..i+1. Asking for 2n+1 labels on 0..n gives
        // one every 0.5: the centres get the route, the borders nothing.
        .x_labels(2 * routes.len() + 1)
        .x_label_formatter(&|x| match routes.get(x.floor() as usize) {
            Some(route) if x.fract() == 0.5 => format!("GET {route}"),
            _ => String::new(),
        })
        .draw()?;

    let width = GROUP_WIDTH / variants.len() as f64;
    let value_style = ("sans-serif", 11)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    for (index, variant) in variants.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let bars: Vec<(f64, f64)> = rows
            .iter()
            .filter(|row| row.variant == *variant)
            .filter_map(|row| {
                let slot = routes.iter().position(|route| *route == row.route)?;
                let left = slot as f64 + (1.0 - GROUP_WIDTH) / 2.0 + width * index as f64;
                Some((left, row.requests_per_second))
            })
            .collect();
        chart
            .draw_series(bars.iter().map(|&(left, rps)| {
                Rectangle::new([(left, 0.0), (left + width * 0.9, rps)], color.filled())
            }))?
            .label(*variant)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        chart.draw_series(bars.iter().map(|&(left, rps)| {
            let label = format!("{:.1}k", rps / 1000.0);
            Text::new(label, (left + width * 0.45, rps), value_style.clone())
        }))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The values in first-seen order, once each.
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}
