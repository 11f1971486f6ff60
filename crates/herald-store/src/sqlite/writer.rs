//! The group-commit actor. Callers send commands; the actor takes every
//! command waiting (up to MAX_BATCH), applies them in ONE transaction and
//! replies to all of them after the single COMMIT (and fsync). Under load
//! the batches grow by themselves, so the cost of durability is shared.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};
use tokio::sync::{Mutex, mpsc, oneshot};

use herald_domain::message::{Deliverable, MessageStatus};

use super::MAX_BATCH;
use super::codec::*;
use super::messages::row_to_execution;
use crate::types::*;
use crate::{Result, StoreError};

pub enum Command {
    Accept(Box<NewExecution>, oneshot::Sender<Result<AcceptOutcome>>),
    Claim {
        worker: String,
        limit: usize,
        lease: Duration,
        now: DateTime<Utc>,
        reply: oneshot::Sender<Result<Vec<Deliverable>>>,
    },
    Complete(Vec<DeliveryOutcome>, oneshot::Sender<Result<()>>),
}

/// A reply held back until the batch is committed.
enum Pending {
    Accept(
        oneshot::Sender<Result<AcceptOutcome>>,
        Result<AcceptOutcome>,
    ),
    Claim(
        oneshot::Sender<Result<Vec<Deliverable>>>,
        Result<Vec<Deliverable>>,
    ),
    Complete(oneshot::Sender<Result<()>>, Result<()>),
}

impl Pending {
    fn send(self, commit: &Result<()>) {
        let fail = |e: &StoreError| StoreError::Corrupt(format!("commit failed: {e}"));
        match self {
            Pending::Accept(tx, r) => {
                let _ = tx.send(match commit {
                    Ok(()) => r,
                    Err(e) => Err(fail(e)),
                });
            }
            Pending::Claim(tx, r) => {
                let _ = tx.send(match commit {
                    Ok(()) => r,
                    Err(e) => Err(fail(e)),
                });
            }
            Pending::Complete(tx, r) => {
                let _ = tx.send(match commit {
                    Ok(()) => r,
                    Err(e) => Err(fail(e)),
                });
            }
        }
    }
}

pub async fn run(conn: Arc<Mutex<SqliteConnection>>, mut rx: mpsc::Receiver<Command>) {
    let mut last_reclaim = Instant::now() - Duration::from_secs(60);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut guard = conn.lock().await;
        let mut pending = Vec::with_capacity(batch.len());
        let begun = sqlx::query("BEGIN IMMEDIATE").execute(&mut *guard).await;
        if let Err(e) = begun {
            let e = StoreError::from(e);
            for cmd in batch.drain(..) {
                fail_command(cmd, &e);
            }
            continue;
        }
        for (i, cmd) in batch.drain(..).enumerate() {
            let sp = format!("SAVEPOINT c{i}");
            let _ = sqlx::query(&sp).execute(&mut *guard).await;
            let (p, ok) = match cmd {
                Command::Accept(new, reply) => {
                    let r = accept(&mut guard, &new).await;
                    let ok = r.is_ok();
                    (Pending::Accept(reply, r), ok)
                }
                Command::Claim {
                    worker,
                    limit,
                    lease,
                    now,
                    reply,
                } => {
                    let reclaim = last_reclaim.elapsed() > Duration::from_millis(500);
                    if reclaim {
                        last_reclaim = Instant::now();
                    }
                    let r = claim(&mut guard, &worker, limit, lease, now, reclaim).await;
                    let ok = r.is_ok();
                    (Pending::Claim(reply, r), ok)
                }
                Command::Complete(outcomes, reply) => {
                    let r = complete(&mut guard, &outcomes).await;
                    let ok = r.is_ok();
                    (Pending::Complete(reply, r), ok)
                }
            };
            let end = if ok {
                format!("RELEASE c{i}")
            } else {
                format!("ROLLBACK TO c{i}")
            };
            let _ = sqlx::query(&end).execute(&mut *guard).await;
            pending.push(p);
        }
        let commit = sqlx::query("COMMIT")
            .execute(&mut *guard)
            .await
            .map(|_| ())
            .map_err(StoreError::from);
        if commit.is_err() {
            let _ = sqlx::query("ROLLBACK").execute(&mut *guard).await;
        }
        drop(guard);
        for p in pending {
            p.send(&commit);
        }
    }
}

fn fail_command(cmd: Command, e: &StoreError) {
    let err = || StoreError::Corrupt(format!("could not begin a transaction: {e}"));
    match cmd {
        Command::Accept(_, r) => {
            let _ = r.send(Err(err()));
        }
        Command::Claim { reply, .. } => {
            let _ = reply.send(Err(err()));
        }
        Command::Complete(_, r) => {
            let _ = r.send(Err(err()));
        }
    }
}

