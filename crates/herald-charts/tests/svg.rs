//! The charts as a reader of the SVG sees them: parsed with an XML parser, then checked for
//! the title, axes, legend and one element per series or bar.

use chrono::{DateTime, Duration, Utc};
use herald_charts::{
    BarChart, Bucket, ChartError, MAX_BUCKETS, Series, TimeSeriesChart, bar_chart_svg, tag,
    time_series_svg,
};
use proptest::prelude::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Every `<text>`'s content, trimmed.
fn texts_of(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

fn with_class<'a>(doc: &'a roxmltree::Document, class: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| n.attribute("class") == Some(class))
        .collect()
}

fn hourly(name: &str, start: DateTime<Utc>, values: &[u64]) -> Series {
    Series {
        name: name.into(),
        points: values
            .iter()
            .enumerate()
            .map(|(i, v)| (start + Duration::hours(i as i64) + Duration::minutes(7), *v))
            .collect(),
    }
}

fn delivery_chart() -> TimeSeriesChart {
    let from = at("2026-03-05T00:00:00Z");
    TimeSeriesChart {
        title: "Order confirmation — last 24 h".into(),
        bucket: Bucket::Hour,
        from,
        to: at("2026-03-05T23:00:00Z"),
        y_label: "messages per hour".into(),
        series: vec![
            hourly(
                "sent",
                from,
                &[120, 80, 40, 10, 5, 0, 3, 9, 30, 70, 150, 200],
            ),
            hourly(
                "delivered",
                from,
                &[118, 79, 40, 9, 5, 0, 3, 9, 29, 69, 149, 198],
            ),
            hourly("opens", from, &[40, 30, 12, 2, 1, 0, 0, 2, 10, 25, 60, 90]),
            hourly("clicks", from, &[10, 8, 3, 0, 0, 0, 0, 1, 2, 6, 15, 22]),
        ],
    }
}

#[test]
fn time_series_has_title_axes_legend_and_one_line_per_series() {
    let svg = time_series_svg(&delivery_chart()).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("960"));
    assert_eq!(root.attribute("height"), Some("480"));
    assert_eq!(root.attribute("viewBox"), Some("0 0 960 480"));

    let texts = texts_of(&doc);
    for wanted in [
        "Order confirmation — last 24 h",
        "messages per hour",
        "time (UTC), per hour",
        "sent",
        "delivered",
        "opens",
        "clicks",
        "717 in total",
    ] {
        assert!(
            texts.iter().any(|t| t == wanted),
            "no text {wanted:?} in {texts:?}"
        );
    }
    // Hour ticks carry the date and the hour.
    assert!(texts.iter().any(|t| t == "Mar 5 06:00"), "{texts:?}");
    // Integer y ticks only.
    assert!(texts.iter().any(|t| t == "0"));
    assert!(
        !texts
            .iter()
            .any(|t| t.contains('.') && t.parse::<f64>().is_ok())
    );

    let lines = with_class(&doc, tag::SERIES);
    let names: Vec<_> = lines
        .iter()
        .filter_map(|n| n.attribute("data-series"))
        .collect();
    assert_eq!(names, ["sent", "delivered", "opens", "clicks"]);
    assert_eq!(lines[0].attribute("id"), Some("series-0"));
    assert_eq!(lines[0].attribute("data-total"), Some("717"));
    // Zero-filled: one vertex per hourly bucket, 24 of them.
    let vertices = lines[0]
        .attribute("points")
        .unwrap()
        .split_whitespace()
        .count();
    assert_eq!(vertices, 24);
    // Four distinct colors, each with its legend swatch.
    let mut colors: Vec<_> = lines
        .iter()
        .map(|n| n.attribute("stroke").unwrap())
        .collect();
    colors.dedup();
    assert_eq!(colors.len(), 4);
    assert_eq!(with_class(&doc, tag::LEGEND_SWATCH).len(), 4);
    assert_eq!(
        doc.descendants()
            .find(|n| n.has_tag_name("title"))
            .and_then(|n| n.text()),
        Some("Order confirmation — last 24 h")
    );
}

