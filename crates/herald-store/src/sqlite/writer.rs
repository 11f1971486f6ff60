//! The group-commit actor. Callers send commands; the actor takes every
//! command waiting (up to MAX_BATCH) and applies them in ONE transaction
//! with set-based statements: one multi-row INSERT for all the executions of
//! the batch, one for all their messages, one UPDATE … FROM (VALUES …) per
//! kind of delivery outcome. It replies to every caller after the single
//! COMMIT (and fsync). Under load the batches grow by themselves, so both
//! the fsync and the per-statement cost are shared.
//!
//! If anything in a batch fails, the transaction is rolled back and each
//! command is applied again alone, so one bad command cannot fail others.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Row, SqliteConnection};
use tokio::sync::{Mutex, mpsc, oneshot};

use herald_domain::channel::Channel;
use herald_domain::execution::PlannedMessage;
use herald_domain::message::{Deliverable, MessageStatus};

use super::MAX_BATCH;
use super::codec::*;
use super::messages::row_to_execution;
use super::wal_sync::{Held, WalSync};
use crate::types::*;
use crate::{Result, StoreError};

/// SQLite's default bound-parameter limit is 32766; stay well below it.
pub(super) const MAX_PARAMS: usize = 30_000;

/// An execution to accept, with its JSON columns already serialized by the
/// caller's task: the writer is the one serial resource, so it only binds.
pub struct Accept {
    new: NewExecution,
    context: String,
    response: String,
    origin: Option<String>,
    /// (profile, context) of each message, in order.
    messages: Vec<(String, String)>,
}

impl Accept {
    pub fn prepare(new: NewExecution) -> Result<Accept> {
        Ok(Accept {
            context: to_json(&new.execution.context)?,
            response: to_json(&new.execution.response)?,
            origin: new.profile_origin.as_ref().map(to_json).transpose()?,
            messages: new
                .messages
                .iter()
                .map(|m| Ok((to_json(&m.profile)?, to_json(&m.recipient_context)?)))
                .collect::<Result<_>>()?,
            new,
        })
    }
}

pub enum Command {
    Accept(Box<Accept>, oneshot::Sender<Result<AcceptOutcome>>),
    Claim {
        req: Box<ClaimRequest>,
        reply: oneshot::Sender<Result<Vec<Deliverable>>>,
    },
    Complete(Box<Completion>, oneshot::Sender<Result<()>>),
    /// Opens, clicks and other events after the send.
    Events(Vec<NewEvent>, oneshot::Sender<Result<()>>),
}

enum Reply {
    Accept(Result<AcceptOutcome>),
    Claim(Result<Vec<Deliverable>>),
    Complete(Result<()>),
    Events(Result<()>),
}

impl Command {
    /// Answers at once, or — for accepts and claims — after the WAL fsync
    /// that makes this batch durable (`held`). Claims wait too, so that
    /// nothing is sent before its acceptance is on disk.
    fn answer_when_durable(self, reply: Reply, held: &mut Vec<Held>) {
        match self {
            Command::Complete(..) => self.answer(reply),
            cmd => held.push(Box::new(move |err: Option<&std::io::Error>| match err {
                None => cmd.answer(reply),
                Some(e) => cmd.fail(&StoreError::Corrupt(format!(
                    "fsync of the WAL failed: {e}"
                ))),
            })),
        }
    }

    fn answer(self, reply: Reply) {
        match (self, reply) {
            (Command::Accept(_, tx), Reply::Accept(r)) => {
                let _ = tx.send(r);
            }
            (Command::Claim { reply: tx, .. }, Reply::Claim(r)) => {
                let _ = tx.send(r);
            }
            (Command::Complete(_, tx), Reply::Complete(r)) => {
                let _ = tx.send(r);
            }
            (Command::Events(_, tx), Reply::Events(r)) => {
                let _ = tx.send(r);
            }
            (cmd, _) => cmd.fail(&StoreError::Corrupt("reply of the wrong kind".into())),
        }
    }