async fn accept(conn: &mut SqliteConnection, new: &NewExecution) -> Result<AcceptOutcome> {
    let e = &new.execution;
    let inserted = sqlx::query(
        "INSERT INTO executions (sandbox, id, campaign_id, campaign_version, request_id, request_hash, kind, context,
                                 response, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (sandbox, campaign_id, request_id) DO NOTHING",
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
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        // Idempotency: this (campaign, requestId) ran before.
        let row = sqlx::query(
            "SELECT * FROM executions WHERE sandbox = ?1 AND campaign_id = ?2 AND request_id = ?3",
        )
        .bind(&e.sandbox)
        .bind(&e.campaign_id)
        .bind(&e.request_id)
        .fetch_one(&mut *conn)
        .await?;
        return Ok(AcceptOutcome::Existing(Box::new(row_to_execution(&row)?)));
    }
    let now = ms(e.created_at);
    for p in &new.profiles_to_create {
        // Another call may have created it meanwhile; the identity's owner
        // wins and this execution's messages keep the id they were given,
        // which then names a profile that holds only this identity.
        let claimed = sqlx::query(
            "INSERT INTO identities (sandbox, namespace, value, profile_id) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        )
        .bind(&e.sandbox)
        .bind(&p.namespace)
        .bind(&p.user_id)
        .bind(&p.profile_id)
        .execute(&mut *conn)
        .await?;
        if claimed.rows_affected() == 1 {
            sqlx::query(
                "INSERT INTO profiles (sandbox, id, attributes, created_by, created_at, updated_at) VALUES (?1, ?2, '{}', ?3, ?4, ?4)",
            )
            .bind(&e.sandbox)
            .bind(&p.profile_id)
            .bind(new.profile_origin.as_ref().map(to_json).transpose()?)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
    }
    if !new.messages.is_empty() {
        insert_messages(conn, new, now).await?;
    }
    Ok(AcceptOutcome::Created)
}

/// Inserts the messages of one execution with one multi-row statement (at
/// most 20 rows of 14 columns: far under SQLite's bound-variable limit).
async fn insert_messages(conn: &mut SqliteConnection, new: &NewExecution, now: i64) -> Result<()> {
    const COLS: usize = 14;
    let e = &new.execution;
    let mut sql = String::from(
        "INSERT INTO messages (id, sandbox, execution_id, campaign_id, campaign_version, channel, user_id, namespace,
          profile_id, address, status, exclusion_reason, profile, context, priority, next_attempt_at, created_at, updated_at)
         VALUES ",
    );
    // Parameters shared by every row come after the per-row ones.
    let shared = COLS * new.messages.len();
    for i in 0..new.messages.len() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..COLS {
            sql.push_str(&format!("?{},", i * COLS + c + 1));
        }
        sql.push_str(&format!(
            "?{},?{},?{},?{})",
            shared + 1,
            shared + 2,
            shared + 2,
            shared + 2
        ));
    }
    let mut q = sqlx::query(&sql);
    for m in &new.messages {
        q = q
            .bind(&m.message_id)
            .bind(&e.sandbox)
            .bind(&e.id)
            .bind(&e.campaign_id)
            .bind(e.campaign_version)
            .bind(new.channel.as_str())
            .bind(&m.user_id)
            .bind(&m.namespace)
            .bind(&m.profile_id)
            .bind(&m.address)
            .bind(m.status.as_str())
            .bind(&m.exclusion_reason)
            .bind(to_json(&m.profile)?)
            .bind(to_json(&m.recipient_context)?);
    }
    q.bind(new.priority).bind(now).execute(&mut *conn).await?;
    Ok(())
}

