//! End to end: what the delivery engine promises when things go wrong.
//!
//! - `kill -9` in the middle of 20,000 deliveries to a real SMTP server:
//!   after a restart every message arrives; the duplicates are only
//!   messages that were in flight (leased) at the kill, each one visible
//!   by its repeated Message-ID.
//! - A scripted SMTP server: temporary refusals (421/451/454) are retried
//!   until delivered; `550 5.1.1` at RCPT bounces at once and suppresses
//!   the address; a connection cut after DATA is `unknown`, never retried
//!   on its own, and a manual resend delivers it.
//! - Two Herald processes (two delivery engines) on one data directory
//!   never send the same message twice.
//!
//! The SMTP servers are aiosmtpd with the handlers in
//! `tests/support/herald_e2e_handlers.py`, recording one line per accepted
//! message (Message-ID, recipient) in a file.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::{
    AUDIENCE_EXECUTIONS, Herald, HeraldOptions, SmtpServer, import_opted_in,
    message_ids_with_status, opted_in_campaign, status_counts, wait_for,
};

/// Extra `herald serve` arguments.
fn with_args(mut options: HeraldOptions, args: &[&str]) -> HeraldOptions {
    options
        .extra_args
        .extend(args.iter().map(|a| a.to_string()));
    options
}

/// Starts the fan-out of the opted-in campaign; returns the execution id.
async fn fire_audience(herald: &Herald, campaign: &str, request_id: &str) -> String {
    let v = herald
        .post(
            AUDIENCE_EXECUTIONS,
            &json!({"campaignId": campaign, "requestId": request_id}),
            202,
        )
        .await;
    v["executionId"].as_str().expect("execution id").to_owned()
}

