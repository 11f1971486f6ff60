//! Delivery status notifications (RFC 3464): the `message/delivery-status`
//! part holds one per-message group (Reporting-MTA, Original-Envelope-Id,
//! …) and then one group per recipient (Final-Recipient, Action, Status,
//! Remote-MTA, Diagnostic-Code, …).

use herald_domain::feedback::{
    BounceClass, FeedbackKind, classify_status, find_status_code, is_status_code,
};

use crate::fields::{FieldGroup, parse_groups};
use crate::original::OriginalMessage;

/// One recipient's entry of a DSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// `Bounce(Hard | Soft)`, or `Delivered` for `Action: delivered`,
    /// `relayed` or `expanded`.
    pub kind: FeedbackKind,
    /// The Action field, lower-cased (`failed`, `delayed`, …).
    pub action: String,
    /// Final-Recipient (else Original-Recipient), without its type.
    pub recipient: Option<String>,
    /// The enhanced status code; from Diagnostic-Code when Status is
    /// missing or malformed.
    pub status: Option<String>,
    /// Diagnostic-Code without its type (`550 5.1.1 … user unknown`).
    pub diagnostic: Option<String>,
    pub remote_mta: Option<String>,
    pub reporting_mta: Option<String>,
    /// Original-Envelope-Id (RFC 3461 ENVID).
    pub envelope_id: Option<String>,
    pub original: OriginalMessage,
    /// The per-message and this recipient's fields, normalised.
    pub fingerprint: String,
}

/// The recipients' entries of a `message/delivery-status` body. Entries
/// that are neither a failure, a delay nor a delivery (`Action:` missing
/// and no usable status) are left out.
pub fn parse_delivery_status(body: &str, original: &OriginalMessage) -> Vec<Bounce> {
    let mut groups = parse_groups(body).into_iter();
    let Some(per_message) = groups.next() else {
        return Vec::new();
    };
    groups
        .filter_map(|r| recipient(&per_message, &r, original))
        .collect()
}

fn recipient(
    per_message: &FieldGroup,
    r: &FieldGroup,
    original: &OriginalMessage,
) -> Option<Bounce> {
    let action = r.get("Action").unwrap_or("").to_ascii_lowercase();
    let diagnostic = r.typed("Diagnostic-Code").map(str::to_owned);
    let status = r
        .get("Status")
        // `5.1.1 (bad destination mailbox)`: a comment may follow.
        .and_then(|s| s.split_whitespace().next())
        .filter(|s| is_status_code(s))
        .map(str::to_owned)
        .or_else(|| diagnostic.as_deref().and_then(find_status_code));
    let kind = match action.as_str() {
        "delivered" | "relayed" | "expanded" => FeedbackKind::Delivered,
        // A delay is soft whatever its code says.
        "delayed" => FeedbackKind::Bounce(BounceClass::Soft),
        _ => match status.as_deref().and_then(classify_status) {
            Some(class) => FeedbackKind::Bounce(class),
            // A failure with no usable code: the SMTP reply's class.
            None if action == "failed" => match diagnostic.as_deref().map(str::trim_start) {
                Some(d) if d.starts_with('4') => FeedbackKind::Bounce(BounceClass::Soft),
                _ => FeedbackKind::Bounce(BounceClass::Hard),
            },
            None => return None,
        },
    };
    Some(Bounce {
        kind,
        action,
        recipient: r
            .typed("Final-Recipient")
            .or_else(|| r.typed("Original-Recipient"))
            .map(|a| a.trim_matches(['<', '>']).to_owned()),
        status,
        diagnostic,
        remote_mta: r.typed("Remote-MTA").map(str::to_owned),
        reporting_mta: per_message.typed("Reporting-MTA").map(str::to_owned),
        envelope_id: per_message.get("Original-Envelope-Id").map(str::to_owned),
        original: original.clone(),
        fingerprint: format!("{}\n{}", per_message.canonical(), r.canonical()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3464_fields() {
        // RFC 3464 appendix: one failed and one delayed recipient.
        let body = "Reporting-MTA: dns; cs.utk.edu\r\n\
                    Original-Envelope-Id: env-42\r\n\
                    Arrival-Date: Fri, 8 Jul 1994 09:21:47 -0400 (EDT)\r\n\
                    \r\n\
                    Original-Recipient: rfc822;arathib@vnet.ibm.com\r\n\
                    Final-Recipient: rfc822;arathib@vnet.ibm.com\r\n\
                    Action: failed\r\n\
                    Status: 5.0.0 (permanent failure)\r\n\
                    Diagnostic-Code: smtp; 550 'arathib@vnet.IBM.COM' is not a\r\n\
                    \x20registered gateway user\r\n\
                    Remote-MTA: dns; vnet.ibm.com\r\n\
                    \r\n\
                    Original-Recipient: rfc822;johnh@hpnjld.njd.hp.com\r\n\
                    Final-Recipient: rfc822;johnh@hpnjld.njd.hp.com\r\n\
                    Action: delayed\r\n\
                    Status: 4.0.0 (hpnjld.njd.jp.com: host name lookup failure)\r\n\
                    \r\n\
                    Final-Recipient: rfc822;wsnell@sdcc13.ucsd.edu\r\n\
                    Action: delivered\r\n\
                    Status: 2.1.5\r\n";
        let b = parse_delivery_status(body, &OriginalMessage::default());
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].kind, FeedbackKind::Bounce(BounceClass::Hard));
        assert_eq!(b[0].status.as_deref(), Some("5.0.0"));
        assert_eq!(b[0].recipient.as_deref(), Some("arathib@vnet.ibm.com"));
        assert_eq!(
            b[0].diagnostic.as_deref(),
            Some("550 'arathib@vnet.IBM.COM' is not a registered gateway user")
        );
        assert_eq!(b[0].remote_mta.as_deref(), Some("vnet.ibm.com"));
        assert_eq!(b[0].reporting_mta.as_deref(), Some("cs.utk.edu"));
        assert_eq!(b[0].envelope_id.as_deref(), Some("env-42"));
        assert_eq!(b[1].kind, FeedbackKind::Bounce(BounceClass::Soft));
        assert_eq!(b[1].action, "delayed");
        assert_eq!(b[2].kind, FeedbackKind::Delivered);
        assert_ne!(b[0].fingerprint, b[1].fingerprint);
    }

    #[test]
    fn the_code_comes_from_the_diagnostic_when_status_is_unusable() {
        let body = "Reporting-MTA: dns; mx.example\n\n\
                    Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1\n\
                    Diagnostic-Code: smtp; 452 4.2.2 mailbox full\n";
        let b = parse_delivery_status(body, &OriginalMessage::default());
        assert_eq!(b[0].status.as_deref(), Some("4.2.2"));
        assert_eq!(b[0].kind, FeedbackKind::Bounce(BounceClass::Soft));
        let body = "Reporting-MTA: dns; mx.example\n\n\
                    Final-Recipient: rfc822; a@example.com\nAction: failed\n";
        let b = parse_delivery_status(body, &OriginalMessage::default());
        assert_eq!(b[0].kind, FeedbackKind::Bounce(BounceClass::Hard));
        assert_eq!(b[0].status, None);
        // No per-recipient group at all.
        assert!(
            parse_delivery_status("Reporting-MTA: dns; x\n", &OriginalMessage::default())
                .is_empty()
        );
    }
}
