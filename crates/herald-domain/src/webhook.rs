//! Feedback webhooks: where a sandbox wants its messages' events
//! (`message.feedback`) POSTed, how the calls are authenticated, and the
//! address checks that keep a webhook from reaching the private network
//! (SSRF). Pure: the send-time check after DNS resolution uses
//! [`is_forbidden_ip`] on the resolved addresses.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::channel::Channel;
use crate::error::{FieldError, pointer_token};

pub const MAX_NAME: usize = 200;
pub const MAX_URL: usize = 2048;
pub const MAX_HEADERS: usize = 20;
pub const MAX_HEADER_VALUE: usize = 4096;
/// What a redacted secret reads as.
pub const REDACTED: &str = "***";
/// Headers Herald sets itself; a custom header may not replace them.
pub const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "authorization",
    "x-herald-signature",
    "x-herald-event-id",
];

/// How Herald authenticates to the receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum WebhookAuth {
    #[default]
    None,
    /// `X-Herald-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`.
    Hmac { secret: String },
    /// `Authorization: Bearer <token>`.
    Bearer { token: String },
    /// `Authorization: Bearer <JWT>`: HS256 over `secret`, claims `iss`,
    /// `iat`, `exp` (`iat` + `ttlSeconds`) and, when set, `aud`.
    #[serde(rename_all = "camelCase")]
    Jwt {
        secret: String,
        issuer: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audience: Option<String>,
        #[serde(default = "default_ttl")]
        ttl_seconds: u32,
    },
}

fn default_ttl() -> u32 {
    300
}

impl WebhookAuth {
    /// The same auth with every secret shown as `***`.
    pub fn redacted(&self) -> WebhookAuth {
        match self {
            WebhookAuth::None => WebhookAuth::None,
            WebhookAuth::Hmac { .. } => WebhookAuth::Hmac {
                secret: REDACTED.into(),
            },
            WebhookAuth::Bearer { .. } => WebhookAuth::Bearer {
                token: REDACTED.into(),
            },
            WebhookAuth::Jwt {
                issuer,
                audience,
                ttl_seconds,
                ..
            } => WebhookAuth::Jwt {
                secret: REDACTED.into(),
                issuer: issuer.clone(),
                audience: audience.clone(),
                ttl_seconds: *ttl_seconds,
            },
        }
    }

    fn validate(&self, errors: &mut Vec<FieldError>) {
        let need = |errors: &mut Vec<FieldError>, field: &str, v: &str| {
            if v.is_empty() {
                errors.push(FieldError::new(
                    format!("/auth/{field}"),
                    "required",
                    format!("{field} must not be empty"),
                ));
            } else if v == REDACTED {
                errors.push(FieldError::new(
                    format!("/auth/{field}"),
                    "invalid",
                    "send the secret itself, not its redacted form",
                ));
            }
        };
        match self {
            WebhookAuth::None => {}
            WebhookAuth::Hmac { secret } => need(errors, "secret", secret),
            WebhookAuth::Bearer { token } => {
                need(errors, "token", token);
                if has_ctl(token) {
                    errors.push(FieldError::new(
                        "/auth/token",
                        "invalid",
                        "the token must not contain control characters",
                    ));
                }
            }
            WebhookAuth::Jwt {
                secret,
                issuer,
                ttl_seconds,
                ..
            } => {
                need(errors, "secret", secret);
                if issuer.is_empty() {
                    errors.push(FieldError::new(
                        "/auth/issuer",
                        "required",
                        "issuer must not be empty",
                    ));
                }
                if !(1..=86_400).contains(ttl_seconds) {
                    errors.push(FieldError::new(
                        "/auth/ttlSeconds",
                        "out_of_range",
                        "ttlSeconds must be between 1 and 86400",
                    ));
                }
            }
        }
    }
}

/// A webhook as stored. [`Webhook::redacted`] is what the API returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: String,
    #[serde(skip)]
    pub sandbox: String,
    pub name: String,
    pub url: String,
    /// The channels whose messages' events are sent.
    pub channels: Vec<Channel>,
    pub auth: WebhookAuth,
    /// Added to every call.
    pub headers: BTreeMap<String, String>,
    /// Allows loopback, private, link-local … targets (an internal
    /// receiver); off by default.
    pub allow_private_network: bool,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    pub fn redacted(&self) -> Webhook {
        Webhook {
            auth: self.auth.redacted(),
            ..self.clone()
        }
    }

    /// Everything [`NewWebhook::validate`] checks, on the whole webhook
    /// (after a PATCH).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() || self.name.chars().count() > MAX_NAME {
            errors.push(FieldError::new(
                "/name",
                "invalid",
                format!("name must be 1 to {MAX_NAME} characters"),
            ));
        }
        if let Err(e) = check_url(&self.url, self.allow_private_network) {
            errors.push(e);
        }
        if self.channels.is_empty() {
            errors.push(FieldError::new(
                "/channels",
                "required",
                "name at least one channel",
            ));
        }
        for (i, c) in self.channels.iter().enumerate() {
            if self.channels[..i].contains(c) {
                errors.push(FieldError::new(
                    format!("/channels/{i}"),
                    "duplicate",
                    format!("{} is listed twice", c.as_str()),
                ));
            }
        }
        self.auth.validate(&mut errors);
        check_headers(&self.headers, &mut errors);
        errors
    }
}

