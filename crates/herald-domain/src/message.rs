//! Messages: one per recipient of an execution, and their status history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::channel::Channel;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum MessageStatus {
    Queued,
    Sending,
    Sent,
    Delivered,
    Failed,
    Bounced,
    Excluded,
    /// The connection was lost after the content was handed over: it may
    /// or may not have arrived. Never retried on its own; resendable.
    Unknown,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 8] = [
        MessageStatus::Queued,
        MessageStatus::Sending,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Failed,
        MessageStatus::Bounced,
        MessageStatus::Excluded,
        MessageStatus::Unknown,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Failed => "failed",
            MessageStatus::Bounced => "bounced",
            MessageStatus::Excluded => "excluded",
            MessageStatus::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        MessageStatus::ALL.into_iter().find(|m| m.as_str() == s)
    }
    /// No further delivery work will happen on its own.
    pub fn is_final(self) -> bool {
        !matches!(self, MessageStatus::Queued | MessageStatus::Sending)
    }
}

/// Exclusion reason codes (the report counts them).
pub mod reasons {
    pub const NO_ADDRESS: &str = "noAddress";
    pub const INVALID_ADDRESS: &str = "invalidAddress";
    /// Multilingual campaign: no locale matches and there is no fallback.
    pub const NO_LOCALE: &str = "noLocale";
    /// `missingValues: "fail"` and the content reads a value the recipient
    /// does not have.
    pub const MISSING_VALUE: &str = "missingValue";
    // --- consent, suppressions, frequency caps
    pub const EMAIL_NO_CONSENT: &str = "emailNoConsent";
    pub const SMS_NO_CONSENT: &str = "smsNoConsent";
    pub const PUSH_NO_CONSENT: &str = "pushNoConsent";
    /// The address is on the sandbox's email suppression list.
    pub const EMAIL_SUPPRESSED: &str = "emailSuppressed";
    /// The address's domain is on the sandbox's email suppression list.
    pub const DOMAIN_SUPPRESSED: &str = "domainSuppressed";
    pub const SMS_SUPPRESSED: &str = "smsSuppressed";
    pub const PUSH_SUPPRESSED: &str = "pushSuppressed";
    pub const PUSH_NO_TOKEN: &str = "pushNoToken";
    /// A business rule's frequency cap is reached for this recipient.
    pub const FREQUENCY_CAPPED: &str = "frequencyCapped";
    /// The profile was deleted before the message was sent.
    pub const PROFILE_DELETED: &str = "profileDeleted";
    /// Quiet hours in `discard` mode: the send time fell inside the window.
    pub const QUIET_HOURS: &str = "quietHours";
    /// The provider said the push token is unregistered or invalid; the
    /// token is removed from the profile.
    pub const PUSH_TOKEN_INVALID: &str = "pushTokenInvalid";
    /// A throttled audience send: still unsent 12 h after it started.
    pub const THROTTLE_WINDOW_EXPIRED: &str = "throttleWindowExpired";
}

/// What was actually sent, kept on the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct RenderedEmail {
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preheader: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    pub text: String,
    /// SMS: the parts the text was sent in, and their encoding
    /// (`gsm7` or `ucs2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// The tracked links, by index, as they were before the rewrite (a
    /// click's redirect goes only to one of these).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageEvent {
    pub at: DateTime<Utc>,
    /// A status the message went through (`queued`, `sent`, `bounced`, …)
    /// or an engagement event (`opened`, `clicked`, `unsubscribed`,
    /// `complained`, `resent`).
    pub status: String,
    /// The code reports group by: an exclusion or failure reason, `hard` or
    /// `soft`, a link's index, `machine` for a privacy proxy's open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Extra facts (user agent, truncated IP, the clicked URL, DSN fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub message_id: String,
    #[serde(skip)]
    pub sandbox: String,
    pub execution_id: String,
    pub campaign_id: String,
    pub campaign_version: i64,
    pub channel: Channel,
    pub user_id: String,
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub status: MessageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusion_reason: Option<String>,
    /// The locale the message is rendered in (multilingual campaigns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// A proof sent to a test address: no report counts it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub proof: bool,
    pub attempts: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The RFC 5322 Message-ID header, stable across retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_message_id: Option<String>,
    /// A resend by hand: the message of the first attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resend_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered: Option<RenderedEmail>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<MessageEvent>,
}

/// What the delivery engine needs to render and send one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Deliverable {
    pub message_id: String,
    pub sandbox: String,
    pub campaign_id: String,
    pub campaign_version: i64,
    pub channel: Channel,
    pub address: String,
    pub attempts: i64,
    /// The profile as it was at execution, with the call's override merged.
    pub profile: Value,
    /// The call's top-level context.
    pub execution_context: Value,
    /// This recipient's context (merged over the execution's when rendering).
    pub recipient_context: Value,
    /// The locale to render (multilingual campaigns).
    pub locale: Option<String>,
    /// A proof carries its content, rendered when it was asked for.
    pub proof: Option<RenderedEmail>,
    pub created_at: DateTime<Utc>,
    pub execution_id: String,
    /// 0 transactional, 1 marketing.
    pub priority: i64,
    pub profile_id: Option<String>,
    /// A throttled audience send's deadline.
    pub expires_at: Option<DateTime<Utc>>,
}
