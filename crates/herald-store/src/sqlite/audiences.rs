//! Audiences, audience scans, fan-out batches and scheduled executions.
//! Writes run on the shared writer connection (`synchronous=FULL`), one
//! transaction each; a fan-out batch carries its checkpoint in the same
//! transaction as its messages.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};

use herald_domain::audience::{Audience, AudienceKind};
use herald_domain::audience_execution::{Fanout, FanoutStatus, ScheduledExecution};
use herald_domain::message::{MessageStatus, reasons};
use herald_domain::profile::Identity;

use super::codec::*;
use crate::types::*;
use crate::{Result, StoreError};

/// Bound parameters per statement: sqlx looks each one up by name, which
/// grows with the statement's parameter count, so long statements cost more
/// per row than they save (measured with the profile import).
const MAX_PARAMS: usize = 400;

fn row_to_audience(r: &SqliteRow) -> Result<Audience> {
    let kind: String = r.try_get("kind")?;
    Ok(Audience {
        id: r.try_get("id")?,
        sandbox: r.try_get("sandbox")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        kind: AudienceKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("audience kind {kind}")))?,
        rule: r.try_get("rule")?,
        member_count: r
            .try_get::<Option<i64>, _>("member_count")?
            .map(|n| n.max(0) as u64),
        created_at: time(r.try_get("created_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
    })
}

const AUDIENCE_SELECT: &str = "SELECT a.*, CASE a.kind WHEN 'static' THEN
      (SELECT COUNT(*) FROM audience_members m WHERE m.sandbox = a.sandbox AND m.audience_id = a.id)
    END AS member_count FROM audiences a";

pub async fn insert_audience(
    conn: &mut SqliteConnection,
    a: &Audience,
    members: &[Identity],
) -> Result<()> {
    let mut tx = conn.begin().await?;
    let r = sqlx::query(
        "INSERT INTO audiences (sandbox, id, name, description, kind, rule, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(&a.sandbox)
    .bind(&a.id)
    .bind(&a.name)
    .bind(&a.description)
    .bind(a.kind.as_str())
    .bind(&a.rule)
    .bind(ms(a.created_at))
    .bind(ms(a.updated_at))
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::Conflict);
    }
    insert_members(&mut tx, &a.sandbox, &a.id, members).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_members(
    conn: &mut SqliteConnection,
    sandbox: &str,
    audience_id: &str,
    members: &[Identity],
) -> Result<u64> {
    let mut added = 0;
    for chunk in members.chunks(MAX_PARAMS / 4) {
        let sql = format!(
            "INSERT INTO audience_members (sandbox, audience_id, namespace, value) VALUES {} ON CONFLICT DO NOTHING",
            placeholders(chunk.len(), 4)
        );
        let mut q = sqlx::query(&sql);
        for m in chunk {
            q = q
                .bind(sandbox)
                .bind(audience_id)
                .bind(&m.namespace)
                .bind(&m.id);
        }
        added += q.execute(&mut *conn).await?.rows_affected();
    }
    Ok(added)
}

pub async fn add_audience_members(
    conn: &mut SqliteConnection,
    sandbox: &str,
    audience_id: &str,
    members: &[Identity],
) -> Result<u64> {
    let mut tx = conn.begin().await?;
    let added = insert_members(&mut tx, sandbox, audience_id, members).await?;
    sqlx::query("UPDATE audiences SET updated_at = ? WHERE sandbox = ? AND id = ?")
        .bind(ms(Utc::now()))
        .bind(sandbox)
        .bind(audience_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(added)
}

pub async fn get_audience(pool: &SqlitePool, sandbox: &str, id: &str) -> Result<Option<Audience>> {
    let sql = format!("{AUDIENCE_SELECT} WHERE a.sandbox = ? AND a.id = ?");
    sqlx::query(&sql)
        .bind(sandbox)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| row_to_audience(&r))
        .transpose()
}