#[test]
fn minute_and_day_buckets_label_their_ticks_to_suit() {
    let from = at("2026-03-05T10:00:00Z");
    let minute = TimeSeriesChart {
        title: "t".into(),
        bucket: Bucket::Minute,
        from,
        to: at("2026-03-05T11:00:00Z"),
        y_label: "messages per minute".into(),
        series: vec![Series {
            name: "sent".into(),
            points: vec![(from, 4)],
        }],
    };
    let svg = time_series_svg(&minute).unwrap();
    let texts = texts_of(&roxmltree::Document::parse(&svg).unwrap());
    assert!(texts.iter().any(|t| t == "10:30"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "time (UTC), per minute"));

    let day = TimeSeriesChart {
        bucket: Bucket::Day,
        to: at("2026-04-05T10:00:00Z"),
        y_label: "messages per day".into(),
        ..minute
    };
    let svg = time_series_svg(&day).unwrap();
    let texts = texts_of(&roxmltree::Document::parse(&svg).unwrap());
    assert!(
        texts
            .iter()
            .any(|t| t.len() == 10 && t.starts_with("2026-03-")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t == "date (UTC), per day"));
}

#[test]
fn empty_time_series_says_no_data() {
    let mut chart = delivery_chart();
    for s in &mut chart.series {
        s.points.clear();
    }
    let svg = time_series_svg(&chart).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(texts_of(&doc).iter().any(|t| t == "no data"));
    assert!(with_class(&doc, tag::SERIES).is_empty());
    // The legend still names what would be drawn.
    assert_eq!(with_class(&doc, tag::LEGEND_SWATCH).len(), 4);

    chart.series.clear();
    let svg = time_series_svg(&chart).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(texts_of(&doc).iter().any(|t| t == "no data"));
}

#[test]
fn a_single_point_is_drawn_and_marked() {
    let t = at("2026-03-05T10:42:13Z");
    let chart = TimeSeriesChart {
        title: "One".into(),
        bucket: Bucket::Minute,
        from: t,
        to: t,
        y_label: "messages per minute".into(),
        series: vec![Series {
            name: "sent".into(),
            points: vec![(t, 1)],
        }],
    };
    let svg = time_series_svg(&chart).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(with_class(&doc, tag::SERIES).len(), 1);
    assert_eq!(with_class(&doc, tag::SERIES_POINT).len(), 1);
    let texts = texts_of(&doc);
    assert!(texts.iter().any(|t| t == "1"), "{texts:?}");
    assert!(!texts.iter().any(|t| t == "no data"));
}

#[test]
fn bad_ranges_are_errors_not_panics() {
    let mut chart = delivery_chart();
    chart.to = chart.from - Duration::seconds(1);
    assert!(matches!(
        time_series_svg(&chart),
        Err(ChartError::EmptyRange { .. })
    ));
    chart.bucket = Bucket::Minute;
    chart.to = chart.from + Duration::minutes(MAX_BUCKETS as i64);
    assert!(matches!(
        time_series_svg(&chart),
        Err(ChartError::TooManyBuckets { .. })
    ));
    chart.to = chart.from + Duration::minutes(MAX_BUCKETS as i64 - 1);
    assert!(time_series_svg(&chart).is_ok());
}

fn exclusions() -> BarChart {
    BarChart {
        title: "Exclusions by reason".into(),
        category_label: "exclusion reason".into(),
        value_label: "messages".into(),
        bars: vec![
            ("emailNoConsent".into(), 1_200),
            ("throttleWindowExpired".into(), 830),
            ("emailSuppressed".into(), 95),
            ("frequencyCapped".into(), 0),
        ],
    }
}

