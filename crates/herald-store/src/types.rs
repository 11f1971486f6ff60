//! Records that cross the storage boundary but are not domain concepts.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::time::Duration;

use herald_domain::channel::Channel;
use herald_domain::execution::{Execution, PlannedMessage, ProfileToCreate};
use herald_domain::message::{MessageStatus, RenderedEmail};
use herald_domain::profile::{Identity, ProfileOrigin};
use herald_domain::suppression::Suppression;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    /// SHA-256 of the key, hex. The key itself is never stored.
    pub key_hash: String,
    pub sandboxes: Vec<String>,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProfileUpsert {
    pub identity: Identity,
    pub attributes_patch: Value,
    pub extra_identities: Vec<Identity>,
    pub origin: Option<ProfileOrigin>,
    pub now: DateTime<Utc>,
    pub new_id: String,
}

/// An execution to store with all its messages, atomically.
#[derive(Debug, Clone)]
pub struct NewExecution {
    pub execution: Execution,
    pub channel: Channel,
    /// 0 transactional (first), 1 marketing.
    pub priority: i64,
    pub messages: Vec<PlannedMessage>,
    pub profiles_to_create: Vec<ProfileToCreate>,
    pub profile_origin: Option<ProfileOrigin>,
}

#[derive(Debug, Clone)]
pub enum AcceptOutcome {
    /// Stored and durable.
    Created,
    /// The (campaign, requestId) pair was already executed; here it is.
    Existing(Box<Execution>),
}

/// The error codes of failed messages in reports (`errors.byReason`).
pub mod failure_reason {
    /// The next retry would have been past the configuration's maximum age.
    pub const MAX_AGE: &str = "maxAge";
    /// Every attempt the configuration allows was transient-failed.
    pub const MAX_ATTEMPTS: &str = "maxAttempts";
    /// The destination answered with a permanent error.
    pub const PERMANENT_REPLY: &str = "permanentReply";
    /// Herald could not send it at all (content, configuration, transport).
    pub const CANNOT_SEND: &str = "cannotSend";
}

#[derive(Debug, Clone, PartialEq)]
pub enum OutcomeKind {
    Sent {
        reply: String,
        rendered: RenderedEmail,
        header_message_id: String,
    },
    /// Try again at `retry_at`.
    Retry {
        error: String,
        retry_at: DateTime<Utc>,
    },
    /// Given up for good; `reason` is the report's error code
    /// ([`failure_reason`] names them).
    Failed {
        error: String,
        reason: String,
        rendered: Option<RenderedEmail>,
    },
    /// The connection was lost after the content was handed over: it may
    /// have been delivered, so it is never retried on its own.
    Unknown {
        error: String,
        rendered: Option<RenderedEmail>,
    },
    /// Rejected for good because of the address (a hard bounce). The
    /// address is suppressed in the same transaction.
    Bounced {
        error: String,
        rendered: Option<RenderedEmail>,
        suppression: Option<Suppression>,
    },
    /// Left out at send time (quiet hours, an invalid push token, the
    /// throttling window); `reason` is the exclusion code.
    Excluded { reason: String, detail: String },
    /// Not attempted: waits until `until` (a rate limit, quiet hours, a
    /// paused domain). The attempt is not counted.
    Deferred {
        detail: String,
        until: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryOutcome {
    pub message_id: String,
    pub worker: String,
    pub at: DateTime<Utc>,
    pub kind: OutcomeKind,
}

impl OutcomeKind {
    pub fn status(&self) -> MessageStatus {
        match self {
            OutcomeKind::Sent { .. } => MessageStatus::Sent,
            OutcomeKind::Failed { .. } => MessageStatus::Failed,
            OutcomeKind::Unknown { .. } => MessageStatus::Unknown,
            OutcomeKind::Bounced { .. } => MessageStatus::Bounced,
            OutcomeKind::Excluded { .. } => MessageStatus::Excluded,
            OutcomeKind::Retry { .. } | OutcomeKind::Deferred { .. } => MessageStatus::Queued,
        }
    }
}

/// Which queue a claim takes from. Transactional messages have their own
/// lane so a marketing backlog never holds their slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Any,
    /// Priority 0.
    Transactional,
    /// Priority 1 and above.
    Marketing,
}

/// What `Store::claim` leases.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub worker: String,
    pub limit: usize,
    pub lease: Duration,
    pub now: DateTime<Utc>,
    pub lane: Lane,
    /// Email domains paused by the engine (they keep failing): their
    /// messages stay queued.
    pub skip_domains: Vec<String>,
}