pub async fn list_audiences(pool: &SqlitePool, sandbox: &str) -> Result<Vec<Audience>> {
    let sql = format!("{AUDIENCE_SELECT} WHERE a.sandbox = ? ORDER BY a.created_at, a.id");
    sqlx::query(&sql)
        .bind(sandbox)
        .fetch_all(pool)
        .await?
        .iter()
        .map(row_to_audience)
        .collect()
}

pub async fn delete_audience(conn: &mut SqliteConnection, sandbox: &str, id: &str) -> Result<bool> {
    let mut tx = conn.begin().await?;
    sqlx::query("DELETE FROM audience_members WHERE sandbox = ? AND audience_id = ?")
        .bind(sandbox)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let r = sqlx::query("DELETE FROM audiences WHERE sandbox = ? AND id = ?")
        .bind(sandbox)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(r.rows_affected() > 0)
}

pub async fn scan_audience(
    pool: &SqlitePool,
    sandbox: &str,
    audience: &Audience,
    namespace: &str,
    after: i64,
    limit: usize,
) -> Result<AudienceScan> {
    let limit = limit.max(1) as i64;
    let rows = match audience.kind {
        // No namespace (an estimate): no identity to look up.
        AudienceKind::Rule if namespace.is_empty() => {
            sqlx::query(
                "SELECT p.rowid AS pos, p.id AS profile_id, p.attributes, NULL AS ident
                 FROM profiles p INDEXED BY profiles_by_sandbox
                 WHERE p.sandbox = ? AND p.rowid > ? ORDER BY p.rowid LIMIT ?",
            )
            .bind(sandbox)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        AudienceKind::Rule => {
            sqlx::query(
                "SELECT p.rowid AS pos, p.id AS profile_id, p.attributes,
                    (SELECT i.value FROM identities i
                      WHERE i.sandbox = p.sandbox AND i.profile_id = p.id AND i.namespace = ? LIMIT 1) AS ident
                 FROM profiles p INDEXED BY profiles_by_sandbox
                 WHERE p.sandbox = ? AND p.rowid > ? ORDER BY p.rowid LIMIT ?",
            )
            .bind(namespace)
            .bind(sandbox)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        AudienceKind::Static => {
            sqlx::query(
                "SELECT m.seq AS pos, p.id AS profile_id, p.attributes,
                    CASE WHEN m.namespace = ?1 THEN m.value ELSE
                      (SELECT i2.value FROM identities i2
                        WHERE i2.sandbox = p.sandbox AND i2.profile_id = p.id AND i2.namespace = ?1 LIMIT 1)
                    END AS ident
                 FROM audience_members m INDEXED BY audience_members_scan
                 LEFT JOIN identities i ON i.sandbox = m.sandbox AND i.namespace = m.namespace AND i.value = m.value
                 LEFT JOIN profiles p ON p.sandbox = i.sandbox AND p.id = i.profile_id
                 WHERE m.seq > ?2 AND m.sandbox = ?3 AND m.audience_id = ?4
                 ORDER BY m.seq LIMIT ?5",
            )
            .bind(namespace)
            .bind(after)
            .bind(sandbox)
            .bind(&audience.id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    let mut scan = AudienceScan {
        next: None,
        ..Default::default()
    };
    let full = rows.len() as i64 == limit;
    let mut last = after;
    for r in &rows {
        last = r.try_get("pos")?;
        let Some(profile_id) = r.try_get::<Option<String>, _>("profile_id")? else {
            scan.skipped += 1;
            continue;
        };
        scan.candidates.push(AudienceCandidate {
            position: last,
            profile_id,
            identity: r.try_get("ident")?,
            attributes: r.try_get("attributes")?,
        });
    }
    if full {
        scan.next = Some(last);
    }
    Ok(scan)
}

pub async fn profile_positions(pool: &SqlitePool, sandbox: &str) -> Result<(u64, i64, i64)> {
    let r = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(rowid) AS lo, MAX(rowid) AS hi
         FROM profiles INDEXED BY profiles_by_sandbox WHERE sandbox = ?",
    )
    .bind(sandbox)
    .fetch_one(pool)
    .await?;
    Ok((
        r.try_get::<i64, _>("n")?.max(0) as u64,
        r.try_get::<Option<i64>, _>("lo")?.unwrap_or(0),
        r.try_get::<Option<i64>, _>("hi")?.unwrap_or(0),
    ))
}

fn row_to_fanout(r: &SqliteRow) -> Result<Fanout> {
    let status: String = r.try_get("status")?;
    Ok(Fanout {
        execution_id: r.try_get("execution_id")?,
        sandbox: r.try_get("sandbox")?,
        campaign_id: r.try_get("campaign_id")?,
        campaign_version: r.try_get("campaign_version")?,
        audience_id: r.try_get("audience_id")?,
        status: FanoutStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("fan-out status {status}")))?,
        targeted: r.try_get::<i64, _>("targeted")?.max(0) as u64,
        cursor: r.try_get("cursor")?,
        context: from_json(&r.try_get::<String, _>("context")?)?,
        error: r.try_get("error")?,
        created_at: time(r.try_get("created_at")?)?,
        finished_at: opt_time(r.try_get("finished_at")?)?,
    })
}

const FANOUT_SELECT: &str = "SELECT f.*, e.context FROM fanouts f
    JOIN executions e ON e.sandbox = f.sandbox AND e.id = f.execution_id";

pub async fn start_fanout(conn: &mut SqliteConnection, new: &NewFanout) -> Result<AcceptOutcome> {
    let e = &new.execution;
    let mut tx = conn.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO executions (sandbox, id, campaign_id, campaign_version, request_id, request_hash, kind,
                                 context, response, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sandbox, campaign_id, request_id) DO NOTHING",
    )
    .bind(&e.sandbox)
    .bind(&e.id)
    .bind(&e.campaign_id)
    .bind(e.campaign_version)
    .bind(&e.request_id)
    .bind(&e.request_hash)
    .bind(&e.kind)
    .bind(to_json(&e.context)?)
    .bind(to_json(&e.response)?)
    .bind(&e.created_by)
    .bind(ms(e.created_at))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        let row = sqlx::query(
            "SELECT * FROM executions WHERE sandbox = ? AND campaign_id = ? AND request_id = ?",
        )
        .bind(&e.sandbox)
        .bind(&e.campaign_id)
        .bind(&e.request_id)
        .fetch_one(&mut *tx)
        .await?;
        let prev = super::messages::row_to_execution(&row)?;
        if let Some(schedule) = &new.schedule_id {
            sqlx::query(
                "UPDATE execution_schedules SET execution_id = ? WHERE sandbox = ? AND id = ? AND execution_id IS NULL",
            )
            .bind(&prev.id)
            .bind(&e.sandbox)
            .bind(schedule)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        return Ok(AcceptOutcome::Existing(Box::new(prev)));
    }
    sqlx::query(
        "INSERT INTO fanouts (sandbox, execution_id, campaign_id, campaign_version, audience_id, status, created_at)
         VALUES (?, ?, ?, ?, ?, 'InProgress', ?)",
    )
    .bind(&e.sandbox)
    .bind(&e.id)
    .bind(&e.campaign_id)
    .bind(e.campaign_version)
    .bind(&new.audience_id)
    .bind(ms(e.created_at))
    .execute(&mut *tx)
    .await?;
    if let Some(schedule) = &new.schedule_id {
        sqlx::query(
            "UPDATE execution_schedules SET execution_id = ? WHERE sandbox = ? AND id = ? AND execution_id IS NULL",
        )
        .bind(&e.id)
        .bind(&e.sandbox)
        .bind(schedule)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(AcceptOutcome::Created)
}

pub async fn get_fanout(pool: &SqlitePool, sandbox: &str, id: &str) -> Result<Option<Fanout>> {
    let sql = format!("{FANOUT_SELECT} WHERE f.sandbox = ? AND f.execution_id = ?");
    sqlx::query(&sql)
        .bind(sandbox)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| row_to_fanout(&r))
        .transpose()
}

pub async fn running_fanouts(pool: &SqlitePool) -> Result<Vec<Fanout>> {
    let sql = format!("{FANOUT_SELECT} WHERE f.status = 'InProgress' ORDER BY f.created_at");
    sqlx::query(&sql)
        .fetch_all(pool)
        .await?
        .iter()
        .map(row_to_fanout)
        .collect()
}

pub async fn fail_fanout(
    conn: &mut SqliteConnection,
    sandbox: &str,
    id: &str,
    error: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE fanouts SET status = 'Failed', error = ?, finished_at = ?
         WHERE sandbox = ? AND execution_id = ? AND status = 'InProgress'",
    )
    .bind(error)
    .bind(ms(at))
    .bind(sandbox)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const MESSAGE_COLS: usize = 18;

/// Messages, caps and checkpoint of one batch in one transaction.
pub async fn append_fanout(
    conn: &mut SqliteConnection,
    mut b: FanoutBatch,
) -> Result<FanoutBatchResult> {
    let mut tx = conn.begin().await?;
    // The fan-out may have been failed or finished meanwhile (a second
    // runner after a restart): then this batch is not written.
    let live: Option<i64> = sqlx::query_scalar(
        "SELECT cursor FROM fanouts WHERE sandbox = ? AND execution_id = ? AND status = 'InProgress'",
    )
    .bind(&b.sandbox)
    .bind(&b.execution_id)
    .fetch_optional(&mut *tx)
    .await?;
    if live.is_none() {
        return Ok(FanoutBatchResult::default());
    }
    // 1. One message per profile: drop repeats within the batch and
    //    profiles that already have one from this execution (a batch
    //    replayed after a crash). The unique index guarantees it anyway.
    //    The WHERE repeats the partial index's whole condition (resends
    //    included): without it SQLite cannot use the index INDEXED BY
    //    names and fails every batch with "no query solution".
    let mut seen: HashSet<String> = HashSet::with_capacity(b.messages.len());
    b.messages.retain(|m| seen.insert(m.profile_id.clone()));
    let mut existing: HashSet<String> = HashSet::new();
    let ids: Vec<&String> = b.messages.iter().map(|m| &m.profile_id).collect();
    for chunk in ids.chunks(MAX_PARAMS / 2) {
        let sql = format!(
            "SELECT profile_id FROM messages INDEXED BY messages_one_per_profile
             WHERE execution_id = ? AND priority = 1 AND proof = 0 AND profile_id IS NOT NULL AND resend_of IS NULL
               AND profile_id IN ({})",
            vec!["?"; chunk.len()].join(",")
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql).bind(&b.execution_id);
        for id in chunk {
            q = q.bind(*id);
        }
        existing.extend(q.fetch_all(&mut *tx).await?);
    }
    b.messages.retain(|m| !existing.contains(&m.profile_id));

    // 2. Frequency caps: count each queued profile's messages in every
    //    rule's window, exclude those at their cap, record the others.
    let mut result = FanoutBatchResult::default();
    for cap in &b.caps {
        let since =
            ms(b.now - chrono::Duration::from_std(cap.window).unwrap_or(chrono::Duration::MAX));
        let queued: Vec<&String> = b
            .messages
            .iter()
            .filter(|m| m.status == MessageStatus::Queued)
            .map(|m| &m.profile_id)
            .collect();
        let mut counts: HashMap<String, i64> = HashMap::new();
        for chunk in queued.chunks(MAX_PARAMS / 2) {
            let sql = format!(
                "SELECT profile_id, COUNT(*) AS n FROM frequency_ledger
                 WHERE sandbox = ? AND rule_id = ? AND at > ? AND profile_id IN ({}) GROUP BY profile_id",
                vec!["?"; chunk.len()].join(",")
            );
            let mut q = sqlx::query(&sql)
                .bind(&b.sandbox)
                .bind(&cap.rule_id)
                .bind(since);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut *tx).await? {
                counts.insert(r.try_get("profile_id")?, r.try_get("n")?);
            }
        }
        for m in b
            .messages
            .iter_mut()
            .filter(|m| m.status == MessageStatus::Queued)
        {
            if counts.get(&m.profile_id).copied().unwrap_or(0) >= i64::from(cap.max_messages) {
                m.status = MessageStatus::Excluded;
                m.exclusion_reason = Some(reasons::FREQUENCY_CAPPED.to_string());
                m.detail = Some(format!(
                    "frequency cap {}: {} messages in {} s",
                    cap.rule_id,
                    cap.max_messages,
                    cap.window.as_secs()
                ));
                result.frequency_capped += 1;
            }
        }
    }
    if !b.caps.is_empty() {
        let queued: Vec<&FanoutMessage> = b
            .messages
            .iter()
            .filter(|m| m.status == MessageStatus::Queued)
            .collect();
        let rows: Vec<(&FrequencyCap, &FanoutMessage)> = b
            .caps
            .iter()
            .flat_map(|c| queued.iter().map(move |m| (c, *m)))
            .collect();
        for chunk in rows.chunks(MAX_PARAMS / 5) {
            let sql = format!(
                "INSERT INTO frequency_ledger (sandbox, rule_id, profile_id, at, message_id) VALUES {}",
                placeholders(chunk.len(), 5)
            );
            let mut q = sqlx::query(&sql);
            for (c, m) in chunk {
                q = q
                    .bind(&b.sandbox)
                    .bind(&c.rule_id)
                    .bind(&m.profile_id)
                    .bind(ms(b.now))
                    .bind(&m.message_id);
            }
            q.execute(&mut *tx).await?;
        }
    }

    // 3. Throttled sends: each queued message gets the next send slot of
    // the execution (counted in `fanouts.queued`, so a resumed batch
    // continues the sequence); a slot past the window is an exclusion.
    let at = ms(b.now);
    let mut slots: Vec<(i64, Option<i64>)> = vec![(at, None); b.messages.len()];
    let mut throttle_excluded: HashSet<usize> = HashSet::new();
    if let Some((rate, started)) = b.throttle {
        let base: i64 =
            sqlx::query_scalar("SELECT queued FROM fanouts WHERE sandbox = ? AND execution_id = ?")
                .bind(&b.sandbox)
                .bind(&b.execution_id)
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or(0);
        let start = ms(started);
        let deadline = start + herald_domain::campaign::THROTTLE_WINDOW_HOURS * 3_600_000;
        let mut n = base;
        for (i, m) in b.messages.iter().enumerate() {
            if m.status != MessageStatus::Queued {
                continue;
            }
            let slot = start + n * 1000 / i64::from(rate.max(1));
            n += 1;
            if slot >= deadline {
                throttle_excluded.insert(i);
            } else {
                slots[i] = (slot.max(at), Some(deadline));
            }
        }
    }
    let queued_now = b
        .messages
        .iter()
        .enumerate()
        .filter(|(i, m)| m.status == MessageStatus::Queued && !throttle_excluded.contains(i))
        .count() as i64;

    // 4. The messages.
    let indexed: Vec<(usize, &FanoutMessage)> = b.messages.iter().enumerate().collect();
    let mut inserted_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    for chunk in indexed.chunks(MAX_PARAMS / (MESSAGE_COLS + 1)) {
        let sql = format!(
            "INSERT OR IGNORE INTO messages (id, sandbox, execution_id, campaign_id, campaign_version, channel, user_id,
               namespace, profile_id, address, status, exclusion_reason, profile, context, priority, next_attempt_at,
               created_at, updated_at, locale, last_error, expires_at)
             VALUES {} RETURNING id",
            vec![
                "(?,?,?,?,?,?,?,?,?,?,?,?,?,'{}',1,?,?,?,?,?,?)";
                chunk.len()
            ]
            .join(",")
        );
        let mut q = sqlx::query(&sql);
        for (i, m) in chunk {
            let expired = throttle_excluded.contains(i);
            let (status, reason) = if expired {
                (
                    MessageStatus::Excluded.as_str(),
                    Some(reasons::THROTTLE_WINDOW_EXPIRED),
                )
            } else {
                (m.status.as_str(), m.exclusion_reason.as_deref())
            };
            let (next_at, expires_at) = slots[*i];
            q = q
                .bind(&m.message_id)
                .bind(&b.sandbox)
                .bind(&b.execution_id)
                .bind(&b.campaign_id)
                .bind(b.campaign_version)
                .bind(b.channel.as_str())
                .bind(&m.user_id)
                .bind(&m.namespace)
                .bind(&m.profile_id)
                .bind(&m.address)
                .bind(status)
                .bind(reason)
                .bind(&m.profile)
                .bind(next_at)
                .bind(at)
                .bind(at)
                .bind(&m.locale)
                .bind(&m.detail)
                .bind(expires_at);
        }
        for row in q.fetch_all(&mut *tx).await? {
            inserted_ids.insert(row.try_get::<String, _>("id")?);
        }
    }
    result.inserted += inserted_ids.len() as u64;
    // The report counters of the messages that went in.
    let counted: Vec<super::rollup::Inserted<'_>> = b
        .messages
        .iter()
        .enumerate()
        .filter(|(_, m)| inserted_ids.contains(&m.message_id))
        .map(|(i, m)| super::rollup::Inserted {
            campaign_id: &b.campaign_id,
            execution_id: &b.execution_id,
            at,
            status: if throttle_excluded.contains(&i) {
                MessageStatus::Excluded.as_str()
            } else {
                m.status.as_str()
            },
            locale: m.locale.as_deref(),
            resend: false,
        })
        .collect();
    super::rollup::count_inserted(&mut tx, &counted).await?;
    // The `excluded` history events of the batch (the event log feedback
    // webhooks tail). Repeats were dropped in step 1, so every excluded
    // message here was inserted just now.
    // Throttle-expired ones included, with their reason.
    let excluded: Vec<(&FanoutMessage, Option<&str>)> = b
        .messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            if throttle_excluded.contains(&i) {
                Some((m, Some(reasons::THROTTLE_WINDOW_EXPIRED)))
            } else {
                (m.status == MessageStatus::Excluded).then_some((m, m.exclusion_reason.as_deref()))
            }
        })
        .collect();
    for chunk in excluded.chunks(MAX_PARAMS / 5) {
        let sql = format!(
            "INSERT INTO message_events (message_id, at, status, reason, detail) VALUES {}",
            placeholders(chunk.len(), 5)
        );
        let mut q = sqlx::query(&sql);
        for (m, reason) in chunk {
            q = q
                .bind(&m.message_id)
                .bind(at)
                .bind(MessageStatus::Excluded.as_str())
                .bind(*reason)
                .bind(*reason);
        }
        q.execute(&mut *tx).await?;
    }
    result.queued = queued_now as u64;

    // 5. The checkpoint.
    sqlx::query(
        "UPDATE fanouts SET cursor = ?, targeted = targeted + ?, queued = queued + ?,
           status = CASE WHEN ? THEN 'Succeeded' ELSE status END,
           finished_at = CASE WHEN ? THEN ? ELSE finished_at END
         WHERE sandbox = ? AND execution_id = ?",
    )
    .bind(b.cursor)
    .bind(result.inserted as i64)
    .bind(queued_now)
    .bind(b.done)
    .bind(b.done)
    .bind(at)
    .bind(&b.sandbox)
    .bind(&b.execution_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(result)
}

