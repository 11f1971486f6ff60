//! Identity namespaces and the normalization of identity values.
//!
//! Every sandbox has the standard namespaces (`email`, `phone`, `ecid`,
//! `crmId`); custom ones are created through the API. A namespace's kind
//! decides how its values are checked and brought to their stored form:
//! an e-mail address with its domain lower-cased (IDN domains in punycode),
//! a phone number in E.164, or a trimmed string.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use utoipa::ToSchema;

/// Longest identity value, in bytes.
pub const MAX_IDENTITY_BYTES: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum IdentityKind {
    #[default]
    String,
    Email,
    Phone,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::String => "string",
            IdentityKind::Email => "email",
            IdentityKind::Phone => "phone",
        }
    }

    pub fn parse(s: &str) -> Option<IdentityKind> {
        match s {
            "string" => Some(IdentityKind::String),
            "email" => Some(IdentityKind::Email),
            "phone" => Some(IdentityKind::Phone),
            _ => None,
        }
    }
}

/// A namespace of identities: standard (always there) or custom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityNamespace {
    pub code: String,
    pub name: String,
    pub kind: IdentityKind,
    pub standard: bool,
    #[serde(skip)]
    pub sandbox: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
}

/// The namespaces every sandbox has, with their kinds.
pub const STANDARD: [(&str, &str, IdentityKind); 4] = [
    ("email", "Email", IdentityKind::Email),
    ("phone", "Phone", IdentityKind::Phone),
    ("ecid", "Experience Cloud ID", IdentityKind::String),
    ("crmId", "CRM ID", IdentityKind::String),
];

/// The kind of a standard namespace, `None` for any other code.
pub fn standard_kind(code: &str) -> Option<IdentityKind> {
    STANDARD
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, _, k)| *k)
}

/// The standard namespaces as records of `sandbox`.
pub fn standard_namespaces(sandbox: &str) -> Vec<IdentityNamespace> {
    STANDARD
        .iter()
        .map(|(code, name, kind)| IdentityNamespace {
            code: code.to_string(),
            name: name.to_string(),
            kind: *kind,
            standard: true,
            sandbox: sandbox.to_string(),
            created_at: None,
        })
        .collect()
}

/// `^[A-Za-z][A-Za-z0-9_.-]{0,63}$`
pub fn is_valid_code(code: &str) -> bool {
    let mut chars = code.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && code.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    #[error("the identity is empty")]
    Empty,
    #[error("the identity is longer than {MAX_IDENTITY_BYTES} bytes")]
    TooLong,
    #[error("'{0}' is not an email address: {1}")]
    InvalidEmail(String, &'static str),
    #[error("'{0}' is not a valid phone number (international format expected, e.g. +33612345678)")]
    InvalidPhone(String),
}

impl IdentityError {
    /// The problem code for a field error.
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::Empty => "required",
            IdentityError::TooLong => "too_long",
            IdentityError::InvalidEmail(..) => "invalid_email",
            IdentityError::InvalidPhone(_) => "invalid_phone",
        }
    }
}

/// Checks `value` for `kind` and returns its stored form.
pub fn normalize(kind: IdentityKind, value: &str) -> Result<String, IdentityError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(IdentityError::Empty);
    }
    if v.len() > MAX_IDENTITY_BYTES {
        return Err(IdentityError::TooLong);
    }
    match kind {
        IdentityKind::String => Ok(v.to_string()),
        IdentityKind::Email => normalize_email(v),
        IdentityKind::Phone => normalize_phone(v),
    }
}

fn normalize_email(v: &str) -> Result<String, IdentityError> {
    let bad = |why: &'static str| Err(IdentityError::InvalidEmail(v.to_string(), why));
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains blanks or control characters");
    }
    let mut parts = v.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return bad("it needs exactly one @");
    };
    if local.is_empty() {
        return bad("the part before @ is empty");
    }
    if local.len() > 64 {
        return bad("the part before @ is longer than 64 bytes");
    }
    let Ok(domain) = idna::domain_to_ascii(domain) else {
        return bad("the domain is not a valid domain name");
    };
    if !domain.contains('.') {
        return bad("the domain needs a dot");
    }
    for label in domain.split('.') {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return bad("the domain has an invalid label");
        }
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