/// The body of `POST /v1/webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewWebhook {
    pub name: String,
    pub url: String,
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub auth: WebhookAuth,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub allow_private_network: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl NewWebhook {
    pub fn into_webhook(self, id: String, sandbox: String, now: DateTime<Utc>) -> Webhook {
        Webhook {
            id,
            sandbox,
            name: self.name,
            url: self.url,
            channels: self.channels,
            auth: self.auth,
            headers: self.headers,
            allow_private_network: self.allow_private_network,
            enabled: self.enabled,
            created_at: now,
            updated_at: now,
        }
    }
}

/// The body of `PATCH /v1/webhooks/{id}`: the fields given replace the
/// stored ones (`auth` and `headers` as a whole).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub channels: Option<Vec<Channel>>,
    pub auth: Option<WebhookAuth>,
    pub headers: Option<BTreeMap<String, String>>,
    pub allow_private_network: Option<bool>,
    pub enabled: Option<bool>,
}

impl WebhookPatch {
    pub fn apply(self, w: &Webhook, now: DateTime<Utc>) -> Webhook {
        Webhook {
            id: w.id.clone(),
            sandbox: w.sandbox.clone(),
            name: self.name.unwrap_or_else(|| w.name.clone()),
            url: self.url.unwrap_or_else(|| w.url.clone()),
            channels: self.channels.unwrap_or_else(|| w.channels.clone()),
            auth: self.auth.unwrap_or_else(|| w.auth.clone()),
            headers: self.headers.unwrap_or_else(|| w.headers.clone()),
            allow_private_network: self
                .allow_private_network
                .unwrap_or(w.allow_private_network),
            enabled: self.enabled.unwrap_or(w.enabled),
            created_at: w.created_at,
            updated_at: now,
        }
    }
}

