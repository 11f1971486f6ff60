//! Reads of executions and messages.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use herald_domain::channel::Channel;
use herald_domain::execution::Execution;
use herald_domain::message::{Message, MessageEvent, MessageStatus};

use super::codec::*;
use crate::types::{MessageCounts, MessageFilter, ReportScope};
use crate::{Result, StoreError};

pub fn row_to_execution(r: &SqliteRow) -> Result<Execution> {
    Ok(Execution {
        id: r.try_get("id")?,
        sandbox: r.try_get("sandbox")?,
        campaign_id: r.try_get("campaign_id")?,
        campaign_version: r.try_get("campaign_version")?,
        request_id: r.try_get("request_id")?,
        request_hash: r.try_get("request_hash")?,
        kind: r.try_get("kind")?,
        context: from_json(&r.try_get::<String, _>("context")?)?,
        created_at: time(r.try_get("created_at")?)?,
        created_by: r.try_get("created_by")?,
        response: from_json(&r.try_get::<String, _>("response")?)?,
    })
}

pub async fn find_execution_by_request(
    pool: &SqlitePool,
    sandbox: &str,
    campaign_id: &str,
    request_id: &str,
) -> Result<Option<Execution>> {
    let row = sqlx::query(
        "SELECT * FROM executions WHERE sandbox = ?1 AND campaign_id = ?2 AND request_id = ?3",
    )
    .bind(sandbox)
    .bind(campaign_id)
    .bind(request_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(row_to_execution).transpose()
}

pub async fn get_execution(
    pool: &SqlitePool,
    sandbox: &str,
    id: &str,
) -> Result<Option<Execution>> {
    let row = sqlx::query("SELECT * FROM executions WHERE sandbox = ?1 AND id = ?2")
        .bind(sandbox)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(row_to_execution).transpose()
}

const MESSAGE_COLUMNS: &str = "id, sandbox, execution_id, campaign_id, campaign_version, channel, user_id, namespace,
    profile_id, address, status, exclusion_reason, locale, proof, attempts, last_error, header_message_id, rendered, created_at, updated_at, sent_at, resend_of";

fn row_to_message(r: &SqliteRow) -> Result<Message> {
    let channel: String = r.try_get("channel")?;
    let status: String = r.try_get("status")?;
    let rendered: Option<String> = r.try_get("rendered")?;
    Ok(Message {
        message_id: r.try_get("id")?,
        sandbox: r.try_get("sandbox")?,
        execution_id: r.try_get("execution_id")?,
        campaign_id: r.try_get("campaign_id")?,
        campaign_version: r.try_get("campaign_version")?,
        channel: Channel::parse(&channel)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown channel {channel}")))?,
        user_id: r.try_get("user_id")?,
        namespace: r.try_get("namespace")?,
        profile_id: r.try_get("profile_id")?,
        address: r.try_get("address")?,
        status: MessageStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown status {status}")))?,
        exclusion_reason: r.try_get("exclusion_reason")?,
        locale: r.try_get("locale")?,
        proof: r.try_get("proof")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        header_message_id: r.try_get("header_message_id")?,
        resend_of: r.try_get("resend_of")?,
        rendered: rendered.map(|s| from_json(&s)).transpose()?,
        created_at: time(r.try_get("created_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
        sent_at: opt_time(r.try_get("sent_at")?)?,
        history: Vec::new(),
    })
}

pub async fn list_execution_messages(
    pool: &SqlitePool,
    sandbox: &str,
    execution_id: &str,
) -> Result<Vec<Message>> {
    let rows = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE execution_id = ?2 AND sandbox = ?1 ORDER BY rowid"
    ))
    .bind(sandbox)
    .bind(execution_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(row_to_message).collect()
}

pub async fn list_messages(
    pool: &SqlitePool,
    sandbox: &str,
    f: &MessageFilter,
) -> Result<Vec<Message>> {
    let rows = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
         WHERE sandbox = ?1 AND (?2 IS NULL OR campaign_id = ?2) AND (?3 IS NULL OR execution_id = ?3)
           AND (?4 IS NULL OR status = ?4) AND (?5 OR proof = 0) AND (?6 IS NULL OR id > ?6)
         ORDER BY id LIMIT ?7"
    ))
    .bind(sandbox)
    .bind(&f.campaign_id)
    .bind(&f.execution_id)
    .bind(f.status.map(|s| s.as_str()))
    .bind(f.include_proofs)
    .bind(&f.after)
    .bind(f.limit as i64)
    .fetch_all(pool)
    .await?;
    rows.iter().map(row_to_message).collect()
}

