//! build_email output checked by an independent parser (mail-parser).

mod support;

use herald_mail::{BuildError, build_email};
use mail_parser::{MessageParser, MimeHeaders};
use support::{assert_sample_message, raw_header_names, sample_email};

#[test]
fn builds_multipart_alternative_with_utf8_headers() {
    let raw = build_email(&sample_email("alice@example.com")).expect("build");
    // RFC 2047 / transfer encodings keep the wire format 7-bit.
    assert!(raw.is_ascii());
    assert!(
        raw.windows(2).all(|w| w[1] != b'\n' || w[0] == b'\r'),
        "CRLF only"
    );
    assert_sample_message(&raw, "alice@example.com");
}

#[test]
fn explicit_text_is_used_verbatim() {
    let mut email = sample_email("alice@example.com");
    email.text = Some("Custom text שלום 🎉".to_owned());
    let raw = build_email(&email).expect("build");
    let msg = MessageParser::default().parse(&raw).expect("parses");
    assert_eq!(
        msg.body_text(0).as_deref().map(str::trim_end),
        Some("Custom text שלום 🎉")
    );
}

#[test]
fn text_only_and_html_only() {
    let mut email = sample_email("alice@example.com");
    email.html = None;
    email.text = Some("just text".to_owned());
    let raw = build_email(&email).expect("build");
    let msg = MessageParser::default().parse(&raw).expect("parses");
    let ct = msg.content_type().expect("ct");
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));

    email.text = None;
    assert!(matches!(build_email(&email), Err(BuildError::NoBody)));
}

#[test]
fn no_reply_to_and_no_display_name() {
    let mut email = sample_email("alice@example.com");
    email.reply_to = None;
    email.from_name = Some(" \r\n ".to_owned());
    let raw = build_email(&email).expect("build");
    let msg = MessageParser::default().parse(&raw).expect("parses");
    assert!(msg.reply_to().is_none());
    let from = msg.from().and_then(|a| a.first()).expect("from");
    assert_eq!(from.name(), None);
    assert_eq!(from.address(), Some("news@herald.test"));
}

#[test]
fn crlf_in_any_header_value_is_neutralised() {
    let mut email = sample_email("alice@example.com");
    email.subject = "x\r\nBcc: victim@example.com".to_owned();
    email.from_name = Some("Name\rBcc: v2@example.com".to_owned());
    email.extra_headers = vec![("X-Tag".to_owned(), "a\r\n\r\n<script>".to_owned())];
    let raw = build_email(&email).expect("build");
    let names = raw_header_names(&raw);
    assert!(!names.iter().any(|n| n == "bcc"), "{names:?}");
    let msg = MessageParser::default().parse(&raw).expect("parses");
    assert!(msg.bcc().is_none());
    assert_eq!(msg.subject(), Some("x  Bcc: victim@example.com"));
    assert_eq!(
        msg.header("X-Tag").and_then(|h| h.as_text()).map(str::trim),
        Some("a    <script>")
    );
    // The body still parses as the intended multipart message.
    assert_eq!(msg.parts.len(), 3);
}

#[test]
fn invalid_inputs_are_rejected() {
    type Mutation = Box<dyn Fn(&mut herald_mail::OutgoingEmail)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "to with CRLF",
            Box::new(|e| e.to = "a@b.test\r\nBcc: c@d.test".into()),
        ),
        ("to with brackets", Box::new(|e| e.to = "<a@b.test>".into())),
        ("two @", Box::new(|e| e.to = "a@b@c.test".into())),
        (
            "from with space",
            Box::new(|e| e.from_address = "a b@c.test".into()),
        ),
        (
            "reply-to without @",
            Box::new(|e| e.reply_to = Some("nobody".into())),
        ),
        (
            "message-id with <>",
            Box::new(|e| e.message_id = "<x@y>".into()),
        ),
        (
            "header name with space",
            Box::new(|e| e.extra_headers = vec![("X Y".into(), "v".into())]),
        ),
        (
            "header name with CRLF",
            Box::new(|e| e.extra_headers = vec![("X\r\nBcc".into(), "v".into())]),
        ),
        (
            "reserved header",
            Box::new(|e| e.extra_headers = vec![("bcc".into(), "v@x.test".into())]),
        ),
    ];
    for (label, mutate) in cases {
        let mut email = sample_email("alice@example.com");
        mutate(&mut email);
        assert!(build_email(&email).is_err(), "{label} should be rejected");
    }
}
