//! The embedded store: one SQLite file in WAL mode.
//!
//! One write connection, shared by a group-commit actor (hot path) and by
//! management writes (through the same mutex, so SQLite never sees two
//! writers and never answers BUSY); a small pool of read-only connections
//! serves reads concurrently with writes.

mod audiences;
mod codec;
mod fragments;
mod management;
mod messages;
mod profiles;
mod queue;
mod resend;
mod wal_sync;
mod writer;
// --- events after the send, and reports
mod engagement;
mod reports;
mod rollup;
// --- suppressions and business rules
mod business_rules;
mod suppressions;
// --- feedback webhooks
mod webhooks;
// --- bounces and complaints received later
mod feedback;

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::{Mutex, mpsc, oneshot};

use herald_domain::audience::Audience;
use herald_domain::audience_execution::{Fanout, ScheduledExecution};
use herald_domain::campaign::{Campaign, CampaignVersion};
use herald_domain::channel::ChannelConfiguration;
use herald_domain::execution::Execution;
use herald_domain::fragment::Fragment;
use herald_domain::identity::IdentityNamespace;
use herald_domain::import::ImportRow;
use herald_domain::language::LanguageSettings;
use herald_domain::message::{Deliverable, Message};
use herald_domain::profile::{Identity, Profile};
// --- suppressions and business rules
use herald_domain::business_rule::BusinessRule;
use herald_domain::channel::Channel;
use herald_domain::suppression::{Suppression, SuppressionFilter, SuppressionHit};
use std::collections::HashMap;

use crate::types::*;
use crate::{Result, Store, StoreError};
use writer::Command;

/// How many commands one group commit takes at most.
const MAX_BATCH: usize = 1024;

