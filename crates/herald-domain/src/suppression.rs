//! Suppressions: addresses (or, for email, whole domains) that a sandbox
//! never sends to, whatever the campaign. Added by hand through the API, by
//! imports, and by bounces and complaints (adding is idempotent, so a bounce
//! handler can add freely).
//!
//! Addresses are compared by a normalized key ([`address_key`]): an email
//! address lower-cased as a whole, a phone number reduced to `+` and its
//! digits, a push token as given.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::channel::{Channel, is_plausible_address};
use crate::error::FieldError;
use crate::message::reasons;

/// What `source` is when the body does not say.
pub const DEFAULT_SOURCE: &str = "api";
/// The longest push token accepted (FCM tokens are ~160, APNs 64).
pub const MAX_TOKEN_LEN: usize = 4096;

/// One suppression as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Suppression {
    pub id: String,
    #[serde(skip)]
    pub sandbox: String,
    pub channel: Channel,
    /// The suppressed address, normalized (see [`NewSuppression::normalized`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// A suppressed email domain, lower-cased: every address in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Why: `manual`, `hardBounce`, `complaint`, `unsubscribe`, `invalidAddress`, …
    pub reason: String,
    /// Who added it: `api`, `bounce`, `import`, …
    pub source: String,
    pub created_at: DateTime<Utc>,
}

impl Suppression {
    /// The comparison key of the address (`None` for a domain entry).
    pub fn address_key(&self) -> Option<String> {
        self.address
            .as_deref()
            .map(|a| address_key(self.channel, a))
    }
}

/// The body of `POST /v1/suppressions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSuppression {
    pub channel: Channel,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub source: Option<String>,
}

impl NewSuppression {
    /// Checks the body; every problem is reported, not just the first.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        match (&self.address, &self.domain) {
            (Some(_), Some(_)) => errors.push(FieldError::new(
                "/domain",
                "conflicting_fields",
                "give either address or domain, not both",
            )),
            (None, None) => errors.push(FieldError::new(
                "/address",
                "required",
                "give the address to suppress (or, for email, a domain)",
            )),
            (Some(a), None) => {
                if let Err(e) = check_address(self.channel, a, "/address") {
                    errors.push(e);
                }
            }
            (None, Some(d)) => {
                if self.channel != Channel::Email {
                    errors.push(FieldError::new(
                        "/domain",
                        "domain_not_allowed",
                        format!(
                            "only email suppressions can name a domain, not {}",
                            self.channel.as_str()
                        ),
                    ));
                } else if !is_domain(d.trim()) {
                    errors.push(FieldError::new(
                        "/domain",
                        "invalid_domain",
                        format!("'{d}' is not a domain name (example.com)"),
                    ));
                }
            }
        }
        if !is_token(&self.reason) {
            errors.push(FieldError::new(
                "/reason",
                "invalid_reason",
                "reason is 1 to 64 letters, digits, '-', '_' or '.' (manual, hardBounce, complaint, unsubscribe, invalidAddress, …)",
            ));
        }
        if let Some(s) = &self.source
            && !is_token(s)
        {
            errors.push(FieldError::new(
                "/source",
                "invalid_source",
                "source is 1 to 64 letters, digits, '-', '_' or '.' (api, bounce, import, …)",
            ));
        }
        errors
    }

    /// The body with its address or domain in stored form: an email
    /// address trimmed with its domain lower-cased, a phone number as `+`
    /// and digits, a domain lower-cased. Call after [`Self::validate`].
    pub fn normalized(mut self) -> NewSuppression {
        self.address = self
            .address
            .map(|a| normalize_address(self.channel, a.trim()));
        self.domain = self.domain.map(|d| d.trim().to_ascii_lowercase());
        self
    }

    /// The suppression to store (normalizes first).
    pub fn into_suppression(self, id: String, sandbox: String, now: DateTime<Utc>) -> Suppression {
        let n = self.normalized();
        Suppression {
            id,
            sandbox,
            channel: n.channel,
            address: n.address,
            domain: n.domain,
            reason: n.reason,
            source: n.source.unwrap_or_else(|| DEFAULT_SOURCE.to_string()),
            created_at: now,
        }
    }
}

