//! Names in the SVG for what plotters drew, so that a test or a script finds each series
//! and bar: plotters' SVG backend writes one element per line and no ids, so the drawn
//! document is rewritten line by line, recognizing a series' elements by its color
//! (unique per series, `colors.rs`) and bars by theirs, in drawing order.
//!
//! - a series' line: `<polyline class="series" id="series-I" data-series="NAME" data-total="N">`
//! - its point markers: `<circle class="series-point" data-series="NAME">`
//! - its legend swatch: `<rect class="legend-swatch" data-series="NAME">`
//! - a bar: `<rect class="bar" data-label="LABEL" data-value="N">`
//!
//! The document also gets a `<title>` (the chart's title) for screen readers.

/// `class` of a series' polyline.
pub const SERIES: &str = "series";
/// `class` of a series' point markers.
pub const SERIES_POINT: &str = "series-point";
/// `class` of a legend entry's swatch.
pub const LEGEND_SWATCH: &str = "legend-swatch";
/// `class` of a bar.
pub const BAR: &str = "bar";

/// One series as drawn: its color (`#RRGGBB`), name and total count.
pub(crate) struct DrawnSeries {
    pub(crate) color: String,
    pub(crate) name: String,
    pub(crate) total: u64,
}

pub(crate) fn time_series(svg: &str, title: &str, series: &[DrawnSeries]) -> String {
    rewrite(svg, title, |line| {
        let (tag, rest) = split_tag(line)?;
        let (attr, class) = match tag {
            "polyline" => ("stroke", SERIES),
            "circle" => ("fill", SERIES_POINT),
            "rect" => ("fill", LEGEND_SWATCH),
            _ => return None,
        };
        let (i, s) = series
            .iter()
            .enumerate()
            .find(|(_, s)| has_attr(rest, attr, &s.color))?;
        let mut extra = format!(" class=\"{class}\"");
        if class == SERIES {
            extra.push_str(&format!(" id=\"series-{i}\""));
        }
        extra.push_str(&format!(" data-series=\"{}\"", escape(&s.name)));
        if class == SERIES {
            extra.push_str(&format!(" data-total=\"{}\"", s.total));
        }
        Some(format!("<{tag}{extra}{rest}"))
    })
}

pub(crate) fn bars(svg: &str, title: &str, color: &str, bars: &[(String, u64)]) -> String {
    let mut next = 0;
    rewrite(svg, title, |line| {
        let (tag, rest) = split_tag(line)?;
        if tag != "rect" || !has_attr(rest, "fill", color) {
            return None;
        }
        let (label, value) = bars.get(next)?;
        next += 1;
        Some(format!(
            "<rect class=\"{BAR}\" data-label=\"{}\" data-value=\"{value}\"{rest}",
            escape(label)
        ))
    })
}

/// Copies `svg`, replacing the lines `f` rewrites and adding `<title>` after `<svg …>`.
fn rewrite(svg: &str, title: &str, mut f: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(svg.len() + svg.len() / 8);
    for line in svg.lines() {
        match f(line) {
            Some(tagged) => out.push_str(&tagged),
            None => out.push_str(line),
        }
        out.push('\n');
        if line.starts_with("<svg ") {
            out.push_str("<title>");
            out.push_str(&escape(title));
            out.push_str("</title>\n");
        }
    }
    out
}

/// `<rect x="1" …/>` → `("rect", " x=\"1\" …/>")`.
fn split_tag(line: &str) -> Option<(&str, &str)> {
    let body = line.strip_prefix('<')?;
    let end = body.find(' ')?;
    Some((&body[..end], &body[end..]))
}

fn has_attr(rest: &str, name: &str, value: &str) -> bool {
    rest.contains(&format!(" {name}=\"{value}\""))
}

pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
