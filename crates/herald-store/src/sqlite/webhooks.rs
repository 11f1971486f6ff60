//! Feedback webhooks: their configuration, their cursor into
//! `message_events.seq`, and the log of every delivery attempt.

use sqlx::sqlite::SqliteRow;
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};

use herald_domain::channel::Channel;
use herald_domain::webhook::Webhook;

use super::codec::*;
use crate::types::*;
use crate::{Result, StoreError};

const COLUMNS: &str = "sandbox, id, name, url, channels, auth, headers, allow_private_network, enabled, created_at, updated_at";

fn from_row(r: &SqliteRow) -> Result<Webhook> {
    Ok(Webhook {
        sandbox: r.try_get("sandbox")?,
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        url: r.try_get("url")?,
        channels: from_json(&r.try_get::<String, _>("channels")?)?,
        auth: from_json(&r.try_get::<String, _>("auth")?)?,
        headers: from_json(&r.try_get::<String, _>("headers")?)?,
        allow_private_network: r.try_get("allow_private_network")?,
        enabled: r.try_get("enabled")?,
        created_at: time(r.try_get("created_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
    })
}

pub async fn insert(conn: &mut SqliteConnection, w: &Webhook) -> Result<()> {
    let mut tx = conn.begin().await?;
    sqlx::query(&format!(
        "INSERT INTO webhooks ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&w.sandbox)
    .bind(&w.id)
    .bind(&w.name)
    .bind(&w.url)
    .bind(to_json(&w.channels)?)
    .bind(to_json(&w.auth)?)
    .bind(to_json(&w.headers)?)
    .bind(w.allow_private_network)
    .bind(w.enabled)
    .bind(ms(w.created_at))
    .bind(ms(w.updated_at))
    .execute(&mut *tx)
    .await?;
    // On the writer, inside the transaction: no event committed before
    // this point can be missed or sent twice.
    sqlx::query(
        "INSERT INTO webhook_cursors (sandbox, webhook_id, seq, updated_at)
         VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) FROM message_events), ?)",
    )
    .bind(&w.sandbox)
    .bind(&w.id)
    .bind(ms(w.created_at))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get(pool: &SqlitePool, sandbox: &str, id: &str) -> Result<Option<Webhook>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE sandbox = ? AND id = ?"
    ))
    .bind(sandbox)
    .bind(id)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub async fn list(pool: &SqlitePool, sandbox: &str) -> Result<Vec<Webhook>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE sandbox = ? ORDER BY id"
    ))
    .bind(sandbox)
    .fetch_all(pool)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

pub async fn update(conn: &mut SqliteConnection, w: &Webhook) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE webhooks SET name = ?, url = ?, channels = ?, auth = ?, headers = ?, allow_private_network = ?,
           enabled = ?, updated_at = ?
         WHERE sandbox = ? AND id = ?",
    )
    .bind(&w.name)
    .bind(&w.url)
    .bind(to_json(&w.channels)?)
    .bind(to_json(&w.auth)?)
    .bind(to_json(&w.headers)?)
    .bind(w.allow_private_network)
    .bind(w.enabled)
    .bind(ms(w.updated_at))
    .bind(&w.sandbox)
    .bind(&w.id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(conn: &mut SqliteConnection, sandbox: &str, id: &str) -> Result<bool> {
    let mut tx = conn.begin().await?;
    let r = sqlx::query("DELETE FROM webhooks WHERE sandbox = ? AND id = ?")
        .bind(sandbox)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for table in ["webhook_cursors", "webhook_deliveries"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE sandbox = ? AND webhook_id = ?"
        ))
        .bind(sandbox)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(r.rows_affected() == 1)
}

pub async fn enabled(pool: &SqlitePool) -> Result<Vec<WebhookCursor>> {
    let cols = COLUMNS
        .split(", ")
        .map(|c| format!("w.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query(&format!(
        "SELECT {cols}, c.seq AS cursor FROM webhooks w
         JOIN webhook_cursors c ON c.sandbox = w.sandbox AND c.webhook_id = w.id
         WHERE w.enabled = 1 ORDER BY w.sandbox, w.id"
    ))
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(WebhookCursor {
            webhook: from_row(r)?,
            seq: r.try_get("cursor")?,
        })
    })
    .collect()
}

