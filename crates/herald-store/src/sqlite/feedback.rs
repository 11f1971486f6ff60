//! Bounces and complaints received later: matched to their message and
//! recorded with their consequences (status, suppression, consent) in one
//! transaction on the shared write connection.

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};

use herald_domain::channel::Channel;
use herald_domain::feedback::{BounceClass, FeedbackEvent, FeedbackKind, bare_message_id};
use herald_domain::ids::new_id;
use herald_domain::suppression::NewSuppression;
use herald_domain::verp::is_message_id;

use super::codec::*;
use crate::types::FeedbackRecorded;
use crate::{Result, StoreError};

/// The matched message: what recording needs of it.
struct Matched {
    id: String,
    sandbox: String,
    channel: String,
    address: Option<String>,
    profile_id: Option<String>,
    proof: bool,
}

const MATCH_COLUMNS: &str = "id, sandbox, channel, address, profile_id, proof";

/// By Herald's message id, else by the Message-ID header: Herald writes it
/// as `<message id>@<from domain>` (stored without brackets), so its local
/// part is the primary key and the whole value must match what was sent.
async fn find(
    conn: &mut SqliteConnection,
    sandbox: Option<&str>,
    e: &FeedbackEvent,
) -> Result<Option<Matched>> {
    let (id, header) = match (&e.message_id, &e.header_message_id) {
        (Some(id), _) => (id.to_ascii_lowercase(), None),
        (None, Some(h)) => {
            let h = bare_message_id(h);
            match h.split_once('@') {
                Some((local, _)) if is_message_id(&local.to_ascii_lowercase()) => {
                    (local.to_ascii_lowercase(), Some(h))
                }
                _ => return Ok(None),
            }
        }
        (None, None) => return Ok(None),
    };
    let row = sqlx::query(&format!(
        "SELECT {MATCH_COLUMNS} FROM messages
         WHERE id = ?1 AND (?2 IS NULL OR sandbox = ?2)
           AND (?3 IS NULL OR lower(header_message_id) = lower(?3))"
    ))
    .bind(&id)
    .bind(sandbox)
    .bind(header)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Matched {
            id: r.try_get("id")?,
            sandbox: r.try_get("sandbox")?,
            channel: r.try_get("channel")?,
            address: r.try_get("address")?,
            profile_id: r.try_get("profile_id")?,
            proof: r.try_get("proof")?,
        })
    })
    .transpose()
}

pub async fn record(
    conn: &mut SqliteConnection,
    sandbox: Option<&str>,
    e: &FeedbackEvent,
    at: DateTime<Utc>,
) -> Result<FeedbackRecorded> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let Some(m) = find(&mut tx, sandbox, e).await? else {
        return Ok(FeedbackRecorded::Unmatched);
    };
    let key = e.dedupe_key(&m.id);
    let seen: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM inbound_feedback WHERE sandbox = ?1 AND dedupe_key = ?2")
            .bind(&m.sandbox)
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?;
    if seen.is_some() {
        return Ok(FeedbackRecorded::Duplicate { message_id: m.id });
    }
    // A message bounces for good, or is complained about, once: the same
    // bounce reported again (another provider event id, another DSN copy)
    // must not count twice.
    let reason = e.reason();
    let once = match e.event_status() {
        "bounced" => reason.as_deref() == Some("hard"),
        "complained" => true,
        _ => false,
    };
    if once {
        let again: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM message_events WHERE message_id = ?1 AND status = ?2
               AND (status = 'complained' OR reason = 'hard') LIMIT 1",
        )
        .bind(&m.id)
        .bind(e.event_status())
        .fetch_optional(&mut *tx)
        .await?;
        if again.is_some() {
            return Ok(FeedbackRecorded::Duplicate { message_id: m.id });
        }
    }

    let detail = e.detail();
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO message_events (message_id, at, status, detail, reason, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING seq",
    )
    .bind(&m.id)
    .bind(ms(at))
    .bind(e.event_status())
    .bind((!detail.is_empty()).then_some(&detail))
    .bind(e.reason())
    .bind(to_json(&e.data())?)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO inbound_feedback (sandbox, dedupe_key, message_id, event_seq, at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(&m.sandbox)
    .bind(&key)
    .bind(&m.id)
    .bind(seq)
    .bind(ms(at))
    .execute(&mut *tx)
    .await?;

    // Only a message that went out changes status; a queued or failed one
    // keeps its own (the event is history either way).
    match &e.kind {
        FeedbackKind::Bounce(BounceClass::Hard) => {
            sqlx::query(
                "UPDATE messages SET status = 'bounced', last_error = ?1, updated_at = ?2
                 WHERE id = ?3 AND status IN ('sent', 'delivered')",
            )
            .bind(&detail)
            .bind(ms(at))
            .bind(&m.id)
            .execute(&mut *tx)
            .await?;
        }
        FeedbackKind::Delivered => {
            sqlx::query(
                "UPDATE messages SET status = 'delivered', updated_at = ?1
                 WHERE id = ?2 AND status = 'sent'",
            )
            .bind(ms(at))
            .bind(&m.id)
            .execute(&mut *tx)
            .await?;
        }
        FeedbackKind::Bounce(BounceClass::Soft) | FeedbackKind::Complaint { .. } => {}
    }

    // The address Herald sent to (the report's may be rewritten or
    // redacted); a proof's test address is never suppressed.
    let mut suppressed = false;
    let channel = Channel::parse(&m.channel)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown channel {}", m.channel)))?;
    if let Some((reason, source)) = e.suppression_reason()
        && !m.proof
        && let Some(address) = m.address.clone().or_else(|| e.recipient.clone())
    {
        let s = NewSuppression {
            channel,
            address: Some(address),
            domain: None,
            reason: reason.into(),
            source: Some(source.into()),
        }
        .into_suppression(new_id(), m.sandbox.clone(), at);
        super::suppressions::add(&mut tx, &s).await?;
        suppressed = true;
    }
    if matches!(e.kind, FeedbackKind::Complaint { .. })
        && channel == Channel::Email
        && let Some(profile_id) = &m.profile_id
    {
        withdraw_email_consent(&mut tx, &m.sandbox, profile_id, at).await?;
    }
    tx.commit().await?;
    Ok(FeedbackRecorded::Recorded {
        message_id: m.id,
        sandbox: m.sandbox,
        suppressed,
    })
}

/// `consents.marketing.email.val = "n"`: a recipient who calls a message
/// spam has not consented to more of them.
async fn withdraw_email_consent(
    conn: &mut SqliteConnection,
    sandbox: &str,
    profile_id: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let doc: Option<String> =
        sqlx::query_scalar("SELECT attributes FROM profiles WHERE sandbox = ?1 AND id = ?2")
            .bind(sandbox)
            .bind(profile_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(doc) = doc else { return Ok(()) };
    let mut attributes: serde_json::Value = from_json(&doc)?;
    let Some(root) = attributes.as_object_mut() else {
        return Ok(());
    };
    let mut node = root;
    for key in ["consents", "marketing", "email"] {
        let child = node
            .entry(key)
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if !child.is_object() {
            *child = serde_json::Value::Object(Default::default());
        }
        let Some(obj) = child.as_object_mut() else {
            return Ok(());
        };
        node = obj;
    }
    node.insert("val".into(), serde_json::Value::String("n".into()));
    sqlx::query(
        "UPDATE profiles SET attributes = ?1, updated_at = ?2 WHERE sandbox = ?3 AND id = ?4",
    )
    .bind(to_json(&attributes)?)
    .bind(ms(at))
    .bind(sandbox)
    .bind(profile_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