/// Polls the store until `n` messages are `sent`; returns the counts.
async fn wait_all_sent(herald: &Herald, n: i64, timeout: Duration) -> BTreeMap<String, i64> {
    let deadline = Instant::now() + timeout;
    loop {
        let counts = status_counts(&herald.data_dir()).await;
        if counts.get("sent").copied().unwrap_or(0) >= n {
            return counts;
        }
        assert!(
            Instant::now() < deadline,
            "not all {n} messages sent after {timeout:?}: {counts:?}\n{}",
            tail(&herald.logs())
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The last lines of a long log.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Message-ID → how many times the SMTP server received it.
fn by_message_id(records: &[(String, String)]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for (mid, _) in records {
        *m.entry(mid.clone()).or_insert(0) += 1;
    }
    m
}

// ---------------------------------------------------------------------------
// 1. kill -9 in the middle of delivery
// ---------------------------------------------------------------------------

const CRASH_MESSAGES: usize = 20_000;
/// `--delivery-concurrency` of the crash test (marketing lane).
const CRASH_CONCURRENCY: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_delivery_of_20000_loses_nothing_and_duplicates_only_what_was_in_flight() {
    let started = Instant::now();
    let smtp = SmtpServer::start_recording();
    let options = with_args(
        HeraldOptions::smtp(&smtp.url()),
        &["--delivery-concurrency", &CRASH_CONCURRENCY.to_string()],
    );
    let mut herald = Herald::start(options).await;
    import_opted_in(&herald, CRASH_MESSAGES, "crash.example.com").await;
    let campaign = opted_in_campaign(&herald).await;
    let execution = fire_audience(&herald, &campaign, "crash-1").await;

    // Kill once a tenth has arrived: deliveries are in full swing.
    let before = wait_for(
        Duration::from_secs(300),
        "a tenth of the messages delivered",
        || {
            let n = smtp.records().len();
            (n >= CRASH_MESSAGES / 10).then_some(n)
        },
    )
    .await;
    herald.kill_9();
    let delivered_at_kill = smtp.records().len();
    // What the dead process held leases on: sent or not, the store cannot
    // know, so these are the only messages that may go out twice.
    let in_flight: HashSet<String> = message_ids_with_status(&herald.data_dir(), "sending")
        .await
        .into_iter()
        .collect();
    let counts_at_kill = status_counts(&herald.data_dir()).await;
    println!(
        "killed after {:.1} s: {delivered_at_kill} delivered (≥ {before} seen before the kill), \
         {} leased (in flight) at the kill, store {counts_at_kill:?}",
        started.elapsed().as_secs_f64(),
        in_flight.len()
    );
    assert!(
        delivered_at_kill < CRASH_MESSAGES,
        "everything was delivered before the kill; the test proved nothing"
    );

    herald.restart().await;
    let counts = wait_all_sent(&herald, CRASH_MESSAGES as i64, Duration::from_secs(600)).await;
    let (status, finished) = {
        let v = herald
            .get(&format!("{AUDIENCE_EXECUTIONS}/{execution}"))
            .await;
        (v["status"].clone(), v)
    };
    assert_eq!(
        counts.get("sent"),
        Some(&(CRASH_MESSAGES as i64)),
        "{counts:?}"
    );
    assert_eq!(
        counts.values().sum::<i64>(),
        CRASH_MESSAGES as i64,
        "{counts:?}"
    );
    assert_ne!(status, "InProgress", "{finished}");

    // Every recipient arrived; every Message-ID is one of the store's
    // messages; the repeated ones were all in flight at the kill.
    let records = smtp.records();
    let recipients: HashSet<&str> = records.iter().map(|(_, r)| r.as_str()).collect();
    for i in 0..CRASH_MESSAGES {
        let r = format!("u{i}@crash.example.com");
        assert!(recipients.contains(r.as_str()), "{r} never arrived");
    }
    assert_eq!(recipients.len(), CRASH_MESSAGES);
    let per_id = by_message_id(&records);
    assert_eq!(per_id.len(), CRASH_MESSAGES, "one Message-ID per message");
    let sent = message_ids_with_status(&herald.data_dir(), "sent").await;
    for id in &sent {
        let header = format!("{id}@shop.example.com");
        assert!(per_id.contains_key(&header), "{header} never arrived");
    }
    let duplicated: Vec<(&String, &usize)> = per_id.iter().filter(|(_, n)| **n > 1).collect();
    let duplicates: usize = duplicated.iter().map(|(_, n)| *n - 1).sum();
    for (header, n) in &duplicated {
        let id = header.split('@').next().unwrap_or_default();
        assert_eq!(**n, 2, "{header} arrived {n} times");
        assert!(
            in_flight.contains(id),
            "{header} arrived twice but was not in flight at the kill"
        );
    }
    assert!(duplicates <= in_flight.len());
    println!(
        "RESULT crash: {} messages, {} deliveries received, {} distinct delivered, \
         {duplicates} duplicates, {} in flight at the kill (delivery concurrency {}), \
         {delivered_at_kill} delivered before the kill, total {:.1} s",
        CRASH_MESSAGES,
        records.len(),
        per_id.len(),
        in_flight.len(),
        CRASH_CONCURRENCY,
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------
// 2. faults from a scripted SMTP server
// ---------------------------------------------------------------------------

/// Quick retries, so the transient plan plays out in seconds.
fn fault_options(smtp: &SmtpServer) -> HeraldOptions {
    HeraldOptions {
        retry_base_seconds: Some(0.2),
        ..HeraldOptions::smtp(&smtp.url())
    }
}

/// Fires one unitary email to each address; returns the execution id.
async fn fire_to(herald: &Herald, campaign: &str, request_id: &str, to: &[&str]) -> String {
    let recipients = to
        .iter()
        .map(|a| json!({"type": "external", "namespace": "email", "userId": a}))
        .collect();
    let v = herald
        .fire_unitary(campaign, request_id, recipients, json!({}))
        .await;
    v["executionId"].as_str().expect("execution id").to_owned()
}

/// The messages of an execution.
async fn messages_of(herald: &Herald, execution: &str) -> Vec<Value> {
    herald.get(&format!("/v1/executions/{execution}")).await["messages"]
        .as_array()
        .expect("messages")
        .clone()
}

/// What a scripted server saw for `rcpt`, in order.
fn attempts_for(smtp: &SmtpServer, rcpt: &str) -> Vec<String> {
    smtp.attempts()
        .into_iter()
        .filter(|(r, _)| r == rcpt)
        .map(|(_, what)| what)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_refusals_421_451_454_are_retried_until_delivered() {
    let plan = "451@RCPT,454@DATA,421@RCPT,451@DATA";
    let smtp = SmtpServer::start_scripted(plan);
    let herald = Herald::start(fault_options(&smtp)).await;
    let campaign = herald.live_campaign("Hello", "<p>Hi</p>", "Hi").await;
    // One domain each: fewer failures in a row than pause a domain.
    let to = [
        "flaky1@a.example.com",
        "flaky2@b.example.com",
        "flaky3@c.example.com",
    ];
    let execution = fire_to(&herald, &campaign, "flaky-1", &to).await;
    let done = herald
        .wait_final_within(&execution, Duration::from_secs(120))
        .await;
    for m in done["messages"].as_array().expect("messages") {
        assert_eq!(m["status"], "sent", "{m:#}");
        let full = herald
            .message(m["messageId"].as_str().expect("message id"))
            .await;
        assert_eq!(
            full["attempts"], 5,
            "four refusals, then accepted: {full:#}"
        );
    }
    for rcpt in to {
        assert_eq!(
            attempts_for(&smtp, rcpt),
            [
                "451 at RCPT",
                "454 at DATA",
                "421 at RCPT",
                "451 at DATA",
                "accepted"
            ],
            "{rcpt}"
        );
        let received = smtp.records().iter().filter(|(_, r)| r == rcpt).count();
        assert_eq!(received, 1, "{rcpt} received {received} times");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_unknown_at_rcpt_bounces_at_once_and_suppresses_the_address() {
    let smtp = SmtpServer::start_scripted("");
    let herald = Herald::start(fault_options(&smtp)).await;
    let campaign = herald.live_campaign("Hello", "<p>Hi</p>", "Hi").await;
    let rcpt = "unknown1@example.com";
    let check = format!("/v1/suppressions:check?channel=email&address={rcpt}");
    assert_eq!(herald.get(&check).await["suppressed"], false);

    let execution = fire_to(&herald, &campaign, "bounce-1", &[rcpt]).await;
    let done = herald.wait_final(&execution).await;
    let m = &done["messages"][0];
    assert_eq!(m["status"], "bounced", "{m:#}");
    let full = herald
        .message(m["messageId"].as_str().expect("message id"))
        .await;
    assert_eq!(
        full["attempts"], 1,
        "a hard bounce is not retried: {full:#}"
    );
    let suppressed = herald.get(&check).await;
    assert_eq!(suppressed["suppressed"], true, "{suppressed}");
    assert_eq!(suppressed["reason"], "emailSuppressed", "{suppressed}");

    // Longer than several retry delays: still one attempt at the server.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(attempts_for(&smtp, rcpt), ["550 at RCPT"]);
    // The next message to the address is excluded, never sent.
    let again = fire_to(&herald, &campaign, "bounce-2", &[rcpt]).await;
    let done = herald.wait_final(&again).await;
    assert_eq!(done["messages"][0]["status"], "excluded", "{done:#}");
    assert_eq!(attempts_for(&smtp, rcpt), ["550 at RCPT"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cut_after_data_is_unknown_never_retried_and_resent_by_hand() {
    let smtp = SmtpServer::start_scripted("");
    let herald = Herald::start(fault_options(&smtp)).await;
    let campaign = herald.live_campaign("Hello", "<p>Hi</p>", "Hi").await;
    let rcpt = "drop1@example.com";
    let execution = fire_to(&herald, &campaign, "drop-1", &[rcpt]).await;
    let id = messages_of(&herald, &execution).await[0]["messageId"]
        .as_str()
        .expect("message id")
        .to_owned();
    let mut last = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !["unknown", "sent", "failed", "bounced"].contains(&last["status"].as_str().unwrap_or(""))
    {
        assert!(Instant::now() < deadline, "no outcome: {last:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = herald.message(&id).await;
    }
    assert_eq!(last["status"], "unknown", "{last:#}");
    assert_eq!(last["attempts"], 1, "{last:#}");

    // Fifteen retry bases later: not tried again, still unknown.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still = herald.message(&id).await;
    assert_eq!(still["status"], "unknown", "{still:#}");
    assert_eq!(still["attempts"], 1, "{still:#}");
    assert_eq!(attempts_for(&smtp, rcpt), ["dropped after DATA"]);
    let header = format!("{id}@herald.test");
    let received = smtp.records().iter().filter(|(m, _)| *m == header).count();
    assert_eq!(received, 1, "the server read it once");

    // By hand: a new message, pointing back at the first, delivered.
    let resent = herald
        .post("/v1/messages:resend", &json!({"messageIds": [id]}), 202)
        .await;
    assert_eq!(resent["resent"], 1, "{resent}");
    let new_id = resent["items"][0]["newMessageId"]
        .as_str()
        .unwrap_or_else(|| panic!("no newMessageId: {resent}"))
        .to_owned();
    assert_ne!(new_id, id);
    let deadline = Instant::now() + Duration::from_secs(60);
    let new = loop {
        let m = herald.message(&new_id).await;
        if m["status"] == "sent" {
            break m;
        }
        assert!(Instant::now() < deadline, "resend not sent: {m:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(new["resendOf"], id.as_str(), "{new:#}");
    assert_eq!(
        attempts_for(&smtp, rcpt),
        ["dropped after DATA", "accepted"]
    );
    assert_eq!(herald.message(&id).await["status"], "unknown");
}

// ---------------------------------------------------------------------------
// 3. two delivery engines on one store
// ---------------------------------------------------------------------------

const SHARED_MESSAGES: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_store_never_send_a_message_twice() {
    let started = Instant::now();
    // One SMTP server per process: what each sent is told apart.
    let smtp_a = SmtpServer::start_recording();
    let smtp_b = SmtpServer::start_recording();
    let a = Herald::start(with_args(
        HeraldOptions::smtp(&smtp_a.url()),
        &["--worker-id", "pool-a"],
    ))
    .await;
    let b = Herald::start_sharing(
        &a,
        with_args(
            HeraldOptions::smtp(&smtp_b.url()),
            &["--worker-id", "pool-b"],
        ),
    )
    .await;
    import_opted_in(&a, SHARED_MESSAGES, "shared.example.com").await;
    let campaign = opted_in_campaign(&a).await;
    fire_audience(&a, &campaign, "shared-1").await;
    let counts = wait_all_sent(&a, SHARED_MESSAGES as i64, Duration::from_secs(600)).await;
    assert_eq!(
        counts.values().sum::<i64>(),
        SHARED_MESSAGES as i64,
        "{counts:?}"
    );

    let (ra, rb) = (smtp_a.records(), smtp_b.records());
    let all: Vec<(String, String)> = ra.iter().chain(rb.iter()).cloned().collect();
    let per_id = by_message_id(&all);
    let twice: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
    println!(
        "RESULT two pools: {} messages, pool-a sent {}, pool-b sent {}, {} sent more than once, {:.1} s",
        SHARED_MESSAGES,
        ra.len(),
        rb.len(),
        twice.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    assert_eq!(all.len(), SHARED_MESSAGES);
    assert_eq!(per_id.len(), SHARED_MESSAGES);
    assert!(
        !ra.is_empty() && !rb.is_empty(),
        "both pools must have sent (a {}, b {}) for this to test anything",
        ra.len(),
        rb.len()
    );
    drop(b);
}
