//! Whole reports, built as RFC 3464 (appendix) and RFC 5965 (appendix B)
//! show them, from the fixtures the end-to-end tests also send over SMTP.

use herald_domain::feedback::{BounceClass, FeedbackKind, FeedbackSource};
use herald_inbound::{Feedback, NotAReport, events, parse};

const HERALD_ID: &str = "01936f4e-8a2b-7c3d-9e4f-0123456789ab";

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `text` with the placeholders replaced and CRLF line ends, as on the wire.
fn render(text: &str, values: &[(&str, &str)]) -> Vec<u8> {
    let mut out = text.to_owned();
    for (k, v) in values {
        out = out.replace(k, v);
    }
    out.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

/// The original as Herald builds it.
fn original(with_herald_header: bool) -> String {
    let herald = if with_herald_header {
        format!("X-Herald-Message-Id: {HERALD_ID}\n")
    } else {
        String::new()
    };
    format!(
        "From: Shop <receipts@herald.test>\nTo: jane@example.com\nSubject: Your receipt\n\
         Date: Thu, 03 Dec 2026 10:00:00 +0000\nMessage-ID: <{HERALD_ID}@herald.test>\n{herald}\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nHello Jane\n"
    )
}

fn headers_of(message: &str) -> String {
    message.split("\n\n").next().unwrap_or("").to_owned() + "\n"
}

fn dsn(action: &str, status: &str, diagnostic: &str, with_herald_header: bool) -> Vec<u8> {
    render(
        &fixture("dsn.eml"),
        &[
            ("__ENVELOPE_TO__", "bounces@herald.test"),
            ("__ACTION__", action),
            ("__STATUS__", status),
            ("__DIAGNOSTIC__", diagnostic),
            ("__RECIPIENT__", "jane@example.com"),
            ("__NONCE__", "1"),
            (
                "__ORIGINAL_HEADERS__",
                &headers_of(&original(with_herald_header)),
            ),
        ],
    )
}

fn arf(feedback_type: &str) -> Vec<u8> {
    render(
        &fixture("arf.eml"),
        &[
            ("__ENVELOPE_TO__", "fbl@herald.test"),
            ("__FEEDBACK_TYPE__", feedback_type),
            ("__MAIL_FROM__", "receipts@herald.test"),
            ("__RECIPIENT__", "jane@example.com"),
            ("__NONCE__", "1"),
            ("__ORIGINAL_MESSAGE__", &original(true)),
        ],
    )
}

#[test]
fn a_hard_bounce_is_matched_by_the_original_message_id() {
    let raw = dsn(
        "failed",
        "5.1.1",
        "550 5.1.1 <jane@example.com>: Recipient address rejected: User unknown",
        false,
    );
    let parsed = parse(&raw).expect("a DSN");
    assert_eq!(parsed.len(), 1);
    let Feedback::Bounce(b) = &parsed[0] else {
        panic!("a bounce: {parsed:?}")
    };
    assert_eq!(b.kind, FeedbackKind::Bounce(BounceClass::Hard));
    assert_eq!(b.recipient.as_deref(), Some("jane@example.com"));
    assert_eq!(b.remote_mta.as_deref(), Some("mailbox.example.com"));
    assert_eq!(
        b.original.message_id.as_deref(),
        Some(format!("{HERALD_ID}@herald.test").as_str())
    );
    assert_eq!(b.original.herald_message_id, None);

    let events = events(&raw, &["bounces@herald.test".into()]).expect("events");
    let e = &events[0];
    assert_eq!(e.source, FeedbackSource::Dsn);
    assert_eq!(e.message_id, None, "no VERP tag, no X-Herald-Message-Id");
    assert_eq!(
        e.header_message_id.as_deref(),
        Some(format!("{HERALD_ID}@herald.test").as_str())
    );
    assert_eq!(e.event_status(), "bounced");
    assert_eq!(e.reason().as_deref(), Some("hard"));
    assert_eq!(e.status.as_deref(), Some("5.1.1"));
    assert!(e.suppresses());
}

#[test]
fn the_verp_recipient_names_the_message_first() {
    let raw = dsn("failed", "5.1.1", "550 5.1.1 user unknown", true);
    let verp = format!("bounces+{HERALD_ID}@herald.test");
    let e = &events(&raw, &[verp]).expect("events")[0];
    assert_eq!(e.message_id.as_deref(), Some(HERALD_ID));
    // Without VERP, the original's X-Herald-Message-Id.
    let e = &events(&raw, &["bounces@herald.test".into()]).expect("events")[0];
    assert_eq!(e.message_id.as_deref(), Some(HERALD_ID));
}

#[test]
fn delays_and_4xx_are_soft_deliveries_are_delivered() {
    let raw = dsn("delayed", "4.4.7", "421 4.4.7 try again later", false);
    let e = &events(&raw, &[]).expect("events")[0];
    assert_eq!(e.kind, FeedbackKind::Bounce(BounceClass::Soft));
    assert!(!e.suppresses());
    let raw = dsn("failed", "4.2.2", "452 4.2.2 mailbox full", false);
    let e = &events(&raw, &[]).expect("events")[0];
    assert_eq!(e.reason().as_deref(), Some("soft"));
    let raw = dsn("delivered", "2.0.0", "250 2.0.0 OK", false);
    let e = &events(&raw, &[]).expect("events")[0];
    assert_eq!(e.kind, FeedbackKind::Delivered);
    assert_eq!(e.event_status(), "delivered");
}

#[test]
fn several_recipients_give_several_bounces() {
    // RFC 3464 §2.3: one group per recipient.
    let text = fixture("dsn.eml").replace(
        "Last-Attempt-Date: Thu, 03 Dec 2026 10:00:04 +0000\n",
        "Last-Attempt-Date: Thu, 03 Dec 2026 10:00:04 +0000\n\n\
         Final-Recipient: rfc822; bob@example.org\nAction: delayed\nStatus: 4.4.1\n",
    );
    let raw = render(
        &text,
        &[
            ("__ACTION__", "failed"),
            ("__STATUS__", "5.2.1"),
            ("__DIAGNOSTIC__", "550 5.2.1 mailbox disabled"),
            ("__RECIPIENT__", "jane@example.com"),
            ("__ORIGINAL_HEADERS__", &headers_of(&original(true))),
        ],
    );
    let e = events(&raw, &[]).expect("events");
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].reason().as_deref(), Some("hard"));
    assert_eq!(e[1].recipient.as_deref(), Some("bob@example.org"));
    assert_eq!(e[1].reason().as_deref(), Some("soft"));
    assert_ne!(e[0].fingerprint, e[1].fingerprint);
}

