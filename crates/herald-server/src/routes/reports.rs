//! Campaign and execution reports (the shape of API.md's "Report shape"),
//! read from the counters the store keeps as messages and events are
//! written: a report costs the same at ten events or ten million.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use herald_domain::FieldError;
use herald_domain::campaign::Campaign;
use herald_domain::report::{CounterRow, Report};
use herald_store::RollupScope;

use super::campaigns::{load, query_problem};
use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::problem::{ApiResult, Problem};

/// Longest time series one report returns.
const MAX_BUCKETS: i64 = 10_000;

/// The series a report's time series carries: report name → counter.
pub(crate) const SERIES: [(&str, &str); 8] = [
    ("sent", "sent"),
    ("delivered", "delivered"),
    ("opens", "opened"),
    ("clicks", "clicked"),
    ("bouncedHard", "bounced.hard"),
    ("bouncedSoft", "bounced.soft"),
    ("excluded", "excluded"),
    ("unsubscribes", "unsubscribed"),
];

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    /// `all` (default) or `24h`: events of the last 24 hours.
    window: Option<String>,
    /// Events from this time on (RFC 3339); overrides the window's start.
    from: Option<String>,
    /// Events before this time (RFC 3339).
    to: Option<String>,
    /// With a time series: `minute`, `hour` or `day`.
    bucket: Option<String>,
    /// `report.svg`: `timeline` (default: sent, delivered, opens, clicks),
    /// a comma-separated list of series (`sent,opens,…`), or a bar chart:
    /// `exclusions`, `errors`, `links`, `domains`.
    metric: Option<String>,
}

/// The window a report covers, resolved.
pub(crate) struct Window {
    pub name: &'static str,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub bucket: Option<(&'static str, i64)>,
}

fn time_param(name: &str, v: Option<&str>) -> Result<Option<DateTime<Utc>>, FieldError> {
    v.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                FieldError::new(
                    format!("/{name}"),
                    "invalid_value",
                    format!("{name} must be an RFC 3339 time such as 2026-12-04T10:00:00Z: {e}"),
                )
            })
    })
    .transpose()
}

impl ReportQuery {
    pub(crate) fn window(&self) -> Result<Window, Problem> {
        let mut errors = Vec::new();
        let (name, start) = match self.window.as_deref().unwrap_or("all") {
            "all" => ("all", None),
            "24h" => ("24h", Some(Utc::now() - Duration::hours(24))),
            other => {
                errors.push(FieldError::new(
                    "/window",
                    "invalid_value",
                    format!("window must be 'all' or '24h', not '{other}'"),
                ));
                ("all", None)
            }
        };
        let from = time_param("from", self.from.as_deref()).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let to = time_param("to", self.to.as_deref()).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let bucket = match self.bucket.as_deref() {
            None => None,
            Some("minute") => Some(("minute", 1)),
            Some("hour") => Some(("hour", 60)),
            Some("day") => Some(("day", 1440)),
            Some(other) => {
                errors.push(FieldError::new(
                    "/bucket",
                    "invalid_value",
                    format!("bucket must be 'minute', 'hour' or 'day', not '{other}'"),
                ));
                None
            }
        };
        if self.window.is_some() && (from.is_some() || to.is_some()) {
            errors.push(FieldError::new(
                if from.is_some() { "/from" } else { "/to" },
                "conflict",
                "give either window or from/to, not both",
            ));
        }
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            errors.push(FieldError::new(
                "/from",
                "invalid_value",
                "from must be before to",
            ));
        }
        if !errors.is_empty() {
            return Err(Problem::bad_request(errors));
        }
        Ok(Window {
            name: if from.is_some() || to.is_some() {
                "custom"
            } else {
                name
            },
            from: from.or(start),
            to,
            bucket,
        })
    }
}

/// The report of `scope` in `window`, with its series when asked for.
pub(crate) async fn build(
    state: &AppState,
    scope: RollupScope<'_>,
    window: &Window,
    created_at: DateTime<Utc>,
) -> ApiResult<(Report, Option<Value>)> {
    let counters = state
        .store
        .report_counters(scope, window.from, window.to)
        .await?;
    let statuses = state.store.report_statuses(scope).await?;
    let links = state.store.report_links(scope.campaign_id).await?;
    let report = Report::from_counters(
        counters.iter().map(|c| CounterRow {
            metric: &c.metric,
            dim: &c.dim,
            n: c.n,
        }),
        &statuses,
        &links,
    );
    let series = match window.bucket {
        Some((name, minutes)) => {
            Some(series(state, scope, window, created_at, name, minutes).await?)
        }
        None => None,
    };
    Ok((report, series))
}