/// Why one address of a lookup is suppressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressionHit {
    /// One of the exclusion reasons of [`crate::message::reasons`]:
    /// `emailSuppressed`, `domainSuppressed`, `smsSuppressed`, `pushSuppressed`.
    pub reason_code: &'static str,
    pub suppression_id: String,
    /// Why the entry exists (`unsubscribe` stops marketing only).
    pub reason: String,
}

/// The exclusion reason for a hit on `channel`, by address or (email) by domain.
pub fn reason_code(channel: Channel, by_domain: bool) -> &'static str {
    match channel {
        Channel::Email if by_domain => reasons::DOMAIN_SUPPRESSED,
        Channel::Email => reasons::EMAIL_SUPPRESSED,
        Channel::Sms => reasons::SMS_SUPPRESSED,
        Channel::Push => reasons::PUSH_SUPPRESSED,
    }
}

/// Which suppressions a listing returns, in id (creation) order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SuppressionFilter {
    pub channel: Option<Channel>,
    /// Entries for this address (compared by its key).
    pub address: Option<String>,
    /// Entries for this domain (domain entries only).
    pub domain: Option<String>,
    /// Only entries whose id sorts after this one (keyset pagination).
    pub after: Option<String>,
    pub limit: usize,
}

/// The comparison key of an address on `channel`. Lenient: any string has
/// one, so a lookup never fails on an address that would not validate.
pub fn address_key(channel: Channel, address: &str) -> String {
    let a = address.trim();
    match channel {
        Channel::Email => a.to_lowercase(),
        Channel::Sms => normalize_phone(a).unwrap_or_else(|| a.to_string()),
        Channel::Push => a.to_string(),
    }
}

/// The lower-cased domain of an email address, if it has one.
pub fn email_domain(address: &str) -> Option<String> {
    address
        .trim()
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// Checks one address for `channel`; `pointer` names it in the error.
pub fn check_address(channel: Channel, address: &str, pointer: &str) -> Result<(), FieldError> {
    let a = address.trim();
    match channel {
        Channel::Email => {
            if is_plausible_address(a) && email_domain(a).is_some_and(|d| is_domain(&d)) {
                Ok(())
            } else {
                Err(FieldError::new(
                    pointer,
                    "invalid_email",
                    format!("'{address}' is not an email address"),
                ))
            }
        }
        Channel::Sms => normalize_phone(a).map(|_| ()).ok_or_else(|| {
            FieldError::new(
                pointer,
                "invalid_phone",
                format!(
                    "'{address}' is not a phone number in E.164 form ('+' and 8 to 15 digits, e.g. +4915112345678)"
                ),
            )
        }),
        Channel::Push => {
            if !a.is_empty()
                && a.len() <= MAX_TOKEN_LEN
                && !a.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                Ok(())
            } else {
                Err(FieldError::new(
                    pointer,
                    "invalid_token",
                    format!("a push token is 1 to {MAX_TOKEN_LEN} characters without spaces"),
                ))
            }
        }
    }
}

fn normalize_address(channel: Channel, a: &str) -> String {
    match channel {
        Channel::Email => match a.rsplit_once('@') {
            Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
            None => a.to_string(),
        },
        Channel::Sms => normalize_phone(a).unwrap_or_else(|| a.to_string()),
        Channel::Push => a.to_string(),
    }
}

/// `+` and 8 to 15 digits, the first not 0; spaces, dots, dashes and
/// parentheses between them are dropped.
pub fn normalize_phone(s: &str) -> Option<String> {
    let rest = s.trim().strip_prefix('+')?;
    let mut digits = String::with_capacity(16);
    digits.push('+');
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    let n = digits.len() - 1;
    ((8..=15).contains(&n) && !digits[1..].starts_with('0')).then_some(digits)
}

