//! End-to-end email tests: the real `herald` binary, real HTTP calls, a real
//! SMTP server (aiosmtpd) or the Maildir outbox, and the received mail parsed
//! with mail-parser. Needs `scripts/install-test-deps.sh`.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{Value, json};

use support::{Herald, HeraldOptions, SmtpServer, raw_header_lines, read_maildir_new, wait_for};

// ---------------------------------------------------------------------------
// Receipt fixture
// ---------------------------------------------------------------------------

const RECEIPT_SUBJECT: &str =
    "Your receipt {{context.receipt_id}} for {{profile.person.name.firstName}}";

fn receipt_template(ext: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../herald-template/tests/fixtures/postmark/receipt")
        .join(format!("content.{ext}"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

struct Buyer {
    email: &'static str,
    first_name: &'static str,
    receipt_id: &'static str,
    items: &'static [(&'static str, &'static str)],
    total: &'static str,
    /// `aep` (profile created) or `external`.
    kind: &'static str,
}

const BUYERS: &[Buyer] = &[
    Buyer {
        email: "ann@example.com",
        first_name: "Ann",
        receipt_id: "R-1001",
        items: &[
            ("Alpine Tent for Ann", "$120.00"),
            ("Sleeping Bag Ann", "$45.50"),
        ],
        total: "$165.50",
        kind: "aep",
    },
    Buyer {
        email: "bob@example.org",
        first_name: "Bob",
        receipt_id: "R-1002",
        items: &[
            ("Bob Trail Shoes", "$89.99"),
            ("Bob Wool Socks", "$12.01"),
            ("Bob Compass", "$8.00"),
        ],
        total: "$110.00",
        kind: "aep",
    },
    Buyer {
        email: "chloe@example.net",
        first_name: "Chloé",
        receipt_id: "R-1003",
        items: &[("Chloé Kayak Paddle", "$64.25")],
        total: "$64.25",
        kind: "external",
    },
];

fn buyer_recipient(b: &Buyer) -> Value {
    json!({
        "type": b.kind,
        "namespace": "email",
        "userId": b.email,
        "profile": {"person": {"name": {"firstName": b.first_name}}},
        "context": {
            "name": b.first_name,
            "receipt_id": b.receipt_id,
            "receipt_details": b.items.iter()
                .map(|(d, a)| json!({"description": d, "amount": a}))
                .collect::<Vec<_>>(),
            "total": b.total,
            "credit_card_last_four": "4242",
        }
    })
}

fn shared_receipt_context() -> Value {
    json!({
        "purchase_date": "2026-12-01",
        "date": "December 1, 2026",
        "credit_card_brand": "VisaCard",
        "expiration_date": "2027-01-31",
        "billing_url": "https://shop.herald.test/billing",
        "support_url": "https://shop.herald.test/support",
        "action_url": "https://shop.herald.test/receipt.pdf",
    })
}

fn expected_subject(b: &Buyer) -> String {
    format!("Your receipt {} for {}", b.receipt_id, b.first_name)
}

/// `ctype/subtype` of every part after the root, in order.
fn part_kinds(msg: &mail_parser::Message) -> Vec<String> {
    msg.parts
        .iter()
        .skip(1)
        .map(|p| {
            let ct = p.content_type().expect("part Content-Type");
            format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""))
        })
        .collect()
}

fn part_text<'a>(msg: &'a mail_parser::Message, kind: &str) -> &'a str {
    msg.parts
        .iter()
        .skip(1)
        .find(|p| {
            p.content_type()
                .is_some_and(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")) == kind)
        })
        .and_then(|p| p.text_contents())
        .unwrap_or_else(|| panic!("no {kind} part in {:?}", part_kinds(msg)))
}