fn has_ctl(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

/// An http(s) URL with a host; with `allow_private` false, a host that is
/// a literal private address is refused here (names are checked again
/// after resolution, at send time).
pub fn check_url(url: &str, allow_private: bool) -> Result<(), FieldError> {
    let bad = |code: &str, msg: &str| Err(FieldError::new("/url", code, msg));
    if url.len() > MAX_URL || has_ctl(url) || url.contains(' ') {
        return bad("invalid", "not a valid URL");
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return bad("invalid", "the URL must start with http:// or https://");
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return bad("invalid_scheme", "the URL must use http or https");
    }
    if rest
        .split(['/', '?', '#'])
        .next()
        .is_some_and(|a| a.contains('@'))
    {
        return bad("invalid", "credentials in the URL are not allowed");
    }
    let Some(host) = url_host(rest) else {
        return bad("invalid", "the URL has no host");
    };
    if !allow_private && literal_ip(host).is_some_and(is_forbidden_ip) {
        return bad(
            "private_address",
            "the URL points to a private, loopback or otherwise internal address; set allowPrivateNetwork to allow it",
        );
    }
    if !allow_private && host.trim_end_matches('.').eq_ignore_ascii_case("localhost") {
        return bad(
            "private_address",
            "localhost is internal; set allowPrivateNetwork to allow it",
        );
    }
    Ok(())
}

/// The host part of `rest` (what follows `scheme://`), without port and
/// IPv6 brackets.
fn url_host(rest: &str) -> Option<&str> {
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// The host as an IP address when it is one (IPv4 dotted, IPv6).
pub fn literal_ip(host: &str) -> Option<IpAddr> {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.parse::<IpAddr>().ok()
}

/// Loopback, unspecified, private (RFC 1918, ULA fc00::/7), link-local,
/// CGNAT (100.64.0.0/10), multicast, broadcast and documentation/reserved
/// ranges: never a webhook target unless the webhook allows the private
/// network. IPv4-mapped IPv6 addresses are judged as their IPv4 address.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            forbidden_v6(v6)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || a >= 240
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || ip.segments()[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible ::a.b.c.d
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn check_headers(headers: &BTreeMap<String, String>, errors: &mut Vec<FieldError>) {
    if headers.len() > MAX_HEADERS {
        errors.push(FieldError::new(
            "/headers",
            "too_many",
            format!("at most {MAX_HEADERS} headers"),
        ));
    }
    for (name, value) in headers {
        let pointer = format!("/headers/{}", pointer_token(name));
        if !valid_header_name(name) {
            errors.push(FieldError::new(
                pointer,
                "invalid_header_name",
                "a header name is letters, digits and !#$%&'*+-.^_`|~ only",
            ));
        } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            errors.push(FieldError::new(
                pointer,
                "reserved_header",
                format!("{name} is set by Herald"),
            ));
        } else if value.contains(['\r', '\n']) || has_ctl(value) || value.len() > MAX_HEADER_VALUE {
            errors.push(FieldError::new(
                pointer,
                "invalid_header_value",
                format!(
                    "a header value has no CR, LF or control characters and at most {MAX_HEADER_VALUE} bytes"
                ),
            ));
        }
    }
}

/// What a message event reports as `feedbackStatus.value`, from the
/// status its history row records.
pub fn feedback_status(event_status: &str) -> Option<&'static str> {
    Some(match event_status {
        "sent" => "sent",
        "delivered" => "delivered",
        "bounced" => "bounce",
        "failed" => "error",
        // Handed over, then the connection was lost: reported as an error
        // whose failure type says so.
        "unknown" => "error",
        // A `queued` history row is a send that will be retried.
        "queued" => "delay",
        "excluded" => "exclude",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook() -> Webhook {
        NewWebhook {
            name: "ops".into(),
            url: "https://hooks.example.com/herald".into(),
            channels: vec![Channel::Email],
            auth: WebhookAuth::Hmac {
                secret: "s3cret".into(),
            },
            headers: BTreeMap::from([("X-Team".into(), "ops".into())]),
            allow_private_network: false,
            enabled: true,
        }
        .into_webhook("w1".into(), "prod".into(), Utc::now())
    }

    fn pointers(w: &Webhook) -> Vec<String> {
        w.validate().into_iter().map(|e| e.pointer).collect()
    }

    #[test]
    fn a_plain_webhook_is_valid() {
        assert!(hook().validate().is_empty());
    }

    #[test]
    fn urls_must_be_http_with_a_public_literal_host() {
        for url in [
            "ftp://x.example.com/",
            "hooks.example.com",
            "http:///nohost",
            "http://127.0.0.1:8080/",
            "http://10.1.2.3/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://localhost/",
            "http://[::ffff:192.168.0.1]/",
            "http://user@example.com/",
        ] {
            let w = Webhook {
                url: url.into(),
                ..hook()
            };
            assert_eq!(pointers(&w), ["/url"], "{url}");
        }
        let w = Webhook {
            url: "http://127.0.0.1:8080/".into(),
            allow_private_network: true,
            ..hook()
        };
        assert!(w.validate().is_empty());
        for ok in ["http://93.184.216.34/", "https://[2606:4700::1111]:8443/x"] {
            assert!(check_url(ok, false).is_ok(), "{ok}");
        }
    }

    #[test]
    fn forbidden_ranges() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.1.1",
            "100.100.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "::",
            "::1",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_forbidden_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "100.128.0.1", "2606:4700::1111"] {
            assert!(!is_forbidden_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn headers_are_checked_by_name_and_value() {
        let w = Webhook {
            headers: BTreeMap::from([
                ("Bad Name".into(), "x".into()),
                ("X-Split".into(), "a\r\nInjected: 1".into()),
                ("Authorization".into(), "Basic x".into()),
                ("X-Fine".into(), "ok".into()),
            ]),
            ..hook()
        };
        let mut p = pointers(&w);
        p.sort();
        assert_eq!(
            p,
            [
                "/headers/Authorization",
                "/headers/Bad Name",
                "/headers/X-Split"
            ]
        );
    }

    #[test]
    fn secrets_are_redacted_and_the_redacted_form_is_refused() {
        let w = hook();
        let r = w.redacted();
        assert_eq!(
            r.auth,
            WebhookAuth::Hmac {
                secret: REDACTED.into()
            }
        );
        assert_eq!(pointers(&r), ["/auth/secret"]);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["auth"]["type"], "hmac");
        assert!(!json.to_string().contains("s3cret"));
    }

    #[test]
    fn auth_parses_from_its_tagged_form() {
        let a: WebhookAuth = serde_json::from_value(
            serde_json::json!({"type": "jwt", "secret": "k", "issuer": "herald"}),
        )
        .unwrap();
        assert_eq!(
            a,
            WebhookAuth::Jwt {
                secret: "k".into(),
                issuer: "herald".into(),
                audience: None,
                ttl_seconds: 300
            }
        );
        let none: WebhookAuth =
            serde_json::from_value(serde_json::json!({"type": "none"})).unwrap();
        assert_eq!(none, WebhookAuth::None);
    }

    #[test]
    fn a_patch_replaces_only_the_fields_given() {
        let w = hook();
        let p: WebhookPatch =
            serde_json::from_value(serde_json::json!({"enabled": false})).unwrap();
        let after = p.apply(&w, w.created_at);
        assert!(!after.enabled);
        assert_eq!(after.auth, w.auth);
        assert_eq!(after.url, w.url);
    }

    #[test]
    fn event_statuses_map_to_feedback_values() {
        assert_eq!(feedback_status("sent"), Some("sent"));
        assert_eq!(feedback_status("failed"), Some("error"));
        assert_eq!(feedback_status("unknown"), Some("error"));
        assert_eq!(feedback_status("queued"), Some("delay"));
        assert_eq!(feedback_status("excluded"), Some("exclude"));
        assert_eq!(feedback_status("bounced"), Some("bounce"));
        assert_eq!(feedback_status("delivered"), Some("delivered"));
        assert_eq!(feedback_status("sending"), None);
    }
}
