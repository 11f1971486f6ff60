//! Reads of the report counters (migration 0011 keeps them).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{Row, SqlitePool};

use super::codec::*;
use super::engagement::bucket_range;
use crate::Result;
use crate::types::*;

fn execution_key<'a>(scope: &RollupScope<'a>) -> &'a str {
    scope.execution_id.unwrap_or("")
}

pub async fn counters(
    pool: &SqlitePool,
    scope: RollupScope<'_>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<Counter>> {
    let (lo, hi) = bucket_range(from, to);
    let rows = sqlx::query(
        "SELECT metric, dim, sum(n) AS n FROM report_rollup
         WHERE campaign_id = ?1 AND execution_id = ?2 AND bucket >= ?3 AND bucket < ?4
         GROUP BY metric, dim",
    )
    .bind(scope.campaign_id)
    .bind(execution_key(&scope))
    .bind(lo)
    .bind(hi)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Counter {
                metric: r.try_get("metric")?,
                dim: r.try_get("dim")?,
                n: r.try_get::<i64, _>("n")?.max(0) as u64,
            })
        })
        .collect()
}

pub async fn links(pool: &SqlitePool, campaign_id: &str) -> Result<BTreeMap<String, String>> {
    let rows = sqlx::query("SELECT link, url FROM report_links WHERE campaign_id = ?1")
        .bind(campaign_id)
        .fetch_all(pool)
        .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get("link")?, r.try_get("url")?)))
        .collect()
}

pub async fn statuses(pool: &SqlitePool, scope: RollupScope<'_>) -> Result<BTreeMap<String, u64>> {
    let rows = sqlx::query(
        "SELECT status, n FROM report_status
         WHERE campaign_id = ?1 AND execution_id = ?2 AND n > 0",
    )
    .bind(scope.campaign_id)
    .bind(execution_key(&scope))
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get("status")?, r.try_get::<i64, _>("n")? as u64)))
        .collect()
}

pub async fn series(
    pool: &SqlitePool,
    scope: RollupScope<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_minutes: i64,
    metrics: &[&str],
) -> Result<Vec<SeriesPoint>> {
    let (lo, hi) = bucket_range(Some(from), Some(to));
    let width = bucket_minutes.max(1);
    let metrics_json = to_json(metrics)?;
    let rows = sqlx::query(
        "SELECT (bucket - (bucket % ?5 + ?5) % ?5) AS b, metric, sum(n) AS n FROM report_rollup
         WHERE campaign_id = ?1 AND execution_id = ?2 AND bucket >= ?3 AND bucket < ?4
           AND metric IN (SELECT value FROM json_each(?6))
         GROUP BY b, metric ORDER BY b, metric",
    )
    .bind(scope.campaign_id)
    .bind(execution_key(&scope))
    .bind(lo)
    .bind(hi)
    .bind(width)
    .bind(metrics_json)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            let minute: i64 = r.try_get("b")?;
            Ok(SeriesPoint {
                start: time(minute.saturating_mul(60_000))?,
                metric: r.try_get("metric")?,
                n: r.try_get::<i64, _>("n")?.max(0) as u64,
            })
        })
        .collect()
}
