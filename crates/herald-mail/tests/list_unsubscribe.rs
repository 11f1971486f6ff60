//! RFC 2369 / RFC 8058 headers: what mail-parser reads back, and data that
//! must never become a header.

mod support;

use herald_mail::{BuildError, ListUnsubscribe, build_email};
use support::{raw_header_names, sample_email};

fn parse(raw: &[u8]) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default()
        .parse(raw)
        .expect("message parses")
}

fn with(url: &str, mailto: Option<&str>) -> Result<Vec<u8>, BuildError> {
    let mut email = sample_email("jane@example.com");
    email.extra_headers.clear();
    email.list_unsubscribe = Some(ListUnsubscribe {
        url: url.to_owned(),
        mailto: mailto.map(str::to_owned),
    });
    build_email(&email)
}

#[test]
fn headers_parse_back() {
    let raw = with(
        "https://t.herald.test/u/AbC-123_x",
        Some("unsubscribe+AbC-123_x@herald.test"),
    )
    .expect("build");
    let msg = parse(&raw);
    let value = msg
        .header_raw("List-Unsubscribe")
        .expect("List-Unsubscribe");
    let unfolded: String = value
        .replace("\r\n", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        unfolded,
        "<https://t.herald.test/u/AbC-123_x>, <mailto:unsubscribe+AbC-123_x@herald.test>"
    );
    // mail-parser's structured view: the list of URLs.
    let urls: Vec<&str> = msg
        .list_unsubscribe()
        .as_address()
        .map(|a| a.iter().filter_map(|x| x.address()).collect())
        .unwrap_or_default();
    assert_eq!(
        urls,
        [
            "https://t.herald.test/u/AbC-123_x",
            "mailto:unsubscribe+AbC-123_x@herald.test"
        ]
    );
    assert_eq!(
        msg.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
    let names = raw_header_names(&raw);
    assert_eq!(names.iter().filter(|n| *n == "list-unsubscribe").count(), 1);
    assert_eq!(
        names
            .iter()
            .filter(|n| *n == "list-unsubscribe-post")
            .count(),
        1
    );
}

#[test]
fn long_values_fold_between_uris() {
    let url = format!("https://t.herald.test/u/{}", "T".repeat(120));
    let raw = with(&url, Some("unsubscribe@herald.test")).expect("build");
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains(&format!(
            "List-Unsubscribe: <{url}>,\r\n\t <mailto:unsubscribe@herald.test>\r\n"
        )),
        "{text}"
    );
    assert_eq!(
        parse(&raw)
            .header_raw("List-Unsubscribe")
            .map(|v| v.replace("\r\n\t", ""))
            .map(|v| v.trim().to_owned()),
        Some(format!("<{url}>, <mailto:unsubscribe@herald.test>"))
    );
    // Without a mailto there is nothing to fold.
    let raw = with(&url, None).expect("build");
    assert!(String::from_utf8_lossy(&raw).contains(&format!("List-Unsubscribe: <{url}>\r\n")));
}

#[test]
fn header_injection_is_rejected() {
    for url in [
        "https://t.herald.test/u/x\r\nBcc: victim@example.com",
        "https://t.herald.test/u/x\nBcc: victim@example.com",
        "https://t.herald.test/u/x\r",
        "https://t.herald.test/u/x>, <https://evil.test/",
        "https://t.herald.test/u/<x",
        "https://t.herald.test/u/a b",
        "https://t.herald.test/u/ü",
        "javascript:alert(1)",
        "",
    ] {
        assert!(
            matches!(with(url, None), Err(BuildError::InvalidListUnsubscribe(_))),
            "{url:?} accepted"
        );
    }
    for mailto in [
        "a@b.test>\r\nBcc: v@x.test",
        "a@b.test>, <https://evil.test",
        "no-at",
    ] {
        assert!(
            with("https://t.herald.test/u/x", Some(mailto)).is_err(),
            "{mailto:?} accepted"
        );
    }
    assert!(
        with(
            &format!("https://t.herald.test/u/{}", "x".repeat(900)),
            None
        )
        .is_err()
    );
}

#[test]
fn cannot_be_set_twice() {
    let mut email = sample_email("jane@example.com");
    email.list_unsubscribe = Some(ListUnsubscribe {
        url: "https://t.herald.test/u/x".to_owned(),
        mailto: None,
    });
    // sample_email also sets List-Unsubscribe through extra_headers.
    assert!(matches!(
        build_email(&email),
        Err(BuildError::ReservedHeader(_))
    ));
}
