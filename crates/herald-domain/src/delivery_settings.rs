//! How a channel configuration's messages are delivered: retries, rates,
//! connections, reply classification overrides and quiet hours. Pure: the
//! engine applies these; this module validates them and answers questions
//! like "is 22:30 in Paris inside the quiet window?".

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use regex::Regex;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;

/// `delivery` of a channel configuration. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliverySettings {
    /// Attempts in all, the first included (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// A message older than this (seconds since it was accepted) is not
    /// retried any more (default 3 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u64>,
    /// The first retry's delay in seconds (doubling, with jitter; default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_base_seconds: Option<u64>,
    /// A send rate: `messages` per `perSeconds`, a token bucket holding
    /// `burst` tokens (default: `messages`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// Sends in flight at once for this configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// Reclassifies replies whose text matches (first match wins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reply_overrides: Vec<ReplyOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rate {
    pub messages: u32,
    pub per_seconds: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl Rate {
    /// The time one token takes to come back.
    pub fn interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.per_seconds as f64 / self.messages.max(1) as f64)
    }
    pub fn burst(&self) -> u32 {
        self.burst.unwrap_or(self.messages).max(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ReplyClass {
    Transient,
    Permanent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplyOverride {
    /// A regular expression, matched case-insensitively against the reply
    /// (code and text), e.g. `rate limit|throttl`.
    pub pattern: String,
    pub class: ReplyClass,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum QuietMode {
    /// Excluded with reason `quietHours`.
    Discard,
    /// Held until the window ends.
    #[default]
    Queue,
}

/// A daily window, in the recipient's local time (the profile's time zone,
/// else `timeZone`), in which marketing messages are not sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, e.g. `21:00`.
    pub start: String,
    /// `HH:MM`, e.g. `08:00`; before `start` means the window spans midnight.
    pub end: String,
    /// An IANA zone, used when the profile has none (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub mode: QuietMode,
    /// Where the profile's zone is read (default `timeZone`, then
    /// `person.timeZone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_attribute: Option<String>,
}

pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
pub const DEFAULT_MAX_AGE_SECONDS: u64 = 3 * 24 * 3600;

impl DeliverySettings {
    pub fn validate(&self, prefix: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let at = |f: &str| format!("{prefix}/{f}");
        if let Some(n) = self.max_attempts
            && !(1..=100).contains(&n)
        {
            errors.push(FieldError::new(
                at("maxAttempts"),
                "out_of_range",
                "maxAttempts must be between 1 and 100",
            ));
        }
        if self.max_age_seconds == Some(0) {
            errors.push(FieldError::new(
                at("maxAgeSeconds"),
                "out_of_range",
                "maxAgeSeconds must be positive",
            ));
        }
        if self.retry_base_seconds == Some(0) {
            errors.push(FieldError::new(
                at("retryBaseSeconds"),
                "out_of_range",
                "retryBaseSeconds must be positive",
            ));
        }
        if let Some(r) = &self.rate {
            if r.messages == 0 {
                errors.push(FieldError::new(
                    at("rate/messages"),
                    "out_of_range",
                    "rate.messages must be positive",
                ));
            }
            if r.per_seconds == 0 {
                errors.push(FieldError::new(
                    at("rate/perSeconds"),
                    "out_of_range",
                    "rate.perSeconds must be positive",
                ));
            }
            if r.burst == Some(0) {
                errors.push(FieldError::new(
                    at("rate/burst"),
                    "out_of_range",
                    "rate.burst must be positive",
                ));
            }
        }
        if self.max_connections == Some(0) {
            errors.push(FieldError::new(
                at("maxConnections"),
                "out_of_range",
                "maxConnections must be positive",
            ));
        }
        for (i, o) in self.reply_overrides.iter().enumerate() {
            if let Err(e) = Regex::new(&o.pattern) {
                errors.push(FieldError::new(
                    at(&format!("replyOverrides/{i}/pattern")),
                    "invalid_pattern",
                    format!("not a regular expression: {e}"),
                ));
            }
        }
        if let Some(q) = &self.quiet_hours {
            for (f, v) in [("start", &q.start), ("end", &q.end)] {
                if parse_hhmm(v).is_none() {
                    errors.push(FieldError::new(
                        at(&format!("quietHours/{f}")),
                        "invalid_time",
                        format!("'{v}' is not a time of day (HH:MM)"),
                    ));
                }
            }
            if q.start == q.end {
                errors.push(FieldError::new(
                    at("quietHours/end"),
                    "invalid_time",
                    "the window is empty: end equals start",
                ));
            }
            if let Some(z) = &q.time_zone
                && z.parse::<Tz>().is_err()
            {
                errors.push(FieldError::new(
                    at("quietHours/timeZone"),
                    "invalid_time_zone",
                    format!("'{z}' is not an IANA time zone"),
                ));
            }
        }
        errors
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS)
    }
    pub fn max_age(&self) -> chrono::Duration {
        chrono::Duration::seconds(
            self.max_age_seconds
                .unwrap_or(DEFAULT_MAX_AGE_SECONDS)
                .min(i64::MAX as u64 / 1000) as i64,
        )
    }
}

/// The overrides compiled once per configuration.
#[derive(Debug, Clone, Default)]
pub struct CompiledOverrides(Vec<(Regex, ReplyClass)>);

impl CompiledOverrides {
    pub fn new(overrides: &[ReplyOverride]) -> CompiledOverrides {
        CompiledOverrides(
            overrides
                .iter()
                .filter_map(|o| {
                    regex::RegexBuilder::new(&o.pattern)
                        .case_insensitive(true)
                        .build()
                        .ok()
                        .map(|r| (r, o.class))
                })
                .collect(),
        )
    }
    /// The class the first matching pattern gives `reply`.
    pub fn class_of(&self, reply: &str) -> Option<ReplyClass> {
        self.0
            .iter()
            .find(|(r, _)| r.is_match(reply))
            .map(|(_, c)| *c)
    }
}

fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

impl QuietHours {
    /// When `now` is inside the window for a recipient in `zone` (the
    /// profile's, if it names a valid one), the instant the window ends;
    /// otherwise `None`.
    pub fn window_end(&self, now: DateTime<Utc>, zone: Option<&str>) -> Option<DateTime<Utc>> {
        let (start, end) = (parse_hhmm(&self.start)?, parse_hhmm(&self.end)?);
        let tz: Tz = zone
            .and_then(|z| z.parse().ok())
            .or_else(|| self.time_zone.as_deref().and_then(|z| z.parse().ok()))
            .unwrap_or(chrono_tz::UTC);
        let local = now.with_timezone(&tz);
        let t = local.time();
        let today = local.date_naive();
        let (inside, end_date) = if start < end {
            (t >= start && t < end, today)
        } else if t >= start {
            (true, today.succ_opt()?)
        } else {
            (t < end, today)
        };
        if !inside {
            return None;
        }
        let end_local = end_date.and_time(end);
        // A gap (DST) skips the hour: take the first valid instant after it.
        let resolved = tz.from_local_datetime(&end_local).earliest().or_else(|| {
            tz.from_local_datetime(&(end_local + chrono::Duration::hours(1)))
                .earliest()
        })?;
        Some(resolved.with_timezone(&Utc))
    }

    /// The profile paths tried for the recipient's zone.
    pub fn zone_paths(&self) -> Vec<String> {
        match &self.profile_attribute {
            Some(p) => vec![p.clone()],
            None => vec!["timeZone".into(), "person.timeZone".into()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn quiet(start: &str, end: &str, zone: Option<&str>) -> QuietHours {
        QuietHours {
            start: start.into(),
            end: end.into(),
            time_zone: zone.map(Into::into),
            mode: QuietMode::Queue,
            profile_attribute: None,
        }
    }

    #[test]
    fn window_across_midnight_in_the_recipients_zone() {
        let q = quiet("21:00", "08:00", Some("UTC"));
        // 22:30 in Paris (winter, UTC+1) is 21:30 UTC.
        let end = q
            .window_end(at("2026-01-10T21:30:00Z"), Some("Europe/Paris"))
            .unwrap();
        assert_eq!(end, at("2026-01-11T07:00:00Z"));
        // 07:59 Paris: still inside, ends a minute later.
        let end = q
            .window_end(at("2026-01-11T06:59:00Z"), Some("Europe/Paris"))
            .unwrap();
        assert_eq!(end, at("2026-01-11T07:00:00Z"));
        // 08:00 Paris: outside.
        assert_eq!(
            q.window_end(at("2026-01-11T07:00:00Z"), Some("Europe/Paris")),
            None
        );
        // Noon UTC for a recipient without a zone: the configuration's zone.
        assert_eq!(q.window_end(at("2026-01-11T12:00:00Z"), None), None);
        // A zone that is not one falls back to the configuration's.
        assert!(
            q.window_end(at("2026-01-11T23:00:00Z"), Some("Mars/Olympus"))
                .is_some()
        );
    }

    #[test]
    fn window_within_a_day() {
        let q = quiet("12:00", "14:00", Some("America/New_York"));
        // 13:00 in New York (EST, UTC-5) is 18:00 UTC.
        assert_eq!(
            q.window_end(at("2026-01-10T18:00:00Z"), None),
            Some(at("2026-01-10T19:00:00Z"))
        );
        assert_eq!(q.window_end(at("2026-01-10T19:00:00Z"), None), None);
    }

    #[test]
    fn validation_names_each_field() {
        let s = DeliverySettings {
            max_attempts: Some(0),
            rate: Some(Rate {
                messages: 0,
                per_seconds: 1,
                burst: None,
            }),
            reply_overrides: vec![ReplyOverride {
                pattern: "(".into(),
                class: ReplyClass::Transient,
            }],
            quiet_hours: Some(quiet("25:00", "08:00", Some("Nowhere/Land"))),
            ..Default::default()
        };
        let pointers: Vec<String> = s
            .validate("/delivery")
            .into_iter()
            .map(|e| e.pointer)
            .collect();
        assert_eq!(
            pointers,
            [
                "/delivery/maxAttempts",
                "/delivery/rate/messages",
                "/delivery/replyOverrides/0/pattern",
                "/delivery/quietHours/start",
                "/delivery/quietHours/timeZone"
            ]
        );
    }

    #[test]
    fn overrides_match_case_insensitively() {
        let o = CompiledOverrides::new(&[ReplyOverride {
            pattern: "rate limit|throttl".into(),
            class: ReplyClass::Transient,
        }]);
        assert_eq!(
            o.class_of("550 5.7.1 Throttled: too many messages"),
            Some(ReplyClass::Transient)
        );
        assert_eq!(o.class_of("550 5.1.1 no such user"), None);
    }

    #[test]
    fn rate_interval() {
        let r = Rate {
            messages: 1,
            per_seconds: 120,
            burst: None,
        };
        assert_eq!(r.interval(), std::time::Duration::from_secs(120));
        assert_eq!(r.burst(), 1);
    }
}