/// Parses `raw` and checks everything the receipt for `b` must contain.
fn check_receipt(raw: &[u8], b: &Buyer) {
    let msg = MessageParser::default()
        .parse(raw)
        .unwrap_or_else(|| panic!("message for {} does not parse", b.email));
    for part in &msg.parts {
        assert!(!part.is_encoding_problem, "encoding problem in {part:?}");
    }
    let to = msg.to().and_then(|a| a.first()).expect("To");
    assert_eq!(to.address(), Some(b.email));
    assert_eq!(msg.subject(), Some(expected_subject(b).as_str()));
    let from = msg.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.address(), Some("receipts@herald.test"));
    assert!(msg.message_id().is_some(), "Message-ID header");

    let ct = msg.content_type().expect("Content-Type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative")),
        "root content type"
    );
    let kinds = part_kinds(&msg);
    assert!(
        kinds.iter().any(|k| k == "text/plain"),
        "text part: {kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k == "text/html"),
        "html part: {kinds:?}"
    );

    let html = part_text(&msg, "text/html");
    let text = part_text(&msg, "text/plain");
    for (desc, amount) in b.items {
        assert!(html.contains(desc), "{}: {desc} missing from HTML", b.email);
        assert!(
            html.contains(amount),
            "{}: {amount} missing from HTML",
            b.email
        );
        assert!(
            text.contains(desc),
            "{}: {desc} missing from text:\n{text}",
            b.email
        );
        assert!(
            text.contains(amount),
            "{}: {amount} missing from text:\n{text}",
            b.email
        );
    }
    for part in [html, text] {
        assert!(part.contains(b.receipt_id), "receipt id in body");
        assert!(part.contains(b.total), "total in body");
        assert!(part.contains(&format!("Hi {},", b.first_name)), "greeting");
        // The call's top-level context is merged under the recipient's.
        assert!(part.contains("VisaCard"), "top-level context in body");
        assert!(
            part.contains("https://shop.herald.test/support"),
            "support url"
        );
        assert!(!part.contains("{{"), "unrendered placeholder left in body");
    }
    // Nobody else's line items leaked in.
    for other in BUYERS.iter().filter(|o| o.email != b.email) {
        for (desc, _) in other.items {
            assert!(
                !html.contains(desc),
                "{}'s item {desc} in {}'s mail",
                other.email,
                b.email
            );
        }
    }
}

/// Picks the message addressed to `email` out of `raws` (exactly one).
fn message_to<'a>(raws: &'a [Vec<u8>], email: &str) -> &'a [u8] {
    let found: Vec<&Vec<u8>> = raws
        .iter()
        .filter(|raw| {
            MessageParser::default()
                .parse(raw.as_slice())
                .and_then(|m| {
                    m.to()
                        .and_then(|a| a.first())
                        .and_then(|a| a.address().map(str::to_owned))
                })
                .as_deref()
                == Some(email)
        })
        .collect();
    assert_eq!(found.len(), 1, "messages to {email}");
    found[0]
}