pub struct SqliteStore {
    writer: Arc<Mutex<SqliteConnection>>,
    sync: wal_sync::WalSync,
    commands: mpsc::Sender<Command>,
    read: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/herald.db` and runs the embedded
    /// migrations.
    pub async fn open(dir: &Path) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Corrupt(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("herald.db");
        let base = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk (the WAL fsync'd) before it returns;
            // a 202 promises exactly that.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            .statement_cache_capacity(256)
            .disable_statement_logging();
        // Checkpoints run beside the writer (see `checkpoints`), not inside
        // the commits that answer callers.
        let mut conn = base
            .clone()
            .create_if_missing(true)
            .pragma("wal_autocheckpoint", "0")
            .connect()
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&mut conn).await?;
        // The writer keeps a 64 MiB page cache; checkpoints and readers
        // small ones, so that long scans (audiences over millions of
        // profiles) do not grow the process by 64 MiB per connection.
        let checkpointer = base.clone().pragma("cache_size", "-2048").connect().await?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(base.read_only(true).pragma("cache_size", "-8192"))
            .await?;
        // The migrations wrote through the WAL, so the file exists.
        let sync = wal_sync::WalSync::start(&dir.join("herald.db-wal"))?;
        let writer = Arc::new(Mutex::new(conn));
        let (tx, rx) = mpsc::channel(8192);
        tokio::spawn(writer::run(writer.clone(), rx, sync.clone()));
        tokio::spawn(checkpoints(checkpointer));
        Ok(SqliteStore {
            writer,
            sync,
            commands: tx,
            read,
        })
    }

    async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Waits for queued writes and closes the file cleanly.
    pub async fn close(&self) {
        self.read.close().await;
        let mut conn = self.writer.lock().await;
        let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *conn)
            .await;
        let _ = conn.ping().await;
    }
}

/// Copies the WAL back into the database file every second. PASSIVE never
/// blocks the writer; the WAL restarts from the top once a checkpoint has
/// caught up, so it stays small.
async fn checkpoints(mut conn: SqliteConnection) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn api_key_count(&self) -> Result<u64> {
        management::api_key_count(&self.read).await
    }
    async fn put_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
        management::put_api_key(&mut *self.writer.lock().await, key).await
    }
    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>> {
        management::find_api_key(&self.read, key_hash).await
    }

    async fn insert_channel_configuration(&self, c: &ChannelConfiguration) -> Result<()> {
        management::insert_channel_configuration(&mut *self.writer.lock().await, c).await
    }
    async fn get_channel_configuration(
        &self,
        sandbox: &str,
        id: &str,
    ) -> Result<Option<ChannelConfiguration>> {
        management::get_channel_configuration(&self.read, sandbox, id).await
    }
    async fn list_channel_configurations(
        &self,
        sandbox: &str,
    ) -> Result<Vec<ChannelConfiguration>> {
        management::list_channel_configurations(&self.read, sandbox).await
    }

    async fn insert_language_settings(&self, l: &LanguageSettings) -> Result<()> {
        management::insert_language_settings(&mut *self.writer.lock().await, l).await
    }
    async fn get_language_settings(
        &self,
        sandbox: &str,
        id: &str,
    ) -> Result<Option<LanguageSettings>> {
        management::get_language_settings(&self.read, sandbox, id).await
    }
    async fn list_language_settings(&self, sandbox: &str) -> Result<Vec<LanguageSettings>> {
        management::list_language_settings(&self.read, sandbox).await
    }

    async fn insert_fragment_version(&self, f: &Fragment) -> Result<()> {
        fragments::insert_version(&mut *self.writer.lock().await, f).await
    }
    async fn get_fragment(
        &self,
        sandbox: &str,
        id: &str,
        version: Option<i64>,
    ) -> Result<Option<Fragment>> {
        fragments::get(&self.read, sandbox, id, version).await
    }
    async fn list_fragments(&self, sandbox: &str) -> Result<Vec<Fragment>> {
        fragments::list(&self.read, sandbox).await
    }
    async fn delete_fragment(&self, sandbox: &str, id: &str) -> Result<bool> {
        fragments::delete(&mut *self.writer.lock().await, sandbox, id).await
    }

    async fn insert_campaign(&self, c: &Campaign) -> Result<()> {
        management::insert_campaign(&mut *self.writer.lock().await, c).await
    }
    async fn get_campaign(&self, sandbox: &str, id: &str) -> Result<Option<Campaign>> {
        management::get_campaign(&self.read, sandbox, id).await
    }
    async fn list_campaigns(&self, sandbox: &str) -> Result<Vec<Campaign>> {
        management::list_campaigns(&self.read, sandbox).await
    }
    async fn update_campaign(&self, c: &Campaign, version: Option<&CampaignVersion>) -> Result<()> {
        management::update_campaign(&mut *self.writer.lock().await, c, version).await
    }
    async fn delete_draft_campaign(&self, sandbox: &str, id: &str) -> Result<bool> {
        management::delete_draft_campaign(&mut *self.writer.lock().await, sandbox, id).await
    }
    async fn get_campaign_version(
        &self,
        sandbox: &str,
        campaign_id: &str,
        version: i64,
    ) -> Result<Option<CampaignVersion>> {
        management::get_campaign_version(&self.read, sandbox, campaign_id, version).await
    }

    async fn upsert_profile(
        &self,
        sandbox: &str,
        upsert: ProfileUpsert,
    ) -> Result<(Profile, bool)> {
        match profiles::put_profile(&mut *self.writer.lock().await, sandbox, upsert).await? {
            crate::ProfilePut::Written { profile, created } => Ok((profile, created)),
            crate::ProfilePut::IdentityTaken { .. } => Err(StoreError::Conflict),
        }
    }
    async fn find_profile(&self, sandbox: &str, identity: &Identity) -> Result<Option<Profile>> {
        let found = profiles::find_profiles(
            &self.read,
            sandbox,
            &identity.namespace,
            std::slice::from_ref(&identity.id),
        )
        .await?;
        Ok(found.into_values().next())
    }
    async fn find_profiles(
        &self,
        sandbox: &str,
        namespace: &str,
        ids: &[String],
    ) -> Result<BTreeMap<String, Profile>> {
        profiles::find_profiles(&self.read, sandbox, namespace, ids).await
    }

    async fn accept_execution(&self, new: NewExecution) -> Result<AcceptOutcome> {
        let accept = writer::Accept::prepare(new)?;
        self.submit(|reply| Command::Accept(Box::new(accept), reply))
            .await
    }
    async fn find_execution_by_request(
        &self,
        sandbox: &str,
        campaign_id: &str,
        request_id: &str,
    ) -> Result<Option<Execution>> {
        let found =
            messages::find_execution_by_request(&self.read, sandbox, campaign_id, request_id)
                .await?;
        if found.is_some() {
            // The caller answers a replay with it: the execution must be
            // durable, and a reader can see a commit before its fsync.
            self.sync.barrier().await?;
        }
        Ok(found)
    }
    async fn get_execution(&self, sandbox: &str, id: &str) -> Result<Option<Execution>> {
        messages::get_execution(&self.read, sandbox, id).await
    }

    async fn list_execution_messages(
        &self,
        sandbox: &str,
        execution_id: &str,
    ) -> Result<Vec<Message>> {
        messages::list_execution_messages(&self.read, sandbox, execution_id).await
    }
    async fn list_messages(&self, sandbox: &str, filter: &MessageFilter) -> Result<Vec<Message>> {
        messages::list_messages(&self.read, sandbox, filter).await
    }
    async fn get_message(&self, sandbox: &str, id: &str) -> Result<Option<Message>> {
        messages::get_message(&self.read, sandbox, id).await
    }
    async fn count_messages(
        &self,
        sandbox: &str,
        scope: ReportScope<'_>,
        since: Option<DateTime<Utc>>,
    ) -> Result<MessageCounts> {
        messages::count_messages(&self.read, sandbox, scope, since).await
    }
    async fn claim(&self, req: ClaimRequest) -> Result<Vec<Deliverable>> {
        self.submit(|reply| Command::Claim {
            req: Box::new(req),
            reply,
        })
        .await
    }
    async fn remove_push_token(
        &self,
        sandbox: &str,
        profile_id: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut conn = self.writer.lock().await;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let doc: Option<String> =
            sqlx::query_scalar("SELECT attributes FROM profiles WHERE sandbox = ?1 AND id = ?2")
                .bind(sandbox)
                .bind(profile_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(doc) = doc else { return Ok(false) };
        let mut attributes: serde_json::Value = codec::from_json(&doc)?;
        let Some(details) = attributes
            .get_mut("pushNotificationDetails")
            .and_then(serde_json::Value::as_array_mut)
        else {
            return Ok(false);
        };
        let before = details.len();
        details.retain(|d| d.get("token").and_then(serde_json::Value::as_str) != Some(token));
        if details.len() == before {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE profiles SET attributes = ?1, updated_at = ?2 WHERE sandbox = ?3 AND id = ?4",
        )
        .bind(codec::to_json(&attributes)?)
        .bind(codec::ms(now))
        .bind(sandbox)
        .bind(profile_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
    async fn record_events(&self, events: Vec<NewEvent>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.submit(|reply| Command::Events(events, reply)).await
    }
    async fn tracked_message(&self, message_id: &str) -> Result<Option<TrackedMessage>> {
        engagement::tracked_message(&self.read, message_id).await
    }
    async fn change_consent(&self, change: &ConsentChange) -> Result<ConsentOutcome> {
        engagement::change_consent(&mut *self.writer.lock().await, change).await
    }
    async fn report_counters(
        &self,
        scope: RollupScope<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<Counter>> {
        reports::counters(&self.read, scope, from, to).await
    }
    async fn report_links(&self, campaign_id: &str) -> Result<BTreeMap<String, String>> {
        reports::links(&self.read, campaign_id).await
    }
    async fn report_statuses(&self, scope: RollupScope<'_>) -> Result<BTreeMap<String, u64>> {
        reports::statuses(&self.read, scope).await
    }
    async fn report_series(
        &self,
        scope: RollupScope<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_minutes: i64,
        metrics: &[&str],
    ) -> Result<Vec<SeriesPoint>> {
        reports::series(&self.read, scope, from, to, bucket_minutes, metrics).await
    }
    async fn resend_messages(
        &self,
        sandbox: &str,
        req: ResendRequest,
        now: DateTime<Utc>,
    ) -> Result<Vec<Resent>> {
        resend::resend(&mut *self.writer.lock().await, sandbox, &req, now).await
    }
    async fn complete_messages(&self, outcomes: Vec<DeliveryOutcome>) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let completion = writer::Completion::prepare(outcomes)?;
        self.submit(|reply| Command::Complete(Box::new(completion), reply))
            .await
    }
    async fn release_leases(&self, worker: &str) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE messages SET status = 'queued', lease_owner = NULL, lease_until = NULL
             WHERE status = 'sending' AND lease_owner = ?1",
        )
        .bind(worker)
        .execute(&mut *self.writer.lock().await)
        .await?;
        Ok(done.rows_affected())
    }
    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        messages::next_due_at(&self.read).await
    }
    async fn queue_depth(&self, now: DateTime<Utc>) -> Result<Vec<crate::LaneDepth>> {
        queue::depth(&self.read, now).await
    }

    // --- suppressions
    async fn add_suppression(&self, s: &Suppression) -> Result<(Suppression, bool)> {
        suppressions::add(&mut *self.writer.lock().await, s).await
    }
    async fn get_suppression(&self, sandbox: &str, id: &str) -> Result<Option<Suppression>> {
        suppressions::get(&self.read, sandbox, id).await
    }
    async fn delete_suppression(&self, sandbox: &str, id: &str) -> Result<bool> {
        suppressions::delete(&mut *self.writer.lock().await, sandbox, id).await
    }
    async fn list_suppressions(
        &self,
        sandbox: &str,
        filter: &SuppressionFilter,
    ) -> Result<Vec<Suppression>> {
        suppressions::list(&self.read, sandbox, filter).await
    }
    async fn suppressed(
        &self,
        sandbox: &str,
        channel: Channel,
        addresses: &[String],
    ) -> Result<HashMap<String, SuppressionHit>> {
        suppressions::suppressed(&self.read, sandbox, channel, addresses).await
    }

    // --- business rules
    async fn insert_business_rule(&self, r: &BusinessRule) -> Result<()> {
        business_rules::insert(&mut *self.writer.lock().await, r).await
    }
    async fn get_business_rule(&self, sandbox: &str, id: &str) -> Result<Option<BusinessRule>> {
        business_rules::get(&self.read, sandbox, id).await
    }
    async fn list_business_rules(&self, sandbox: &str) -> Result<Vec<BusinessRule>> {
        business_rules::list(&self.read, sandbox).await
    }
    async fn update_business_rule(&self, r: &BusinessRule) -> Result<bool> {
        business_rules::update(&mut *self.writer.lock().await, r).await
    }
    async fn delete_business_rule(&self, sandbox: &str, id: &str) -> Result<bool> {
        business_rules::delete(&mut *self.writer.lock().await, sandbox, id).await
    }

    // --- audiences
    async fn insert_audience(&self, a: &Audience, members: &[Identity]) -> Result<()> {
        audiences::insert_audience(&mut *self.writer.lock().await, a, members).await
    }
    async fn add_audience_members(
        &self,
        sandbox: &str,
        audience_id: &str,
        members: &[Identity],
    ) -> Result<u64> {
        audiences::add_audience_members(
            &mut *self.writer.lock().await,
            sandbox,
            audience_id,
            members,
        )
        .await
    }
    async fn get_audience(&self, sandbox: &str, id: &str) -> Result<Option<Audience>> {
        audiences::get_audience(&self.read, sandbox, id).await
    }
    async fn list_audiences(&self, sandbox: &str) -> Result<Vec<Audience>> {
        audiences::list_audiences(&self.read, sandbox).await
    }
    async fn delete_audience(&self, sandbox: &str, id: &str) -> Result<bool> {
        audiences::delete_audience(&mut *self.writer.lock().await, sandbox, id).await
    }
    async fn scan_audience(
        &self,
        sandbox: &str,
        audience: &Audience,
        namespace: &str,
        after: i64,
        limit: usize,
    ) -> Result<AudienceScan> {
        audiences::scan_audience(&self.read, sandbox, audience, namespace, after, limit).await
    }

    async fn profile_positions(&self, sandbox: &str) -> Result<(u64, i64, i64)> {
        audiences::profile_positions(&self.read, sandbox).await
    }

    // --- audience executions
    async fn start_fanout(&self, new: NewFanout) -> Result<AcceptOutcome> {
        audiences::start_fanout(&mut *self.writer.lock().await, &new).await
    }
    async fn get_fanout(&self, sandbox: &str, execution_id: &str) -> Result<Option<Fanout>> {
        audiences::get_fanout(&self.read, sandbox, execution_id).await
    }
    async fn running_fanouts(&self) -> Result<Vec<Fanout>> {
        audiences::running_fanouts(&self.read).await
    }
    async fn append_fanout(&self, batch: FanoutBatch) -> Result<FanoutBatchResult> {
        audiences::append_fanout(&mut *self.writer.lock().await, batch).await
    }
    async fn fail_fanout(
        &self,
        sandbox: &str,
        execution_id: &str,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        audiences::fail_fanout(
            &mut *self.writer.lock().await,
            sandbox,
            execution_id,
            error,
            at,
        )
        .await
    }

    // --- scheduled executions
    async fn insert_schedule(&self, s: &ScheduledExecution) -> Result<Option<ScheduledExecution>> {
        audiences::insert_schedule(&mut *self.writer.lock().await, s).await
    }
    async fn get_schedule(&self, sandbox: &str, id: &str) -> Result<Option<ScheduledExecution>> {
        audiences::get_schedule(&self.read, sandbox, id).await
    }
    async fn find_schedule_by_request(
        &self,
        sandbox: &str,
        campaign_id: &str,
        request_id: &str,
    ) -> Result<Option<ScheduledExecution>> {
        audiences::find_schedule_by_request(&self.read, sandbox, campaign_id, request_id).await
    }
    async fn delete_schedule(&self, sandbox: &str, id: &str) -> Result<ScheduleDeletion> {
        audiences::delete_schedule(&mut *self.writer.lock().await, sandbox, id).await
    }
    async fn due_schedules(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ScheduledExecution>> {
        audiences::due_schedules(&self.read, now, limit).await
    }
    async fn next_schedule_at(&self) -> Result<Option<DateTime<Utc>>> {
        audiences::next_schedule_at(&self.read).await
    }

    // --- profiles and identity namespaces
    async fn insert_identity_namespace(&self, ns: &IdentityNamespace) -> Result<bool> {
        profiles::insert_namespace(&mut *self.writer.lock().await, ns).await
    }
    async fn list_identity_namespaces(&self, sandbox: &str) -> Result<Vec<IdentityNamespace>> {
        profiles::list_namespaces(&self.read, sandbox).await
    }
    async fn get_identity_namespace(
        &self,
        sandbox: &str,
        code: &str,
    ) -> Result<Option<IdentityNamespace>> {
        profiles::get_namespace(&self.read, sandbox, code).await
    }
    async fn put_profile(&self, sandbox: &str, upsert: ProfileUpsert) -> Result<crate::ProfilePut> {
        profiles::put_profile(&mut *self.writer.lock().await, sandbox, upsert).await
    }
    async fn list_profiles(
        &self,
        sandbox: &str,
        filter: &crate::ProfileFilter,
    ) -> Result<crate::ProfilePage> {
        profiles::list_profiles(&self.read, sandbox, filter).await
    }
    async fn delete_profile(&self, sandbox: &str, identity: &Identity) -> Result<bool> {
        profiles::delete_profile(&mut *self.writer.lock().await, sandbox, identity).await
    }
    async fn import_profiles(
        &self,
        sandbox: &str,
        rows: Vec<ImportRow>,
        now: DateTime<Utc>,
    ) -> Result<crate::ImportBatchResult> {
        profiles::import_profiles(&mut *self.writer.lock().await, sandbox, rows, now).await
    }
    // --- feedback webhooks
    async fn insert_webhook(&self, w: &herald_domain::webhook::Webhook) -> Result<()> {
        webhooks::insert(&mut *self.writer.lock().await, w).await
    }
    async fn get_webhook(
        &self,
        sandbox: &str,
        id: &str,
    ) -> Result<Option<herald_domain::webhook::Webhook>> {
        webhooks::get(&self.read, sandbox, id).await
    }
    async fn list_webhooks(&self, sandbox: &str) -> Result<Vec<herald_domain::webhook::Webhook>> {
        webhooks::list(&self.read, sandbox).await
    }
    async fn update_webhook(&self, w: &herald_domain::webhook::Webhook) -> Result<bool> {
        webhooks::update(&mut *self.writer.lock().await, w).await
    }
    async fn delete_webhook(&self, sandbox: &str, id: &str) -> Result<bool> {
        webhooks::delete(&mut *self.writer.lock().await, sandbox, id).await
    }
    async fn enabled_webhooks(&self) -> Result<Vec<WebhookCursor>> {
        webhooks::enabled(&self.read).await
    }
    async fn lease_webhooks(
        &self,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<WebhookCursor>> {
        if webhooks::leases_to_take(&self.read, owner, lease, now).await? {
            webhooks::take_leases(&mut *self.writer.lock().await, owner, lease, now).await?;
        }
        webhooks::leased(&self.read, owner, now).await
    }
    async fn webhook_events(
        &self,
        sandbox: &str,
        channels: &[Channel],
        after: i64,
        limit: usize,
    ) -> Result<WebhookEventPage> {
        let page = webhooks::events(&self.read, sandbox, channels, after, limit).await?;
        if page.scanned_to.is_some() {
            // A reader can see a commit before its WAL fsync. Reporting an
            // event (or moving a cursor past one) that a power cut could
            // still take back would let its seq be reused unseen.
            self.sync.barrier().await?;
        }
        Ok(page)
    }
    async fn record_webhook_attempt(
        &self,
        sandbox: &str,
        webhook_id: &str,
        attempt: Option<&WebhookDelivery>,
        advance_to: Option<i64>,
    ) -> Result<()> {
        webhooks::record_attempt(
            &mut *self.writer.lock().await,
            sandbox,
            webhook_id,
            attempt,
            advance_to,
        )
        .await
    }
    async fn list_webhook_deliveries(
        &self,
        sandbox: &str,
        webhook_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>> {
        webhooks::deliveries(&self.read, sandbox, webhook_id, before, limit).await
    }
    async fn webhook_cursor(&self, sandbox: &str, webhook_id: &str) -> Result<Option<i64>> {
        webhooks::cursor(&self.read, sandbox, webhook_id).await
    }

    async fn record_feedback(
        &self,
        sandbox: Option<&str>,
        event: &herald_domain::feedback::FeedbackEvent,
        at: DateTime<Utc>,
    ) -> Result<FeedbackRecorded> {
        feedback::record(&mut *self.writer.lock().await, sandbox, event, at).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Group commits switch the shared connection to NORMAL (their fsync is
    /// `WalSync`'s); the management writes after them must find it FULL.
    #[tokio::test]
    async fn the_writer_connection_is_full_again_after_a_group_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let claimed = store
            .claim_messages("w", 10, Duration::from_secs(30), Utc::now())
            .await
            .unwrap();
        assert!(claimed.is_empty());
        let mode: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *store.writer.lock().await)
            .await
            .unwrap();
        assert_eq!(mode, 2, "synchronous=FULL is 2");
    }
}
