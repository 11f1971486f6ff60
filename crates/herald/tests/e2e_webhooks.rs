//! Feedback webhooks end to end: the real `herald` binary (Maildir
//! outbox), a campaign with `webhooksEnabled`, and a receiver (axum, in
//! this process) that checks every call's HMAC signature itself. Sent and
//! excluded messages are reported once each in the `message.feedback`
//! shape; while the receiver answers 503 nothing is lost, and once it is
//! back every event arrives, in log order, with the failed attempts in
//! the delivery log.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use support::{Herald, HeraldOptions, wait_for};

const SECRET: &str = "e2e-webhook-secret";

#[derive(Default)]
struct Receiver {
    up: AtomicBool,
    refused: AtomicU32,
    bad_signatures: AtomicU32,
    /// (X-Herald-Event-Id, body) of every accepted call, in arrival order.
    got: Mutex<Vec<(String, Value)>>,
}

/// What a receiver does with `X-Herald-Signature: t=<unix>,v1=<hex>`:
/// HMAC-SHA256 over "<t>.<raw body>" with the shared secret.
fn signature_ok(header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_string()),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&v1).is_ok()
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !r.up.load(Ordering::SeqCst) {
        r.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    if !signature_ok(&h("x-herald-signature"), &body) || h("x-team") != "ops" {
        r.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.got.lock().unwrap().push((h("x-herald-event-id"), v));
    StatusCode::NO_CONTENT
}

async fn start_receiver() -> (Arc<Receiver>, u16) {
    let r = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/feedback", axum::routing::post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, port)
}

fn recipient(email: &str) -> Value {
    json!({"type": "external", "namespace": "email", "userId": email,
           "profile": {"person": {"name": {"firstName": "Pat"}}}})
}

/// (messageID, feedbackStatus.value) of a payload.
fn status_of(v: &Value) -> (String, String) {
    (
        v["messageExecution"]["messageID"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        v["messageDeliveryFeedback"]["feedbackStatus"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

fn message_ids(execution: &Value) -> Vec<(String, String)> {
    execution["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                m["messageId"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn feedback_webhooks_report_every_event_once_and_survive_an_outage() {
    let (rx, port) = start_receiver().await;
    rx.up.store(true, Ordering::SeqCst);
    let h = Herald::start(HeraldOptions {
        extra_args: vec!["--webhook-retry-base-seconds".into(), "0.2".into()],
        ..HeraldOptions::outbox()
    })
    .await;

    // Loopback needs the flag; without it the API refuses the URL.
    let url = format!("http://127.0.0.1:{port}/feedback");
    let hook = json!({
        "name": "E2E feedback",
        "url": url,
        "channels": ["email"],
        "auth": {"type": "hmac", "secret": SECRET},
        "headers": {"X-Team": "ops"}
    });
    let (status, problem) = h
        .request(reqwest::Method::POST, "/v1/webhooks", Some(&hook))
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/url");
    let mut allowed = hook.clone();
    allowed["allowPrivateNetwork"] = json!(true);
    let created = h.post("/v1/webhooks", &allowed, 201).await;
    assert_eq!(created["auth"]["secret"], "***");
    let webhook_id = created["id"].as_str().unwrap().to_string();

    let cfg = h.create_email_configuration().await;
    let campaign = h
        .post(
            "/v1/campaigns",
            &json!({
                "name": "E2E hooked receipt",
                "category": "transactional",
                "action": {"channel": "email", "channelConfigurationId": cfg},
                "content": {"email": {"subject": "Hi {{profile.person.name.firstName}}",
                                      "html": "<p>Hi</p>", "text": "Hi"}},
                "audience": {"identityNamespace": "email", "createNewProfiles": true},
                "webhooksEnabled": true
            }),
            201,
        )
        .await;
    let campaign_id = campaign["id"].as_str().unwrap().to_string();
    h.activate(&campaign_id).await;
    // A campaign without webhooks: its events are never reported.
    let quiet = h.live_campaign("Quiet", "<p>q</p>", "q").await;
    h.post(
        "/v1/suppressions",
        &json!({"channel": "email", "address": "blocked@example.com", "reason": "complaint"}),
        201,
    )
    .await;

    // Phase 1: two sent, one excluded (suppressed).
    let x1 = h
        .fire_unitary(
            &campaign_id,
            "req-1",
            vec![
                recipient("ann@example.com"),
                recipient("bob@example.com"),
                recipient("blocked@example.com"),
            ],
            json!({}),
        )
        .await;
    let x1_id = x1["executionId"].as_str().unwrap().to_string();
    let q = h
        .fire_unitary(
            &quiet,
            "quiet-1",
            vec![recipient("ann@example.com")],
            json!({}),
        )
        .await;
    h.wait_final(q["executionId"].as_str().unwrap()).await;
    let phase1 = message_ids(&h.wait_final(&x1_id).await);
    wait_for(Duration::from_secs(20), "phase 1 feedback", || {
        (rx.got.lock().unwrap().len() >= 3).then_some(())
    })
    .await;
    {
        let got = rx.got.lock().unwrap();
        let mut seen: Vec<(String, String)> = got.iter().map(|(_, v)| status_of(v)).collect();
        seen.sort();
        let mut want: Vec<(String, String)> = phase1
            .iter()
            .map(|(id, s)| {
                let v = if s == "excluded" { "exclude" } else { "sent" };
                (id.clone(), v.to_string())
            })
            .collect();
        want.sort();
        assert_eq!(seen, want);
        assert_eq!(
            phase1.iter().filter(|(_, s)| s == "excluded").count(),
            1,
            "{phase1:?}"
        );
        // The reference shape with Herald's ids.
        let (_, p) = got
            .iter()
            .find(|(_, v)| status_of(v).1 == "exclude")
            .unwrap();
        assert_eq!(p["eventType"], "message.feedback");
        assert_eq!(p["requestId"], "req-1");
        assert_eq!(p["channel"], "email");
        assert_eq!(p["sandbox"]["name"], "prod");
        assert_eq!(p["messageExecution"]["messageExecutionID"], x1_id.as_str());
        assert_eq!(p["messageExecution"]["campaignID"], campaign_id.as_str());
        assert_eq!(p["messageExecution"]["campaignVersionID"], "1");
        assert_eq!(p["messageExecution"]["messageType"], "transactional");
        let d = &p["messageDeliveryFeedback"];
        assert_eq!(d["messageExclusion"]["reason"], "emailSuppressed");
        assert_eq!(d["messageFailure"], Value::Null);
        assert_eq!(d["retryCount"], 0);
        assert_eq!(p["identityMap"]["email"][0]["id"], "blocked@example.com");
        assert!(p["timestamp"].is_i64(), "{p}");
    }

    // Phase 2: the receiver is down while more messages go out.
    rx.up.store(false, Ordering::SeqCst);
    let x2 = h
        .fire_unitary(
            &campaign_id,
            "req-2",
            vec![
                recipient("cat@example.com"),
                recipient("blocked@example.com"),
                recipient("dan@example.com"),
            ],
            json!({}),
        )
        .await;
    let phase2 = message_ids(&h.wait_final(x2["executionId"].as_str().unwrap()).await);
    wait_for(Duration::from_secs(20), "failed attempts", || {
        (rx.refused.load(Ordering::SeqCst) >= 3).then_some(())
    })
    .await;
    assert_eq!(
        rx.got.lock().unwrap().len(),
        3,
        "nothing accepted while down"
    );

    // Phase 3: back up; everything arrives.
    rx.up.store(true, Ordering::SeqCst);
    wait_for(Duration::from_secs(30), "every event", || {
        (rx.got.lock().unwrap().len() >= 6).then_some(())
    })
    .await;
    // The log shows the failed attempts; once it also shows six
    // deliveries the dispatcher is done with every event.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let log = loop {
        let log = h
            .get(&format!("/v1/webhooks/{webhook_id}/deliveries?limit=200"))
            .await;
        let items = log["items"].as_array().unwrap().clone();
        if items.iter().filter(|d| d["delivered"] == true).count() >= 6 {
            break items;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "deliveries not logged: {items:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let got = rx.got.lock().unwrap().clone();
    assert_eq!(rx.bad_signatures.load(Ordering::SeqCst), 0);
    assert_eq!(got.len(), 6, "each event exactly once: {got:#?}");
    let mut all: Vec<(String, String)> = phase1.clone();
    all.extend(phase2.clone());
    let mut want: Vec<(String, String)> = all
        .iter()
        .map(|(id, s)| {
            let v = if s == "excluded" { "exclude" } else { "sent" };
            (id.clone(), v.to_string())
        })
        .collect();
    want.sort();
    let mut seen: Vec<(String, String)> = got.iter().map(|(_, v)| status_of(v)).collect();
    seen.sort();
    assert_eq!(seen, want);
    // One at a time, in the log's order: the event ids' sequence numbers
    // only go up.
    let seqs: Vec<i64> = got
        .iter()
        .map(|(id, _)| {
            id.rsplit('-')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("event id {id}"))
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let failures: Vec<&Value> = log.iter().filter(|d| d["delivered"] == false).collect();
    assert!(failures.len() >= 3, "{log:#?}");
    assert!(failures.iter().all(|d| d["statusCode"] == 503), "{log:#?}");
    assert!(
        failures.iter().any(|d| d["attempt"].as_i64() >= Some(2)),
        "retries of the same event: {log:#?}"
    );
    // Newest first.
    let ids: Vec<i64> = log.iter().map(|d| d["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
}