/// Which messages `Store::list_messages` returns, in id (creation) order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageFilter {
    pub campaign_id: Option<String>,
    pub execution_id: Option<String>,
    pub status: Option<MessageStatus>,
    /// Proofs are left out unless asked for.
    pub include_proofs: bool,
    /// Only messages whose id sorts after this one (keyset pagination).
    pub after: Option<String>,
    pub limit: usize,
}

/// Whose messages a report counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportScope<'a> {
    Campaign(&'a str),
    Execution(&'a str),
}

/// Counters of a campaign's (or an execution's) messages.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageCounts {
    pub by_status: std::collections::BTreeMap<MessageStatus, u64>,
    pub excluded_by_reason: std::collections::BTreeMap<String, u64>,
    /// Messages per locale (multilingual campaigns).
    pub by_locale: std::collections::BTreeMap<String, u64>,
    /// Attempts after the first, summed over the messages.
    pub retries: u64,
    /// Per recipient domain (lower-cased), the messages by status.
    pub by_domain:
        std::collections::BTreeMap<String, std::collections::BTreeMap<MessageStatus, u64>>,
}

// --- audiences and audience executions

/// One profile an audience scan found: its position (the resume point),
/// its identity in the campaign's namespace when it has one, and its
/// attributes as stored (JSON text, parsed by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct AudienceCandidate {
    pub position: i64,
    pub profile_id: String,
    pub identity: Option<String>,
    pub attributes: String,
}

/// A page of an audience scan. `next` is the position to resume after;
/// `None` when the scan reached the end. `skipped` counts static members
/// with no profile.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AudienceScan {
    pub candidates: Vec<AudienceCandidate>,
    pub next: Option<i64>,
    pub skipped: u64,
}

/// An audience execution to start: its execution row and its fan-out state,
/// stored together; `schedule_id` is marked fired in the same transaction.
#[derive(Debug, Clone)]
pub struct NewFanout {
    pub execution: Execution,
    pub audience_id: String,
    pub schedule_id: Option<String>,
}

/// A frequency cap as the fan-out applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct FrequencyCap {
    pub rule_id: String,
    pub max_messages: u32,
    pub window: Duration,
}

/// One batch of an audience execution: its messages (inserted unless the
/// profile already has one from this execution) and the scan position
/// they bring the checkpoint to, in one transaction.
#[derive(Debug, Clone)]
pub struct FanoutBatch {
    pub sandbox: String,
    pub execution_id: String,
    pub campaign_id: String,
    pub campaign_version: i64,
    pub channel: Channel,
    pub messages: Vec<FanoutMessage>,
    pub caps: Vec<FrequencyCap>,
    pub cursor: i64,
    /// The scan is over: the execution becomes `Succeeded`.
    pub done: bool,
    pub now: DateTime<Utc>,
    /// The campaign's throttle (messages per second) and when the
    /// execution started: queued messages get consecutive send slots,
    /// and those past the 12 h window are excluded.
    pub throttle: Option<(u32, DateTime<Utc>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FanoutMessage {
    pub message_id: String,
    pub user_id: String,
    pub namespace: String,
    pub profile_id: String,
    pub address: Option<String>,
    pub status: MessageStatus,
    pub exclusion_reason: Option<String>,
    /// Render data snapshot (the stored attributes, JSON text as read).
    pub profile: String,
    pub locale: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FanoutBatchResult {
    /// Messages written (a profile seen before in this execution is not).
    pub inserted: u64,
    pub queued: u64,
    pub frequency_capped: u64,
}

/// What deleting a schedule found.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleDeletion {
    Deleted,
    NotFound,
    /// It fired already: this execution runs.
    AlreadyFired(String),
}

// --- feedback webhooks

/// One message event as a feedback webhook sees it: the history row
/// joined to its message, execution and campaign version.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub seq: i64,
    pub message_id: String,
    pub at: DateTime<Utc>,
    /// The history row's status (`sent`, `queued`, `failed`, `excluded`, …).
    pub status: String,
    pub detail: Option<String>,
    pub sandbox: String,
    pub execution_id: String,
    pub request_id: Option<String>,
    pub campaign_id: String,
    pub campaign_version: i64,
    pub channel: Channel,
    /// 0 transactional, 1 marketing.
    pub priority: i64,
    pub namespace: String,
    pub user_id: String,
    /// How many retries (`queued` events) the message had before this one.
    pub retry_count: i64,
}

/// The next events after a cursor. `scanned_to` is the last seq looked at:
/// the events between the cursor and it that are not in `events` do not
/// concern the webhook (another sandbox or channel, a campaign without
/// webhooks, a proof), so the cursor may move past them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookEventPage {
    pub events: Vec<WebhookEvent>,
    pub scanned_to: Option<i64>,
}

