//! Resending failed messages by hand: each becomes a new queued message
//! that names the first attempt (`resend_of`), so the record of the failure
//! stays and reports count both.

use chrono::{DateTime, Utc};
use sqlx::{Connection, Row, SqliteConnection};

use super::codec::*;
use crate::Result;
use crate::types::{ResendRequest, Resent};

/// Statuses a message may be resent from.
const RESENDABLE: [&str; 2] = ["failed", "unknown"];

pub async fn resend(
    conn: &mut SqliteConnection,
    sandbox: &str,
    req: &ResendRequest,
    now: DateTime<Utc>,
) -> Result<Vec<Resent>> {
    let at = ms(now);
    let mut tx = conn.begin().await?;
    let mut out = Vec::with_capacity(req.message_ids.len());
    for (old, new_id) in req.message_ids.iter().zip(&req.new_ids) {
        let row = sqlx::query(
            "SELECT status, proof, COALESCE(resend_of, id) AS root,
                    (SELECT COUNT(*) FROM messages r WHERE r.resend_of = COALESCE(m.resend_of, m.id)
                       AND r.status IN ('queued', 'sending')) AS pending
             FROM messages m WHERE sandbox = ? AND id = ?",
        )
        .bind(sandbox)
        .bind(old)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            out.push(Resent::skipped(old, "no such message"));
            continue;
        };
        let status: String = row.try_get("status")?;
        let root: String = row.try_get("root")?;
        if !RESENDABLE.contains(&status.as_str()) {
            out.push(Resent::skipped(
                old,
                &format!("a {status} message cannot be resent (only failed or unknown ones)"),
            ));
            continue;
        }
        if row.try_get::<i64, _>("pending")? > 0 {
            out.push(Resent::skipped(old, "a resend of it is already queued"));
            continue;
        }
        sqlx::query(
            "INSERT INTO messages (id, sandbox, execution_id, campaign_id, campaign_version, channel, user_id, namespace,
               profile_id, address, status, exclusion_reason, priority, attempts, next_attempt_at, profile, context,
               created_at, updated_at, locale, proof, rendered, resend_of)
             SELECT ?, sandbox, execution_id, campaign_id, campaign_version, channel, user_id, namespace,
               profile_id, address, 'queued', NULL, priority, 0, ?, profile, context,
               ?, ?, locale, proof, CASE WHEN proof = 1 THEN rendered END, ?
             FROM messages WHERE sandbox = ? AND id = ?",
        )
        .bind(new_id)
        .bind(at)
        .bind(at)
        .bind(at)
        .bind(&root)
        .bind(sandbox)
        .bind(old)
        .execute(&mut *tx)
        .await?;
        // The report counts the resend (not a new recipient).
        let counted: Option<(String, String, Option<String>, bool)> = sqlx::query_as(
            "SELECT campaign_id, execution_id, locale, proof FROM messages WHERE id = ?1",
        )
        .bind(new_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((campaign_id, execution_id, locale, false)) = &counted {
            super::rollup::count_inserted(
                &mut tx,
                &[super::rollup::Inserted {
                    campaign_id,
                    execution_id,
                    at,
                    status: "queued",
                    locale: locale.as_deref(),
                    resend: true,
                }],
            )
            .await?;
        }
        sqlx::query(
            "INSERT INTO message_events (message_id, at, status, detail) VALUES (?, ?, 'resent', ?), (?, ?, 'queued', ?)",
        )
        .bind(old)
        .bind(at)
        .bind(format!("resent by hand as {new_id}"))
        .bind(new_id)
        .bind(at)
        .bind(format!("resend of {root}"))
        .execute(&mut *tx)
        .await?;
        out.push(Resent {
            message_id: old.clone(),
            new_message_id: Some(new_id.clone()),
            resend_of: Some(root),
            skipped: None,
        });
    }
    tx.commit().await?;
    Ok(out)
}