/// A DNS name of at least two labels: letters, digits and inner hyphens,
/// labels of 1 to 63 characters, 253 at most in all, a top level that is
/// not all digits.
pub fn is_domain(d: &str) -> bool {
    if d.is_empty() || d.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = d.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(channel: Channel, address: Option<&str>, domain: Option<&str>) -> NewSuppression {
        NewSuppression {
            channel,
            address: address.map(str::to_string),
            domain: domain.map(str::to_string),
            reason: "manual".into(),
            source: None,
        }
    }

    fn pointers(n: &NewSuppression) -> Vec<String> {
        n.validate().into_iter().map(|e| e.pointer).collect()
    }

    #[test]
    fn exactly_one_of_address_and_domain() {
        assert_eq!(pointers(&new(Channel::Email, None, None)), ["/address"]);
        assert_eq!(
            pointers(&new(Channel::Email, Some("a@b.com"), Some("b.com"))),
            ["/domain"]
        );
        assert!(pointers(&new(Channel::Email, Some("a@b.com"), None)).is_empty());
        assert!(pointers(&new(Channel::Email, None, Some("b.com"))).is_empty());
    }

    #[test]
    fn email_addresses_and_domains() {
        for bad in [
            "jane",
            "jane@localhost",
            "a b@x.com",
            "j@-x.com",
            "j@x..com",
        ] {
            assert_eq!(
                pointers(&new(Channel::Email, Some(bad), None)),
                ["/address"],
                "{bad}"
            );
        }
        for bad in ["com", "@example.com", "exa mple.com", "x.123", "-a.com"] {
            assert_eq!(
                pointers(&new(Channel::Email, None, Some(bad))),
                ["/domain"],
                "{bad}"
            );
        }
        assert_eq!(
            pointers(&new(Channel::Sms, None, Some("example.com"))),
            ["/domain"]
        );
        let s = new(Channel::Email, Some(" Jane.Doe@Example.COM "), None).into_suppression(
            "id".into(),
            "prod".into(),
            Utc::now(),
        );
        assert_eq!(s.address.as_deref(), Some("Jane.Doe@example.com"));
        assert_eq!(s.address_key().as_deref(), Some("jane.doe@example.com"));
        assert_eq!(s.source, DEFAULT_SOURCE);
        let d = new(Channel::Email, None, Some("Example.COM")).into_suppression(
            "id".into(),
            "prod".into(),
            Utc::now(),
        );
        assert_eq!(d.domain.as_deref(), Some("example.com"));
        assert_eq!(d.address_key(), None);
    }

    #[test]
    fn phone_numbers_and_tokens() {
        assert_eq!(
            normalize_phone("+49 (151) 123-456.78").as_deref(),
            Some("+4915112345678")
        );
        for bad in [
            "4915112345678",
            "+1234567",
            "+1234567890123456",
            "+0123456789",
            "+49x1",
        ] {
            assert_eq!(normalize_phone(bad), None, "{bad}");
            assert_eq!(
                pointers(&new(Channel::Sms, Some(bad), None)),
                ["/address"],
                "{bad}"
            );
        }
        assert_eq!(
            address_key(Channel::Sms, "+49 151 12345678"),
            "+4915112345678"
        );
        assert!(pointers(&new(Channel::Push, Some("fcm:AbC-123_x"), None)).is_empty());
        assert_eq!(address_key(Channel::Push, "AbC"), "AbC", "tokens keep case");
        assert_eq!(
            pointers(&new(Channel::Push, Some("a b"), None)),
            ["/address"]
        );
    }

    #[test]
    fn reason_and_source_are_tokens() {
        let mut n = new(Channel::Email, Some("a@b.com"), None);
        n.reason = "".into();
        n.source = Some("bad source".into());
        assert_eq!(pointers(&n), ["/reason", "/source"]);
    }

    #[test]
    fn reason_codes() {
        assert_eq!(reason_code(Channel::Email, false), "emailSuppressed");
        assert_eq!(reason_code(Channel::Email, true), "domainSuppressed");
        assert_eq!(reason_code(Channel::Sms, false), "smsSuppressed");
        assert_eq!(reason_code(Channel::Push, false), "pushSuppressed");
        assert_eq!(email_domain("A@Ex.COM").as_deref(), Some("ex.com"));
        assert_eq!(email_domain("nope"), None);
    }
}
