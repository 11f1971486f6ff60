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
    /// DKIM keys; the one whose domain is the From domain (or its closest
    /// parent) signs. Private keys are stored but never shown again:
    /// responses carry [`ChannelConfiguration::redacted`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dkim: Option<Vec<DkimKey>>,
    /// Where bounces go: when set, each message's SMTP MAIL FROM is the
    /// VERP address `local+<messageId>@domain` of it (see [`crate::verp`]),
    /// so a bounce names its message; otherwise MAIL FROM is fromAddress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounce_address: Option<String>,
}

/// One DKIM signing key, published at `{selector}._domainkey.{domain}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DkimKey {
    /// The `d=` signing domain, e.g. `example.com`.
    pub domain: String,
    /// The `s=` selector, e.g. `herald2026`.
    pub selector: String,
    pub algorithm: DkimKeyAlgorithm,
    /// PEM: PKCS#1 or PKCS#8 for RSA (2048 bits or more), PKCS#8 for Ed25519.
    /// Answered as `***`.
    pub private_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum DkimKeyAlgorithm {
    RsaSha256,
    Ed25519Sha256,
}

/// What responses show instead of a private key.
pub const REDACTED: &str = "***";

impl EmailSettings {
    /// The key whose domain is the From address's domain or its closest
    /// parent domain.
    pub fn dkim_key_for_from(&self) -> Option<&DkimKey> {
        let from = self.from_address.rsplit_once('@')?.1.to_ascii_lowercase();
        self.dkim
            .iter()
            .flatten()
            .filter(|k| {
                let d = k.domain.to_ascii_lowercase();
                from == d
                    || from
                        .strip_suffix(&d)
                        .is_some_and(|rest| rest.ends_with('.'))
            })
            .max_by_key(|k| k.domain.len())
    }

    fn validate_into(&self, errors: &mut Vec<FieldError>) {
        let Some(keys) = &self.dkim else { return };
        for (i, key) in keys.iter().enumerate() {
            if !is_dns_name(&key.domain) || !key.domain.contains('.') {
                errors.push(FieldError::new(
                    format!("/email/dkim/{i}/domain"),
                    "invalid_domain",
                    format!("'{}' is not a domain name", key.domain),
                ));
            }
            if !is_dns_name(&key.selector) {
                errors.push(FieldError::new(
                    format!("/email/dkim/{i}/selector"),
                    "invalid_selector",
                    "selector must be a DNS label (letters, digits, '-', '_', dots)",
                ));
            }
            // Parsing the key is herald-mail's job; here only its shape.
            if !key.private_key.contains("-----BEGIN ") {
                errors.push(FieldError::new(
                    format!("/email/dkim/{i}/privateKey"),
                    "invalid_key",
                    "privateKey must be a PEM private key",
                ));
            }
        }
        if !keys.is_empty()
            && is_plausible_address(&self.from_address)
            && self.dkim_key_for_from().is_none()
        {
            errors.push(FieldError::new(
                "/email/dkim",
                "dkim_domain_mismatch",
                "no DKIM key's domain is the fromAddress domain or a parent of it",
            ));
        }
    }
}

fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl ChannelConfiguration {
    /// A copy safe to answer with: DKIM private keys replaced by `***`.
    pub fn redacted(&self) -> ChannelConfiguration {
        let mut copy = self.clone();
        if let Some(email) = &mut copy.email {
            for key in email.dkim.iter_mut().flatten() {
                key.private_key = REDACTED.to_owned();
            }
        }
        copy
    }
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
                    if let Some(b) = &e.bounce_address
                        && !is_plausible_address(b)
                    {
                        errors.push(FieldError::new(
                            "/email/bounceAddress",
                            "invalid_email",
                            format!("'{b}' is not an email address"),
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
                    e.validate_into(&mut errors);
                }
            },
            Channel::Sms => match &self.sms {
                None => errors.push(FieldError::new(
                    "/sms",
                    "required",
                    "an sms channel configuration needs sms settings",
                )),
                // Settings naming no provider send to the local outbox.
                Some(v) if names_provider(v) => {
                    if let Err(e) = crate::sms_settings::SmsSettings::from_value(v) {
                        errors.extend(e);
                    }
                }
                Some(_) => {}
            },
            Channel::Push => match &self.push {
                None => errors.push(FieldError::new(
                    "/push",
                    "required",
                    "a push channel configuration needs push settings",
                )),
                Some(v) if names_provider(v) => {
                    if let Err(e) = crate::push_settings::PushSettings::from_value(v) {
                        errors.extend(e);
                    }
                }
                Some(_) => {}
            },
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

/// Whether `sms` / `push` settings name a provider. Settings that name
/// none are delivered to the local JSON-lines outbox.
pub fn names_provider(v: &Value) -> bool {
    ["provider", "twilio", "http", "fcm", "apns"]
        .iter()
        .any(|k| v.get(k).is_some())
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

    #[test]
    fn bounce_address_is_checked_like_from_address() {
        let mut c = email_config(Vec::new());
        c.email.as_mut().unwrap().bounce_address = Some("bounces@mail.example.com".into());
        assert!(c.validate().is_empty());
        c.email.as_mut().unwrap().bounce_address = Some("bounces\r\nBcc: x@y.z".into());
        let errors = c.validate();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].pointer, "/email/bounceAddress");
        let parsed: EmailSettings = serde_json::from_value(serde_json::json!({
            "fromAddress": "news@mail.example.com", "bounceAddress": "b@mail.example.com"
        }))
        .unwrap();
        assert_eq!(parsed.bounce_address.as_deref(), Some("b@mail.example.com"));
    }

    fn email_config(dkim: Vec<DkimKey>) -> NewChannelConfiguration {
        NewChannelConfiguration {
            name: "news".into(),
            channel: Channel::Email,
            category: ConfigurationCategory::Marketing,
            email: Some(EmailSettings {
                from_address: "news@mail.example.com".into(),
                dkim: Some(dkim),
                ..EmailSettings::default()
            }),
            sms: None,
            push: None,
            delivery: None,
        }
    }

    fn key(domain: &str, selector: &str, pem: &str) -> DkimKey {
        DkimKey {
            domain: domain.into(),
            selector: selector.into(),
            algorithm: DkimKeyAlgorithm::Ed25519Sha256,
            private_key: pem.into(),
        }
    }

    const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQ==\n-----END PRIVATE KEY-----\n";

    #[test]
    fn dkim_keys_are_checked() {
        assert!(
            email_config(vec![key("example.com", "s1", PEM)])
                .validate()
                .is_empty()
        );
        let errors = email_config(vec![
            key("example.com", "s 1", "secret"),
            key("exa mple.com", "s2", PEM),
        ])
        .validate();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/email/dkim/0/selector",
                "/email/dkim/0/privateKey",
                "/email/dkim/1/domain"
            ]
        );
        let errors = email_config(vec![key("example.org", "s1", PEM)]).validate();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, "dkim_domain_mismatch");
    }

    #[test]
    fn dkim_key_follows_the_from_domain() {
        let settings = email_config(vec![
            key("example.com", "parent", PEM),
            key("mail.example.com", "exact", PEM),
            key("other.example.com", "other", PEM),
        ])
        .email
        .expect("email");
        assert_eq!(
            settings.dkim_key_for_from().map(|k| k.selector.as_str()),
            Some("exact")
        );
    }

    #[test]
    fn redaction_hides_private_keys() {
        let cfg = email_config(vec![key("example.com", "s1", PEM)]).into_configuration(
            "c1".into(),
            "prod".into(),
            Utc::now(),
        );
        let shown = serde_json::to_value(cfg.redacted()).expect("json");
        assert_eq!(shown["email"]["dkim"][0]["privateKey"], "***");
        assert_eq!(shown["email"]["dkim"][0]["selector"], "s1");
        // The stored form keeps the key.
        assert_eq!(
            cfg.email.and_then(|e| e.dkim).expect("dkim")[0].private_key,
            PEM
        );
    }
}
