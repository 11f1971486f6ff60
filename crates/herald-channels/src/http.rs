//! Shared HTTP plumbing: the client and the classification of transport
//! errors (as opposed to error replies, which each provider maps itself).

use std::time::Duration;

use crate::error::{ChannelError, ErrorClass};

/// Time to establish a connection (TCP + TLS); a failure here is transient
/// because nothing was sent.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a whole exchange; running out after the request was written
/// leaves the outcome unknown.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
}

pub(crate) fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, ChannelError> {
    builder
        .build()
        .map_err(|e| ChannelError::permanent(format!("cannot build the HTTP client: {e}")))
}

/// Classifies a reqwest failure by how far the exchange got: a failure to
/// connect (refused, DNS, TLS, connect timeout) sent nothing and is
/// transient; a builder error is a configuration fault; anything after the
/// connection was up (timeout, reset, unreadable reply) may have delivered.
pub(crate) fn classify(e: &reqwest::Error, what: &str) -> ChannelError {
    // Not the URL: it may carry an account id or a key, and `what` names the provider.
    let detail = causes(e);
    let class = if e.is_connect() {
        ErrorClass::Transient
    } else if e.is_builder() {
        ErrorClass::Permanent
    } else {
        ErrorClass::Unknown
    };
    let kind = if e.is_timeout() { "timeout" } else { "error" };
    ChannelError::new(class, None, format!("{what}: {kind}: {detail}"))
}

/// The error's causes, without reqwest's own message (which names the URL).
fn causes(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    if parts.is_empty() {
        "request failed".into()
    } else {
        parts.join(": ")
    }
}

/// The first `max` characters of a reply body, for receipts and reasons.
pub(crate) fn snippet(body: &str, max: usize) -> String {
    let mut s: String = body.chars().take(max).collect();
    if body.chars().count() > max {
        s.push('…');
    }
    s.replace(['\r', '\n'], " ")
}

/// Default status classification: 408, 425, 429 and 5xx are worth a retry.
pub(crate) fn status_is_transient(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || status >= 500
}