/// Every bucket from the window's start (or the campaign's creation) to its
/// end (or now), zeros included, so a chart of it has no gaps.
async fn series(
    state: &AppState,
    scope: RollupScope<'_>,
    window: &Window,
    created_at: DateTime<Utc>,
    name: &str,
    minutes: i64,
) -> ApiResult<Value> {
    let width = Duration::minutes(minutes);
    let floor = |t: DateTime<Utc>| t.duration_trunc(width).unwrap_or(t);
    let from = floor(window.from.unwrap_or(created_at));
    let to = window.to.unwrap_or_else(Utc::now);
    // The buckets that overlap [from, to): none past `to`.
    let width_ms = minutes * 60_000;
    let count = ((to - from).num_milliseconds() + width_ms - 1)
        .div_euclid(width_ms)
        .max(1);
    if count > MAX_BUCKETS {
        return Err(Problem::bad_request(vec![FieldError::new(
            "/bucket",
            "too_many_buckets",
            format!(
                "{count} {name} buckets; at most {MAX_BUCKETS}: choose a larger bucket or a shorter window"
            ),
        )]));
    }
    let metrics: Vec<&str> = SERIES.iter().map(|(_, m)| *m).collect();
    let points = state
        .store
        .report_series(scope, from, to, minutes, &metrics)
        .await?;
    let mut buckets: Vec<Value> = (0..count.max(0))
        .map(|i| {
            let mut b = json!({"start": from + width * (i as i32)});
            for (key, _) in SERIES {
                b[key] = json!(0);
            }
            b
        })
        .collect();
    for p in points {
        let i = (p.start - from).num_minutes() / minutes;
        if let (Some(b), Some((key, _))) = (
            usize::try_from(i).ok().and_then(|i| buckets.get_mut(i)),
            SERIES.iter().find(|(_, m)| *m == p.metric),
        ) {
            b[*key] = json!(b[*key].as_u64().unwrap_or(0) + p.n);
        }
    }
    Ok(json!({"bucket": name, "from": from, "to": to, "points": buckets}))
}

/// What every campaign report route starts with: the caller's right, the
/// query and its window, the campaign.
async fn prepare(
    state: &AppState,
    caller: &Caller,
    id: &str,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<(Campaign, ReportQuery, Window)> {
    caller.require(SCOPE_MANAGE)?;
    let Query(q) = q.map_err(query_problem)?;
    let window = q.window()?;
    let c = load(state, caller, id).await?;
    Ok((c, q, window))
}

fn of_campaign(c: &Campaign) -> RollupScope<'_> {
    RollupScope {
        campaign_id: &c.id,
        execution_id: None,
    }
}

fn report_json(
    campaign_id: &str,
    window: &Window,
    report: &Report,
    series: Option<Value>,
) -> Value {
    let mut v = serde_json::to_value(report).unwrap_or_else(|_| json!({}));
    v["campaignId"] = json!(campaign_id);
    v["window"] = json!(window.name);
    if let Some(f) = window.from {
        v["from"] = json!(f);
    }
    if let Some(t) = window.to {
        v["to"] = json!(t);
    }
    if let Some(s) = series {
        v["series"] = s;
    }
    v
}

