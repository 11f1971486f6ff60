//! Business rules: frequency caps. A rule allows at most `maxMessages`
//! marketing messages on a channel per recipient within a sliding window
//! (`period`); campaigns name the rules they obey (`businessRuleIds`).
//! Transactional messages are never capped.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::channel::Channel;
use crate::error::FieldError;

pub const MAX_MESSAGES: u32 = 1000;
/// The longest window a rule may have.
pub const MAX_WINDOW_DAYS: i64 = 366;

/// What a rule caps. Only marketing messages are capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum RuleCategory {
    #[default]
    Marketing,
}

impl RuleCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleCategory::Marketing => "marketing",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        (s == "marketing").then_some(RuleCategory::Marketing)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum PeriodUnit {
    Hour,
    Day,
    Week,
    /// 30 days.
    Month,
}

impl PeriodUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodUnit::Hour => "hour",
            PeriodUnit::Day => "day",
            PeriodUnit::Week => "week",
            PeriodUnit::Month => "month",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hour" => Some(PeriodUnit::Hour),
            "day" => Some(PeriodUnit::Day),
            "week" => Some(PeriodUnit::Week),
            "month" => Some(PeriodUnit::Month),
            _ => None,
        }
    }
    fn hours(self) -> i64 {
        match self {
            PeriodUnit::Hour => 1,
            PeriodUnit::Day => 24,
            PeriodUnit::Week => 7 * 24,
            PeriodUnit::Month => 30 * 24,
        }
    }
}

/// `count` units: the sliding window a cap counts messages in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Period {
    pub count: u32,
    pub unit: PeriodUnit,
}

impl Period {
    /// The window as a duration (a month is 30 days).
    pub fn window(&self) -> Duration {
        Duration::hours(i64::from(self.count) * self.unit.hours())
    }
}

/// A frequency cap as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusinessRule {
    pub id: String,
    #[serde(skip)]
    pub sandbox: String,
    pub name: String,
    pub channel: Channel,
    pub category: RuleCategory,
    /// At most this many messages per recipient within `period`.
    pub max_messages: u32,
    pub period: Period,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BusinessRule {
    /// The sliding window the cap counts messages in.
    pub fn window(&self) -> Duration {
        self.period.window()
    }
}

/// The body of `POST /v1/business-rules` and `PUT /v1/business-rules/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewBusinessRule {
    pub name: String,
    pub channel: Channel,
    #[serde(default)]
    pub category: RuleCategory,
    pub max_messages: u32,
    pub period: Period,
}

impl NewBusinessRule {
    /// Checks the body; every problem is reported, not just the first.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() || self.name.len() > 256 {
            errors.push(FieldError::new(
                "/name",
                "invalid_name",
                "name is 1 to 256 characters",
            ));
        }
        if !(1..=MAX_MESSAGES).contains(&self.max_messages) {
            errors.push(FieldError::new(
                "/maxMessages",
                "out_of_range",
                format!("maxMessages is 1 to {MAX_MESSAGES}"),
            ));
        }
        if self.period.count == 0 {
            errors.push(FieldError::new(
                "/period/count",
                "out_of_range",
                "period.count is at least 1",
            ));
        } else if self.period.window() > Duration::days(MAX_WINDOW_DAYS) {
            errors.push(FieldError::new(
                "/period/count",
                "out_of_range",
                format!("the period is at most {MAX_WINDOW_DAYS} days (a month counts 30)"),
            ));
        }
        errors
    }

    /// A new rule from the body.
    pub fn into_rule(self, id: String, sandbox: String, now: DateTime<Utc>) -> BusinessRule {
        BusinessRule {
            id,
            sandbox,
            name: self.name.trim().to_string(),
            channel: self.channel,
            category: self.category,
            max_messages: self.max_messages,
            period: self.period,
            created_at: now,
            updated_at: now,
        }
    }

    /// `existing` replaced by the body (PUT): id and creation time kept.
    pub fn replace(self, existing: &BusinessRule, now: DateTime<Utc>) -> BusinessRule {
        BusinessRule {
            created_at: existing.created_at,
            ..self.into_rule(existing.id.clone(), existing.sandbox.clone(), now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(max: u32, count: u32, unit: PeriodUnit) -> NewBusinessRule {
        NewBusinessRule {
            name: "weekly".into(),
            channel: Channel::Email,
            category: RuleCategory::Marketing,
            max_messages: max,
            period: Period { count, unit },
        }
    }

    #[test]
    fn windows() {
        let w = |count, unit| Period { count, unit }.window();
        assert_eq!(w(3, PeriodUnit::Hour), Duration::hours(3));
        assert_eq!(w(2, PeriodUnit::Day), Duration::days(2));
        assert_eq!(w(1, PeriodUnit::Week), Duration::days(7));
        assert_eq!(w(1, PeriodUnit::Month), Duration::days(30));
    }

    #[test]
    fn validation_names_the_fields() {
        assert!(body(3, 1, PeriodUnit::Week).validate().is_empty());
        assert!(body(1000, 12, PeriodUnit::Month).validate().is_empty());
        let p = |b: NewBusinessRule| {
            b.validate()
                .into_iter()
                .map(|e| e.pointer)
                .collect::<Vec<_>>()
        };
        assert_eq!(p(body(0, 1, PeriodUnit::Day)), ["/maxMessages"]);
        assert_eq!(p(body(1001, 1, PeriodUnit::Day)), ["/maxMessages"]);
        assert_eq!(p(body(1, 0, PeriodUnit::Day)), ["/period/count"]);
        assert_eq!(p(body(1, 13, PeriodUnit::Month)), ["/period/count"]);
        let mut b = body(1, 1, PeriodUnit::Day);
        b.name = "  ".into();
        assert_eq!(p(b), ["/name"]);
    }

    #[test]
    fn serde_shape() {
        let b: NewBusinessRule = serde_json::from_value(serde_json::json!({
            "name": "n", "channel": "sms", "maxMessages": 2, "period": {"count": 1, "unit": "day"}
        }))
        .unwrap();
        assert_eq!(b.category, RuleCategory::Marketing);
        let r = b.into_rule("id".into(), "prod".into(), Utc::now());
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["category"], "marketing");
        assert_eq!(v["period"]["unit"], "day");
        assert_eq!(v["maxMessages"], 2);
        assert!(v.get("sandbox").is_none());
        assert!(
            serde_json::from_value::<NewBusinessRule>(serde_json::json!({
                "name": "n", "channel": "sms", "category": "transactional", "maxMessages": 2,
                "period": {"count": 1, "unit": "day"}
            }))
            .is_err()
        );
    }
}