fn row_to_schedule(r: &SqliteRow) -> Result<ScheduledExecution> {
    Ok(ScheduledExecution {
        id: r.try_get("id")?,
        sandbox: r.try_get("sandbox")?,
        campaign_id: r.try_get("campaign_id")?,
        request_id: r.try_get("request_id")?,
        request_hash: r.try_get("request_hash")?,
        audience_id: r.try_get("audience_id")?,
        execute_at: time(r.try_get("execute_at")?)?,
        context: from_json(&r.try_get::<String, _>("context")?)?,
        created_by: r.try_get("created_by")?,
        created_at: time(r.try_get("created_at")?)?,
        execution_id: r.try_get("execution_id")?,
    })
}

pub async fn insert_schedule(
    conn: &mut SqliteConnection,
    s: &ScheduledExecution,
) -> Result<Option<ScheduledExecution>> {
    let r = sqlx::query(
        "INSERT INTO execution_schedules (sandbox, id, campaign_id, request_id, request_hash, audience_id,
           execute_at, context, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sandbox, campaign_id, request_id) DO NOTHING",
    )
    .bind(&s.sandbox)
    .bind(&s.id)
    .bind(&s.campaign_id)
    .bind(&s.request_id)
    .bind(&s.request_hash)
    .bind(&s.audience_id)
    .bind(ms(s.execute_at))
    .bind(to_json(&s.context)?)
    .bind(&s.created_by)
    .bind(ms(s.created_at))
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() == 1 {
        return Ok(None);
    }
    sqlx::query(
        "SELECT * FROM execution_schedules WHERE sandbox = ? AND campaign_id = ? AND request_id = ?",
    )
    .bind(&s.sandbox)
    .bind(&s.campaign_id)
    .bind(&s.request_id)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| row_to_schedule(&r))
    .transpose()
}

