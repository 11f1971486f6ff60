//! The horizontal bar chart: one row per bar, its label on the left, its value at its end.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::colors::{self, BAR, GRID, INK, MUTED};
use crate::font::{self, FAMILY};
use crate::time_series::width;
use crate::{BAR_CHART_WIDTH, BarChart, ChartError, MAX_BARS, tag, text};

const ROW_HEIGHT: u32 = 28;
/// Title, value axis and margins.
const CHROME_HEIGHT: u32 = 130;
const MIN_HEIGHT: u32 = 260;
/// A label longer than this is cut with "…" (the bar's `data-label` keeps it whole).
const MAX_LABEL_CHARS: usize = 48;

/// Renders `c` as a standalone SVG document, its height growing with the bars. No bars:
/// a chart that says "no data". More than [`MAX_BARS`] bars is an error.
pub fn bar_chart_svg(c: &BarChart) -> Result<String, ChartError> {
    if c.bars.len() > MAX_BARS {
        return Err(ChartError::TooManyBars {
            count: c.bars.len(),
            max: MAX_BARS,
        });
    }
    let rows = c.bars.len();
    let labels: Vec<String> = c
        .bars
        .iter()
        .map(|(l, _)| text::clean(l, MAX_LABEL_CHARS))
        .collect();
    let max = c.bars.iter().map(|(_, v)| *v).max().unwrap_or(0);
    // Room past the longest bar for its value label.
    let top = if max == 0 {
        1
    } else {
        max.saturating_add((max / 6).max(1))
    };
    let title = text::clean(&c.title, 100);
    let height = (CHROME_HEIGHT + ROW_HEIGHT * rows as u32).max(MIN_HEIGHT);

    font::ensure_registered();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (BAR_CHART_WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(ChartError::draw)?;
        let label_font = (FAMILY, 13).into_font().color(&INK);
        let widest = labels
            .iter()
            .map(|l| width(&root, l, &label_font))
            .max()
            .unwrap_or(0);

        let mut chart = ChartBuilder::on(&root)
            .caption(&title, (FAMILY, 20).into_font().color(&INK))
            .margin(16)
            .margin_right(32)
            .x_label_area_size(48)
            .y_label_area_size((widest + 48).clamp(80, 440))
            .build_cartesian_2d(0u64..top, Rows { n: rows.max(1) })
            .map_err(ChartError::draw)?;
        chart
            .configure_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .disable_y_mesh()
            .axis_style(INK)
            .label_style(label_font.clone())
            .axis_desc_style((FAMILY, 14).into_font().color(&INK))
            .x_labels(8)
            .y_labels(rows.max(1))
            .x_label_formatter(&|v| text::count(*v))
            .y_label_formatter(&|r| labels.get(*r as usize).cloned().unwrap_or_default())
            .x_desc(text::clean(&c.value_label, 60))
            .y_desc(text::clean(&c.category_label, 60))
            .draw()
            .map_err(ChartError::draw)?;

        if rows == 0 {
            let area = chart.plotting_area().strip_coord_spec();
            let (w, h) = area.dim_in_pixel();
            area.draw(&Text::new(
                "no data",
                (w as i32 / 2, h as i32 / 2),
                (FAMILY, 18)
                    .into_font()
                    .color(&MUTED)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(ChartError::draw)?;
        }
        let value_font = (FAMILY, 12)
            .into_font()
            .color(&INK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (i, (_, value)) in c.bars.iter().enumerate() {
            let row = i as f64;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0, row + 0.18), (*value, row + 0.82)],
                    BAR.filled(),
                )))
                .map_err(ChartError::draw)?;
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((*value, row + 0.5))
                        + Text::new(text::grouped(*value), (6, 0), value_font.clone()),
                ))
                .map_err(ChartError::draw)?;
        }
        root.present().map_err(ChartError::draw)?;
    }
    let bars: Vec<(String, u64)> = c
        .bars
        .iter()
        .map(|(l, v)| (text::clean(l, 200), *v))
        .collect();
    Ok(tag::bars(&svg, &title, &colors::hex(BAR), &bars))
}

/// The category axis: row `i` spans `i..i + 1`, row 0 at the top, a tick at each row's
/// middle (its label).
struct Rows {
    n: usize,
}

impl Ranged for Rows {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    /// `limit` is (bottom, top) in pixels for a y axis.
    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = value / self.n as f64;
        limit.1 + (f * f64::from(limit.0 - limit.1)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        (0..self.n).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.n as f64
    }
}
