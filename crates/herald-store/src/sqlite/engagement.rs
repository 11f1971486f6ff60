//! Events after the send: opens and clicks (through the group commit),
//! unsubscribes and resubscribes (a transaction of their own: they change a
//! profile too).

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection, SqlitePool};

use herald_domain::channel::Channel;
use herald_domain::suppression::Suppression;

use super::codec::*;
use crate::types::*;
use crate::{Result, StoreError};

const EVENT_COLS: usize = 6;

/// One multi-row INSERT per chunk for every event of a group commit.
pub async fn insert_events(conn: &mut SqliteConnection, events: &[&NewEvent]) -> Result<()> {
    for chunk in events.chunks(super::writer::MAX_PARAMS / EVENT_COLS) {
        let sql = format!(
            "INSERT INTO message_events (message_id, at, status, reason, detail, data) VALUES {}",
            placeholders(chunk.len(), EVENT_COLS)
        );
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(&e.message_id)
                .bind(ms(e.at))
                .bind(&e.status)
                .bind(&e.reason)
                .bind(&e.detail)
                .bind(e.data.as_ref().map(to_json).transpose()?);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn tracked_message(pool: &SqlitePool, id: &str) -> Result<Option<TrackedMessage>> {
    let row = sqlx::query(
        "SELECT id, sandbox, campaign_id, channel, profile_id, address, priority,
                json_extract(rendered, '$.links') AS links
         FROM messages WHERE id = ?1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let channel: String = r.try_get("channel")?;
    let links: Option<String> = r.try_get("links")?;
    Ok(Some(TrackedMessage {
        message_id: r.try_get("id")?,
        sandbox: r.try_get("sandbox")?,
        campaign_id: r.try_get("campaign_id")?,
        channel: Channel::parse(&channel)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown channel {channel}")))?,
        profile_id: r.try_get("profile_id")?,
        address: r.try_get("address")?,
        priority: r.try_get("priority")?,
        links: links
            .map(|l| from_json(&l))
            .transpose()?
            .unwrap_or_default(),
    }))
}

/// The consent attribute of a channel: `consents.marketing.<channel>.val`.
fn set_consent(attributes: &mut serde_json::Value, channel: Channel, val: &str) -> bool {
    use serde_json::{Map, Value};
    if !attributes.is_object() {
        *attributes = Value::Object(Map::new());
    }
    let mut node = attributes;
    for key in ["consents", "marketing", channel.as_str()] {
        let Some(obj) = node.as_object_mut() else {
            return false;
        };
        let next = obj
            .entry(key.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        node = next;
    }
    let Some(obj) = node.as_object_mut() else {
        return false;
    };
    if obj.get("val").and_then(Value::as_str) == Some(val) {
        return false;
    }
    obj.insert("val".into(), Value::String(val.into()));
    true
}

pub async fn change_consent(
    conn: &mut SqliteConnection,
    change: &ConsentChange,
) -> Result<ConsentOutcome> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let row =
        sqlx::query("SELECT sandbox, channel, profile_id, address FROM messages WHERE id = ?1")
            .bind(&change.message_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(row) = row else {
        return Ok(ConsentOutcome::NoSuchMessage);
    };
    let sandbox: String = row.try_get("sandbox")?;
    let channel: String = row.try_get("channel")?;
    let channel = Channel::parse(&channel)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown channel {channel}")))?;
    let profile_id: Option<String> = row.try_get("profile_id")?;
    let address: Option<String> = row.try_get("address")?;
    let now = ms(change.at);
    let changed = match &profile_id {
        Some(pid) => {
            let doc: Option<String> = sqlx::query_scalar(
                "SELECT attributes FROM profiles WHERE sandbox = ?1 AND id = ?2",
            )
            .bind(&sandbox)
            .bind(pid)
            .fetch_optional(&mut *tx)
            .await?;
            match doc {
                Some(doc) => {
                    let mut attributes: serde_json::Value = from_json(&doc)?;
                    let val = if change.unsubscribe { "n" } else { "y" };
                    let changed = set_consent(&mut attributes, channel, val);
                    if changed {
                        sqlx::query(
                            "UPDATE profiles SET attributes = ?1, updated_at = ?2
                             WHERE sandbox = ?3 AND id = ?4",
                        )
                        .bind(to_json(&attributes)?)
                        .bind(now)
                        .bind(&sandbox)
                        .bind(pid)
                        .execute(&mut *tx)
                        .await?;
                    }
                    changed
                }
                // The profile was deleted since: its address stays out.
                None => suppress(&mut tx, &sandbox, channel, address.as_deref(), change).await?,
            }
        }
        None => suppress(&mut tx, &sandbox, channel, address.as_deref(), change).await?,
    };
    if !changed {
        return Ok(ConsentOutcome::Unchanged);
    }
    let status = if change.unsubscribe {
        "unsubscribed"
    } else {
        "resubscribed"
    };
    sqlx::query(
        "INSERT INTO message_events (message_id, at, status, reason, detail, data)
         VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
    )
    .bind(&change.message_id)
    .bind(now)
    .bind(status)
    .bind(channel.as_str())
    .bind(&change.source)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ConsentOutcome::Changed)
}

/// A recipient without a profile: an `unsubscribe` suppression of the
/// address (marketing only), removed again by a resubscribe.
async fn suppress(
    tx: &mut SqliteConnection,
    sandbox: &str,
    channel: Channel,
    address: Option<&str>,
    change: &ConsentChange,
) -> Result<bool> {
    let Some(address) = address else {
        return Ok(false);
    };
    if change.unsubscribe {
        let s = Suppression {
            id: uuid::Uuid::now_v7().to_string(),
            sandbox: sandbox.to_owned(),
            channel,
            address: Some(address.to_owned()),
            domain: None,
            reason: "unsubscribe".into(),
            source: "unsubscribeLink".into(),
            created_at: change.at,
        };
        let (_, inserted) = super::suppressions::add(&mut *tx, &s).await?;
        Ok(inserted)
    } else {
        let key = s_key(channel, address);
        let done = sqlx::query(
            "DELETE FROM suppressions WHERE sandbox = ?1 AND channel = ?2 AND address_key = ?3
               AND reason = 'unsubscribe'",
        )
        .bind(sandbox)
        .bind(channel.as_str())
        .bind(key)
        .execute(&mut *tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

fn s_key(channel: Channel, address: &str) -> String {
    herald_domain::suppression::address_key(channel, address)
}

/// `[from, to)` as minute buckets.
pub fn bucket_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> (i64, i64) {
    (
        from.map(|t| t.timestamp_millis().div_euclid(60_000))
            .unwrap_or(i64::MIN),
        // The minute `to` falls in counts (minute precision, rounded out).
        to.map(|t| {
            let ms = t.timestamp_millis();
            ms.div_euclid(60_000) + i64::from(ms.rem_euclid(60_000) != 0)
        })
        .unwrap_or(i64::MAX),
    )
}
