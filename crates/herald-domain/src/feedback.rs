//! Feedback that arrives after a message was sent: bounces (DSN, RFC 3464),
//! complaints (ARF, RFC 5965) and providers' bounce webhooks, in one shape
//! the store records. Also the event conventions the reports count:
//!
//! | kind      | event status | reason                  |
//! |-----------|--------------|-------------------------|
//! | bounce    | `bounced`    | `hard` / `soft`         |
//! | complaint | `complained` | the feedback type       |
//! | delivered | `delivered`  | none                    |
//!
//! `detail` is `"<status> <diagnostic>"` (short); `data` is a JSON object
//! with the source and the report's fields.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::FieldError;
use crate::verp::is_message_id;

/// RFC 3463: class 5 is a permanent failure (hard), class 4 a persistent
/// transient one (soft).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceClass {
    Hard,
    Soft,
}

impl BounceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceClass::Hard => "hard",
            BounceClass::Soft => "soft",
        }
    }
}

/// Whether `s` is an RFC 3463 enhanced status code: `class.subject.detail`,
/// class 2, 4 or 5, subject and detail 1–3 digits.
pub fn is_status_code(s: &str) -> bool {
    let mut parts = s.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(c), Some(subject), Some(detail), None) => {
            matches!(c, "2" | "4" | "5")
                && [subject, detail]
                    .iter()
                    .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        }
        _ => false,
    }
}

/// The bounce class of an enhanced status code; `None` for a success
/// (2.x.x) or something that is not a code.
pub fn classify_status(status: &str) -> Option<BounceClass> {
    if !is_status_code(status) {
        return None;
    }
    match status.as_bytes()[0] {
        b'5' => Some(BounceClass::Hard),
        b'4' => Some(BounceClass::Soft),
        _ => None,
    }
}

/// The first enhanced status code in free text (an SMTP reply such as
/// `550 5.1.1 <x@example.com>: unknown user`).
pub fn find_status_code(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ';' | ',' | '(' | ')' | '<' | '>'))
        .map(|w| w.trim_end_matches(['.', ':']))
        .find(|w| is_status_code(w))
        .map(str::to_owned)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackKind {
    Bounce(BounceClass),
    /// A recipient's complaint; `feedback_type` is ARF's Feedback-Type
    /// (`abuse`, `fraud`, `virus`, `other`) or a provider's word.
    Complaint {
        feedback_type: String,
    },
    /// A DSN with `Action: delivered` (or relayed, expanded).
    Delivered,
}

/// Where a piece of feedback came from (`data.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackSource {
    /// A delivery status notification received over SMTP.
    Dsn,
    /// A feedback report (complaint) received over SMTP.
    Arf,
    /// `POST /v1/feedback/bounces`.
    Webhook,
}

impl FeedbackSource {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackSource::Dsn => "dsn",
            FeedbackSource::Arf => "arf",
            FeedbackSource::Webhook => "webhook",
        }
    }
}

/// One piece of feedback about one message, ready to be matched and
/// recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackEvent {
    pub kind: FeedbackKind,
    pub source: FeedbackSource,
    /// Herald's message id (from a VERP return path, `X-Herald-Message-Id`
    /// or the webhook body): matched first.
    pub message_id: Option<String>,
    /// The original Message-ID header value, without angle brackets:
    /// matched when there is no message id.
    pub header_message_id: Option<String>,
    /// The address the report is about, as reported.
    pub recipient: Option<String>,
    /// The enhanced status code (`5.1.1`).
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    pub remote_mta: Option<String>,
    /// ARF: the reporting software.
    pub user_agent: Option<String>,
    /// DSN: the Original-Envelope-Id.
    pub envelope_id: Option<String>,
    /// What tells two reports about the same message apart (the
    /// machine-readable fields of the report); the same report received
    /// twice has the same fingerprint and is recorded once.
    pub fingerprint: String,
}

/// Longest `detail` kept on the event (the full diagnostic is in `data`).
const DETAIL_MAX: usize = 200;

