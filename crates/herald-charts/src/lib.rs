//! Report charts as standalone SVG documents, drawn with `plotters`' SVG backend.
//!
//! Two kinds: a time series of counts per bucket (sent, delivered, opens, clicks…) and a
//! horizontal bar chart (exclusion reasons, whose codes are long). Each SVG reads on its
//! own: a title, described axes with units, UTC noted on the time axis, and a legend.
//! Pure: values in, a `String` out; no I/O.
//!
//! The output is tagged for machines too: every series' line is a
//! `<polyline class="series" data-series="NAME" data-total="N">` and every bar a
//! `<rect class="bar" data-label="LABEL" data-value="N">` (see [`tag`]).

mod bars;
mod colors;
mod font;
mod text;
mod time_axis;
mod time_series;

pub mod tag;

use chrono::{DateTime, Utc};

pub use bars::bar_chart_svg;
pub use time_series::time_series_svg;

/// The width of a time series in user units (its height is [`TIME_SERIES_HEIGHT`]).
pub const TIME_SERIES_WIDTH: u32 = 960;
/// The height of a time series.
pub const TIME_SERIES_HEIGHT: u32 = 480;
/// The width of a bar chart; its height grows with the number of bars.
pub const BAR_CHART_WIDTH: u32 = 960;
/// The most series one time series chart draws (each needs its own legend entry and color).
pub const MAX_SERIES: usize = 12;
/// The most buckets one time series spans: `(to - from) / bucket`.
pub const MAX_BUCKETS: usize = 10_000;
/// The most bars one bar chart draws.
pub const MAX_BARS: usize = 100;

/// The width of a time series' buckets. Points are counted into the bucket that holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Minute,
    Hour,
    Day,
}

impl Bucket {
    /// The bucket's length in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Bucket::Minute => 60,
            Bucket::Hour => 3_600,
            Bucket::Day => 86_400,
        }
    }

    /// The start of the bucket that holds `t` (UTC: a day starts at 00:00Z).
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let s = t.timestamp();
        let start = s - s.rem_euclid(self.seconds());
        DateTime::from_timestamp(start, 0).unwrap_or(t)
    }

    /// A bucket that gives a readable chart of the span `from..to`: minutes up to 6 hours,
    /// hours up to 14 days, days beyond.
    pub fn for_span(from: DateTime<Utc>, to: DateTime<Utc>) -> Bucket {
        let span = (to - from).num_seconds().abs();
        if span <= 6 * 3_600 {
            Bucket::Minute
        } else if span <= 14 * 86_400 {
            Bucket::Hour
        } else {
            Bucket::Day
        }
    }
}

/// One line of a time series: `points` are (instant, count) pairs, in any order; several
/// points in one bucket add up, and buckets without a point count 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(DateTime<Utc>, u64)>,
}

/// A time series chart over the buckets from `from`'s to `to`'s, both included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeSeriesChart {
    pub title: String,
    pub bucket: Bucket,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The y axis' description with its unit, e.g. "messages per hour".
    pub y_label: String,
    pub series: Vec<Series>,
}

/// A horizontal bar chart: one bar per `(label, value)`, top to bottom in the given order.
/// Horizontal so that long labels (`throttleWindowExpired`) read without rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarChart {
    pub title: String,
    /// What the bars are, e.g. "exclusion reason" (the vertical axis).
    pub category_label: String,
    /// What their length counts, with its unit, e.g. "messages" (the horizontal axis).
    pub value_label: String,
    pub bars: Vec<(String, u64)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChartError {
    #[error("the chart ends ({to}) before it starts ({from})")]
    EmptyRange {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    #[error("{buckets} buckets are more than one chart shows ({max}); choose a wider bucket")]
    TooManyBuckets { buckets: u64, max: usize },
    #[error("{count} series are more than one chart shows ({max})")]
    TooManySeries { count: usize, max: usize },
    #[error("{count} bars are more than one chart shows ({max})")]
    TooManyBars { count: usize, max: usize },
    /// plotters failed to draw: a bug here, not a problem of the input.
    #[error("drawing the chart failed: {0}")]
    Draw(String),
}

impl ChartError {
    pub(crate) fn draw(e: impl std::fmt::Display) -> ChartError {
        ChartError::Draw(e.to_string())
    }
}
