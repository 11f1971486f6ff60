//! Channels and channel configurations (admin-defined sender settings).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::delivery_settings::DeliverySettings;
use crate::error::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Channel {
    Email,
    Sms,
    Push,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            "push" => Some(Channel::Push),
            _ => None,
        }
    }
}

/// What a channel configuration may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum ConfigurationCategory {
    Marketing,
    Transactional,
    #[default]
    Any,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailSettings {
    pub from_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_domain: Option<String>,
    #[serde(default)]
    pub list_unsubscribe: bool,
}

/// The body of `POST /v1/channel-configurations`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewChannelConfiguration {
    pub name: String,
    pub channel: Channel,
    #[serde(default)]
    pub category: ConfigurationCategory,
    #[serde(default)]
    pub email: Option<EmailSettings>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub sms: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub push: Option<Value>,
    /// Retries, rates, connections, reply overrides, quiet hours.
    #[serde(default)]
    pub delivery: Option<DeliverySettings>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelConfiguration {
    pub id: String,
    pub sandbox: String,
    pub name: String,
    pub channel: Channel,
    pub category: ConfigurationCategory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub sms: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub push: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliverySettings>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl NewChannelConfiguration {
    /// Checks the request; every problem is reported, not just the first.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() {
            errors.push(FieldError::new(
                "/name",
                "required",
                "name must not be empty",
            ));
        }
        match self.channel {
            Channel::Email => match &self.email {
                None => errors.push(FieldError::new(
                    "/email",
                    "required",
                    "an email channel configuration needs email settings (fromAddress at least)",
                )),
                Some(e) => {
                    if !is_plausible_address(&e.from_address) {
                        errors.push(FieldError::new(
                            "/email/fromAddress",
                            "invalid_email",
                            format!("'{}' is not an email address", e.from_address),
                        ));
                    }
                    if let Some(r) = &e.reply_to
                        && !is_plausible_address(r)
                    {
                        errors.push(FieldError::new(
                            "/email/replyTo",
                            "invalid_email",
                            format!("'{r}' is not an email address"),
                        ));
                    }
                    if let Some(n) = &e.from_name
                        && n.contains(['\r', '\n'])
                    {
                        errors.push(FieldError::new(
                            "/email/fromName",
                            "invalid_header",
                            "fromName must not contain line breaks",
                        ));
                    }
                }
            },
            Channel::Sms => {
                if self.sms.is_none() {
                    errors.push(FieldError::new(
                        "/sms",
                        "required",
                        "an sms channel configuration needs sms settings",
                    ));
                }
            }
            Channel::Push => {
                if self.push.is_none() {
                    errors.push(FieldError::new(
                        "/push",
                        "required",
                        "a push channel configuration needs push settings",
                    ));
                }
            }
        }
        if let Some(d) = &self.delivery {
            errors.extend(d.validate("/delivery"));
        }
        errors
    }

    pub fn into_configuration(
        self,
        id: String,
        sandbox: String,
        now: DateTime<Utc>,
    ) -> ChannelConfiguration {
        ChannelConfiguration {
            id,
            sandbox,
            name: self.name,
            channel: self.channel,
            category: self.category,
            email: self.email,
            sms: self.sms,
            push: self.push,
            delivery: self.delivery,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A syntactic check of an addr-spec, strict enough to keep header
/// injection and obvious typos out (full RFC 5321 parsing is not the point).
pub fn is_plausible_address(addr: &str) -> bool {
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !domain.is_empty()
        && domain.len() <= 253
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !addr.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '<' | '>' | ',' | ';' | '"' | '(' | ')')
        })
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(is_plausible_address("jane@example.com"));
        assert!(is_plausible_address("j.okafor+x@work.example.com"));
        assert!(!is_plausible_address("jane"));
        assert!(!is_plausible_address("jane@localhost"));
        assert!(!is_plausible_address("a b@example.com"));
        assert!(!is_plausible_address("x@example.com\r\nBcc: v@example.com"));
        assert!(!is_plausible_address("<x@example.com>"));
    }
}
