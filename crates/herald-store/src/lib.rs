//! Herald's storage boundary.
//!
//! The domain and HTTP layers see only the [`Store`] trait. [`sqlite`] is the
//! embedded implementation; a PostgreSQL one implements the same trait.
//! Writes on the hot path (accepting executions, claiming and completing
//! messages) are group-committed: many callers share one durable transaction.

pub mod error;
pub mod profiles;
pub mod queue;
pub mod sqlite;
pub mod types;

pub use error::StoreError;
pub use profiles::{ImportBatchResult, ProfileFilter, ProfilePage, ProfilePut};
pub use queue::LaneDepth;
pub use types::*;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

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

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- API keys
    async fn api_key_count(&self) -> Result<u64>;
    /// Inserts the key, or replaces the one with the same name.
    async fn put_api_key(&self, key: &ApiKeyRecord) -> Result<()>;
    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>>;

    // --- channel configurations
    async fn insert_channel_configuration(&self, c: &ChannelConfiguration) -> Result<()>;
    async fn get_channel_configuration(
        &self,
        sandbox: &str,
        id: &str,
    ) -> Result<Option<ChannelConfiguration>>;
    async fn list_channel_configurations(&self, sandbox: &str)
    -> Result<Vec<ChannelConfiguration>>;

    // --- language settings
    async fn insert_language_settings(&self, l: &LanguageSettings) -> Result<()>;
    async fn get_language_settings(
        &self,
        sandbox: &str,
        id: &str,
    ) -> Result<Option<LanguageSettings>>;
    async fn list_language_settings(&self, sandbox: &str) -> Result<Vec<LanguageSettings>>;

    // --- fragments (every version kept)
    /// Inserts one version; [`StoreError::Conflict`] if that number exists.
    async fn insert_fragment_version(&self, f: &Fragment) -> Result<()>;
    /// A version of a fragment, or the latest when `version` is `None`.
    async fn get_fragment(
        &self,
        sandbox: &str,
        id: &str,
        version: Option<i64>,
    ) -> Result<Option<Fragment>>;
    /// The latest version of every fragment.
    async fn list_fragments(&self, sandbox: &str) -> Result<Vec<Fragment>>;
    /// Deletes every version; false when there was none.
    async fn delete_fragment(&self, sandbox: &str, id: &str) -> Result<bool>;

    // --- campaigns
    async fn insert_campaign(&self, c: &Campaign) -> Result<()>;
    async fn get_campaign(&self, sandbox: &str, id: &str) -> Result<Option<Campaign>>;
    async fn list_campaigns(&self, sandbox: &str) -> Result<Vec<Campaign>>;
    /// Writes `c` if the stored revision is still `c.revision - 1`
    /// ([`StoreError::Conflict`] otherwise); `version`, when given, is
    /// inserted in the same transaction (activation).
    async fn update_campaign(&self, c: &Campaign, version: Option<&CampaignVersion>) -> Result<()>;
    /// Deletes a campaign that is still a draft; false when there was none.
    async fn delete_draft_campaign(&self, sandbox: &str, id: &str) -> Result<bool>;
    async fn get_campaign_version(
        &self,
        sandbox: &str,
        campaign_id: &str,
        version: i64,
    ) -> Result<Option<CampaignVersion>>;

    // --- profiles
    /// Finds the profile holding `identity`, then merge-patches its
    /// attributes and adds `extra_identities`; creates it when absent.
    async fn upsert_profile(&self, sandbox: &str, upsert: ProfileUpsert)
    -> Result<(Profile, bool)>;
    async fn find_profile(&self, sandbox: &str, identity: &Identity) -> Result<Option<Profile>>;
    /// One query for many identities of one namespace (the unitary call).
    async fn find_profiles(
        &self,
        sandbox: &str,
        namespace: &str,
        ids: &[String],
    ) -> Result<BTreeMap<String, Profile>>;

    // --- executions (group-committed)
    async fn accept_execution(&self, new: NewExecution) -> Result<AcceptOutcome>;
    async fn find_execution_by_request(
        &self,
        sandbox: &str,
        campaign_id: &str,
        request_id: &str,
    ) -> Result<Option<Execution>>;
    async fn get_execution(&self, sandbox: &str, id: &str) -> Result<Option<Execution>>;

    // --- messages
    async fn list_execution_messages(
        &self,
        sandbox: &str,
        execution_id: &str,
    ) -> Result<Vec<Message>>;
    /// Messages matching `filter` (without their history).
    async fn list_messages(&self, sandbox: &str, filter: &MessageFilter) -> Result<Vec<Message>>;
    /// The message with its status history.
    async fn get_message(&self, sandbox: &str, id: &str) -> Result<Option<Message>>;
    /// A campaign's (or one execution's) messages counted by status, by
    /// exclusion reason, locale and recipient domain, proofs left out; with
    /// `since`, only messages created from then on.
    async fn count_messages(
        &self,
        sandbox: &str,
        scope: ReportScope<'_>,
        since: Option<DateTime<Utc>>,
    ) -> Result<MessageCounts>;
    /// Leases up to `limit` due messages to `worker` for `lease`. A message
    /// whose lease ran out (its worker died) is due again.
    async fn claim_messages(
        &self,
        worker: &str,
        limit: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Deliverable>> {
        self.claim(ClaimRequest {
            worker: worker.to_string(),
            limit,
            lease,
            now,
            lane: Lane::Any,
            skip_domains: Vec::new(),
        })
        .await
    }
    /// Leases due messages of one lane, most urgent first.
    async fn claim(&self, req: ClaimRequest) -> Result<Vec<Deliverable>>;
    /// Queues a new message for each failed or unknown one, linked to the
    /// first attempt; the others are reported as skipped.
    async fn resend_messages(
        &self,
        sandbox: &str,
        req: ResendRequest,
        now: DateTime<Utc>,
    ) -> Result<Vec<Resent>>;
    /// Records delivery results; only results whose lease is still held by
    /// their worker are applied.
    async fn complete_messages(&self, outcomes: Vec<DeliveryOutcome>) -> Result<()>;
    /// Gives back every lease `worker` holds: called when a worker starts
    /// again under the same identity after a crash, so its messages need not
    /// wait for their leases to run out.
    async fn release_leases(&self, worker: &str) -> Result<u64>;
    /// When the next queued message becomes due (the worker sleeps until then).
    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>>;
    /// The queue per lane (`priority`): queued, queued and due at `now`, being sent.
    /// Operators' gauges: must stay cheap on a million queued messages, so it
    /// counts index entries and never reads message rows.
    async fn queue_depth(&self, now: DateTime<Utc>) -> Result<Vec<LaneDepth>>;

    // --- suppressions
    /// Adds `s`; when the sandbox already suppresses the same address (by
    /// its key) or domain on that channel, returns that entry unchanged.
    /// `(entry, true)` when added, `(existing, false)` otherwise.
    async fn add_suppression(&self, s: &Suppression) -> Result<(Suppression, bool)>;
    async fn get_suppression(&self, sandbox: &str, id: &str) -> Result<Option<Suppression>>;
    /// False when there was none.
    async fn delete_suppression(&self, sandbox: &str, id: &str) -> Result<bool>;
    /// Entries matching `filter`, in id (creation) order.
    async fn list_suppressions(
        &self,
        sandbox: &str,
        filter: &SuppressionFilter,
    ) -> Result<Vec<Suppression>>;
    /// The hot-path lookup: which of `addresses` are suppressed on
    /// `channel`, by their own entry or (email) their domain's, keyed by the
    /// address as given. One query per 500 addresses.
    async fn suppressed(
        &self,
        sandbox: &str,
        channel: Channel,
        addresses: &[String],
    ) -> Result<HashMap<String, SuppressionHit>>;

    // --- business rules
    async fn insert_business_rule(&self, r: &BusinessRule) -> Result<()>;
    async fn get_business_rule(&self, sandbox: &str, id: &str) -> Result<Option<BusinessRule>>;
    async fn list_business_rules(&self, sandbox: &str) -> Result<Vec<BusinessRule>>;
    /// Replaces a rule (PUT); false when there is none.
    async fn update_business_rule(&self, r: &BusinessRule) -> Result<bool>;
    /// False when there was none.
    async fn delete_business_rule(&self, sandbox: &str, id: &str) -> Result<bool>;
    // --- audiences
    /// Stores an audience with the members of a static one.
    async fn insert_audience(&self, a: &Audience, members: &[Identity]) -> Result<()>;
    /// Adds members to a static audience; returns how many were new.
    async fn add_audience_members(
        &self,
        sandbox: &str,
        audience_id: &str,
        members: &[Identity],
    ) -> Result<u64>;
    async fn get_audience(&self, sandbox: &str, id: &str) -> Result<Option<Audience>>;
    async fn list_audiences(&self, sandbox: &str) -> Result<Vec<Audience>>;
    /// Deletes the audience and its members; false when there was none.
    async fn delete_audience(&self, sandbox: &str, id: &str) -> Result<bool>;
    /// Up to `limit` candidates after position `after`, in position order:
    /// every profile for a rule audience (the caller evaluates the rule),
    /// the members that have a profile for a static one. `namespace` picks
    /// the identity reported with each candidate.
    async fn scan_audience(
        &self,
        sandbox: &str,
        audience: &Audience,
        namespace: &str,
        after: i64,
        limit: usize,
    ) -> Result<AudienceScan>;

    /// How many profiles the sandbox has, and the first and last scan
    /// positions (for sampling an audience).
    async fn profile_positions(&self, sandbox: &str) -> Result<(u64, i64, i64)>;

    // --- audience executions
    /// Stores the execution and its fan-out state at once. Idempotent on
    /// (campaign, requestId) like `accept_execution`.
    async fn start_fanout(&self, new: NewFanout) -> Result<AcceptOutcome>;
    async fn get_fanout(&self, sandbox: &str, execution_id: &str) -> Result<Option<Fanout>>;
    /// Fan-outs still in progress (resumed at start).
    async fn running_fanouts(&self) -> Result<Vec<Fanout>>;
    /// One batch: messages, frequency caps and the checkpoint, atomically.
    async fn append_fanout(&self, batch: FanoutBatch) -> Result<FanoutBatchResult>;
    async fn fail_fanout(
        &self,
        sandbox: &str,
        execution_id: &str,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<()>;

    // --- scheduled executions
    /// Stores a schedule; the one already stored for (campaign, requestId)
    /// when there is one.
    async fn insert_schedule(&self, s: &ScheduledExecution) -> Result<Option<ScheduledExecution>>;
    async fn get_schedule(&self, sandbox: &str, id: &str) -> Result<Option<ScheduledExecution>>;
    async fn find_schedule_by_request(
        &self,
        sandbox: &str,
        campaign_id: &str,
        request_id: &str,
    ) -> Result<Option<ScheduledExecution>>;
    /// Deletes a schedule that has not fired.
    async fn delete_schedule(&self, sandbox: &str, id: &str) -> Result<ScheduleDeletion>;
    /// Schedules due at `now` that have not fired, in time order.
    async fn due_schedules(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ScheduledExecution>>;
    /// When the next schedule fires.
    async fn next_schedule_at(&self) -> Result<Option<DateTime<Utc>>>;
    // --- profiles and identity namespaces
    /// Inserts a custom namespace; false when the code is taken.
    async fn insert_identity_namespace(&self, ns: &IdentityNamespace) -> Result<bool>;
    /// The sandbox's custom namespaces, by code.
    async fn list_identity_namespaces(&self, sandbox: &str) -> Result<Vec<IdentityNamespace>>;
    async fn get_identity_namespace(
        &self,
        sandbox: &str,
        code: &str,
    ) -> Result<Option<IdentityNamespace>>;
    /// Like `upsert_profile`, but the profile is found by any of the given
    /// identities, and an identity of another profile is refused.
    async fn put_profile(&self, sandbox: &str, upsert: ProfileUpsert) -> Result<ProfilePut>;
    async fn list_profiles(&self, sandbox: &str, filter: &ProfileFilter) -> Result<ProfilePage>;
    /// Deletes the profile holding `identity` and its identities, and scrubs
    /// its personal data from its messages, in one transaction; false when
    /// there was none.
    async fn delete_profile(&self, sandbox: &str, identity: &Identity) -> Result<bool>;
    /// Upserts many rows in one transaction (rows already checked and
    /// normalized).
    async fn import_profiles(
        &self,
        sandbox: &str,
        rows: Vec<ImportRow>,
        now: DateTime<Utc>,
    ) -> Result<ImportBatchResult>;
    /// Takes a push token the provider called invalid out of the
    /// profile's `pushNotificationDetails`; true when it was there.
    async fn remove_push_token(
        &self,
        sandbox: &str,
        profile_id: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    // --- events after the send, and reports
    /// Appends events (opens, clicks, …) through the group commit: many
    /// callers share one transaction. Answers once they are on disk.
    async fn record_events(&self, events: Vec<NewEvent>) -> Result<()>;
    /// The message a tracking or unsubscribe token names.
    async fn tracked_message(&self, message_id: &str) -> Result<Option<TrackedMessage>>;
    /// Sets the profile's marketing consent for the message's channel (or,
    /// for a recipient without a profile, suppresses the address with
    /// reason `unsubscribe`) and records the event, in one transaction.
    async fn change_consent(&self, change: &ConsentChange) -> Result<ConsentOutcome>;
    /// Report counters in `[from, to)` (minute precision), summed.
    async fn report_counters(
        &self,
        scope: RollupScope<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<Counter>>;
    /// The campaign's clicked links: `version:index` → the URL of the
    /// link's first click.
    async fn report_links(&self, campaign_id: &str) -> Result<BTreeMap<String, String>>;
    /// Messages by current status.
    async fn report_statuses(&self, scope: RollupScope<'_>) -> Result<BTreeMap<String, u64>>;
    /// `metrics` per bucket of `bucket_minutes` in `[from, to)`; empty
    /// buckets are left out.
    async fn report_series(
        &self,
        scope: RollupScope<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_minutes: i64,
        metrics: &[&str],
    ) -> Result<Vec<SeriesPoint>>;
    // --- feedback webhooks
    /// Stores a webhook with its cursor at the last event so far (it hears
    /// of events from its creation on).
    async fn insert_webhook(&self, w: &herald_domain::webhook::Webhook) -> Result<()>;
    async fn get_webhook(
        &self,
        sandbox: &str,
        id: &str,
    ) -> Result<Option<herald_domain::webhook::Webhook>>;
    async fn list_webhooks(&self, sandbox: &str) -> Result<Vec<herald_domain::webhook::Webhook>>;
    /// Replaces a webhook (its cursor stays); false when there is none.
    async fn update_webhook(&self, w: &herald_domain::webhook::Webhook) -> Result<bool>;
    /// Deletes the webhook, its cursor and its delivery log; false when
    /// there was none.
    async fn delete_webhook(&self, sandbox: &str, id: &str) -> Result<bool>;
    /// Every enabled webhook of every sandbox, with its cursor.
    async fn enabled_webhooks(&self) -> Result<Vec<WebhookCursor>>;
    /// The enabled webhooks `owner` may work on: leased to it until
    /// `now + lease`, taken when free or expired, renewed when less than
    /// half the lease is left (so an idle poll does not write).
    async fn lease_webhooks(
        &self,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<WebhookCursor>>;
    /// The events after `after` (up to `limit` scanned) that concern a
    /// webhook of `sandbox` on `channels`: messages of campaign versions with
    /// `webhooksEnabled`, proofs left out; in seq order.
    async fn webhook_events(
        &self,
        sandbox: &str,
        channels: &[Channel],
        after: i64,
        limit: usize,
    ) -> Result<WebhookEventPage>;
    /// Records an attempt and, when given, moves the webhook's cursor
    /// forward to `advance_to` (never back), in one transaction. `attempt`
    /// may be `None` to only move the cursor.
    async fn record_webhook_attempt(
        &self,
        sandbox: &str,
        webhook_id: &str,
        attempt: Option<&WebhookDelivery>,
        advance_to: Option<i64>,
    ) -> Result<()>;
    /// The delivery log, newest first, ids below `before` when given.
    async fn list_webhook_deliveries(
        &self,
        sandbox: &str,
        webhook_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>>;
    /// The webhook's cursor (None when the webhook does not exist).
    async fn webhook_cursor(&self, sandbox: &str, webhook_id: &str) -> Result<Option<i64>>;

    // --- bounces and complaints received later
    /// Matches `event` to its message (by Herald's message id, else by the
    /// Message-ID header it was sent with) and, in one transaction, writes
    /// its `message_events` row; a hard bounce also makes a sent or
    /// delivered message `bounced`, a DSN delivery makes a sent one
    /// `delivered`; a hard bounce or a complaint suppresses the address
    /// (`hardBounce`/`bounce`, `complaint`/`complaint`) and a complaint
    /// withdraws the profile's email marketing consent. The same report
    /// twice is recorded once. `sandbox` scopes the match (the HTTP
    /// endpoint); `None` takes the matched message's own (inbound SMTP,
    /// where the message id is the only key).
    async fn record_feedback(
        &self,
        sandbox: Option<&str>,
        event: &herald_domain::feedback::FeedbackEvent,
        at: DateTime<Utc>,
    ) -> Result<FeedbackRecorded>;
}
