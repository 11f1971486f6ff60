//! The one failure type of every transport, classified for the engine.

use std::fmt;

/// How the engine should treat a failed send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Nothing was accepted; retrying later may succeed (429, 5xx, connection
    /// refused, DNS, TLS handshake, connect timeout).
    Transient,
    /// The provider refused this message for good.
    Permanent,
    /// The request was sent and no answer came back (timeout, connection
    /// lost): the message may have gone out. Not retried automatically.
    Unknown,
    /// Push only: the device token is dead (unregistered, malformed, another
    /// app's). The engine removes the token and excludes the message with
    /// `pushTokenInvalid`.
    InvalidToken,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
            ErrorClass::Unknown => "unknown-outcome",
            ErrorClass::InvalidToken => "invalid-token",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed send: its class, the provider's error code when it gave one
/// (Twilio `21211`, FCM `UNREGISTERED`, APNs `BadDeviceToken`, an HTTP
/// status), and a short human-readable reason without credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class} failure{}: {reason}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
pub struct ChannelError {
    pub class: ErrorClass,
    pub code: Option<String>,
    pub reason: String,
}

impl ChannelError {
    pub fn new(class: ErrorClass, code: Option<String>, reason: impl Into<String>) -> Self {
        ChannelError {
            class,
            code,
            reason: reason.into(),
        }
    }
    pub fn transient(reason: impl Into<String>) -> Self {
        Self::new(ErrorClass::Transient, None, reason)
    }
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::new(ErrorClass::Permanent, None, reason)
    }
    pub fn unknown(reason: impl Into<String>) -> Self {
        Self::new(ErrorClass::Unknown, None, reason)
    }
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}