/// Cursors `owner` should lease now: free, expired, or its own with less
/// than half the lease left. Parameters: owner, now, now + lease / 2.
const LEASE_WANTED: &str = "(c.lease_owner IS NULL OR c.lease_until <= ?2
       OR (c.lease_owner = ?1 AND c.lease_until < ?3))
   AND EXISTS (SELECT 1 FROM webhooks w WHERE w.sandbox = c.sandbox AND w.id = c.webhook_id AND w.enabled = 1)";

fn lease_bounds(lease: std::time::Duration, now: chrono::DateTime<chrono::Utc>) -> (i64, i64, i64) {
    let n = ms(now);
    let l = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 4);
    (n, n + l / 2, n + l)
}

/// A read first, so that an idle poll does not take the write lock.
pub async fn leases_to_take(
    pool: &SqlitePool,
    owner: &str,
    lease: std::time::Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool> {
    let (n, half, _) = lease_bounds(lease, now);
    let count: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM webhook_cursors c WHERE {LEASE_WANTED}"
    ))
    .bind(owner)
    .bind(n)
    .bind(half)
    .fetch_one(pool)
    .await?;
    Ok(count > 0)
}

pub async fn take_leases(
    conn: &mut SqliteConnection,
    owner: &str,
    lease: std::time::Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let (n, half, until) = lease_bounds(lease, now);
    sqlx::query(&format!(
        "UPDATE webhook_cursors AS c SET lease_owner = ?1, lease_until = ?4 WHERE {LEASE_WANTED}"
    ))
    .bind(owner)
    .bind(n)
    .bind(half)
    .bind(until)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn leased(
    pool: &SqlitePool,
    owner: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<WebhookCursor>> {
    let cols = COLUMNS
        .split(", ")
        .map(|c| format!("w.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query(&format!(
        "SELECT {cols}, c.seq AS cursor FROM webhooks w
         JOIN webhook_cursors c ON c.sandbox = w.sandbox AND c.webhook_id = w.id
         WHERE w.enabled = 1 AND c.lease_owner = ? AND c.lease_until > ? ORDER BY w.sandbox, w.id"
    ))
    .bind(owner)
    .bind(ms(now))
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(WebhookCursor {
            webhook: from_row(r)?,
            seq: r.try_get("cursor")?,
        })
    })
    .collect()
}