/// The full receipt scenario against `herald`; `received` reads whatever
/// mailbox the transport delivers to.
async fn receipt_scenario(herald: &Herald, received: impl Fn() -> Vec<Vec<u8>>) {
    let campaign = herald
        .live_campaign(
            RECEIPT_SUBJECT,
            &receipt_template("html"),
            &receipt_template("txt"),
        )
        .await;
    let accepted = herald
        .fire_unitary(
            &campaign,
            "receipt-batch-1",
            BUYERS.iter().map(buyer_recipient).collect(),
            shared_receipt_context(),
        )
        .await;
    let execution_id = accepted["executionId"].as_str().expect("executionId");
    let done = herald.wait_final(execution_id).await;
    let messages = done["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "{done:#}");

    let raws = wait_for(Duration::from_secs(10), "3 messages in the mailbox", || {
        let r = received();
        (r.len() >= 3).then_some(r)
    })
    .await;
    assert_eq!(raws.len(), 3, "exactly three messages delivered");

    for b in BUYERS {
        check_receipt(message_to(&raws, b.email), b);
        let m = messages
            .iter()
            .find(|m| m["userId"] == b.email)
            .unwrap_or_else(|| panic!("no message for {}: {done:#}", b.email));
        assert_eq!(m["status"], "sent", "{m}");
        let id = m["messageId"].as_str().unwrap();
        let full = herald.message(id).await;
        assert_eq!(full["status"], "sent", "{full:#}");
        assert_eq!(
            full["rendered"]["subject"].as_str(),
            Some(expected_subject(b).as_str()),
            "{full:#}"
        );
    }

    // The execution's report counts what really went out, per domain.
    let report = herald
        .get(&format!("/v1/executions/{execution_id}/report"))
        .await;
    assert_eq!(report["targeted"], 3, "{report:#}");
    assert_eq!(report["sent"], 3, "{report:#}");
    let domains: Vec<(String, u64)> = report["byDomain"]
        .as_array()
        .expect("byDomain")
        .iter()
        .map(|d| {
            (
                d["domain"].as_str().unwrap().to_string(),
                d["sent"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        domains,
        [
            ("example.com".into(), 1),
            ("example.net".into(), 1),
            ("example.org".into(), 1)
        ],
        "{report:#}"
    );
}

// ---------------------------------------------------------------------------
// 1 + 2: receipts
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_receipt_to_three_recipients() {
    let smtp = SmtpServer::start();
    let herald = Herald::start(HeraldOptions::smtp(&smtp.url())).await;
    receipt_scenario(&herald, || smtp.messages()).await;
    // The SMTP envelope went to each recipient alone.
    for raw in smtp.messages() {
        let msg = MessageParser::default().parse(&raw).unwrap();
        let to = msg
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap();
        let rcpt = msg.header_raw("X-RcptTo").map(str::trim);
        assert_eq!(rcpt, Some(to), "envelope recipients");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_receipt_to_three_recipients() {
    let herald = Herald::start(HeraldOptions::outbox()).await;
    let outbox = herald.outbox_maildir();
    receipt_scenario(&herald, || read_maildir_new(&outbox)).await;
    assert_eq!(
        read_maildir_new(&outbox).len(),
        3,
        "outbox/email/new holds exactly 3"
    );
}

// ---------------------------------------------------------------------------
// 3: hostile data
// ---------------------------------------------------------------------------

const UNICODE_NAME: &str = "Zoë 🎉 שלום";
const INJECTION: &str = "x\r\nBcc: victim@example.com";
const SCRIPT: &str = "<script>alert(1)</script>";

async fn hostile_scenario(herald: &Herald, received: impl Fn() -> Vec<Vec<u8>>, via: &str) {
    let campaign = herald
        .live_campaign(
            "{{context.name}}",
            "<html><body><p>Hello {{context.name}}</p><div class=\"note\">{{context.note}}</div></body></html>",
            "Hello {{context.name}}",
        )
        .await;
    let recipients = vec![
        json!({"type": "external", "namespace": "email", "userId": "zoe@example.com",
               "profile": {}, "context": {"name": UNICODE_NAME, "note": SCRIPT}}),
        json!({"type": "external", "namespace": "email", "userId": "inject@example.com",
               "profile": {}, "context": {"name": INJECTION, "note": "plain"}}),
    ];
    let accepted = herald
        .fire_unitary(&campaign, "hostile-1", recipients, json!({}))
        .await;
    let done = herald
        .wait_final(accepted["executionId"].as_str().unwrap())
        .await;
    println!("[{via}] hostile execution: {done:#}");
    let statuses: BTreeMap<String, String> = done["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["userId"].as_str().unwrap().to_owned(),
                m["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(statuses["zoe@example.com"], "sent", "{done:#}");

    let expected = statuses.values().filter(|s| *s == "sent").count();
    let raws = wait_for(
        Duration::from_secs(10),
        "hostile messages in the mailbox",
        || {
            let r = received();
            (r.len() >= expected).then_some(r)
        },
    )
    .await;
    assert_eq!(
        raws.len(),
        expected,
        "[{via}] one message per sent recipient, nothing for a Bcc"
    );

    // Unicode subject survives; script is escaped in HTML.
    let zoe = message_to(&raws, "zoe@example.com");
    let msg = MessageParser::default().parse(zoe).expect("parses");
    for part in &msg.parts {
        assert!(!part.is_encoding_problem, "encoding problem in {part:?}");
    }
    let subject = msg.subject().expect("Subject");
    assert!(
        subject.contains(UNICODE_NAME),
        "[{via}] subject {subject:?}"
    );
    let html = part_text(&msg, "text/html");
    assert!(
        html.contains("&lt;script&gt;"),
        "[{via}] escaped script in HTML:\n{html}"
    );
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "[{via}] raw <script> in HTML:\n{html}"
    );
    assert!(html.contains(UNICODE_NAME), "[{via}] unicode name in HTML");
    let text = part_text(&msg, "text/plain");
    assert!(text.contains(UNICODE_NAME), "[{via}] unicode name in text");

    // Header injection: the CRLF in the subject value must not make a header.
    match statuses["inject@example.com"].as_str() {
        "sent" => {
            let raw = message_to(&raws, "inject@example.com");
            let lines = raw_header_lines(raw);
            let subjects = lines.iter().filter(|(n, _)| n == "subject").count();
            assert_eq!(subjects, 1, "[{via}] Subject header lines: {lines:#?}");
            assert!(
                !lines.iter().any(|(n, _)| n == "bcc"),
                "[{via}] injected Bcc header: {lines:#?}"
            );
            let msg = MessageParser::default().parse(raw).expect("parses");
            assert!(msg.bcc().is_none(), "[{via}] parsed Bcc: {:?}", msg.bcc());
            println!("[{via}] injected subject rendered as {:?}", msg.subject());
            if let Some(rcpt) = msg.header_raw("X-RcptTo") {
                assert_eq!(
                    rcpt.trim(),
                    "inject@example.com",
                    "[{via}] envelope recipients"
                );
            }
        }
        other => {
            // Refusing to send is safe too; say so.
            println!("[{via}] the CRLF subject was not sent: status {other}");
            assert!(
                ["failed", "excluded"].contains(&other),
                "[{via}] unexpected status {other}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_data() {
    // Herald's own bytes (Maildir outbox) ...
    let herald = Herald::start(HeraldOptions::outbox()).await;
    let outbox = herald.outbox_maildir();
    hostile_scenario(&herald, || read_maildir_new(&outbox), "outbox").await;
    drop(herald);
    // ... and what an SMTP server receives (aiosmtpd records the envelope
    // recipients in X-RcptTo).
    let smtp = SmtpServer::start();
    let herald = Herald::start(HeraldOptions::smtp(&smtp.url())).await;
    hostile_scenario(&herald, || smtp.messages(), "smtp").await;
}

// ---------------------------------------------------------------------------
// 4 + 5: restarts
// ---------------------------------------------------------------------------

fn header_message_ids(raws: &[Vec<u8>]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for raw in raws {
        let msg = MessageParser::default().parse(raw).expect("parses");
        let id = msg.message_id().expect("Message-ID").to_owned();
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

fn simple_recipients(prefix: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({"type": "external", "namespace": "email",
                   "userId": format!("{prefix}{i}@example.com"),
                   "profile": {"person": {"name": {"firstName": format!("N{i}")}}},
                   "context": {"n": i}})
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_safety_kill_9_after_202() {
    // Herald points at an SMTP port where nothing listens yet: every attempt
    // fails transiently, so the messages stay queued.
    let smtp_port = support::free_port();
    let mut herald = Herald::start(HeraldOptions {
        smtp_url: Some(support::smtp_url(smtp_port)),
        retry_base_seconds: Some(0.2),
        max_attempts: Some(50),
        ..HeraldOptions::default()
    })
    .await;
    let campaign = herald
        .live_campaign(
            "Order {{context.n}}",
            "<p>Order {{context.n}}</p>",
            "Order {{context.n}}",
        )
        .await;

    // Phase A: kill -9 right after the 202 (before any delivery attempt
    // could finish).
    let body_a = json!({
        "requestId": "kill9-a",
        "campaignId": campaign,
        "recipients": simple_recipients("ka", 3),
        "context": {},
    });
    let accepted_a = herald
        .post("/ajo/im/executions/unitary", &body_a, 202)
        .await;
    herald.kill_9();
    let exec_a = accepted_a["executionId"].as_str().unwrap().to_owned();
    println!("A: 202 then kill -9 at once: {accepted_a}");

    // Phase B: restart (SMTP still down), fire again, wait until the first
    // attempts have failed transiently, then kill -9 again.
    herald.restart().await;
    let accepted_b = herald
        .fire_unitary(&campaign, "kill9-b", simple_recipients("kb", 3), json!({}))
        .await;
    let exec_b = accepted_b["executionId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = herald.get(&format!("/v1/executions/{exec_b}")).await;
        let msgs = v["messages"].as_array().unwrap();
        // `attempts` counts claims, so wait for the recorded outcome of an
        // attempt (an error on a queued message), not just the claim.
        if msgs.iter().all(|m| {
            m["attempts"].as_i64().unwrap_or(0) >= 1
                && m["status"] == "queued"
                && !m["lastError"].is_null()
        }) {
            println!("B: failed attempts recorded before kill -9: {v}");
            for m in msgs {
                assert_eq!(
                    m["status"], "queued",
                    "transient failure keeps it queued: {m}"
                );
                assert!(!m["lastError"].is_null(), "lastError recorded: {m}");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no delivery attempt recorded against the dead SMTP port in 15s: {v:#}\n{}",
            herald.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    herald.kill_9();

    // The SMTP server comes up on the port Herald was told about; Herald
    // restarts on the same data dir.
    let smtp = SmtpServer::start_on(smtp_port);
    herald.restart().await;
    let mut messages = Vec::new();
    for exec in [&exec_a, &exec_b] {
        let done = herald
            .wait_final_within(exec, Duration::from_secs(30))
            .await;
        let msgs = done["messages"].as_array().unwrap().clone();
        assert_eq!(msgs.len(), 3, "{done:#}");
        messages.extend(msgs);
    }
    for m in &messages {
        assert_eq!(m["status"], "sent", "{m}");
    }

    let raws = wait_for(
        Duration::from_secs(10),
        "6 messages at the SMTP server",
        || {
            let r = smtp.messages();
            (r.len() >= 6).then_some(r)
        },
    )
    .await;

    // A retry of call A (same requestId, same body) after the crash is a
    // replay: same execution, nothing sent.
    let (status, headers, replay) = herald
        .post_full("/ajo/im/executions/unitary", &body_a)
        .await;
    assert_eq!(status, 202, "{replay}");
    assert_eq!(replay["executionId"], exec_a.as_str(), "{replay}");
    assert_eq!(
        headers
            .get("idempotent-replayed")
            .and_then(|h| h.to_str().ok()),
        Some("true"),
        "Idempotent-Replayed header: {headers:?}"
    );

    // Give a duplicate a moment to show up, if one were coming.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let raws = if smtp.messages().len() > raws.len() {
        smtp.messages()
    } else {
        raws
    };
    let counts = header_message_ids(&raws);
    println!("Message-ID counts at the SMTP server: {counts:?}");
    assert_eq!(
        raws.len(),
        6,
        "exactly one delivery per message: {counts:?}"
    );
    for m in &messages {
        let full = herald.message(m["messageId"].as_str().unwrap()).await;
        assert_eq!(full["status"], "sent", "{full:#}");
        let hid = full["headerMessageId"].as_str().expect("headerMessageId");
        assert_eq!(
            counts.get(hid),
            Some(&1),
            "{hid} delivered once: {counts:?}"
        );
        println!(
            "{} attempts={} lastError={} history={}",
            m["userId"], full["attempts"], full["lastError"], full["history"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_sigterm() {
    // A slow SMTP server (0.3 s per message) and 4 concurrent sends: the
    // SIGTERM lands while deliveries are in flight and others are queued.
    let smtp = SmtpServer::start_slow();
    let mut herald = Herald::start(HeraldOptions {
        extra_args: vec!["--delivery-concurrency".into(), "4".into()],
        ..HeraldOptions::smtp(&smtp.url())
    })
    .await;
    let campaign = herald
        .live_campaign(
            "Hello {{profile.person.name.firstName}}",
            "<p>Msg {{context.n}}</p>",
            "Msg {{context.n}}",
        )
        .await;
    let mut executions = Vec::new();
    for (call, n) in [20usize, 20, 10].into_iter().enumerate() {
        let accepted = herald
            .fire_unitary(
                &campaign,
                &format!("graceful-{call}"),
                simple_recipients(&format!("g{call}x"), n),
                json!({}),
            )
            .await;
        executions.push(accepted["executionId"].as_str().unwrap().to_owned());
    }
    herald.sigterm(); // right after the last 202
    let t = Instant::now();
    let status = herald.wait_exit(Duration::from_secs(30)).await;
    println!(
        "SIGTERM → exit {status} after {:?}; {} mails before restart",
        t.elapsed(),
        smtp.messages().len()
    );
    assert!(
        status.success(),
        "graceful exit code 0, got {status}:\n{}",
        herald.logs()
    );

    herald.restart().await;
    let mut header_ids = Vec::new();
    for id in &executions {
        let done = herald.wait_final(id).await;
        for m in done["messages"].as_array().unwrap() {
            assert_eq!(m["status"], "sent", "{m}");
            let full = herald.message(m["messageId"].as_str().unwrap()).await;
            header_ids.push(
                full["headerMessageId"]
                    .as_str()
                    .expect("headerMessageId")
                    .to_owned(),
            );
        }
    }
    assert_eq!(header_ids.len(), 50);

    let raws = wait_for(
        Duration::from_secs(10),
        "50 messages at the SMTP server",
        || {
            let r = smtp.messages();
            (r.len() >= 50).then_some(r)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let raws = if smtp.messages().len() > raws.len() {
        smtp.messages()
    } else {
        raws
    };
    let counts = header_message_ids(&raws);
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    println!(
        "{} mails, {} distinct Message-IDs, {duplicates} duplicates",
        raws.len(),
        counts.len()
    );
    assert_eq!(
        duplicates, 0,
        "duplicates after a graceful shutdown: {counts:?}"
    );
    for hid in &header_ids {
        assert_eq!(counts.get(hid), Some(&1), "{hid} arrived exactly once");
    }
    assert_eq!(raws.len(), 50);
}
