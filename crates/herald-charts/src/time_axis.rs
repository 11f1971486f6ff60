//! The time axis: Unix seconds, with ticks on bucket-sized calendar steps (never a tick
//! that its label would repeat, as a 50-second step under an HH:MM label would) and
//! labels suited to the bucket.

use std::ops::Range;

use chrono::DateTime;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

use crate::Bucket;

const MINUTE: i64 = 60;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// 1970-01-01 was a Thursday: week steps start on Mondays.
const MONDAY_OFFSET: i64 = 4 * DAY;

/// Tick steps a bucket may use, shortest first.
fn steps(bucket: Bucket) -> &'static [i64] {
    match bucket {
        Bucket::Minute => &[
            MINUTE,
            2 * MINUTE,
            5 * MINUTE,
            10 * MINUTE,
            15 * MINUTE,
            30 * MINUTE,
            HOUR,
            2 * HOUR,
            3 * HOUR,
            6 * HOUR,
            12 * HOUR,
            DAY,
            7 * DAY,
        ],
        Bucket::Hour => &[
            HOUR,
            2 * HOUR,
            3 * HOUR,
            6 * HOUR,
            12 * HOUR,
            DAY,
            2 * DAY,
            7 * DAY,
        ],
        Bucket::Day => &[DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 91 * DAY],
    }
}

/// An x axis from `start` to `end` (Unix seconds, `start < end`).
pub(crate) struct TimeAxis {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) bucket: Bucket,
}

impl TimeAxis {
    /// The step whose ticks fit `max` labels; past the table's longest, whole multiples of it.
    fn step(&self, max: usize) -> i64 {
        let span = self.end - self.start;
        let max = max.max(1) as i64;
        let table = steps(self.bucket);
        for &step in table {
            if span / step < max {
                return step;
            }
        }
        let longest = table[table.len() - 1];
        let multiple = (span / longest / max).saturating_add(1);
        longest.saturating_mul(multiple)
    }

    /// Tick positions: multiples of the step (aligned to Mondays from a week on).
    pub(crate) fn ticks(&self, max: usize) -> Vec<i64> {
        let step = self.step(max);
        let offset = if step >= 7 * DAY { MONDAY_OFFSET } else { 0 };
        let rel = self.start - offset;
        let first = rel + (step - rel.rem_euclid(step)) % step + offset;
        let mut ticks = Vec::new();
        let mut t = first;
        while t <= self.end && ticks.len() <= max {
            ticks.push(t);
            match t.checked_add(step) {
                Some(next) => t = next,
                None => break,
            }
        }
        if ticks.is_empty() {
            ticks.push(self.start);
        }
        ticks
    }

    /// A tick's label: the finest unit the ticks change in, dates once they span days.
    pub(crate) fn label(&self, t: i64, max: usize) -> String {
        let Some(at) = DateTime::from_timestamp(t, 0) else {
            return String::new();
        };
        let step = self.step(max);
        let many_days = self.end - self.start > DAY;
        let format = match self.bucket {
            Bucket::Minute if step < DAY && !many_days => "%H:%M",
            Bucket::Minute | Bucket::Hour if step < DAY => "%b %-d %H:%M",
            _ => "%Y-%m-%d",
        };
        at.format(format).to_string()
    }

    /// The axis description: what a point counts and that times are UTC.
    pub(crate) fn description(&self) -> &'static str {
        match self.bucket {
            Bucket::Minute => "time (UTC), per minute",
            Bucket::Hour => "time (UTC), per hour",
            Bucket::Day => "date (UTC), per day",
        }
    }
}

impl Ranged for TimeAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = i64;

    fn map(&self, value: &i64, limit: (i32, i32)) -> i32 {
        let span = (self.end - self.start).max(1) as f64;
        let f = (*value - self.start) as f64 / span;
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<i64> {
        self.ticks(hint.max_num_points())
    }

    fn range(&self) -> Range<i64> {
        self.start..self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    #[test]
    fn minute_ticks_are_whole_minutes_labelled_hh_mm() {
        let axis = TimeAxis {
            start: at("2026-03-05T10:00:30Z"),
            end: at("2026-03-05T11:00:00Z"),
            bucket: Bucket::Minute,
        };
        let ticks = axis.ticks(8);
        assert!(ticks.len() <= 8 && ticks.len() >= 4, "{ticks:?}");
        assert!(ticks.iter().all(|t| t % 600 == 0));
        assert_eq!(axis.label(ticks[0], 8), "10:10");
    }

    #[test]
    fn hour_ticks_carry_the_date() {
        let axis = TimeAxis {
            start: at("2026-03-05T00:00:00Z"),
            end: at("2026-03-07T00:00:00Z"),
            bucket: Bucket::Hour,
        };
        let ticks = axis.ticks(10);
        assert_eq!(axis.label(ticks[1], 10), "Mar 5 06:00");
    }

    #[test]
    fn day_ticks_are_dates_and_weeks_start_on_monday() {
        let axis = TimeAxis {
            start: at("2026-01-01T00:00:00Z"),
            end: at("2026-06-01T00:00:00Z"),
            bucket: Bucket::Day,
        };
        let ticks = axis.ticks(10);
        assert!(ticks.len() <= 10);
        let first = DateTime::from_timestamp(ticks[0], 0).unwrap();
        assert_eq!(first.format("%a").to_string(), "Mon");
        assert_eq!(
            axis.label(ticks[0], 10),
            first.format("%Y-%m-%d").to_string()
        );
    }

    #[test]
    fn a_span_shorter_than_a_step_still_has_a_tick() {
        let axis = TimeAxis {
            start: 30,
            end: 45,
            bucket: Bucket::Minute,
        };
        assert_eq!(axis.ticks(5), vec![30]);
    }
}