impl FeedbackEvent {
    /// `message_events.status`.
    pub fn event_status(&self) -> &'static str {
        match self.kind {
            FeedbackKind::Bounce(_) => "bounced",
            FeedbackKind::Complaint { .. } => "complained",
            FeedbackKind::Delivered => "delivered",
        }
    }

    /// `message_events.reason`: hard/soft, or the complaint's feedback type.
    pub fn reason(&self) -> Option<String> {
        match &self.kind {
            FeedbackKind::Bounce(c) => Some(c.as_str().to_owned()),
            FeedbackKind::Complaint { feedback_type } => Some(feedback_type.clone()),
            FeedbackKind::Delivered => None,
        }
    }

    /// `"<status> <diagnostic>"`, cut to 200 characters.
    pub fn detail(&self) -> String {
        let mut d = match (&self.status, &self.diagnostic) {
            (Some(s), Some(diag)) if diag.contains(s.as_str()) => diag.clone(),
            (Some(s), Some(diag)) => format!("{s} {diag}"),
            (Some(s), None) => s.clone(),
            (None, Some(diag)) => diag.clone(),
            (None, None) => match &self.kind {
                FeedbackKind::Complaint { feedback_type } => format!("complaint: {feedback_type}"),
                _ => String::new(),
            },
        };
        d = d.replace(['\r', '\n'], " ");
        if d.chars().count() > DETAIL_MAX {
            d = d.chars().take(DETAIL_MAX - 1).collect::<String>() + "…";
        }
        d
    }

    /// `message_events.data`: the source and the report's fields.
    pub fn data(&self) -> Value {
        let mut m = Map::new();
        m.insert("source".into(), json!(self.source.as_str()));
        let fields = [
            ("status", &self.status),
            ("diagnostic", &self.diagnostic),
            ("remoteMta", &self.remote_mta),
            ("recipient", &self.recipient),
            ("userAgent", &self.user_agent),
            ("envelopeId", &self.envelope_id),
            ("headerMessageId", &self.header_message_id),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        if let FeedbackKind::Complaint { feedback_type } = &self.kind {
            m.insert("feedbackType".into(), json!(feedback_type));
        }
        Value::Object(m)
    }

    /// The key that makes recording idempotent: the message, the kind and
    /// the report's fingerprint.
    pub fn dedupe_key(&self, message_id: &str) -> String {
        let mut h = Sha256::new();
        for part in [
            message_id,
            self.event_status(),
            self.reason().as_deref().unwrap_or(""),
            self.status.as_deref().unwrap_or(""),
            &self.fingerprint,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    /// Whether recording it puts the address on the suppression list.
    pub fn suppresses(&self) -> bool {
        matches!(
            self.kind,
            FeedbackKind::Bounce(BounceClass::Hard) | FeedbackKind::Complaint { .. }
        )
    }

    /// The suppression's `reason` and `source`.
    pub fn suppression_reason(&self) -> Option<(&'static str, &'static str)> {
        match self.kind {
            FeedbackKind::Bounce(BounceClass::Hard) => Some(("hardBounce", "bounce")),
            FeedbackKind::Complaint { .. } => Some(("complaint", "complaint")),
            _ => None,
        }
    }
}

/// A Message-ID header value without its angle brackets and spaces.
pub fn bare_message_id(value: &str) -> String {
    value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_owned()
}

/// `type` of a provider's bounce webhook entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum WebhookFeedbackType {
    Bounce,
    Complaint,
}

/// One entry of `POST /v1/feedback/bounces`: a provider's bounce or
/// complaint in a generic shape (map the provider's webhook onto it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookFeedback {
    #[serde(rename = "type")]
    pub kind: WebhookFeedbackType,
    /// Herald's message id (the `X-Herald-Message-Id` header, or the VERP
    /// tag of the return path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The Message-ID header the message was sent with, with or without
    /// angle brackets: used when `messageId` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_message_id: Option<String>,
    /// The address the provider reports about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// Bounces: the RFC 3463 enhanced status code (`5.1.1` is hard, `4.2.2`
    /// soft). Required for a bounce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The remote server's reply or the provider's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_mta: Option<String>,
    /// Complaints: `abuse` (default), `fraud`, `virus`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_type: Option<String>,
    /// The provider's id of this event: the same id twice is recorded
    /// once. Without it, the same message, type, status and diagnostic are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

/// Longest free-text field a webhook entry may carry.
const WEBHOOK_TEXT_MAX: usize = 2000;

impl WebhookFeedback {
    /// The event to record, or every problem with a pointer under `at`
    /// (e.g. `/3` for the fourth entry of an array, `` for a lone object).
    pub fn into_event(self, at: &str) -> Result<FeedbackEvent, Vec<FieldError>> {
        let mut errors = Vec::new();
        let message_id = self
            .message_id
            .as_deref()
            .map(|m| m.trim().to_ascii_lowercase());
        if let Some(m) = &message_id
            && !is_message_id(m)
        {
            errors.push(FieldError::new(
                format!("{at}/messageId"),
                "invalid_message_id",
                format!("'{m}' is not a Herald message id"),
            ));
        }
        let header_message_id = self
            .header_message_id
            .as_deref()
            .map(bare_message_id)
            .filter(|h| !h.is_empty());
        if message_id.is_none() && header_message_id.is_none() {
            errors.push(FieldError::new(
                format!("{at}/messageId"),
                "required",
                "messageId or headerMessageId is required to find the message",
            ));
        }
        if let Some(h) = &header_message_id
            && (!h.contains('@') || h.len() > 998 || h.contains(char::is_whitespace))
        {
            errors.push(FieldError::new(
                format!("{at}/headerMessageId"),
                "invalid_message_id",
                "headerMessageId must be a Message-ID such as <id@example.com>",
            ));
        }
        for (field, value) in [
            ("diagnostic", &self.diagnostic),
            ("remoteMta", &self.remote_mta),
            ("recipient", &self.recipient),
            ("eventId", &self.event_id),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > WEBHOOK_TEXT_MAX) {
                errors.push(FieldError::new(
                    format!("{at}/{field}"),
                    "too_long",
                    format!("{field} is longer than {WEBHOOK_TEXT_MAX} bytes"),
                ));
            }
        }
        let kind = match self.kind {
            WebhookFeedbackType::Bounce => match self.status.as_deref().map(str::trim) {
                None => {
                    errors.push(FieldError::new(
                        format!("{at}/status"),
                        "required",
                        "a bounce needs its enhanced status code (RFC 3463), e.g. 5.1.1",
                    ));
                    None
                }
                Some(s) => match classify_status(s) {
                    Some(class) => Some(FeedbackKind::Bounce(class)),
                    None => {
                        errors.push(FieldError::new(
                            format!("{at}/status"),
                            "invalid_status",
                            format!("'{s}' is not a 4.x.x or 5.x.x enhanced status code"),
                        ));
                        None
                    }
                },
            },
            WebhookFeedbackType::Complaint => {
                let t = self
                    .feedback_type
                    .as_deref()
                    .map(|t| t.trim().to_ascii_lowercase())
                    .unwrap_or_else(|| "abuse".into());
                let known = ["abuse", "fraud", "virus", "other"];
                if known.contains(&t.as_str()) {
                    Some(FeedbackKind::Complaint { feedback_type: t })
                } else {
                    errors.push(FieldError::new(
                        format!("{at}/feedbackType"),
                        "invalid_value",
                        format!("'{t}' is not one of abuse, fraud, virus, other"),
                    ));
                    None
                }
            }
        };
        match kind {
            Some(kind) if errors.is_empty() => {
                let fingerprint = match &self.event_id {
                    Some(id) => format!("event:{id}"),
                    None => self.diagnostic.clone().unwrap_or_default(),
                };
                Ok(FeedbackEvent {
                    kind,
                    source: FeedbackSource::Webhook,
                    message_id,
                    header_message_id,
                    recipient: self.recipient,
                    status: self.status.map(|s| s.trim().to_owned()),
                    diagnostic: self.diagnostic,
                    remote_mta: self.remote_mta,
                    user_agent: None,
                    envelope_id: None,
                    fingerprint,
                })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_and_classes() {
        assert_eq!(classify_status("5.1.1"), Some(BounceClass::Hard));
        assert_eq!(classify_status("5.7.26"), Some(BounceClass::Hard));
        assert_eq!(classify_status("4.2.2"), Some(BounceClass::Soft));
        assert_eq!(classify_status("2.0.0"), None);
        assert_eq!(classify_status("550"), None);
        assert_eq!(classify_status("5.1"), None);
        assert_eq!(classify_status("6.1.1"), None);
        assert_eq!(classify_status("5.1.1.1"), None);
        assert_eq!(classify_status("5.1111.1"), None);
        assert_eq!(
            find_status_code("smtp; 550 5.1.1 <jane@example.com>: user unknown").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(find_status_code("550 user unknown"), None);
        assert_eq!(
            find_status_code("452 4.2.2 Mailbox full.").as_deref(),
            Some("4.2.2")
        );
    }

    fn bounce(status: &str, class: BounceClass) -> FeedbackEvent {
        FeedbackEvent {
            kind: FeedbackKind::Bounce(class),
            source: FeedbackSource::Dsn,
            message_id: None,
            header_message_id: Some("m1@example.com".into()),
            recipient: Some("jane@example.com".into()),
            status: Some(status.into()),
            diagnostic: Some("smtp; 550 5.1.1 user unknown".into()),
            remote_mta: Some("dns; mx.example.com".into()),
            user_agent: None,
            envelope_id: None,
            fingerprint: "f".into(),
        }
    }

    #[test]
    fn event_conventions() {
        let b = bounce("5.1.1", BounceClass::Hard);
        assert_eq!(b.event_status(), "bounced");
        assert_eq!(b.reason().as_deref(), Some("hard"));
        assert_eq!(b.detail(), "smtp; 550 5.1.1 user unknown");
        assert_eq!(b.data()["source"], "dsn");
        assert_eq!(b.data()["status"], "5.1.1");
        assert_eq!(b.data()["remoteMta"], "dns; mx.example.com");
        assert!(b.suppresses());
        assert_eq!(b.suppression_reason(), Some(("hardBounce", "bounce")));

        let mut s = bounce("4.2.2", BounceClass::Soft);
        s.diagnostic = Some("mailbox full".into());
        assert_eq!(s.detail(), "4.2.2 mailbox full");
        assert!(!s.suppresses());

        let c = FeedbackEvent {
            kind: FeedbackKind::Complaint {
                feedback_type: "abuse".into(),
            },
            source: FeedbackSource::Arf,
            status: None,
            diagnostic: None,
            ..b.clone()
        };
        assert_eq!(c.event_status(), "complained");
        assert_eq!(c.reason().as_deref(), Some("abuse"));
        assert_eq!(c.detail(), "complaint: abuse");
        assert_eq!(c.suppression_reason(), Some(("complaint", "complaint")));

        let long = FeedbackEvent {
            diagnostic: Some("x".repeat(500)),
            ..b.clone()
        };
        assert_eq!(long.detail().chars().count(), 200);
    }

    fn webhook(v: Value) -> Result<FeedbackEvent, Vec<FieldError>> {
        serde_json::from_value::<WebhookFeedback>(v)
            .expect("parses")
            .into_event("/0")
    }

    #[test]
    fn webhook_entries() {
        let id = crate::ids::new_id();
        let e = webhook(json!({"type": "bounce", "messageId": id, "status": "5.1.1",
                               "diagnostic": "550 user unknown"}))
        .expect("valid");
        assert_eq!(e.kind, FeedbackKind::Bounce(BounceClass::Hard));
        assert_eq!(e.source, FeedbackSource::Webhook);
        assert_eq!(e.data()["source"], "webhook");
        let e = webhook(json!({"type": "complaint", "headerMessageId": "<a@b.example>"}))
            .expect("valid");
        assert_eq!(e.reason().as_deref(), Some("abuse"));
        assert_eq!(e.header_message_id.as_deref(), Some("a@b.example"));

        let errors = webhook(json!({"type": "bounce", "status": "550"})).unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/0/messageId", "/0/status"]);
        let errors = webhook(json!({"type": "bounce", "messageId": "nope"})).unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/0/messageId", "/0/status"]);
        let errors = webhook(json!({"type": "complaint", "messageId": id, "feedbackType": "spam"}))
            .unwrap_err();
        assert_eq!(errors[0].pointer, "/0/feedbackType");
    }

    #[test]
    fn the_same_report_has_the_same_key() {
        let a = bounce("5.1.1", BounceClass::Hard);
        assert_eq!(a.dedupe_key("m1"), a.clone().dedupe_key("m1"));
        assert_ne!(a.dedupe_key("m1"), a.dedupe_key("m2"));
        let other = FeedbackEvent {
            fingerprint: "g".into(),
            ..a.clone()
        };
        assert_ne!(a.dedupe_key("m1"), other.dedupe_key("m1"));
        assert_eq!(bare_message_id(" <a@b> "), "a@b");
    }
}