pub async fn cursor(pool: &SqlitePool, sandbox: &str, id: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT seq FROM webhook_cursors WHERE sandbox = ? AND webhook_id = ?")
            .bind(sandbox)
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

/// One query, so that the events returned and `scanned_to` come from the
/// same snapshot: a later commit cannot slip an event below `scanned_to`
/// unseen. (The single writer hands out seqs in commit order.)
pub async fn events(
    pool: &SqlitePool,
    sandbox: &str,
    channels: &[Channel],
    after: i64,
    limit: usize,
) -> Result<WebhookEventPage> {
    let rows = sqlx::query(
        "SELECT e.seq, e.message_id, e.at, e.status, e.detail,
                m.sandbox, m.execution_id, m.campaign_id, m.campaign_version, m.channel, m.priority,
                m.namespace, m.user_id, m.proof, x.request_id,
                json_extract(v.definition, '$.webhooksEnabled') AS hooks
         FROM (SELECT seq, message_id, at, status, detail FROM message_events
               WHERE seq > ? ORDER BY seq LIMIT ?) e
         LEFT JOIN messages m ON m.id = e.message_id
         LEFT JOIN executions x ON x.sandbox = m.sandbox AND x.id = m.execution_id
         LEFT JOIN campaign_versions v
                ON v.sandbox = m.sandbox AND v.campaign_id = m.campaign_id AND v.version = m.campaign_version
         ORDER BY e.seq",
    )
    .bind(after)
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    let mut page = WebhookEventPage::default();
    for r in &rows {
        let seq: i64 = r.try_get("seq")?;
        page.scanned_to = Some(seq);
        let msg_sandbox: Option<String> = r.try_get("sandbox")?;
        let hooks: Option<i64> = r.try_get("hooks")?;
        let proof: Option<bool> = r.try_get("proof")?;
        if msg_sandbox.as_deref() != Some(sandbox) || hooks != Some(1) || proof != Some(false) {
            continue;
        }
        let channel: String = r.try_get("channel")?;
        let channel = Channel::parse(&channel)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown channel {channel}")))?;
        if !channels.contains(&channel) {
            continue;
        }
        page.events.push(WebhookEvent {
            seq,
            message_id: r.try_get("message_id")?,
            at: time(r.try_get("at")?)?,
            status: r.try_get("status")?,
            detail: r.try_get("detail")?,
            sandbox: sandbox.to_string(),
            execution_id: r.try_get("execution_id")?,
            request_id: r.try_get("request_id")?,
            campaign_id: r.try_get("campaign_id")?,
            campaign_version: r.try_get("campaign_version")?,
            channel,
            priority: r.try_get("priority")?,
            namespace: r.try_get("namespace")?,
            user_id: r.try_get("user_id")?,
            retry_count: 0,
        });
    }
    // Only for the events kept: how many retries each message had before.
    for e in &mut page.events {
        e.retry_count = sqlx::query_scalar(
            "SELECT COUNT(*) FROM message_events WHERE message_id = ? AND seq < ? AND status = 'queued'",
        )
        .bind(&e.message_id)
        .bind(e.seq)
        .fetch_one(pool)
        .await?;
    }
    Ok(page)
}

pub async fn record_attempt(
    conn: &mut SqliteConnection,
    sandbox: &str,
    webhook_id: &str,
    attempt: Option<&WebhookDelivery>,
    advance_to: Option<i64>,
) -> Result<()> {
    let mut tx = conn.begin().await?;
    if let Some(a) = attempt {
        sqlx::query(
            "INSERT INTO webhook_deliveries (sandbox, webhook_id, event_seq, message_id, attempt, at, status_code,
               error, duration_ms, delivered)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10
             WHERE EXISTS (SELECT 1 FROM webhooks WHERE sandbox = ?1 AND id = ?2)",
        )
        .bind(sandbox)
        .bind(webhook_id)
        .bind(a.event_seq)
        .bind(&a.message_id)
        .bind(a.attempt)
        .bind(ms(a.at))
        .bind(a.status_code.map(i64::from))
        .bind(&a.error)
        .bind(a.duration_ms)
        .bind(a.delivered)
        .execute(&mut *tx)
        .await?;
    }
    if let Some(seq) = advance_to {
        sqlx::query(
            "UPDATE webhook_cursors SET seq = MAX(seq, ?), updated_at = ? WHERE sandbox = ? AND webhook_id = ?",
        )
        .bind(seq)
        .bind(ms(chrono::Utc::now()))
        .bind(sandbox)
        .bind(webhook_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn deliveries(
    pool: &SqlitePool,
    sandbox: &str,
    webhook_id: &str,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<WebhookDelivery>> {
    sqlx::query(
        "SELECT id, event_seq, message_id, attempt, at, status_code, error, duration_ms, delivered
         FROM webhook_deliveries WHERE sandbox = ? AND webhook_id = ? AND id < ?
         ORDER BY id DESC LIMIT ?",
    )
    .bind(sandbox)
    .bind(webhook_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit as i64)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        let code: Option<i64> = r.try_get("status_code")?;
        Ok(WebhookDelivery {
            id: r.try_get("id")?,
            sandbox: sandbox.to_string(),
            webhook_id: webhook_id.to_string(),
            event_seq: r.try_get("event_seq")?,
            message_id: r.try_get("message_id")?,
            attempt: r.try_get("attempt")?,
            at: time(r.try_get("at")?)?,
            status_code: code.and_then(|c| u16::try_from(c).ok()),
            error: r.try_get("error")?,
            duration_ms: r.try_get("duration_ms")?,
            delivered: r.try_get("delivered")?,
        })
    })
    .collect()
}
