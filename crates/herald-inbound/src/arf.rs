//! Feedback reports (ARF, RFC 5965): the `message/feedback-report` part is
//! one group of fields — Feedback-Type (required), User-Agent, Version,
//! Original-Mail-From, Original-Rcpt-To, Arrival-Date, Reporting-MTA,
//! Source-IP, … — next to the original message or its headers.

use crate::fields::parse_groups;
use crate::original::OriginalMessage;

/// A recipient's complaint about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complaint {
    /// Feedback-Type, lower-cased: `abuse`, `fraud`, `virus`, `other`
    /// (RFC 5965 §7.3; `not-spam` is not a complaint and never gets here).
    pub feedback_type: String,
    /// Original-Rcpt-To (often redacted by the reporter).
    pub original_rcpt_to: Option<String>,
    pub original_mail_from: Option<String>,
    pub user_agent: Option<String>,
    pub reporting_mta: Option<String>,
    pub original: OriginalMessage,
    pub fingerprint: String,
}

/// What a feedback-report body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackReport {
    Complaint(Complaint),
    /// `Feedback-Type: not-spam`: the opposite of a complaint.
    NotSpam,
    /// No Feedback-Type.
    Malformed,
}

pub fn parse_feedback_report(body: &str, original: &OriginalMessage) -> FeedbackReport {
    let Some(g) = parse_groups(body).into_iter().next() else {
        return FeedbackReport::Malformed;
    };
    let Some(feedback_type) = g.get("Feedback-Type").map(|t| t.to_ascii_lowercase()) else {
        return FeedbackReport::Malformed;
    };
    if feedback_type == "not-spam" {
        return FeedbackReport::NotSpam;
    }
    let addr = |name: &str| {
        g.get(name)
            .map(|a| a.trim().trim_matches(['<', '>']).to_owned())
            .filter(|a| !a.is_empty())
    };
    FeedbackReport::Complaint(Complaint {
        feedback_type,
        original_rcpt_to: addr("Original-Rcpt-To"),
        original_mail_from: addr("Original-Mail-From"),
        user_agent: g.get("User-Agent").map(str::to_owned),
        reporting_mta: g.typed("Reporting-MTA").map(str::to_owned),
        original: original.clone(),
        fingerprint: g.canonical(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5965_fields() {
        // RFC 5965 appendix B.2's report fields.
        let body = "Feedback-Type: abuse\r\n\
                    User-Agent: SomeGenerator/1.0\r\n\
                    Version: 1\r\n\
                    Original-Mail-From: <somespammer@example.net>\r\n\
                    Original-Rcpt-To: <user@example.com>\r\n\
                    Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT\r\n\
                    Reporting-MTA: dns; mail.example.com\r\n\
                    Source-IP: 192.0.2.1\r\n\
                    Authentication-Results: mail.example.com;\r\n\
                    \x20 spf=fail smtp.mail=somespammer@example.com\r\n\
                    Reported-Domain: example.net\r\n";
        let FeedbackReport::Complaint(c) = parse_feedback_report(body, &OriginalMessage::default())
        else {
            panic!("a complaint")
        };
        assert_eq!(c.feedback_type, "abuse");
        assert_eq!(c.original_rcpt_to.as_deref(), Some("user@example.com"));
        assert_eq!(
            c.original_mail_from.as_deref(),
            Some("somespammer@example.net")
        );
        assert_eq!(c.user_agent.as_deref(), Some("SomeGenerator/1.0"));
        assert_eq!(c.reporting_mta.as_deref(), Some("mail.example.com"));
        assert_eq!(
            parse_feedback_report("Feedback-Type: not-spam\n", &OriginalMessage::default()),
            FeedbackReport::NotSpam
        );
        assert_eq!(
            parse_feedback_report("User-Agent: x\n", &OriginalMessage::default()),
            FeedbackReport::Malformed
        );
    }
}