pub async fn get_schedule(
    pool: &SqlitePool,
    sandbox: &str,
    id: &str,
) -> Result<Option<ScheduledExecution>> {
    sqlx::query("SELECT * FROM execution_schedules WHERE sandbox = ? AND id = ?")
        .bind(sandbox)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| row_to_schedule(&r))
        .transpose()
}

pub async fn find_schedule_by_request(
    pool: &SqlitePool,
    sandbox: &str,
    campaign_id: &str,
    request_id: &str,
) -> Result<Option<ScheduledExecution>> {
    sqlx::query(
        "SELECT * FROM execution_schedules WHERE sandbox = ? AND campaign_id = ? AND request_id = ?",
    )
    .bind(sandbox)
    .bind(campaign_id)
    .bind(request_id)
    .fetch_optional(pool)
    .await?
    .map(|r| row_to_schedule(&r))
    .transpose()
}

pub async fn delete_schedule(
    conn: &mut SqliteConnection,
    sandbox: &str,
    id: &str,
) -> Result<ScheduleDeletion> {
    let mut tx = conn.begin().await?;
    let fired: Option<Option<String>> = sqlx::query_scalar(
        "SELECT execution_id FROM execution_schedules WHERE sandbox = ? AND id = ?",
    )
    .bind(sandbox)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let outcome = match fired {
        None => ScheduleDeletion::NotFound,
        Some(Some(execution)) => ScheduleDeletion::AlreadyFired(execution),
        Some(None) => {
            sqlx::query("DELETE FROM execution_schedules WHERE sandbox = ? AND id = ? AND execution_id IS NULL")
                .bind(sandbox)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            ScheduleDeletion::Deleted
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

pub async fn due_schedules(
    pool: &SqlitePool,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<ScheduledExecution>> {
    sqlx::query(
        "SELECT * FROM execution_schedules WHERE execution_id IS NULL AND execute_at <= ? ORDER BY execute_at LIMIT ?",
    )
    .bind(ms(now))
    .bind(limit as i64)
    .fetch_all(pool)
    .await?
    .iter()
    .map(row_to_schedule)
    .collect()
}

pub async fn next_schedule_at(pool: &SqlitePool) -> Result<Option<DateTime<Utc>>> {
    let at: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(execute_at) FROM execution_schedules WHERE execution_id IS NULL",
    )
    .fetch_one(pool)
    .await?;
    opt_time(at)
}
