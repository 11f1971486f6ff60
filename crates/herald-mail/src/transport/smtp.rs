//! SMTP delivery through lettre's pooled async transport.
//!
//! # Failure classification
//!
//! lettre reports one error for the whole pooled `send_raw` call and does not
//! say which SMTP phase failed, so the mapping is:
//!
//! - a 4xx reply → `Transient`; a 5xx reply → `Permanent` (with the code),
//!   except authentication failures (530/534/535/538), which are a sender
//!   configuration problem and so `Transient`, not the recipient's fault;
//! - connection errors (refused, DNS, TLS handshake — lettre raises these only
//!   while establishing the connection, before `MAIL FROM`) → `Transient`;
//! - a local client error (e.g. non-ASCII address to a server without
//!   SMTPUTF8, unparsable envelope address) → `Permanent`: resending the same
//!   bytes to the same server cannot succeed;
//! - an I/O error, malformed reply or our overall deadline elapsing *during*
//!   the session → `Transient`. These may in rare cases happen after the final
//!   `.` was sent (the server may have accepted the message), which lettre
//!   cannot distinguish; we chose retrying (a possible duplicate) over silently
//!   dropping. `FailureClass::Unknown` is therefore never produced here.

use std::time::Duration;

use async_trait::async_trait;
use lettre::address::Envelope;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use url::Url;

use super::{ConfigError, Delivered, FailureClass, MailTransport, SendError};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Pooled SMTP client. Cheap to share behind an `Arc`; connections are reused
/// across `send` calls (up to `pool_size` idle connections are kept).
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    timeout: Duration,
    description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    None,
    Opportunistic,
    Required,
    Implicit,
}

impl TlsMode {
    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Opportunistic => "opportunistic",
            Self::Required => "starttls",
            Self::Implicit => "implicit",
        }
    }
}

impl SmtpTransport {
    /// Accepts `smtp://host[:port]` (plain, port 25),
    /// `smtp://host:587?tls=starttls|required|opportunistic|none`,
    /// `smtps://user:pass@host[:465]` (implicit TLS) and `timeout=10s|500ms|2m`.
    /// Credentials are percent-decoded. `timeout` (default 60s) bounds both the
    /// TCP connect and each whole `send`.
    pub fn from_url(url: &str, pool_size: u32) -> Result<SmtpTransport, ConfigError> {
        let parsed = Url::parse(url).map_err(|e| ConfigError::InvalidUrl(e.to_string()))?;
        let implicit = match parsed.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => return Err(ConfigError::UnsupportedScheme(other.to_owned())),
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| ConfigError::InvalidUrl("missing host".to_owned()))?;
        // IPv6 literals come bracketed from the URL; sockets want them bare.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = parsed.port().unwrap_or(if implicit { 465 } else { 25 });

        let mut tls_mode = if implicit {
            TlsMode::Implicit
        } else {
            TlsMode::None
        };
        let mut timeout = DEFAULT_TIMEOUT;
        for (name, value) in parsed.query_pairs() {
            let invalid = || ConfigError::InvalidParameter {
                name: name.to_string(),
                value: value.to_string(),
            };
            match name.as_ref() {
                "tls" => {
                    tls_mode = match (implicit, value.as_ref()) {
                        (false, "none") => TlsMode::None,
                        (false, "opportunistic") => TlsMode::Opportunistic,
                        (false, "starttls" | "required") => TlsMode::Required,
                        (true, "implicit" | "wrapper") => TlsMode::Implicit,
                        _ => return Err(invalid()),
                    }
                }
                "timeout" => timeout = parse_duration(&value).ok_or_else(invalid)?,
                _ => return Err(ConfigError::UnknownParameter(name.to_string())),
            }
        }

        let tls = match tls_mode {
            TlsMode::None => Tls::None,
            mode => {
                let params = TlsParameters::new(host.clone())
                    .map_err(|e| ConfigError::Tls(e.to_string()))?;
                match mode {
                    TlsMode::Opportunistic => Tls::Opportunistic(params),
                    TlsMode::Required => Tls::Required(params),
                    _ => Tls::Wrapper(params),
                }
            }
        };

        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .tls(tls)
            .timeout(Some(timeout))
            .pool_config(PoolConfig::new().max_size(pool_size.max(1)));
        let user = percent_decode(parsed.username())?;
        if !user.is_empty() {
            let password = percent_decode(parsed.password().unwrap_or(""))?;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }

        let auth = if user.is_empty() {
            String::new()
        } else {
            format!("{user}@")
        };
        let description = format!(
            "{}://{auth}{host}:{port} (tls={}, pool={}, timeout={}s)",
            parsed.scheme(),
            tls_mode.name(),
            pool_size.max(1),
            timeout.as_secs_f32()
        );
        Ok(SmtpTransport {
            inner: builder.build(),
            timeout,
            description,
        })
    }
}