#[test]
fn bar_chart_has_a_bar_per_reason_with_readable_labels() {
    let svg = bar_chart_svg(&exclusions()).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let root = doc.root_element();
    assert!(root.attribute("width").is_some());
    assert!(root.attribute("height").is_some());
    assert!(root.attribute("viewBox").is_some());
    let texts = texts_of(&doc);
    for wanted in [
        "Exclusions by reason",
        "exclusion reason",
        "messages",
        "emailNoConsent",
        "throttleWindowExpired",
        "1,200",
        "830",
    ] {
        assert!(
            texts.iter().any(|t| t == wanted),
            "no text {wanted:?} in {texts:?}"
        );
    }
    // Labels are horizontal: no rotated text but the axis description.
    let rotated: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text") && n.attribute("transform").is_some())
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect();
    assert_eq!(rotated, ["exclusion reason"]);

    let bars = with_class(&doc, tag::BAR);
    let labels: Vec<_> = bars
        .iter()
        .map(|n| n.attribute("data-label").unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "emailNoConsent",
            "throttleWindowExpired",
            "emailSuppressed",
            "frequencyCapped"
        ]
    );
    assert_eq!(bars[1].attribute("data-value"), Some("830"));
    let w = |n: &roxmltree::Node| n.attribute("width").unwrap().parse::<i32>().unwrap();
    assert!(w(&bars[0]) > w(&bars[1]) && w(&bars[1]) > w(&bars[2]));
}

#[test]
fn empty_bar_chart_says_no_data() {
    let mut chart = exclusions();
    chart.bars.clear();
    let svg = bar_chart_svg(&chart).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(texts_of(&doc).iter().any(|t| t == "no data"));
    assert!(with_class(&doc, tag::BAR).is_empty());
}

#[test]
fn markup_in_names_is_escaped() {
    let mut chart = delivery_chart();
    chart.title = "<script>alert(1)</script> & \"quotes\"\u{0}".into();
    chart.series[0].name = "a<b>&\"c'".into();
    let svg = time_series_svg(&chart).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(doc.descendants().all(|n| !n.has_tag_name("script")));
    assert_eq!(
        with_class(&doc, tag::SERIES)[0].attribute("data-series"),
        Some("a<b>&\"c'")
    );
}

fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    // A few years around now, and the edges chrono allows.
    prop_oneof![
        8 => (1_700_000_000i64..1_900_000_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        1 => Just(DateTime::<Utc>::MIN_UTC),
        1 => Just(DateTime::<Utc>::MAX_UTC),
    ]
}

fn any_bucket() -> impl Strategy<Value = Bucket> {
    prop_oneof![Just(Bucket::Minute), Just(Bucket::Hour), Just(Bucket::Day)]
}

fn any_count() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..10, 0u64..100_000, Just(u64::MAX)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn time_series_never_panics_and_parses(
        title in any::<String>(),
        y_label in ".{0,80}",
        bucket in any_bucket(),
        from in any_instant(),
        span in 0i64..400_000,
        series in prop::collection::vec(
            (any::<String>(), prop::collection::vec((any_instant(), any_count()), 0..20)),
            0..6),
    ) {
        let chart = TimeSeriesChart {
            title, y_label, bucket, from,
            to: from.checked_add_signed(Duration::seconds(span)).unwrap_or(from),
            series: series.into_iter().map(|(name, points)| Series { name, points }).collect(),
        };
        if let Ok(svg) = time_series_svg(&chart) {
            prop_assert!(roxmltree::Document::parse(&svg).is_ok(), "{}", svg);
        }
    }

    #[test]
    fn bar_chart_never_panics_and_parses(
        title in any::<String>(),
        bars in prop::collection::vec((any::<String>(), any_count()), 0..30),
    ) {
        let n = bars.len();
        let chart = BarChart {
            title, category_label: "reason".into(), value_label: "messages".into(), bars,
        };
        let svg = bar_chart_svg(&chart).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        prop_assert_eq!(with_class(&doc, tag::BAR).len(), n);
    }
}