#[utoipa::path(get, path = "/v1/campaigns/{id}/report", tag = "campaigns", params(ReportQuery),
    responses((status = 200, description = "Report counters (see API.md)"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn campaign(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let (c, _, window) = prepare(&state, &caller, &id, q).await?;
    let scope = of_campaign(&c);
    let (report, series) = build(&state, scope, &window, c.created_at).await?;
    Ok(Json(report_json(&c.id, &window, &report, series)))
}

#[utoipa::path(get, path = "/v1/campaigns/{id}/report.csv", tag = "campaigns", params(ReportQuery),
    responses((status = 200, description = "The report as CSV: section,name,value", content_type = "text/csv"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn campaign_csv(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let (c, _, window) = prepare(&state, &caller, &id, q).await?;
    let scope = of_campaign(&c);
    let (report, series) = build(&state, scope, &window, c.created_at).await?;
    let mut csv = report.to_csv();
    if let Some(points) = series.as_ref().and_then(|s| s["points"].as_array()) {
        for p in points {
            let start = p["start"].as_str().unwrap_or_default();
            for (key, _) in SERIES {
                csv.push_str(&format!(
                    "series.{key},{start},{}\n",
                    p[key].as_u64().unwrap_or(0)
                ));
            }
        }
    }
    let filename = format!(
        "attachment; filename=\"report-{}-{}.csv\"",
        c.id, window.name
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        csv,
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/executions/{id}/report", tag = "execution", params(ReportQuery),
    responses((status = 200, description = "Report counters of one execution (see API.md)"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn execution(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let Query(q) = q.map_err(query_problem)?;
    let window = q.window()?;
    let e = state
        .store
        .get_execution(&caller.sandbox, &id)
        .await?
        .ok_or_else(|| Problem::not_found("execution", &id))?;
    let scope = RollupScope {
        campaign_id: &e.campaign_id,
        execution_id: Some(&e.id),
    };
    let (report, series) = build(&state, scope, &window, e.created_at).await?;
    let mut report = report_json(&e.campaign_id, &window, &report, series);
    report["executionId"] = json!(e.id);
    report["requestId"] = json!(e.request_id);
    Ok(Json(report))
}

/// The chart `metric` names, from the same counters as the report.
#[utoipa::path(get, path = "/v1/campaigns/{id}/report.svg", tag = "campaigns", params(ReportQuery),
    responses((status = 200, description = "An SVG chart: a time series (`metric=timeline` or a list of series) or a bar chart (`exclusions`, `errors`, `links`, `domains`)", content_type = "image/svg+xml"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn campaign_svg(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Response> {
    use herald_charts::{BarChart, Bucket, Series, TimeSeriesChart};
    let (c, q, mut window) = prepare(&state, &caller, &id, q).await?;
    let scope = of_campaign(&c);
    let metric = q.metric.as_deref().unwrap_or("timeline");
    let name = &c.definition.name;
    let bars = |title: String, category: &str, bars: Vec<(String, u64)>| BarChart {
        title,
        category_label: category.to_owned(),
        value_label: "messages".to_owned(),
        bars,
    };
    let chart = match metric {
        "exclusions" | "errors" | "links" | "domains" => {
            window.bucket = None;
            let (report, _) = build(&state, scope, &window, c.created_at).await?;
            let chart = match metric {
                "exclusions" => bars(
                    format!(
                        "{name}: exclusions by reason ({} total)",
                        report.excluded.total
                    ),
                    "reason",
                    report.excluded.by_reason.into_iter().collect(),
                ),
                "errors" => bars(
                    format!("{name}: errors by reason ({} total)", report.errors.total),
                    "reason",
                    report.errors.by_reason.into_iter().collect(),
                ),
                "links" => BarChart {
                    value_label: "clicks".to_owned(),
                    ..bars(
                        format!("{name}: clicks by link"),
                        "link",
                        report
                            .by_link
                            .into_iter()
                            .map(|l| (l.url, l.clicks))
                            .collect(),
                    )
                },
                _ => bars(
                    format!("{name}: sent by recipient domain"),
                    "domain",
                    report
                        .by_domain
                        .into_iter()
                        .map(|d| (d.domain, d.sent))
                        .collect(),
                ),
            };
            herald_charts::bar_chart_svg(&chart)
        }
        list => {
            let wanted: Vec<&str> = if list == "timeline" {
                vec!["sent", "delivered", "opens", "clicks"]
            } else {
                list.split(',').map(str::trim).collect()
            };
            if wanted.len() > 1
                && wanted.iter().any(|w| {
                    matches!(
                        *w,
                        "timeline" | "exclusions" | "errors" | "links" | "domains"
                    )
                })
            {
                return Err(Problem::bad_request(vec![FieldError::new(
                    "/metric",
                    "invalid_value",
                    "timeline and the bar charts (exclusions, errors, links, domains) are one chart each: a list names series only",
                )]));
            }
            let mut metrics = Vec::new();
            for w in &wanted {
                match SERIES.iter().find(|(k, _)| k == w) {
                    Some((_, m)) => metrics.push(*m),
                    None => {
                        return Err(Problem::bad_request(vec![FieldError::new(
                            "/metric",
                            "invalid_value",
                            format!(
                                "unknown metric '{w}': use timeline, exclusions, errors, links, domains or a list of {}",
                                SERIES.map(|(k, _)| k).join(", ")
                            ),
                        )]));
                    }
                }
            }
            let to = window.to.unwrap_or_else(Utc::now);
            let from = window.from.unwrap_or(c.created_at).min(to);
            let bucket = match window.bucket {
                Some((_, 1)) => Bucket::Minute,
                Some((_, 60)) => Bucket::Hour,
                Some(_) => Bucket::Day,
                None => Bucket::for_span(from, to),
            };
            let minutes = bucket.seconds() / 60;
            let points = state
                .store
                .report_series(scope, bucket.floor(from), to, minutes, &metrics)
                .await?;
            let series = wanted
                .iter()
                .zip(&metrics)
                .map(|(w, m)| Series {
                    name: (*w).to_owned(),
                    points: points
                        .iter()
                        .filter(|p| p.metric == *m)
                        .map(|p| (p.start, p.n))
                        .collect(),
                })
                .collect();
            let per = match bucket {
                Bucket::Minute => "minute",
                Bucket::Hour => "hour",
                Bucket::Day => "day",
            };
            herald_charts::time_series_svg(&TimeSeriesChart {
                title: format!("{name}: {} per {per}", wanted.join(", ")),
                bucket,
                from,
                to,
                y_label: format!("events per {per}"),
                series,
            })
        }
    };
    let svg = chart.map_err(|e| {
        // Too long a time range for the widest bucket is the window's fault.
        let pointer = match e {
            herald_charts::ChartError::TooManyBuckets { .. }
            | herald_charts::ChartError::EmptyRange { .. } => "/from",
            _ => "/metric",
        };
        Problem::bad_request(vec![FieldError::new(
            pointer,
            "chart_unavailable",
            e.to_string(),
        )])
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response())
}
