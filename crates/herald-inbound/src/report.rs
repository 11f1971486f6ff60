//! From raw bytes to feedback: which kind of report a message is, its
//! machine-readable part and the original message it returns.

use mail_parser::{Message, MessageParser, MimeHeaders};

use herald_domain::feedback::{FeedbackEvent, FeedbackKind, FeedbackSource};
use herald_domain::verp::parse_verp;

use crate::arf::{Complaint, FeedbackReport, parse_feedback_report};
use crate::dsn::{Bounce, parse_delivery_status};
use crate::original::OriginalMessage;

/// What one report says about one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    Bounce(Bounce),
    Complaint(Complaint),
}

/// Why a received message yields no feedback. Bounce processors receive
/// plenty of these (auto-replies, old-style bounces, spam): they are
/// accepted and counted, not refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAReport {
    #[error("the message does not parse as RFC 5322")]
    Unparsable,
    #[error("neither a delivery status notification nor a feedback report (Content-Type {0})")]
    NotAReport(String),
    #[error("a delivery status notification without a recipient entry")]
    NoRecipients,
    #[error("a feedback report without a Feedback-Type")]
    MalformedFeedbackReport,
    #[error("a not-spam feedback report (not a complaint)")]
    NotSpam,
}

/// The feedback in `raw`: one entry per recipient of a DSN, one complaint
/// for an ARF report. Recognised by its machine-readable part
/// (`message/delivery-status`, `message/feedback-report`, or their RFC 6533
/// `global` forms) wherever it sits, since some reporters nest the report
/// or get `report-type` wrong.
pub fn parse(raw: &[u8]) -> Result<Vec<Feedback>, NotAReport> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(NotAReport::Unparsable)?;
    let original = OriginalMessage::find(&message);
    if let Some(body) = part_text(&message, &["delivery-status", "global-delivery-status"]) {
        let bounces = parse_delivery_status(&body, &original);
        if bounces.is_empty() {
            return Err(NotAReport::NoRecipients);
        }
        return Ok(bounces.into_iter().map(Feedback::Bounce).collect());
    }
    if let Some(body) = part_text(&message, &["feedback-report"]) {
        return match parse_feedback_report(&body, &original) {
            FeedbackReport::Complaint(c) => Ok(vec![Feedback::Complaint(c)]),
            FeedbackReport::NotSpam => Err(NotAReport::NotSpam),
            FeedbackReport::Malformed => Err(NotAReport::MalformedFeedbackReport),
        };
    }
    let ct = message
        .content_type()
        .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")))
        .unwrap_or_else(|| "text/plain".into());
    Err(NotAReport::NotAReport(ct))
}

/// The decoded text of the first `message/<subtype>` part.
fn part_text(message: &Message<'_>, subtypes: &[&str]) -> Option<String> {
    message.parts.iter().find_map(|p| {
        let ct = p.content_type()?;
        let sub = ct.subtype()?;
        (ct.ctype().eq_ignore_ascii_case("message")
            && subtypes.iter().any(|s| sub.eq_ignore_ascii_case(s)))
        .then(|| String::from_utf8_lossy(p.contents()).into_owned())
    })
}

/// The message id the VERP tag of one of the envelope recipients carries.
pub fn verp_message_id(envelope_recipients: &[String]) -> Option<String> {
    envelope_recipients.iter().find_map(|r| parse_verp(r))
}

impl Feedback {
    /// The event to record; `verp_message_id` (from the envelope) names
    /// the message before the original's `X-Herald-Message-Id`, which comes
    /// before its Message-ID.
    pub fn into_event(self, verp_message_id: Option<String>) -> FeedbackEvent {
        match self {
            Feedback::Bounce(b) => FeedbackEvent {
                kind: b.kind,
                source: FeedbackSource::Dsn,
                message_id: verp_message_id.or(b.original.herald_message_id),
                header_message_id: b.original.message_id,
                recipient: b.recipient,
                status: b.status,
                diagnostic: b.diagnostic,
                remote_mta: b.remote_mta,
                user_agent: None,
                envelope_id: b.envelope_id,
                fingerprint: b.fingerprint,
            },
            Feedback::Complaint(c) => FeedbackEvent {
                kind: FeedbackKind::Complaint {
                    feedback_type: c.feedback_type,
                },
                source: FeedbackSource::Arf,
                message_id: verp_message_id.or(c.original.herald_message_id),
                header_message_id: c.original.message_id,
                recipient: c.original_rcpt_to,
                status: None,
                diagnostic: None,
                remote_mta: c.reporting_mta,
                user_agent: c.user_agent,
                envelope_id: None,
                fingerprint: c.fingerprint,
            },
        }
    }
}
