//! Campaigns: the editable definition, its immutable activated versions, and
//! the status lifecycle.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use std::collections::BTreeMap;

use crate::channel::Channel;
use crate::fragment::Fragments;
use crate::language::LanguageSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CampaignCategory {
    Marketing,
    Transactional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CampaignStatus {
    Draft,
    InReview,
    Scheduled,
    Live,
    Stopped,
    Completed,
    Archived,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "draft",
            CampaignStatus::InReview => "inReview",
            CampaignStatus::Scheduled => "scheduled",
            CampaignStatus::Live => "live",
            CampaignStatus::Stopped => "stopped",
            CampaignStatus::Completed => "completed",
            CampaignStatus::Archived => "archived",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "draft" => CampaignStatus::Draft,
            "inReview" => CampaignStatus::InReview,
            "scheduled" => CampaignStatus::Scheduled,
            "live" => CampaignStatus::Live,
            "stopped" => CampaignStatus::Stopped,
            "completed" => CampaignStatus::Completed,
            "archived" => CampaignStatus::Archived,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct Tracking {
    #[serde(default)]
    pub opens: bool,
    #[serde(default)]
    pub clicks: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Action {
    pub channel: Channel,
    pub channel_configuration_id: String,
    #[serde(default)]
    pub tracking: Tracking,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailContent {
    #[serde(default)]
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preheader: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SmsContent {
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushContent {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deep_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Content {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushContent>,
    /// Per-locale content of a campaign with `languageSettingsId`, keyed by
    /// BCP 47 tag.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub locales: BTreeMap<String, LocalizedContent>,
}

/// The content of one locale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalizedContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushContent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Audience {
    #[serde(default)]
    pub identity_namespace: String,
    #[serde(default)]
    pub create_new_profiles: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schedule {
    #[serde(default)]
    pub start_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end_at: Option<DateTime<Utc>>,
    /// Audience sends only: at most this many messages per second (1–2,000).
    /// What is still unsent 12 h after the execution started is excluded
    /// (`throttleWindowExpired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<u32>,
}

/// How long a throttled audience send may take.
pub const THROTTLE_WINDOW_HOURS: i64 = 12;

impl Schedule {
    /// Where `now` stands relative to the window.
    pub fn position(&self, now: DateTime<Utc>) -> WindowPosition {
        if let Some(start) = self.start_at
            && now < start
        {
            return WindowPosition::Before;
        }
        if let Some(end) = self.end_at
            && now >= end
        {
            return WindowPosition::After;
        }
        WindowPosition::Inside
    }

    pub fn describe(&self) -> String {
        let fmt = |d: Option<DateTime<Utc>>| {
            d.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(|| "unbounded".to_string())
        };
        format!("from {} to {}", fmt(self.start_at), fmt(self.end_at))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPosition {
    Before,
    Inside,
    After,
}

/// What to do when a template reads a value the recipient does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum MissingValues {
    #[default]
    Empty,
    Fail,
}

/// Everything a user edits: the tabs of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CampaignDefinition {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    pub category: CampaignCategory,
    #[serde(default)]
    pub high_throughput: bool,
    pub action: Action,
    /// Multilingual content: the language settings whose locales
    /// `content.locales` covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_settings_id: Option<String>,
    pub content: Content,
    pub audience: Audience,
    #[serde(default)]
    pub schedule: Schedule,
    #[serde(default)]
    pub webhooks_enabled: bool,
    #[serde(default)]
    pub missing_values: MissingValues,
    /// Frequency-cap rule sets (business rules) a marketing campaign obeys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub business_rule_ids: Vec<String>,
}

/// A campaign as stored and returned by the API.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    pub id: String,
    pub sandbox: String,
    /// The stored status; see [`Campaign::effective_status`].
    pub status: CampaignStatus,
    /// The definition being edited: the draft, or the live one when there is
    /// no pending change.
    #[serde(flatten)]
    pub definition: CampaignDefinition,
    /// The version serving executions, once activated.
    pub live_version: Option<i64>,
    /// The number the pending draft will get when activated (a live
    /// campaign with unsaved changes has one).
    pub draft_version: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: String,
    /// Bumped on every write; used for optimistic concurrency.
    #[serde(skip)]
    pub revision: i64,
}

/// An activated, immutable snapshot of a definition. Messages point here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignVersion {
    pub campaign_id: String,
    pub sandbox: String,
    pub version: i64,
    pub definition: CampaignDefinition,
    pub activated_at: DateTime<Utc>,
    /// The language settings as they were at activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_settings: Option<LanguageSettings>,
    /// The fragments (and their versions) the content included at
    /// activation; a later change to a fragment does not reach this version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fragments: Fragments,
}

impl Campaign {
    /// Stored `live`/`scheduled` campaigns move with the clock: scheduled
    /// until the start, live inside the window, completed after the end.
    /// Computing it on read keeps the status exact without a sweeper.
    pub fn effective_status(
        &self,
        live: Option<&CampaignVersion>,
        now: DateTime<Utc>,
    ) -> CampaignStatus {
        match self.status {
            CampaignStatus::Live | CampaignStatus::Scheduled => {
                let schedule = live
                    .map(|v| &v.definition.schedule)
                    .unwrap_or(&self.definition.schedule);
                match schedule.position(now) {
                    WindowPosition::Before => CampaignStatus::Scheduled,
                    WindowPosition::Inside => CampaignStatus::Live,
                    WindowPosition::After => CampaignStatus::Completed,
                }
            }
            other => other,
        }
    }

    /// Whether the definition may be edited in place (only a draft).
    pub fn editable_in_place(&self) -> bool {
        self.status == CampaignStatus::Draft
    }

    /// Whether a change creates a draft version beside a serving one.
    pub fn accepts_new_version(&self) -> bool {
        matches!(
            self.status,
            CampaignStatus::Live | CampaignStatus::Scheduled
        )
    }
}

/// The status a newly activated version puts the campaign in.
pub fn status_on_activation(schedule: &Schedule, now: DateTime<Utc>) -> CampaignStatus {
    match schedule.position(now) {
        WindowPosition::Before => CampaignStatus::Scheduled,
        _ => CampaignStatus::Live,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, h, 0, 0).unwrap()
    }

    #[test]
    fn window_positions() {
        let s = Schedule {
            start_at: Some(at(10)),
            end_at: Some(at(12)),
            throttle: None,
        };
        assert_eq!(s.position(at(9)), WindowPosition::Before);
        assert_eq!(s.position(at(10)), WindowPosition::Inside);
        assert_eq!(s.position(at(11)), WindowPosition::Inside);
        assert_eq!(s.position(at(12)), WindowPosition::After);
        assert_eq!(Schedule::default().position(at(1)), WindowPosition::Inside);
        assert_eq!(status_on_activation(&s, at(9)), CampaignStatus::Scheduled);
        assert_eq!(status_on_activation(&s, at(11)), CampaignStatus::Live);
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            "draft",
            "inReview",
            "scheduled",
            "live",
            "stopped",
            "completed",
            "archived",
        ] {
            assert_eq!(CampaignStatus::parse(s).unwrap().as_str(), s);
        }
    }
}
