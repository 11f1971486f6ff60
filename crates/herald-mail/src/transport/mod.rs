//! Delivering built messages: the [`MailTransport`] trait and its outcomes.

mod maildir;
mod smtp;

use std::fmt;

use async_trait::async_trait;

pub use maildir::MaildirTransport;
pub use smtp::SmtpTransport;

/// Hands one RFC 5322 message to the next hop.
#[async_trait]
pub trait MailTransport: Send + Sync {
    /// Delivers `raw` for the single recipient `to`; `envelope_from` is the
    /// SMTP MAIL FROM (bounce address), `""` meaning the null sender.
    async fn send(&self, envelope_from: &str, to: &str, raw: &[u8])
    -> Result<Delivered, SendError>;

    /// Human-readable description for logs; never contains credentials.
    fn describe(&self) -> String;
}

/// A successful hand-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The server's final reply (e.g. `250 2.0.0 Ok: queued as ABC`), or the
    /// path of the Maildir file.
    pub reply: String,
}

/// How a failed delivery should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// Nothing was accepted; retrying later may succeed (4xx, connection
    /// refused, DNS, TLS handshake, timeouts before the message was sent).
    Transient,
    /// The server rejected the message or recipient for good (5xx).
    Permanent,
    /// The outcome is unknown: the connection was lost or timed out after the
    /// message data was sent, so it may have been delivered. Must not be
    /// retried automatically (a retry risks a duplicate).
    Unknown,
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Transient => "transient",
            Self::Permanent => "permanent",
            Self::Unknown => "unknown-outcome",
        })
    }
}

/// A failed delivery with its classification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class} failure{}: {message}", code.map(|c| format!(" ({c})")).unwrap_or_default())]
pub struct SendError {
    pub class: FailureClass,
    /// The SMTP reply code, when the failure was a server reply.
    pub code: Option<u16>,
    pub message: String,
}

impl SendError {
    pub fn new(class: FailureClass, code: Option<u16>, message: impl Into<String>) -> Self {
        Self {
            class,
            code,
            message: message.into(),
        }
    }
}

/// A transport that cannot be constructed from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid SMTP URL: {0}")]
    InvalidUrl(String),
    #[error("unsupported scheme {0:?} (expected smtp or smtps)")]
    UnsupportedScheme(String),
    #[error("invalid value {value:?} for SMTP URL parameter {name:?}")]
    InvalidParameter { name: String, value: String },
    #[error("unknown SMTP URL parameter {0:?}")]
    UnknownParameter(String),
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("cannot prepare Maildir {path}: {source}")]
    Maildir {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_error_display() {
        let e = SendError::new(FailureClass::Transient, Some(451), "4.3.0 try later");
        assert_eq!(e.to_string(), "transient failure (451): 4.3.0 try later");
        let e = SendError::new(FailureClass::Unknown, None, "connection reset");
        assert_eq!(e.to_string(), "unknown-outcome failure: connection reset");
    }
}