#[async_trait]
impl MailTransport for SmtpTransport {
    async fn send(
        &self,
        envelope_from: &str,
        to: &str,
        raw: &[u8],
    ) -> Result<Delivered, SendError> {
        let envelope = envelope(envelope_from, to)?;
        // lettre's own timeout covers only the TCP connect on tokio; bound the
        // whole transaction so a stalled server cannot hang a worker forever.
        let result = tokio::time::timeout(self.timeout, self.inner.send_raw(&envelope, raw))
            .await
            .map_err(|_| {
                SendError::new(
                    FailureClass::Transient,
                    None,
                    format!("SMTP session timed out after {:?}", self.timeout),
                )
            })?;
        match result {
            Ok(response) => Ok(Delivered {
                reply: format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                ),
            }),
            Err(err) => {
                let classified = classify(&err);
                tracing::debug!(error = %err, class = %classified.class, "SMTP send failed");
                Err(classified)
            }
        }
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

fn envelope(envelope_from: &str, to: &str) -> Result<Envelope, SendError> {
    let bad = |what: &str, value: &str, e: lettre::address::AddressError| {
        SendError::new(
            FailureClass::Permanent,
            None,
            format!("invalid envelope {what} {value:?}: {e}"),
        )
    };
    let from = if envelope_from.is_empty() {
        None
    } else {
        Some(
            envelope_from
                .parse()
                .map_err(|e| bad("sender", envelope_from, e))?,
        )
    };
    let rcpt = to.parse().map_err(|e| bad("recipient", to, e))?;
    Envelope::new(from, vec![rcpt]).map_err(|e| {
        SendError::new(
            FailureClass::Permanent,
            None,
            format!("invalid envelope: {e}"),
        )
    })
}

/// See the module docs for the reasoning behind each branch.
fn classify(err: &lettre::transport::smtp::Error) -> SendError {
    let message = error_chain(err);
    if let Some(code) = err.status() {
        let code = u16::from(code);
        let class = if err.is_transient() || matches!(code, 530 | 534 | 535 | 538) {
            FailureClass::Transient
        } else {
            FailureClass::Permanent
        };
        return SendError::new(class, Some(code), message);
    }
    let class = if err.is_client() {
        FailureClass::Permanent
    } else {
        FailureClass::Transient
    };
    SendError::new(class, None, message)
}

/// lettre's Display omits the underlying cause ("Connection refused" etc.).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !message.contains(&cause_text) {
            message.push_str(": ");
            message.push_str(&cause_text);
        }
        source = cause.source();
    }
    message
}

fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (number, unit) = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((value, ""), |i| value.split_at(i));
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        _ => return None,
    };
    (seconds > 0.0 && seconds.is_finite()).then(|| Duration::from_secs_f64(seconds))
}

fn percent_decode(value: &str) -> Result<String, ConfigError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = value
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| ConfigError::InvalidUrl("bad percent-encoding".to_owned()))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| ConfigError::InvalidUrl("credentials are not UTF-8".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("ten"), None);
        assert_eq!(parse_duration("5h"), None);
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(
            percent_decode("p%40ss%3Aw%2Fd").ok().as_deref(),
            Some("p@ss:w/d")
        );
        assert_eq!(percent_decode("%C3%BC").ok().as_deref(), Some("ü"));
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%ff").is_err());
    }

    #[tokio::test]
    async fn accepts_documented_url_forms() {
        let t = SmtpTransport::from_url("smtp://mail.example.com", 4).expect("plain");
        assert_eq!(
            t.describe(),
            "smtp://mail.example.com:25 (tls=none, pool=4, timeout=60s)"
        );
        let t = SmtpTransport::from_url("smtp://mail.example.com:587?tls=starttls&timeout=10s", 2)
            .expect("starttls");
        assert_eq!(
            t.describe(),
            "smtp://mail.example.com:587 (tls=starttls, pool=2, timeout=10s)"
        );
        for tls in ["required", "opportunistic", "none"] {
            SmtpTransport::from_url(&format!("smtp://h:587?tls={tls}"), 1).expect(tls);
        }
        let t =
            SmtpTransport::from_url("smtps://us%40er:p%40ss@mail.example.com", 1).expect("smtps");
        // Credentials are decoded but the password never shows.
        assert_eq!(
            t.describe(),
            "smtps://us@er@mail.example.com:465 (tls=implicit, pool=1, timeout=60s)"
        );
        assert!(!t.describe().contains("p@ss"));
        SmtpTransport::from_url("smtp://[::1]:2525", 1).expect("ipv6");
    }

    #[tokio::test]
    async fn rejects_bad_urls() {
        for (url, expect) in [
            ("http://h", "unsupported scheme"),
            ("smtp://", "invalid SMTP URL"),
            ("smtp://h?tls=bogus", "invalid value"),
            ("smtps://h?tls=none", "invalid value"),
            ("smtp://h?timeout=forever", "invalid value"),
            ("smtp://h?tsl=starttls", "unknown SMTP URL parameter"),
            ("not a url", "invalid SMTP URL"),
        ] {
            let err = SmtpTransport::from_url(url, 1)
                .err()
                .unwrap_or_else(|| panic!("{url} should fail"));
            assert!(err.to_string().contains(expect), "{url}: {err}");
        }
    }

    #[test]
    fn envelope_rejects_garbage_permanently() {
        let err = envelope("a@b.test", "not an address").expect_err("invalid");
        assert_eq!(err.class, FailureClass::Permanent);
        assert!(envelope("", "a@b.test").is_ok());
    }
}
