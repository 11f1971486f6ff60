//! Report counters of inserted messages, aggregated per write: a batch of
//! 1,000 messages of one execution is a handful of upserts, not 4,000 as a
//! per-row trigger would make it. (Status changes and events are counted
//! by the triggers of migration 0011.)

use std::collections::HashMap;

use sqlx::SqliteConnection;

use super::codec::placeholders;
use super::writer::MAX_PARAMS;
use crate::Result;

/// One message just inserted.
pub struct Inserted<'a> {
    pub campaign_id: &'a str,
    pub execution_id: &'a str,
    /// `created_at`, unix ms.
    pub at: i64,
    pub status: &'a str,
    pub locale: Option<&'a str>,
    pub resend: bool,
}

/// Counts `rows` for their campaign ('' execution) and their execution.
pub async fn count_inserted(conn: &mut SqliteConnection, rows: &[Inserted<'_>]) -> Result<()> {
    let mut statuses: HashMap<(&str, &str, &str), i64> = HashMap::new();
    let mut counters: HashMap<(&str, &str, i64, &str, &str), i64> = HashMap::new();
    for r in rows {
        let metric = if r.resend { "resent" } else { "targeted" };
        for execution in ["", r.execution_id] {
            *statuses
                .entry((r.campaign_id, execution, r.status))
                .or_default() += 1;
            *counters
                .entry((
                    r.campaign_id,
                    execution,
                    r.at.div_euclid(60_000),
                    metric,
                    r.locale.unwrap_or(""),
                ))
                .or_default() += 1;
        }
    }
    let statuses: Vec<_> = statuses.into_iter().collect();
    for chunk in statuses.chunks(MAX_PARAMS / 4) {
        let sql = format!(
            "INSERT INTO report_status (campaign_id, execution_id, status, n) VALUES {}
             ON CONFLICT (campaign_id, execution_id, status) DO UPDATE SET n = n + excluded.n",
            placeholders(chunk.len(), 4)
        );
        let mut q = sqlx::query(&sql);
        for ((campaign, execution, status), n) in chunk {
            q = q.bind(*campaign).bind(*execution).bind(*status).bind(*n);
        }
        q.execute(&mut *conn).await?;
    }
    let counters: Vec<_> = counters.into_iter().collect();
    for chunk in counters.chunks(MAX_PARAMS / 6) {
        let sql = format!(
            "INSERT INTO report_rollup (campaign_id, execution_id, bucket, metric, dim, n) VALUES {}
             ON CONFLICT (campaign_id, execution_id, bucket, metric, dim) DO UPDATE SET n = n + excluded.n",
            placeholders(chunk.len(), 6)
        );
        let mut q = sqlx::query(&sql);
        for ((campaign, execution, bucket, metric, dim), n) in chunk {
            q = q
                .bind(*campaign)
                .bind(*execution)
                .bind(*bucket)
                .bind(*metric)
                .bind(*dim)
                .bind(*n);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
