//! The original message a report returns: as `message/rfc822` (whole),
//! `text/rfc822-headers` (RFC 3462, headers only) or their RFC 6533
//! `global` forms. Only the ids that match it to Herald's message matter.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use herald_domain::feedback::bare_message_id;
use herald_domain::verp::is_message_id;

/// What identifies the original message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginalMessage {
    /// Its Message-ID header, without angle brackets.
    pub message_id: Option<String>,
    /// Its `X-Herald-Message-Id` header (Herald's own message id).
    pub herald_message_id: Option<String>,
}

impl OriginalMessage {
    fn from_message(m: &Message<'_>) -> OriginalMessage {
        let herald = m
            .header_raw("X-Herald-Message-Id")
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| is_message_id(v));
        OriginalMessage {
            message_id: m
                .message_id()
                .map(bare_message_id)
                .filter(|v| !v.is_empty()),
            herald_message_id: herald,
        }
    }

    /// The first part of `report` that carries the original message or its
    /// headers; empty when there is none (a report may leave it out).
    pub(crate) fn find(report: &Message<'_>) -> OriginalMessage {
        for part in report.parts.iter().skip(1) {
            let Some(ct) = part.content_type() else {
                continue;
            };
            let kind = (
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase(),
            );
            let found = match (&part.body, kind.0.as_str(), kind.1.as_str()) {
                (PartType::Message(m), _, _) => Some(OriginalMessage::from_message(m)),
                (_, "text", "rfc822-headers") | (_, "message", "global-headers") => {
                    MessageParser::new()
                        .parse_headers(part.contents())
                        .map(|m| OriginalMessage::from_message(&m))
                }
                _ => None,
            };
            if let Some(o) = found {
                return o;
            }
        }
        OriginalMessage::default()
    }
}
