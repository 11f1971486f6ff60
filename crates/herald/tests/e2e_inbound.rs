//! Bounces and complaints received later, end to end: Herald sends real
//! messages to aiosmtpd, then a real DSN (RFC 3464) and a real ARF report
//! (RFC 5965) about them are delivered to `herald serve --inbound-smtp`
//! with Python's smtplib, and the API shows them matched (VERP return path,
//! X-Herald-Message-Id, Message-ID), classified and suppressing. Also the
//! providers' webhook endpoint. Needs `scripts/install-test-deps.sh`.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use support::{Herald, HeraldOptions, SmtpServer, free_port, raw_header_lines};

/// Herald sending to aiosmtpd, listening for inbound SMTP on its own port.
async fn start() -> (SmtpServer, Herald, u16) {
    let smtp = SmtpServer::start();
    let inbound = free_port();
    let mut options = HeraldOptions::smtp(&smtp.url());
    options.extra_args = vec!["--inbound-smtp".into(), format!("127.0.0.1:{inbound}")];
    let herald = Herald::start(options).await;
    (smtp, herald, inbound)
}

/// A live transactional campaign on a configuration with a bounce address,
/// fired at `recipients` (profiles created); waits until every message is
/// sent. Returns address → message id.
async fn send_to(herald: &Herald, recipients: &[&str]) -> HashMap<String, String> {
    let cfg = herald
        .post(
            "/v1/channel-configurations",
            &json!({"name": "bounce-aware", "channel": "email", "category": "any",
                    "email": {"fromAddress": "receipts@herald.test",
                              "bounceAddress": "bounces@herald.test"}}),
            201,
        )
        .await["id"]
        .as_str()
        .expect("configuration id")
        .to_owned();
    let campaign = herald
        .create_campaign(&cfg, "Your receipt", "<p>Thanks</p>", "Thanks")
        .await;
    herald.activate(&campaign).await;
    let exec = herald
        .fire_unitary(
            &campaign,
            "inbound-1",
            recipients
                .iter()
                .map(|r| json!({"type": "aep", "namespace": "email", "userId": r}))
                .collect(),
            json!({}),
        )
        .await;
    let done = herald
        .wait_final(exec["executionId"].as_str().expect("execution id"))
        .await;
    done["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            assert_eq!(m["status"], "sent", "{m}");
            (
                m["userId"].as_str().expect("userId").to_owned(),
                m["messageId"].as_str().expect("messageId").to_owned(),
            )
        })
        .collect()
}

/// The raw message aiosmtpd received for `to`.
fn received(smtp: &SmtpServer, to: &str) -> String {
    smtp.messages()
        .into_iter()
        .map(|raw| String::from_utf8_lossy(&raw).replace("\r\n", "\n"))
        .find(|text| {
            raw_header_lines(text.as_bytes())
                .iter()
                .any(|(n, v)| n == "to" && v.contains(to))
        })
        .unwrap_or_else(|| panic!("no message to {to} received"))
}

fn header(raw: &str, name: &str) -> Option<String> {
    raw_header_lines(raw.as_bytes())
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .filter(|_| !raw.is_empty())
}

