//! Writes sample charts to the directory given (default: the current one), to look at.

use chrono::{DateTime, Duration, Utc};
use herald_charts::{BarChart, Bucket, Series, TimeSeriesChart, bar_chart_svg, time_series_svg};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let from = DateTime::parse_from_rfc3339("2026-03-05T00:00:00Z")?.with_timezone(&Utc);
    let wave = |scale: f64, phase: f64| -> Vec<(DateTime<Utc>, u64)> {
        (0..48)
            .map(|h| {
                let v = scale * (1.2 + ((h as f64) / 4.0 + phase).sin());
                (from + Duration::hours(h), v as u64)
            })
            .collect()
    };
    let series = vec![
        Series {
            name: "sent".into(),
            points: wave(900.0, 0.0),
        },
        Series {
            name: "delivered".into(),
            points: wave(880.0, 0.1),
        },
        Series {
            name: "opens".into(),
            points: wave(400.0, 0.5),
        },
        Series {
            name: "clicks".into(),
            points: wave(120.0, 0.9),
        },
    ];
    let chart = TimeSeriesChart {
        title: "Order confirmation: delivery, last 48 h".into(),
        bucket: Bucket::Hour,
        from,
        to: from + Duration::hours(47),
        y_label: "messages per hour".into(),
        series,
    };
    let t = std::time::Instant::now();
    let svg = time_series_svg(&chart)?;
    eprintln!("time series: {:?}, {} bytes", t.elapsed(), svg.len());
    std::fs::write(format!("{dir}/time_series.svg"), svg)?;
    let empty = TimeSeriesChart {
        series: vec![],
        ..chart.clone()
    };
    std::fs::write(format!("{dir}/empty.svg"), time_series_svg(&empty)?)?;

    let bars = BarChart {
        title: "Exclusions by reason".into(),
        category_label: "exclusion reason".into(),
        value_label: "messages".into(),
        bars: vec![
            ("emailNoConsent".into(), 12_400),
            ("throttleWindowExpired".into(), 8_300),
            ("emailSuppressed".into(), 950),
            ("domainSuppressed".into(), 120),
            ("frequencyCapped".into(), 3),
            ("noLocale".into(), 0),
        ],
    };
    let t = std::time::Instant::now();
    let svg = bar_chart_svg(&bars)?;
    eprintln!("bars: {:?}, {} bytes", t.elapsed(), svg.len());
    std::fs::write(format!("{dir}/bars.svg"), svg)?;
    Ok(())
}