    fn fail(self, e: &StoreError) {
        let err = || StoreError::Corrupt(e.to_string());
        match self {
            Command::Accept(_, tx) => {
                let _ = tx.send(Err(err()));
            }
            Command::Claim { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
            Command::Complete(_, tx) | Command::Events(_, tx) => {
                let _ = tx.send(Err(err()));
            }
        }
    }
}

/// Expired leases are looked for at most this often.
const RECLAIM_EVERY: Duration = Duration::from_millis(500);

pub async fn run(
    conn: Arc<Mutex<SqliteConnection>>,
    mut rx: mpsc::Receiver<Command>,
    sync: WalSync,
) {
    let mut last_reclaim = Instant::now() - Duration::from_secs(60);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut stats = Stats::default();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let cmds = std::mem::take(&mut batch);
        let started = Instant::now();
        let size = cmds.len();
        let reclaim = last_reclaim.elapsed() > RECLAIM_EVERY;
        if reclaim {
            last_reclaim = Instant::now();
        }
        let mut guard = conn.lock().await;
        let locked = Instant::now();
        let fast = transact(&mut guard, &cmds, reclaim).await;
        stats.record(size, locked - started, locked.elapsed());
        let mut held: Vec<Held> = Vec::with_capacity(size);
        match fast {
            Ok(replies) => {
                drop(guard);
                for (cmd, reply) in cmds.into_iter().zip(replies) {
                    cmd.answer_when_durable(reply, &mut held);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, commands = cmds.len(), "group commit failed; applying commands one by one");
                for cmd in cmds {
                    let alone = transact(&mut guard, std::slice::from_ref(&cmd), reclaim).await;
                    match alone {
                        Ok(mut replies) => match replies.pop() {
                            Some(r) => cmd.answer_when_durable(r, &mut held),
                            None => cmd.fail(&StoreError::Corrupt("no reply".into())),
                        },
                        Err(e) => cmd.fail(&e),
                    }
                }
            }
        }
        sync.after_sync(held);
    }
}

/// Group-commit figures, exported as metrics and logged at debug level.
#[derive(Default)]
struct Stats {
    since: Option<Instant>,
    batches: u64,
    commands: u64,
    wait: Duration,
    busy: Duration,
}

impl Stats {
    fn record(&mut self, size: usize, wait: Duration, busy: Duration) {
        metrics::histogram!("herald_store_group_commit_size").record(size as f64);
        metrics::histogram!("herald_store_group_commit_seconds").record(busy.as_secs_f64());
        let since = *self.since.get_or_insert_with(Instant::now);
        self.batches += 1;
        self.commands += size as u64;
        self.wait += wait;
        self.busy += busy;
        if since.elapsed() >= Duration::from_secs(1) {
            tracing::debug!(
                batches = self.batches,
                commands = self.commands,
                avg_batch = self.commands as f64 / self.batches as f64,
                lock_wait_ms = self.wait.as_millis() as u64,
                busy_ms = self.busy.as_millis() as u64,
                accept_ms = ACCEPT_NANOS.swap(0, std::sync::atomic::Ordering::Relaxed) / 1_000_000,
                complete_ms =
                    COMPLETE_NANOS.swap(0, std::sync::atomic::Ordering::Relaxed) / 1_000_000,
                commit_ms = COMMIT_NANOS.swap(0, std::sync::atomic::Ordering::Relaxed) / 1_000_000,
                "group commit"
            );
            *self = Stats {
                since: Some(Instant::now()),
                ..Stats::default()
            };
        }
    }
}