/// An enabled webhook with its cursor (the dispatcher's work list).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookCursor {
    pub webhook: herald_domain::webhook::Webhook,
    pub seq: i64,
}

/// One attempt to deliver one event to one webhook.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    /// Increasing; the delivery log pages by it (newest first).
    pub id: i64,
    #[serde(skip)]
    pub sandbox: String,
    #[serde(skip)]
    pub webhook_id: String,
    pub event_seq: i64,
    pub message_id: String,
    /// 1 for the first try of this event.
    pub attempt: i64,
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub delivered: bool,
}

/// `Store::resend_messages`: the messages to resend and the id each new
/// message gets (the caller makes them, so the store stays deterministic).
#[derive(Debug, Clone, PartialEq)]
pub struct ResendRequest {
    pub message_ids: Vec<String>,
    pub new_ids: Vec<String>,
}

/// What became of one message asked to be resent.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resent {
    pub message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_message_id: Option<String>,
    /// The message of the first attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resend_of: Option<String>,
    /// Why it was not resent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl Resent {
    pub fn skipped(id: &str, why: &str) -> Resent {
        Resent {
            message_id: id.to_string(),
            new_message_id: None,
            resend_of: None,
            skipped: Some(why.to_string()),
        }
    }
}

/// What recording one piece of feedback (a bounce or complaint received
/// later) did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum FeedbackRecorded {
    /// An event was written to the message's history; `suppressed` when
    /// its address is (now or already) on the suppression list because of
    /// it.
    #[serde(rename_all = "camelCase")]
    Recorded {
        message_id: String,
        #[serde(skip)]
        sandbox: String,
        suppressed: bool,
    },
    /// The same report was recorded before: nothing changed.
    #[serde(rename_all = "camelCase")]
    Duplicate { message_id: String },
    /// No message of Herald's matches it.
    Unmatched,
}

// --- events after the send, and report counters

/// An event recorded after the fact: an open, a click, an unsubscribe, a
/// bounce or complaint arriving later. `status`, `reason`, `detail` and
/// `data` are the columns of `message_events` (migration 0011 says what the
/// report counts of each).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub message_id: String,
    pub at: DateTime<Utc>,
    pub status: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub data: Option<serde_json::Value>,
}

/// Whose counters a report reads: a campaign's, or one of its executions'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupScope<'a> {
    pub campaign_id: &'a str,
    pub execution_id: Option<&'a str>,
}

/// One report counter summed over the window's minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub metric: String,
    pub dim: String,
    pub n: u64,
}

/// One point of a report's time series: the bucket's start and the count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesPoint {
    pub start: DateTime<Utc>,
    pub metric: String,
    pub n: u64,
}

/// What the tracking and unsubscribe endpoints need of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedMessage {
    pub message_id: String,
    pub sandbox: String,
    pub campaign_id: String,
    pub channel: herald_domain::channel::Channel,
    pub profile_id: Option<String>,
    pub address: Option<String>,
    pub priority: i64,
    /// The links of the message as sent, by index (click tracking).
    pub links: Vec<String>,
}

/// An unsubscribe (or a resubscribe) from a message's link.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentChange {
    pub message_id: String,
    /// `false` for a resubscribe.
    pub unsubscribe: bool,
    pub at: DateTime<Utc>,
    /// How it came: `oneClick` (RFC 8058 POST), `page`, `mailto`.
    pub source: String,
}

/// What a consent change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentOutcome {
    /// The profile's consent (or the address's suppression) changed, and an
    /// event was recorded.
    Changed,
    /// It already was so: nothing recorded, so a repeated POST counts once.
    Unchanged,
    NoSuchMessage,
}