/// The header block of `raw`, without `X-Herald-Message-Id` when
/// `herald_header` is false (so only the Message-ID can match).
fn header_block(raw: &str, herald_header: bool) -> String {
    let head = raw.split("\n\n").next().unwrap_or("");
    head.lines()
        .filter(|l| herald_header || !l.to_ascii_lowercase().starts_with("x-herald-message-id:"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../herald-inbound/tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn render(text: &str, values: &[(&str, &str)]) -> Vec<u8> {
    let mut out = text.to_owned();
    for (k, v) in values {
        out = out.replace(k, v);
    }
    out.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

/// A DSN as RFC 3464 shows it (text/plain, message/delivery-status,
/// text/rfc822-headers) about the message `original` to `recipient`.
fn dsn(recipient: &str, action: &str, status: &str, diagnostic: &str, headers: &str) -> Vec<u8> {
    render(
        &fixture("dsn.eml"),
        &[
            ("__ENVELOPE_TO__", "bounces@herald.test"),
            ("__ACTION__", action),
            ("__STATUS__", status),
            ("__DIAGNOSTIC__", diagnostic),
            ("__RECIPIENT__", recipient),
            ("__NONCE__", recipient),
            ("__ORIGINAL_HEADERS__", headers),
        ],
    )
}

/// An ARF report as RFC 5965 appendix B shows it, the whole original
/// attached as message/rfc822.
fn arf(recipient: &str, original: &str) -> Vec<u8> {
    render(
        &fixture("arf.eml"),
        &[
            ("__ENVELOPE_TO__", "fbl@herald.test"),
            ("__FEEDBACK_TYPE__", "abuse"),
            ("__MAIL_FROM__", "receipts@herald.test"),
            ("__RECIPIENT__", recipient),
            ("__NONCE__", recipient),
            ("__ORIGINAL_MESSAGE__", original),
        ],
    )
}

/// Delivers `raw` from the null sender to `rcpt` with Python's smtplib;
/// returns the reply code and text to DATA.
fn deliver(port: u16, rcpt: &str, raw: &[u8]) -> (u16, String) {
    const CLIENT: &str = r#"
import smtplib, sys
port, rcpt = int(sys.argv[1]), sys.argv[2]
data = sys.stdin.buffer.read()
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("mx.example.com")
code, msg = s.mail("")
assert code == 250, (code, msg)
code, msg = s.rcpt(rcpt)
assert code == 250, (code, msg)
code, msg = s.data(data)
print(code, msg.decode())
s.quit()
"#;
    let mut child = Command::new("python3")
        .args(["-c", CLIENT, &port.to_string(), rcpt])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(raw).expect("write the message");
    }
    let out = child.wait_with_output().expect("smtplib client");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success(),
        "smtplib failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, text) = stdout.split_once(' ').unwrap_or((&stdout, ""));
    (code.parse().expect("reply code"), text.to_owned())
}

/// The message's history entries recorded from feedback (bounced,
/// complained, delivered after the send).
fn feedback_events(message: &Value) -> Vec<Value> {
    message["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|h| h.get("data").is_some())
        .cloned()
        .collect()
}

async fn suppression_reasons(herald: &Herald, address: &str) -> Vec<(String, String)> {
    let v = herald
        .get(&format!("/v1/suppressions?channel=email&address={address}"))
        .await;
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| {
            (
                s["reason"].as_str().unwrap_or("").to_owned(),
                s["source"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_dsn_and_an_arf_report_over_smtp_are_matched_classified_and_suppress() {
    let (smtp, herald, inbound) = start().await;
    let ids = send_to(
        &herald,
        &[
            "hard@example.com",
            "soft@example.com",
            "byid@example.com",
            "complains@example.com",
        ],
    )
    .await;

    // The VERP return path names each message.
    let hard_raw = received(&smtp, "hard@example.com");
    assert_eq!(
        header(&hard_raw, "x-mailfrom").as_deref(),
        Some(format!("bounces+{}@herald.test", ids["hard@example.com"]).as_str()),
        "MAIL FROM is the VERP address:\n{hard_raw}"
    );

    // 1. A hard bounce to the VERP address; the returned headers carry no
    //    Herald header, so only the envelope names the message.
    let verp = format!("bounces+{}@herald.test", ids["hard@example.com"]);
    let hard = dsn(
        "hard@example.com",
        "failed",
        "5.1.1",
        "550 5.1.1 <hard@example.com>: Recipient address rejected: User unknown",
        &header_block(&hard_raw, false),
    );
    let (code, text) = deliver(inbound, &verp, &hard);
    assert_eq!(code, 250, "{text}\n{}", herald.logs());
    assert!(text.contains("1 recorded"), "{text}");

    // 2. A delay, matched by the original Message-ID alone.
    let soft_raw = received(&smtp, "soft@example.com");
    let (code, text) = deliver(
        inbound,
        "bounces@herald.test",
        &dsn(
            "soft@example.com",
            "delayed",
            "4.4.7",
            "421 4.4.7 Delivery time expired, still trying",
            &header_block(&soft_raw, false),
        ),
    );
    assert_eq!((code, text.contains("1 recorded")), (250, true), "{text}");

    // 3. A hard bounce matched by the Message-ID alone.
    let byid_raw = received(&smtp, "byid@example.com");
    let (code, text) = deliver(
        inbound,
        "bounces@herald.test",
        &dsn(
            "byid@example.com",
            "failed",
            "5.2.1",
            "550 5.2.1 mailbox disabled",
            &header_block(&byid_raw, false),
        ),
    );
    assert_eq!((code, text.contains("1 recorded")), (250, true), "{text}");

    // 4. A complaint with the whole original attached (its
    //    X-Herald-Message-Id names the message).
    let complains_raw = received(&smtp, "complains@example.com");
    let (code, text) = deliver(
        inbound,
        "fbl@herald.test",
        &arf("complains@example.com", &complains_raw),
    );
    assert_eq!((code, text.contains("1 recorded")), (250, true), "{text}");

    // Hard bounces: bounced, classified hard, suppressed.
    for (address, status) in [("hard@example.com", "5.1.1"), ("byid@example.com", "5.2.1")] {
        let m = herald.message(&ids[address]).await;
        assert_eq!(m["status"], "bounced", "{m:#}");
        let events = feedback_events(&m);
        assert_eq!(events.len(), 1, "{m:#}");
        assert_eq!(events[0]["status"], "bounced");
        assert_eq!(events[0]["reason"], "hard");
        assert_eq!(events[0]["data"]["source"], "dsn");
        assert_eq!(events[0]["data"]["status"], status);
        assert!(
            events[0]["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with(&format!("550 {status}"))),
            "{m:#}"
        );
        assert_eq!(
            suppression_reasons(&herald, address).await,
            vec![("hardBounce".to_string(), "bounce".to_string())]
        );
    }
    // The delay: an event only.
    let m = herald.message(&ids["soft@example.com"]).await;
    assert_eq!(m["status"], "sent", "{m:#}");
    let events = feedback_events(&m);
    assert_eq!(events.len(), 1, "{m:#}");
    assert_eq!(events[0]["reason"], "soft");
    assert_eq!(events[0]["data"]["status"], "4.4.7");
    assert!(
        suppression_reasons(&herald, "soft@example.com")
            .await
            .is_empty()
    );
    // The complaint: an event, a suppression, the consent withdrawn.
    let m = herald.message(&ids["complains@example.com"]).await;
    assert_eq!(m["status"], "sent", "{m:#}");
    let events = feedback_events(&m);
    assert_eq!(events[0]["status"], "complained", "{m:#}");
    assert_eq!(events[0]["reason"], "abuse");
    assert_eq!(events[0]["data"]["source"], "arf");
    assert_eq!(events[0]["data"]["userAgent"], "SomeGenerator/1.0");
    assert_eq!(
        suppression_reasons(&herald, "complains@example.com").await,
        vec![("complaint".to_string(), "complaint".to_string())]
    );
    let profile = herald.get("/v1/profiles/email/complains@example.com").await;
    assert_eq!(
        profile["attributes"]["consents"]["marketing"]["email"]["val"], "n",
        "{profile:#}"
    );
    let check = herald
        .get("/v1/suppressions:check?channel=email&address=hard@example.com")
        .await;
    assert_eq!(check["suppressed"], true, "{check}");

    // The report counts them (the event triggers of the rollups).
    let campaign = herald.message(&ids["hard@example.com"]).await["campaignId"]
        .as_str()
        .expect("campaignId")
        .to_owned();
    let report = herald
        .get(&format!("/v1/campaigns/{campaign}/report"))
        .await;
    assert_eq!(report["bounced"]["hard"], 2, "{report:#}");
    assert_eq!(report["bounced"]["soft"], 1, "{report:#}");
    assert_eq!(report["complaints"], 1, "{report:#}");

    // The same DSN again (a sender's retry): accepted, recorded once.
    let (code, text) = deliver(inbound, &verp, &hard);
    assert_eq!((code, text.contains("0 recorded")), (250, true), "{text}");
    let m = herald.message(&ids["hard@example.com"]).await;
    assert_eq!(feedback_events(&m).len(), 1, "{m:#}");

    // Mail that is no report (an auto-reply) is accepted and ignored.
    let (code, text) = deliver(
        inbound,
        "bounces@herald.test",
        b"From: someone@example.com\r\nTo: bounces@herald.test\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n",
    );
    assert_eq!(code, 250, "{text}");
    assert!(text.contains("ignored"), "{text}");
    // A report about no message of Herald's: accepted, nothing recorded.
    let stranger = dsn(
        "x@example.com",
        "failed",
        "5.1.1",
        "550 5.1.1 unknown",
        "Message-ID: <not-ours@elsewhere.example>\nSubject: hi\n",
    );
    let (code, text) = deliver(inbound, "bounces@herald.test", &stranger);
    assert_eq!((code, text.contains("0 recorded")), (250, true), "{text}");
}

#[tokio::test]
async fn provider_webhooks_record_feedback_and_bad_input_is_a_400_with_a_pointer() {
    let (_smtp, herald, _inbound) = start().await;
    let ids = send_to(
        &herald,
        &["gone@example.com", "angry@example.com", "full@example.com"],
    )
    .await;
    let angry_header = format!("<{}@herald.test>", ids["angry@example.com"]);

    // Bad input first: a 400 naming the field, and nothing recorded.
    let (status, v) = herald
        .request(
            reqwest::Method::POST,
            "/v1/feedback/bounces",
            Some(&json!([
                {"type": "bounce", "messageId": ids["gone@example.com"], "status": "5.1.1"},
                {"type": "bounce", "messageId": ids["full@example.com"]},
                {"type": "complaint", "status": "x"}
            ])),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    let pointers: Vec<&str> = v["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["pointer"].as_str())
        .collect();
    assert_eq!(pointers, ["/1/status", "/2/messageId"], "{v}");
    let m = herald.message(&ids["gone@example.com"]).await;
    assert!(
        feedback_events(&m).is_empty(),
        "a 400 records nothing: {m:#}"
    );
    for (body, pointer) in [
        (
            json!({"type": "bounced", "messageId": ids["gone@example.com"]}),
            "/type",
        ),
        (
            json!({"type": "bounce", "messageId": "42", "status": "5.1.1"}),
            "/messageId",
        ),
        (
            json!({"type": "bounce", "messageId": ids["gone@example.com"], "status": "2.0.0"}),
            "/status",
        ),
        (
            json!({"type": "bounce", "messageId": ids["gone@example.com"], "status": "5.1.1", "extra": 1}),
            "/extra",
        ),
        (json!([]), ""),
    ] {
        let (status, v) = herald
            .request(reqwest::Method::POST, "/v1/feedback/bounces", Some(&body))
            .await;
        assert_eq!(status, 400, "{body} → {v}");
        assert_eq!(v["errors"][0]["pointer"], pointer, "{body} → {v}");
        assert_eq!(v["status"], 400);
    }

    let v = herald
        .post(
            "/v1/feedback/bounces",
            &json!([
                {"type": "bounce", "messageId": ids["gone@example.com"], "recipient": "gone@example.com",
                 "status": "5.1.1", "diagnostic": "550 5.1.1 no such user", "eventId": "evt-1"},
                {"type": "complaint", "headerMessageId": angry_header, "feedbackType": "abuse"},
                {"type": "bounce", "messageId": ids["full@example.com"], "status": "4.2.2",
                 "diagnostic": "452 4.2.2 mailbox full"},
                {"type": "bounce", "headerMessageId": "<nobody@elsewhere.example>", "status": "5.1.1"}
            ]),
            200,
        )
        .await;
    assert_eq!(
        (&v["recorded"], &v["duplicates"], &v["unmatched"]),
        (&json!(3), &json!(0), &json!(1)),
        "{v}"
    );
    assert_eq!(v["results"][0]["outcome"], "recorded");
    assert_eq!(v["results"][0]["suppressed"], true);
    assert_eq!(v["results"][3]["outcome"], "unmatched");

    let m = herald.message(&ids["gone@example.com"]).await;
    assert_eq!(m["status"], "bounced", "{m:#}");
    let e = &feedback_events(&m)[0];
    assert_eq!(
        (&e["reason"], &e["data"]["source"]),
        (&json!("hard"), &json!("webhook"))
    );
    assert_eq!(
        suppression_reasons(&herald, "gone@example.com").await,
        vec![("hardBounce".to_string(), "bounce".to_string())]
    );
    let m = herald.message(&ids["angry@example.com"]).await;
    assert_eq!(feedback_events(&m)[0]["status"], "complained", "{m:#}");
    assert_eq!(
        suppression_reasons(&herald, "angry@example.com").await,
        vec![("complaint".to_string(), "complaint".to_string())]
    );
    let m = herald.message(&ids["full@example.com"]).await;
    assert_eq!(m["status"], "sent");
    assert_eq!(feedback_events(&m)[0]["reason"], "soft");
    assert!(
        suppression_reasons(&herald, "full@example.com")
            .await
            .is_empty()
    );

    // The provider redelivers the same event: a duplicate, nothing new.
    let v = herald
        .post(
            "/v1/feedback/bounces",
            &json!({"type": "bounce", "messageId": ids["gone@example.com"], "status": "5.1.1",
                    "diagnostic": "550 5.1.1 no such user", "eventId": "evt-1"}),
            200,
        )
        .await;
    assert_eq!(v["duplicates"], 1, "{v}");
    let m = herald.message(&ids["gone@example.com"]).await;
    assert_eq!(feedback_events(&m).len(), 1, "{m:#}");

    // The endpoint is in the OpenAPI document.
    let doc = herald.get("/openapi.json").await;
    assert!(doc["paths"]["/v1/feedback/bounces"]["post"].is_object());
}

/// The mailto of `List-Unsubscribe` reaches the listener: a mail to
/// `unsubscribe+TOKEN@…` withdraws the consent once; a forged token does
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_to_the_list_unsubscribe_mailto_unsubscribes() {
    let (smtp, herald, inbound) = start().await;
    let cfg = herald.create_list_unsubscribe_configuration().await;
    let campaign = herald
        .create_campaign(&cfg, "News", "<p>News</p>", "News")
        .await;
    herald.activate(&campaign).await;
    let exec = herald
        .fire_unitary(
            &campaign,
            "mailto-1",
            vec![json!({"type": "aep", "namespace": "email", "userId": "mia@example.com"})],
            json!({}),
        )
        .await;
    herald
        .wait_final(exec["executionId"].as_str().unwrap())
        .await;
    let raw = received(&smtp, "mia@example.com");
    let parsed = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("a MIME message");
    let lu: String = parsed
        .header_raw("List-Unsubscribe")
        .expect("List-Unsubscribe")
        .split_whitespace()
        .collect();
    let mailto = lu
        .split(['<', '>'])
        .find_map(|s| s.strip_prefix("mailto:"))
        .unwrap_or_else(|| panic!("a mailto in {lu}"))
        .to_owned();
    assert!(
        mailto.starts_with("unsubscribe+") && mailto.ends_with("@herald.test"),
        "{mailto}"
    );
    let mail = b"From: mia@example.com\r\nTo: x\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n";
    let forged = mailto.replacen("unsubscribe+", "unsubscribe+A", 1);
    let (code, _) = deliver(inbound, &forged, mail);
    assert_eq!(code, 250);
    let profile = herald.get("/v1/profiles/email/mia@example.com").await;
    assert_ne!(
        profile["attributes"]["consents"]["marketing"]["email"]["val"], "n",
        "a forged token changes nothing: {profile}"
    );
    for _ in 0..2 {
        let (code, text) = deliver(inbound, &mailto, mail);
        assert_eq!(code, 250, "{text}");
    }
    let profile = herald.get("/v1/profiles/email/mia@example.com").await;
    assert_eq!(
        profile["attributes"]["consents"]["marketing"]["email"]["val"], "n",
        "{profile}"
    );
    let report = herald
        .get(&format!("/v1/campaigns/{campaign}/report"))
        .await;
    assert_eq!(report["unsubscribes"], 1, "counted once: {report}");
}
