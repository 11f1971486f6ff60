//! Bounces and complaints that arrive after a message was sent, parsed
//! from the raw RFC 5322 message a remote server mailed back:
//!
//! - a delivery status notification (RFC 3464): `multipart/report;
//!   report-type=delivery-status` with a `message/delivery-status` part (one
//!   per-message group, then one group per recipient), usually followed by
//!   the original message or its headers;
//! - a feedback report (ARF, RFC 5965): `multipart/report;
//!   report-type=feedback-report` with a `message/feedback-report` part and
//!   the original message or its headers.
//!
//! Each becomes one or more [`Feedback`]s, and each of those a
//! [`herald_domain::feedback::FeedbackEvent`] the store matches to its
//! message. Pure: no I/O, no store; the SMTP listener and the store live
//! elsewhere.

pub mod arf;
pub mod dsn;
pub mod fields;
mod original;
mod report;

pub use arf::Complaint;
pub use dsn::Bounce;
pub use original::OriginalMessage;
pub use report::{Feedback, NotAReport, parse, verp_message_id};

use herald_domain::feedback::FeedbackEvent;

/// Everything a received message says, as events: `envelope_recipients`
/// are its RCPT TO addresses, whose VERP tag (when there is one) names the
/// message for every event.
pub fn events(
    raw: &[u8],
    envelope_recipients: &[String],
) -> Result<Vec<FeedbackEvent>, NotAReport> {
    let verp = verp_message_id(envelope_recipients);
    Ok(parse(raw)?
        .into_iter()
        .map(|f| f.into_event(verp.clone()))
        .collect())
}