fn normalize_phone(v: &str) -> Result<String, IdentityError> {
    // `00` is the international prefix almost everywhere: "0033 6 …" is
    // "+33 6 …".
    let international = match v.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => v.to_string(),
    };
    let number = phonenumber::parse(None, &international)
        .map_err(|_| IdentityError::InvalidPhone(v.to_string()))?;
    if !number.is_valid() {
        return Err(IdentityError::InvalidPhone(v.to_string()));
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(v: &str) -> Result<String, IdentityError> {
        normalize(IdentityKind::Email, v)
    }
    fn phone(v: &str) -> Result<String, IdentityError> {
        normalize(IdentityKind::Phone, v)
    }

    #[test]
    fn emails_keep_the_local_part_and_lower_case_the_domain() {
        assert_eq!(
            email("  Jane.Doe@Example.COM ").unwrap(),
            "Jane.Doe@example.com"
        );
        assert_eq!(
            email("a+tag@sub.example.co.uk").unwrap(),
            "a+tag@sub.example.co.uk"
        );
        assert_eq!(email("jörg@bücher.de").unwrap(), "jörg@xn--bcher-kva.de");
    }

    #[test]
    fn bad_emails_are_errors() {
        for bad in [
            "",
            "   ",
            "plain",
            "@example.com",
            "a@b@example.com",
            "a@localhost",
            "a b@example.com",
            "a@exa mple.com",
            "a@example.com\r\nBcc: x@y.z",
            "a@-example.com",
            "a@example..com",
            "a@exa_mple.com",
        ] {
            assert!(
                matches!(
                    email(bad),
                    Err(IdentityError::InvalidEmail(..) | IdentityError::Empty)
                ),
                "{bad:?} -> {:?}",
                email(bad)
            );
        }
        assert_eq!(email("x").unwrap_err().code(), "invalid_email");
    }

    #[test]
    fn phone_numbers_from_several_countries_become_e164() {
        for (given, want) in [
            ("+33 6 12 34 56 78", "+33612345678"),
            ("0033 6 12 34 56 78", "+33612345678"),
            ("+33612345678", "+33612345678"),
            ("+44 20 7946 0958", "+442079460958"),
            ("+44 7911 123456", "+447911123456"),
            ("+1 (415) 555-2671", "+14155552671"),
            ("+1 212-456-7890", "+12124567890"),
            ("+49 151 12345678", "+4915112345678"),
            ("+49 30 123456", "+4930123456"),
            ("+81 90-1234-5678", "+819012345678"),
            ("+81 3-1234-5678", "+81312345678"),
        ] {
            assert_eq!(phone(given).as_deref(), Ok(want), "{given}");
        }
    }

    #[test]
    fn bad_phone_numbers_are_errors() {
        for bad in [
            "hello",
            "+33 1",
            "+1 000",
            "12345",
            "+999 123456789",
            "+44 20 7946 09581234",
        ] {
            assert!(
                matches!(phone(bad), Err(IdentityError::InvalidPhone(_))),
                "{bad:?} -> {:?}",
                phone(bad)
            );
        }
        assert_eq!(phone("nope").unwrap_err().code(), "invalid_phone");
    }

    #[test]
    fn strings_are_trimmed_and_bounded() {
        assert_eq!(normalize(IdentityKind::String, " CRM-1 ").unwrap(), "CRM-1");
        assert_eq!(
            normalize(IdentityKind::String, " "),
            Err(IdentityError::Empty)
        );
        assert_eq!(
            normalize(IdentityKind::String, &"x".repeat(513)),
            Err(IdentityError::TooLong)
        );
    }

    #[test]
    fn namespace_codes() {
        for good in ["loyaltyId", "a", "x.y-z_1", &format!("a{}", "b".repeat(63))] {
            assert!(is_valid_code(good), "{good}");
        }
        for bad in [
            "",
            "1abc",
            "_a",
            "a b",
            "a/b",
            &format!("a{}", "b".repeat(64)),
        ] {
            assert!(!is_valid_code(bad), "{bad}");
        }
        assert_eq!(standard_kind("phone"), Some(IdentityKind::Phone));
        assert_eq!(standard_kind("loyaltyId"), None);
    }
}
