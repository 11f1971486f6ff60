//! Queue depth from the partial indexes `messages_due (priority, next_attempt_at) WHERE
//! status = 'queued'` and `messages_leased (lease_until) WHERE status = 'sending'`: both
//! counts read index entries only (covering), never the message rows, so a million
//! queued messages cost a scan of one small index, not of the table.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::codec::ms;
use crate::LaneDepth;
use crate::error::StoreError;

pub async fn depth(pool: &SqlitePool, now: DateTime<Utc>) -> Result<Vec<LaneDepth>, StoreError> {
    let queued: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT priority, count(*), count(CASE WHEN next_attempt_at <= ? THEN 1 END) \
         FROM messages INDEXED BY messages_due WHERE status = 'queued' GROUP BY priority",
    )
    .bind(ms(now))
    .fetch_all(pool)
    .await?;
    // Few rows (bounded by the workers' concurrency): reading their priority is cheap.
    let sending: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT priority, count(*) FROM messages INDEXED BY messages_leased \
         WHERE status = 'sending' GROUP BY priority",
    )
    .fetch_all(pool)
    .await?;
    let mut lanes: BTreeMap<i64, LaneDepth> = BTreeMap::new();
    // Both lanes always show, at 0 when empty, so a gauge never vanishes.
    for priority in [0, 1] {
        lanes.insert(
            priority,
            LaneDepth {
                priority,
                ..LaneDepth::default()
            },
        );
    }
    for (priority, count, due) in queued {
        let lane = lanes.entry(priority).or_insert(LaneDepth {
            priority,
            ..LaneDepth::default()
        });
        lane.queued = count.max(0) as u64;
        lane.due = due.max(0) as u64;
    }
    for (priority, count) in sending {
        lanes
            .entry(priority)
            .or_insert(LaneDepth {
                priority,
                ..LaneDepth::default()
            })
            .sending = count.max(0) as u64;
    }
    Ok(lanes.into_values().collect())
}