pub async fn get_message(pool: &SqlitePool, sandbox: &str, id: &str) -> Result<Option<Message>> {
    let row = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?2 AND sandbox = ?1"
    ))
    .bind(sandbox)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut message = row_to_message(&row)?;
    let events = sqlx::query(
        "SELECT at, status, reason, detail, data FROM message_events WHERE message_id = ?1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    // The creation itself is the first entry; later transitions are rows.
    // An excluded message has its own `excluded` row (since the feedback
    // webhooks' event log), older ones only the creation.
    let excluded_row = message.status == MessageStatus::Excluded
        && events
            .first()
            .map(|e| e.try_get::<String, _>("status"))
            .transpose()?
            .as_deref()
            == Some(MessageStatus::Excluded.as_str());
    if !excluded_row {
        message.history.push(MessageEvent {
            at: message.created_at,
            status: if message.status == MessageStatus::Excluded {
                MessageStatus::Excluded
            } else {
                MessageStatus::Queued
            }
            .as_str()
            .to_owned(),
            reason: message.exclusion_reason.clone(),
            detail: message.exclusion_reason.clone(),
            data: None,
        });
    }
    for e in events {
        let data: Option<String> = e.try_get("data")?;
        message.history.push(MessageEvent {
            at: time(e.try_get("at")?)?,
            status: e.try_get("status")?,
            reason: e.try_get("reason")?,
            detail: e.try_get("detail")?,
            data: data.map(|d| from_json(&d)).transpose()?,
        });
    }
    Ok(Some(message))
}

pub async fn count_messages(
    pool: &SqlitePool,
    sandbox: &str,
    scope: ReportScope<'_>,
    since: Option<DateTime<Utc>>,
) -> Result<MessageCounts> {
    let (column, id) = match scope {
        ReportScope::Campaign(id) => ("campaign_id", id),
        ReportScope::Execution(id) => ("execution_id", id),
    };
    let filter = format!("sandbox = ?1 AND {column} = ?2 AND created_at >= ?3 AND proof = 0");
    let since = since.map(ms).unwrap_or(i64::MIN);
    // (status, exclusion reason) → count, retries.
    let rows = sqlx::query(&format!(
        "SELECT status, exclusion_reason, count(*) AS n,
                sum(CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END) AS retries
         FROM messages WHERE {filter} GROUP BY status, exclusion_reason"
    ))
    .bind(sandbox)
    .bind(id)
    .bind(since)
    .fetch_all(pool)
    .await?;
    let mut out = MessageCounts::default();
    for r in rows {
        let status: String = r.try_get("status")?;
        let reason: Option<String> = r.try_get("exclusion_reason")?;
        let n = r.try_get::<i64, _>("n")? as u64;
        out.retries += r.try_get::<Option<i64>, _>("retries")?.unwrap_or(0) as u64;
        let Some(s) = MessageStatus::parse(&status) else {
            continue;
        };
        *out.by_status.entry(s).or_default() += n;
        if s == MessageStatus::Excluded
            && let Some(reason) = reason
        {
            *out.excluded_by_reason.entry(reason).or_default() += n;
        }
    }
    let locales = sqlx::query(&format!(
        "SELECT locale, count(*) AS n FROM messages
         WHERE {filter} AND locale IS NOT NULL GROUP BY locale"
    ))
    .bind(sandbox)
    .bind(id)
    .bind(since)
    .fetch_all(pool)
    .await?;
    for r in locales {
        out.by_locale
            .insert(r.try_get("locale")?, r.try_get::<i64, _>("n")? as u64);
    }
    // Only messages that went out have a domain worth reporting.
    let domains = sqlx::query(&format!(
        "SELECT lower(substr(address, instr(address, '@') + 1)) AS domain, status, count(*) AS n
         FROM messages
         WHERE {filter} AND address LIKE '%@%' AND status IN ('sent', 'delivered', 'bounced', 'failed')
         GROUP BY domain, status"
    ))
    .bind(sandbox)
    .bind(id)
    .bind(since)
    .fetch_all(pool)
    .await?;
    for r in domains {
        let status: String = r.try_get("status")?;
        let Some(s) = MessageStatus::parse(&status) else {
            continue;
        };
        *out.by_domain
            .entry(r.try_get("domain")?)
            .or_default()
            .entry(s)
            .or_default() += r.try_get::<i64, _>("n")? as u64;
    }
    Ok(out)
}

pub async fn next_due_at(pool: &SqlitePool) -> Result<Option<DateTime<Utc>>> {
    let queued: Option<i64> =
        sqlx::query_scalar("SELECT min(next_attempt_at) FROM messages WHERE status = 'queued'")
            .fetch_one(pool)
            .await?;
    let leased: Option<i64> =
        sqlx::query_scalar("SELECT min(lease_until) FROM messages WHERE status = 'sending'")
            .fetch_one(pool)
            .await?;
    let next = match (queued, leased) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    opt_time(next)
}
