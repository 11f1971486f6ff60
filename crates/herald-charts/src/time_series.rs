//! The time series chart: one line per series over zero-filled buckets, a legend column
//! on the right with each series' total.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::colors::{self, GRID, INK, MUTED};
use crate::font::{self, FAMILY};
use crate::tag::{self, DrawnSeries};
use crate::text;
use crate::time_axis::TimeAxis;
use crate::{
    ChartError, MAX_BUCKETS, MAX_SERIES, TIME_SERIES_HEIGHT, TIME_SERIES_WIDTH, TimeSeriesChart,
};

/// Markers on each bucket only while they stay apart; a single point always gets one.
const MAX_MARKED_BUCKETS: usize = 120;

/// Renders `c` as a standalone SVG document. A chart without any point in its range says
/// "no data"; it is an error only if `to` is before `from` or the chart is too large to
/// read (more than [`MAX_SERIES`] series or [`MAX_BUCKETS`] buckets).
pub fn time_series_svg(c: &TimeSeriesChart) -> Result<String, ChartError> {
    if c.to < c.from {
        return Err(ChartError::EmptyRange {
            from: c.from,
            to: c.to,
        });
    }
    if c.series.len() > MAX_SERIES {
        return Err(ChartError::TooManySeries {
            count: c.series.len(),
            max: MAX_SERIES,
        });
    }
    let b = c.bucket.seconds();
    let start = c.bucket.floor(c.from).timestamp();
    let last = c.bucket.floor(c.to).timestamp();
    let buckets = ((last - start) / b) as u64 + 1;
    if buckets > MAX_BUCKETS as u64 {
        return Err(ChartError::TooManyBuckets {
            buckets,
            max: MAX_BUCKETS,
        });
    }
    let n = buckets as usize;

    // Counts per bucket, and whether anything at all fell in the range.
    let mut any_point = false;
    let counts: Vec<Vec<u64>> = c
        .series
        .iter()
        .map(|s| {
            let mut v = vec![0u64; n];
            for (t, count) in &s.points {
                let i = (t.timestamp() - start).div_euclid(b);
                if (0..n as i64).contains(&i) {
                    v[i as usize] = v[i as usize].saturating_add(*count);
                    any_point = true;
                }
            }
            v
        })
        .collect();
    let max = counts.iter().flatten().copied().max().unwrap_or(0);
    let top = if max == 0 {
        1
    } else {
        max.saturating_add((max / 10).max(1))
    };
    let drawn: Vec<DrawnSeries> = c
        .series
        .iter()
        .zip(&counts)
        .enumerate()
        .map(|(i, (s, v))| DrawnSeries {
            color: colors::hex(colors::series(i)),
            name: text::clean(&s.name, 40),
            total: v.iter().fold(0u64, |a, x| a.saturating_add(*x)),
        })
        .collect();
    let title = text::clean(&c.title, 100);

    font::ensure_registered();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (TIME_SERIES_WIDTH, TIME_SERIES_HEIGHT))
            .into_drawing_area();
        root.fill(&WHITE).map_err(ChartError::draw)?;
        let label_font = (FAMILY, 13).into_font().color(&INK);
        let legend_font = (FAMILY, 14).into_font().color(&INK);
        let total_font = (FAMILY, 12).into_font().color(&MUTED);

        let legend_width = if drawn.is_empty() {
            0
        } else {
            let widest = drawn
                .iter()
                .map(|s| width(&root, &s.name, &legend_font))
                .max()
                .unwrap_or(0);
            (widest + 56).clamp(140, 300)
        };
        let (plot, legend) = root.split_horizontally(TIME_SERIES_WIDTH - legend_width);

        let y_tick_width = width(&root, &text::count(top), &label_font);
        let axis = TimeAxis {
            start,
            end: start + n as i64 * b,
            bucket: c.bucket,
        };
        let labels = TimeAxis { ..axis };
        let sample = labels.label(start, 2);
        let plot_width = TIME_SERIES_WIDTH - legend_width - y_tick_width - 80;
        let max_x_labels = (plot_width / (width(&root, &sample, &label_font) + 28)).max(2) as usize;

        let mut chart = ChartBuilder::on(&plot)
            .caption(&title, (FAMILY, 20).into_font().color(&INK))
            .margin(16)
            // Without a legend column the last time label needs room of its own.
            .margin_right(if legend_width == 0 { 48 } else { 16 })
            .x_label_area_size(52)
            .y_label_area_size(y_tick_width + 40)
            .build_cartesian_2d(axis, 0u64..top)
            .map_err(ChartError::draw)?;
        chart
            .configure_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(INK)
            .label_style(label_font.clone())
            .axis_desc_style((FAMILY, 14).into_font().color(&INK))
            .x_labels(max_x_labels)
            .y_labels(8)
            .x_label_formatter(&|t| labels.label(*t, max_x_labels))
            .y_label_formatter(&|v| text::count(*v))
            .x_desc(labels.description())
            .y_desc(text::clean(&c.y_label, 60))
            .draw()
            .map_err(ChartError::draw)?;

        if any_point {
            for (i, v) in counts.iter().enumerate() {
                let color = colors::series(i);
                let at = |k: usize| start + k as i64 * b + b / 2;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        v.iter()
                            .enumerate()
                            .map(|(k, y)| (at(k), *y))
                            .collect::<Vec<_>>(),
                        color.stroke_width(2),
                    )))
                    .map_err(ChartError::draw)?;
                if n <= MAX_MARKED_BUCKETS {
                    chart
                        .draw_series(
                            v.iter()
                                .enumerate()
                                .map(|(k, y)| Circle::new((at(k), *y), 3, color.filled())),
                        )
                        .map_err(ChartError::draw)?;
                }
            }
        } else {
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

        let left = Pos::new(HPos::Left, VPos::Center);
        for (i, s) in drawn.iter().enumerate() {
            let y = 64 + 40 * i as i32;
            legend
                .draw(&Rectangle::new(
                    [(8, y - 6), (24, y + 6)],
                    colors::series(i).filled(),
                ))
                .map_err(ChartError::draw)?;
            legend
                .draw(&Text::new(s.name.as_str(), (32, y), legend_font.pos(left)))
                .map_err(ChartError::draw)?;
            legend
                .draw(&Text::new(
                    format!("{} in total", text::grouped(s.total)),
                    (32, y + 16),
                    total_font.pos(left),
                ))
                .map_err(ChartError::draw)?;
        }
        root.present().map_err(ChartError::draw)?;
    }
    Ok(tag::time_series(&svg, &title, &drawn))
}

/// The width `s` takes in `font`, as plotters lays it out.
pub(crate) fn width<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    s: &str,
    font: &TextStyle,
) -> u32 {
    area.estimate_text_size(s, font)
        .map(|(w, _)| w)
        .unwrap_or(0)
}