async fn claim(
    conn: &mut SqliteConnection,
    worker: &str,
    limit: usize,
    lease: Duration,
    now: DateTime<Utc>,
    reclaim: bool,
) -> Result<Vec<Deliverable>> {
    let now_ms = ms(now);
    if reclaim {
        // A worker that died (or hung) past its lease gives its messages back.
        sqlx::query(
            "UPDATE messages SET status = 'queued', lease_owner = NULL, lease_until = NULL
             WHERE status = 'sending' AND lease_until <= ?1",
        )
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    }
    let until = now_ms + lease.as_millis() as i64;
    let rows = sqlx::query(
        "UPDATE messages SET status = 'sending', lease_owner = ?1, lease_until = ?2, attempts = attempts + 1, updated_at = ?3
         WHERE id IN (SELECT id FROM messages WHERE status = 'queued' AND next_attempt_at <= ?3
                      ORDER BY priority, next_attempt_at LIMIT ?4)
         RETURNING id, sandbox, execution_id, campaign_id, campaign_version, channel, address, attempts, profile, context, created_at",
    )
    .bind(worker)
    .bind(until)
    .bind(now_ms)
    .bind(limit as i64)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // The call's shared context lives once on the execution.
    let executions: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>("sandbox")?,
                r.try_get::<String, _>("execution_id")?,
            ))
        })
        .collect::<Result<_>>()?;
    let mut contexts: BTreeMap<(String, String), serde_json::Value> = BTreeMap::new();
    for (sandbox, id) in executions {
        let ctx: String =
            sqlx::query_scalar("SELECT context FROM executions WHERE sandbox = ?1 AND id = ?2")
                .bind(&sandbox)
                .bind(&id)
                .fetch_one(&mut *conn)
                .await?;
        contexts.insert((sandbox, id), from_json(&ctx)?);
    }
    rows.iter()
        .map(|r| {
            let sandbox: String = r.try_get("sandbox")?;
            let execution_id: String = r.try_get("execution_id")?;
            let channel: String = r.try_get("channel")?;
            Ok(Deliverable {
                message_id: r.try_get("id")?,
                campaign_id: r.try_get("campaign_id")?,
                campaign_version: r.try_get("campaign_version")?,
                channel: herald_domain::channel::Channel::parse(&channel)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown channel {channel}")))?,
                address: r
                    .try_get::<Option<String>, _>("address")?
                    .unwrap_or_default(),
                attempts: r.try_get("attempts")?,
                profile: from_json(&r.try_get::<String, _>("profile")?)?,
                execution_context: contexts
                    .get(&(sandbox.clone(), execution_id))
                    .cloned()
                    .unwrap_or(serde_json::Value::Null),
                recipient_context: from_json(&r.try_get::<String, _>("context")?)?,
                created_at: time(r.try_get("created_at")?)?,
                sandbox,
            })
        })
        .collect()
}

async fn complete(conn: &mut SqliteConnection, outcomes: &[DeliveryOutcome]) -> Result<()> {
    for o in outcomes {
        let at = ms(o.at);
        let (status, detail) = match &o.kind {
            OutcomeKind::Sent {
                reply,
                rendered,
                header_message_id,
            } => {
                let done = sqlx::query(
                    "UPDATE messages SET status = 'sent', lease_owner = NULL, lease_until = NULL, last_error = NULL,
                            rendered = ?3, header_message_id = ?4, sent_at = ?5, updated_at = ?5
                     WHERE id = ?1 AND status = 'sending' AND lease_owner = ?2",
                )
                .bind(&o.message_id)
                .bind(&o.worker)
                .bind(to_json(rendered)?)
                .bind(header_message_id)
                .bind(at)
                .execute(&mut *conn)
                .await?;
                if done.rows_affected() == 0 {
                    continue;
                }
                (MessageStatus::Sent, reply.clone())
            }
            OutcomeKind::Retry { error, retry_at } => {
                let done = sqlx::query(
                    "UPDATE messages SET status = 'queued', lease_owner = NULL, lease_until = NULL, last_error = ?3,
                            next_attempt_at = ?4, updated_at = ?5
                     WHERE id = ?1 AND status = 'sending' AND lease_owner = ?2",
                )
                .bind(&o.message_id)
                .bind(&o.worker)
                .bind(error)
                .bind(ms(*retry_at))
                .bind(at)
                .execute(&mut *conn)
                .await?;
                if done.rows_affected() == 0 {
                    continue;
                }
                let when = retry_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                (MessageStatus::Queued, format!("{error}; retry at {when}"))
            }
            OutcomeKind::Failed { error, rendered } => {
                let done = sqlx::query(
                    "UPDATE messages SET status = 'failed', lease_owner = NULL, lease_until = NULL, last_error = ?3,
                            rendered = COALESCE(?4, rendered), updated_at = ?5
                     WHERE id = ?1 AND status = 'sending' AND lease_owner = ?2",
                )
                .bind(&o.message_id)
                .bind(&o.worker)
                .bind(error)
                .bind(rendered.as_ref().map(to_json).transpose()?)
                .bind(at)
                .execute(&mut *conn)
                .await?;
                if done.rows_affected() == 0 {
                    continue;
                }
                (MessageStatus::Failed, error.clone())
            }
        };
        sqlx::query(
            "INSERT INTO message_events (message_id, at, status, detail) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(&o.message_id)
        .bind(at)
        .bind(status.as_str())
        .bind(detail)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