#[test]
fn an_arf_report_is_a_complaint() {
    let raw = arf("abuse");
    let parsed = parse(&raw).expect("an ARF report");
    let Feedback::Complaint(c) = &parsed[0] else {
        panic!("a complaint: {parsed:?}")
    };
    assert_eq!(c.feedback_type, "abuse");
    assert_eq!(c.original_rcpt_to.as_deref(), Some("jane@example.com"));
    assert_eq!(c.user_agent.as_deref(), Some("SomeGenerator/1.0"));
    assert_eq!(c.original.herald_message_id.as_deref(), Some(HERALD_ID));
    let e = &events(&raw, &["fbl@herald.test".into()]).expect("events")[0];
    assert_eq!(e.source, FeedbackSource::Arf);
    assert_eq!(e.event_status(), "complained");
    assert_eq!(e.reason().as_deref(), Some("abuse"));
    assert_eq!(e.message_id.as_deref(), Some(HERALD_ID));
    assert_eq!(e.suppression_reason(), Some(("complaint", "complaint")));
    assert_eq!(e.data()["userAgent"], "SomeGenerator/1.0");

    assert_eq!(parse(&arf("not-spam")), Err(NotAReport::NotSpam));
}

#[test]
fn other_mail_is_not_a_report() {
    let auto_reply = b"From: jane@example.com\r\nTo: bounces@herald.test\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n";
    assert!(matches!(parse(auto_reply), Err(NotAReport::NotAReport(_))));
    assert_eq!(parse(b""), Err(NotAReport::Unparsable));
    // The same report twice has the same key (recorded once).
    let raw = dsn("failed", "5.1.1", "550 5.1.1 user unknown", true);
    let a = &events(&raw, &[]).expect("events")[0];
    let b = &events(&raw, &[]).expect("events")[0];
    assert_eq!(a.dedupe_key(HERALD_ID), b.dedupe_key(HERALD_ID));
}