/// BEGIN IMMEDIATE; apply; COMMIT — or ROLLBACK when either fails. The
/// COMMIT does not wait for the disk (`synchronous=NORMAL`); `WalSync`
/// does, before anyone is answered. The connection goes back to FULL for
/// the management writes that share it.
async fn transact(
    conn: &mut SqliteConnection,
    cmds: &[Command],
    reclaim: bool,
) -> Result<Vec<Reply>> {
    // Two statements per round trip to sqlx's worker thread: at light load
    // a batch is one command, and these fixed statements are most of it.
    let begun = sqlx::query("PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from);
    let applied = match begun {
        Ok(_) => apply(conn, cmds, reclaim).await,
        Err(e) => Err(e),
    };
    let commit_started = Instant::now();
    let out = match applied {
        Ok(v) => sqlx::query("COMMIT; PRAGMA synchronous = FULL")
            .execute(&mut *conn)
            .await
            .map(|_| v)
            .map_err(StoreError::from),
        Err(e) => Err(e),
    };
    metrics::histogram!("herald_store_commit_seconds")
        .record(commit_started.elapsed().as_secs_f64());
    COMMIT_NANOS.fetch_add(
        commit_started.elapsed().as_nanos() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    if out.is_err() {
        // Whatever step failed, leave no transaction open and the
        // connection back at FULL for the management writes.
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut *conn)
            .await?;
    }
    out
}

static ACCEPT_NANOS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static COMPLETE_NANOS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static COMMIT_NANOS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Applies `cmds` inside the open transaction; replies in the same order.
async fn apply(conn: &mut SqliteConnection, cmds: &[Command], reclaim: bool) -> Result<Vec<Reply>> {
    let accepts: Vec<&Accept> = cmds
        .iter()
        .filter_map(|c| match c {
            Command::Accept(n, _) => Some(n.as_ref()),
            _ => None,
        })
        .collect();
    let t = Instant::now();
    let mut accepted = accept_many(conn, &accepts).await?.into_iter();
    ACCEPT_NANOS.fetch_add(
        t.elapsed().as_nanos() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    let t = Instant::now();
    let completions: Vec<&Completion> = cmds
        .iter()
        .filter_map(|c| match c {
            Command::Complete(c, _) => Some(c.as_ref()),
            _ => None,
        })
        .collect();
    complete_many(conn, &completions).await?;
    COMPLETE_NANOS.fetch_add(
        t.elapsed().as_nanos() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    let events: Vec<&NewEvent> = cmds
        .iter()
        .flat_map(|c| match c {
            Command::Events(e, _) => e.as_slice(),
            _ => &[],
        })
        .collect();
    super::engagement::insert_events(conn, &events).await?;
    let mut replies = Vec::with_capacity(cmds.len());
    let mut reclaimed = !reclaim;
    for cmd in cmds {
        replies.push(match cmd {
            Command::Accept(..) => Reply::Accept(
                accepted
                    .next()
                    .ok_or_else(|| StoreError::Corrupt("accept outcome missing".into())),
            ),
            Command::Complete(..) => Reply::Complete(Ok(())),
            Command::Events(..) => Reply::Events(Ok(())),
            Command::Claim { req, .. } => {
                let r = claim(conn, req, !reclaimed).await?;
                reclaimed = true;
                Reply::Claim(Ok(r))
            }
        });
    }
    Ok(replies)
}

const EXECUTION_COLS: usize = 11;
const MESSAGE_COLS: usize = 22;

async fn accept_many(conn: &mut SqliteConnection, news: &[&Accept]) -> Result<Vec<AcceptOutcome>> {
    if news.is_empty() {
        return Ok(Vec::new());
    }
    // 1. Every execution in multi-row INSERTs. A (campaign, requestId)
    //    seen before — or earlier in this very batch — is skipped, and
    //    RETURNING tells which ones went in.
    let mut inserted: HashSet<String> = HashSet::new();
    for chunk in news.chunks(MAX_PARAMS / EXECUTION_COLS) {
        let sql = format!(
            "INSERT INTO executions (sandbox, id, campaign_id, campaign_version, request_id, request_hash, kind,
                                     context, response, created_by, created_at)
             VALUES {} ON CONFLICT (sandbox, campaign_id, request_id) DO NOTHING RETURNING id",
            placeholders(chunk.len(), EXECUTION_COLS)
        );
        let mut q = sqlx::query(&sql);
        for a in chunk {
            let e = &a.new.execution;
            q = q
                .bind(&e.sandbox)
                .bind(&e.id)
                .bind(&e.campaign_id)
                .bind(e.campaign_version)
                .bind(&e.request_id)
                .bind(&e.request_hash)
                .bind(&e.kind)
                .bind(&a.context)
                .bind(&a.response)
                .bind(&e.created_by)
                .bind(ms(e.created_at));
        }
        for row in q.fetch_all(&mut *conn).await? {
            inserted.insert(row.try_get("id")?);
        }
    }
    // 2. Repeats get the execution that ran first.
    let mut outcomes = Vec::with_capacity(news.len());
    for a in news {
        let e = &a.new.execution;
        if inserted.contains(&e.id) {
            outcomes.push(AcceptOutcome::Created);
        } else {
            let row = sqlx::query("SELECT * FROM executions WHERE sandbox = ?1 AND campaign_id = ?2 AND request_id = ?3")
                .bind(&e.sandbox)
                .bind(&e.campaign_id)
                .bind(&e.request_id)
                .fetch_one(&mut *conn)
                .await?;
            outcomes.push(AcceptOutcome::Existing(Box::new(row_to_execution(&row)?)));
        }
    }
    let created: Vec<&Accept> = news
        .iter()
        .copied()
        .filter(|a| inserted.contains(&a.new.execution.id))
        .collect();
    // 3. Profiles created by executions (rare: unknown recipients of
    //    campaigns that create profiles).
    for a in &created {
        create_profiles(conn, a).await?;
    }
    // 4. All their messages in multi-row INSERTs.
    type MessageRow<'a> = (&'a NewExecution, &'a PlannedMessage, &'a (String, String));
    let rows: Vec<MessageRow<'_>> = created
        .iter()
        .flat_map(|a| {
            a.new
                .messages
                .iter()
                .zip(&a.messages)
                .map(move |(m, json)| (&a.new, m, json))
        })
        .collect();
    for chunk in rows.chunks(MAX_PARAMS / MESSAGE_COLS) {
        let sql = format!(
            "INSERT INTO messages (id, sandbox, execution_id, campaign_id, campaign_version, channel, user_id, namespace,
              profile_id, address, status, exclusion_reason, profile, context, priority, next_attempt_at, created_at, updated_at,
              locale, proof, rendered, last_error)
             VALUES {}",
            placeholders(chunk.len(), MESSAGE_COLS)
        );
        let mut q = sqlx::query(&sql);
        for (n, m, (profile, context)) in chunk {
            let e = &n.execution;
            let at = ms(e.created_at);
            q = q
                .bind(&m.message_id)
                .bind(&e.sandbox)
                .bind(&e.id)
                .bind(&e.campaign_id)
                .bind(e.campaign_version)
                .bind(n.channel.as_str())
                .bind(&m.user_id)
                .bind(&m.namespace)
                .bind(&m.profile_id)
                .bind(&m.address)
                .bind(m.status.as_str())
                .bind(&m.exclusion_reason)
                .bind(profile)
                .bind(context)
                .bind(n.priority)
                .bind(at)
                .bind(at)
                .bind(at)
                .bind(&m.locale)
                .bind(m.proof.is_some())
                .bind(m.proof.as_ref().map(to_json).transpose()?)
                .bind(&m.detail);
        }
        q.execute(&mut *conn).await?;
    }
    // The report counters of the inserted messages (proofs left out).
    let inserted_rows: Vec<super::rollup::Inserted<'_>> = rows
        .iter()
        .filter(|(_, m, _)| m.proof.is_none())
        .map(|(n, m, _)| super::rollup::Inserted {
            campaign_id: &n.execution.campaign_id,
            execution_id: &n.execution.id,
            at: ms(n.execution.created_at),
            status: m.status.as_str(),
            locale: m.locale.as_deref(),
            resend: false,
        })
        .collect();
    super::rollup::count_inserted(conn, &inserted_rows).await?;
    // 5. One `excluded` history event per excluded message, in the same
    //    transaction: the event log (which feedback webhooks tail) then
    //    holds every outcome, exclusions included.
    let excluded: Vec<&MessageRow<'_>> = rows
        .iter()
        .filter(|(_, m, _)| m.status == MessageStatus::Excluded)
        .collect();
    for chunk in excluded.chunks(MAX_PARAMS / 5) {
        let sql = format!(
            "INSERT INTO message_events (message_id, at, status, reason, detail) VALUES {}",
            placeholders(chunk.len(), 5)
        );
        let mut q = sqlx::query(&sql);
        for (n, m, _) in chunk {
            q = q
                .bind(&m.message_id)
                .bind(ms(n.execution.created_at))
                .bind(MessageStatus::Excluded.as_str())
                .bind(&m.exclusion_reason)
                .bind(&m.exclusion_reason);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(outcomes)
}

async fn create_profiles(conn: &mut SqliteConnection, a: &Accept) -> Result<()> {
    let e = &a.new.execution;
    for p in &a.new.profiles_to_create {
        // Another call may have created it meanwhile: the identity's owner
        // wins, and this execution's messages keep the id they were given.
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
                "INSERT INTO profiles (sandbox, id, attributes, created_by, created_at, updated_at)
                 VALUES (?1, ?2, '{}', ?3, ?4, ?4)",
            )
            .bind(&e.sandbox)
            .bind(&p.profile_id)
            .bind(&a.origin)
            .bind(ms(e.created_at))
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

async fn claim(
    conn: &mut SqliteConnection,
    req: &ClaimRequest,
    reclaim: bool,
) -> Result<Vec<Deliverable>> {
    let now_ms = ms(req.now);
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
    let until = now_ms + req.lease.as_millis() as i64;
    let lane = match req.lane {
        Lane::Any => "",
        Lane::Transactional => "AND priority = 0",
        Lane::Marketing => "AND priority >= 1",
    };
    // Paused domains are few; their names are bound, never spliced.
    let skip = if req.skip_domains.is_empty() {
        String::new()
    } else {
        format!(
            "AND (address IS NULL OR lower(substr(address, instr(address, '@') + 1)) NOT IN ({}))",
            vec!["?"; req.skip_domains.len()].join(",")
        )
    };
    // One statement: lease the most urgent due messages and return them
    // with their execution's shared context.
    let sql = format!(
        "UPDATE messages SET status = 'sending', lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
         WHERE id IN (SELECT id FROM messages WHERE status = 'queued' AND next_attempt_at <= ? {lane} {skip}
                      ORDER BY priority, next_attempt_at LIMIT ?)
         RETURNING id, sandbox, execution_id, campaign_id, campaign_version, channel, address, attempts, profile, context,
                   created_at, locale, priority, profile_id, expires_at,
                   CASE WHEN proof = 1 THEN rendered END AS proof_rendered,
                   (SELECT e.context FROM executions e WHERE e.sandbox = messages.sandbox AND e.id = messages.execution_id)
                       AS execution_context"
    );
    let mut q = sqlx::query(&sql)
        .bind(&req.worker)
        .bind(until)
        .bind(now_ms)
        .bind(now_ms);
    for d in &req.skip_domains {
        q = q.bind(d);
    }
    let rows = q.bind(req.limit as i64).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            let channel: String = r.try_get("channel")?;
            let execution_context: Option<String> = r.try_get("execution_context")?;
            Ok(Deliverable {
                message_id: r.try_get("id")?,
                sandbox: r.try_get("sandbox")?,
                execution_id: r.try_get("execution_id")?,
                campaign_id: r.try_get("campaign_id")?,
                campaign_version: r.try_get("campaign_version")?,
                channel: Channel::parse(&channel)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown channel {channel}")))?,
                address: r
                    .try_get::<Option<String>, _>("address")?
                    .unwrap_or_default(),
                attempts: r.try_get("attempts")?,
                profile: from_json(&r.try_get::<String, _>("profile")?)?,
                execution_context: match execution_context {
                    Some(c) => from_json(&c)?,
                    None => serde_json::Value::Null,
                },
                recipient_context: from_json(&r.try_get::<String, _>("context")?)?,
                locale: r.try_get("locale")?,
                proof: r
                    .try_get::<Option<String>, _>("proof_rendered")?
                    .map(|s| from_json(&s))
                    .transpose()?,
                created_at: time(r.try_get("created_at")?)?,
                priority: r.try_get("priority")?,
                profile_id: r.try_get("profile_id")?,
                expires_at: r
                    .try_get::<Option<i64>, _>("expires_at")?
                    .map(time)
                    .transpose()?,
            })
        })
        .collect()
}

/// Each outcome as (id, worker, column3, column4, at); column meanings
/// depend on the kind and are spelled out in its SET clause.
type OutcomeRow = (String, String, Option<String>, Option<String>, i64);

/// The SET clause of each outcome kind, in the order of [`kind_index`].
const KIND_SETS: [&str; 7] = [
    // sent: column3 rendered, column4 header Message-ID
    "status = 'sent', last_error = NULL, rendered = v.column3, header_message_id = v.column4,
     sent_at = v.column5",
    // retry: column3 error, column4 retry time
    "status = 'queued', last_error = v.column3, next_attempt_at = CAST(v.column4 AS INTEGER)",
    // failed: column3 error, column4 rendered
    "status = 'failed', last_error = v.column3, rendered = COALESCE(v.column4, rendered)",
    // unknown: as failed
    "status = 'unknown', last_error = v.column3, rendered = COALESCE(v.column4, rendered)",
    // bounced: as failed
    "status = 'bounced', last_error = v.column3, rendered = COALESCE(v.column4, rendered)",
    // excluded: column3 reason, column4 detail
    "status = 'excluded', exclusion_reason = v.column3, last_error = v.column4",
    // deferred: column4 the time it waits for; the attempt is given back
    "status = 'queued', attempts = MAX(attempts - 1, 0), next_attempt_at = CAST(v.column4 AS INTEGER)",
];

fn kind_index(kind: &OutcomeKind) -> usize {
    match kind {
        OutcomeKind::Sent { .. } => 0,
        OutcomeKind::Retry { .. } => 1,
        OutcomeKind::Failed { .. } => 2,
        OutcomeKind::Unknown { .. } => 3,
        OutcomeKind::Bounced { .. } => 4,
        OutcomeKind::Excluded { .. } => 5,
        OutcomeKind::Deferred { .. } => 6,
    }
}

/// Delivery outcomes with their rows built (and rendered messages
/// serialized) by the caller's task, for the same reason as [`Accept`].
pub struct Completion {
    outcomes: Vec<DeliveryOutcome>,
    rows: [Vec<OutcomeRow>; 7],
}

impl Completion {
    pub fn prepare(outcomes: Vec<DeliveryOutcome>) -> Result<Completion> {
        let mut rows: [Vec<OutcomeRow>; 7] = Default::default();
        for o in &outcomes {
            let (id, worker, at) = (o.message_id.clone(), o.worker.clone(), ms(o.at));
            let (c3, c4) = match &o.kind {
                OutcomeKind::Sent {
                    rendered,
                    header_message_id,
                    ..
                } => (Some(to_json(rendered)?), Some(header_message_id.clone())),
                OutcomeKind::Retry { error, retry_at } => {
                    (Some(error.clone()), Some(ms(*retry_at).to_string()))
                }
                OutcomeKind::Failed {
                    error, rendered, ..
                }
                | OutcomeKind::Unknown { error, rendered }
                | OutcomeKind::Bounced {
                    error, rendered, ..
                } => (
                    Some(error.clone()),
                    rendered.as_ref().map(to_json).transpose()?,
                ),
                OutcomeKind::Excluded { reason, detail } => {
                    (Some(reason.clone()), Some(detail.clone()))
                }
                OutcomeKind::Deferred { until, .. } => (None, Some(ms(*until).to_string())),
            };
            rows[kind_index(&o.kind)].push((id, worker, c3, c4, at));
        }
        Ok(Completion { outcomes, rows })
    }
}

/// One UPDATE … FROM (VALUES …) per outcome kind, applied only where the
/// worker still holds the lease, then one INSERT of the history events of
/// the messages that actually changed.
async fn complete_many(conn: &mut SqliteConnection, completions: &[&Completion]) -> Result<()> {
    if completions.is_empty() {
        return Ok(());
    }
    let outcomes: Vec<&DeliveryOutcome> =
        completions.iter().flat_map(|c| c.outcomes.iter()).collect();
    let mut applied: HashSet<String> = HashSet::new();
    for (kind, set) in KIND_SETS.iter().enumerate() {
        let rows: Vec<&OutcomeRow> = completions
            .iter()
            .flat_map(|c| c.rows[kind].iter())
            .collect();
        for chunk in rows.chunks(MAX_PARAMS / 5) {
            let sql = format!(
                "UPDATE messages SET {set}, lease_owner = NULL, lease_until = NULL, updated_at = v.column5
                 FROM (VALUES {}) AS v
                 WHERE messages.id = v.column1 AND messages.status = 'sending' AND messages.lease_owner = v.column2
                 RETURNING messages.id",
                placeholders(chunk.len(), 5)
            );
            let mut q = sqlx::query(&sql);
            for (id, worker, c3, c4, at) in chunk {
                q = q.bind(id).bind(worker).bind(c3).bind(c4).bind(at);
            }
            for row in q.fetch_all(&mut *conn).await? {
                applied.insert(row.try_get("id")?);
            }
        }
    }
    // A hard bounce suppresses its address with the same commit.
    for o in &outcomes {
        if let OutcomeKind::Bounced {
            suppression: Some(s),
            ..
        } = &o.kind
            && applied.contains(&o.message_id)
        {
            super::suppressions::add(&mut *conn, s).await?;
        }
    }
    // History: one row per applied outcome, with the reason code the
    // report groups by (see migration 0011).
    let events: Vec<(&DeliveryOutcome, MessageStatus, Option<&str>, String)> = outcomes
        .iter()
        .filter(|o| applied.contains(&o.message_id))
        .map(|o| {
            let (status, reason, detail) = match &o.kind {
                OutcomeKind::Sent { reply, .. } => (MessageStatus::Sent, None, reply.clone()),
                OutcomeKind::Retry { error, retry_at } => (
                    MessageStatus::Queued,
                    Some("retry"),
                    format!(
                        "{error}; retry at {}",
                        retry_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    ),
                ),
                OutcomeKind::Failed { error, reason, .. } => {
                    (MessageStatus::Failed, Some(reason.as_str()), error.clone())
                }
                OutcomeKind::Unknown { error, .. } => (MessageStatus::Unknown, None, error.clone()),
                OutcomeKind::Bounced { error, .. } => {
                    (MessageStatus::Bounced, Some("hard"), error.clone())
                }
                OutcomeKind::Excluded { reason, detail } => (
                    MessageStatus::Excluded,
                    Some(reason.as_str()),
                    format!("{reason}: {detail}"),
                ),
                OutcomeKind::Deferred { detail, until } => (
                    MessageStatus::Queued,
                    Some("deferred"),
                    format!(
                        "deferred until {}: {detail}",
                        until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    ),
                ),
            };
            (*o, status, reason, detail)
        })
        .collect();
    for chunk in events.chunks(MAX_PARAMS / 5) {
        let sql = format!(
            "INSERT INTO message_events (message_id, at, status, reason, detail) VALUES {}",
            placeholders(chunk.len(), 5)
        );
        let mut q = sqlx::query(&sql);
        for (o, status, reason, detail) in chunk {
            q = q
                .bind(&o.message_id)
                .bind(ms(o.at))
                .bind(status.as_str())
                .bind(reason)
                .bind(detail);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
