//! The dispatcher against a real SQLite store and a real HTTP receiver
//! (axum, in-process): signed payloads, order and no loss across a
//! receiver outage, the delivery log, and the SSRF guard at send time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{SubsecRound, Utc};
use serde_json::{Value, json};

use herald_domain::campaign::{Campaign, CampaignDefinition, CampaignStatus, CampaignVersion};
use herald_domain::channel::Channel;
use herald_domain::execution::{Execution, PlannedMessage};
use herald_domain::message::MessageStatus;
use herald_domain::webhook::{Webhook, WebhookAuth};
use herald_store::sqlite::SqliteStore;
use herald_store::{DeliveryOutcome, NewExecution, OutcomeKind, Store};
use herald_webhooks::{Dispatcher, DispatcherConfig, EVENT_ID_HEADER, SIGNATURE_HEADER};

const SECRET: &str = "whsec-test";

#[derive(Default)]
struct Receiver {
    up: AtomicBool,
    /// (event id, body) of every accepted call.
    got: Mutex<Vec<(String, Value)>>,
    refused: Mutex<u32>,
    bad_signatures: Mutex<u32>,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !r.up.load(Ordering::SeqCst) {
        *r.refused.lock().unwrap() += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let sig = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !herald_webhooks::verify(SECRET, sig, &body) {
        *r.bad_signatures.lock().unwrap() += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let id = headers
        .get(EVENT_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.got.lock().unwrap().push((id, v));
    StatusCode::OK
}

async fn start_receiver() -> (Arc<Receiver>, u16) {
    let r = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, port)
}

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn live_campaign(store: &SqliteStore, id: &str, webhooks: bool) {
    let def: CampaignDefinition = serde_json::from_value(json!({
        "name": "Receipt",
        "category": "transactional",
        "action": {"channel": "email", "channelConfigurationId": "cfg"},
        "content": {"email": {"subject": "Hi", "html": "<p>Hi</p>", "text": "Hi"}},
        "audience": {"identityNamespace": "email"},
        "webhooksEnabled": webhooks
    }))
    .unwrap();
    let now = Utc::now().trunc_subsecs(3);
    let mut c = Campaign {
        id: id.into(),
        sandbox: "prod".into(),
        status: CampaignStatus::Draft,
        definition: def.clone(),
        live_version: None,
        draft_version: Some(1),
        created_at: now,
        updated_at: now,
        created_by: "admin".into(),
        revision: 1,
    };
    store.insert_campaign(&c).await.unwrap();
    c.status = CampaignStatus::Live;
    c.live_version = Some(1);
    c.draft_version = None;
    c.revision = 2;
    let v = CampaignVersion {
        campaign_id: id.into(),
        sandbox: "prod".into(),
        version: 1,
        definition: def,
        activated_at: now,
        language_settings: None,
        fragments: Default::default(),
    };
    store.update_campaign(&c, Some(&v)).await.unwrap();
}

/// One execution of `campaign`: `queued` recipients to send, `excluded`
/// ones without an address. Returns the message ids (queued first).
async fn fire(store: &SqliteStore, campaign: &str, queued: usize, excluded: usize) -> Vec<String> {
    let exec_id = id();
    let messages: Vec<PlannedMessage> = (0..queued + excluded)
        .map(|i| {
            let ex = i >= queued;
            PlannedMessage {
                message_id: id(),
                user_id: format!("u{i}@example.com"),
                namespace: "email".into(),
                profile_id: None,
                address: (!ex).then(|| format!("u{i}@example.com")),
                status: if ex {
                    MessageStatus::Excluded
                } else {
                    MessageStatus::Queued
                },
                exclusion_reason: ex.then(|| "noAddress".into()),
                profile: json!({}),
                recipient_context: json!({}),
                locale: None,
                proof: None,
                detail: None,
            }
        })
        .collect();
    let ids = messages.iter().map(|m| m.message_id.clone()).collect();
    store
        .accept_execution(NewExecution {
            execution: Execution {
                id: exec_id.clone(),
                sandbox: "prod".into(),
                campaign_id: campaign.into(),
                campaign_version: 1,
                request_id: id(),
                request_hash: "h".into(),
                kind: "unitary".into(),
                context: json!({}),
                created_at: Utc::now(),
                created_by: "admin".into(),
                response: json!({"executionId": exec_id}),
            },
            channel: Channel::Email,
            priority: 0,
            messages,
            profiles_to_create: vec![],
            profile_origin: None,
        })
        .await
        .unwrap();
    ids
}

/// Claims every due message and records `kind` for each.
async fn complete_all(store: &SqliteStore, kind: impl Fn() -> OutcomeKind) {
    let claimed = store
        .claim_messages("w", 100, Duration::from_secs(60), Utc::now())
        .await
        .unwrap();
    store
        .complete_messages(
            claimed
                .iter()
                .map(|d| DeliveryOutcome {
                    message_id: d.message_id.clone(),
                    worker: "w".into(),
                    at: Utc::now(),
                    kind: kind(),
                })
                .collect(),
        )
        .await
        .unwrap();
}

fn webhook(url: String, allow_private: bool) -> Webhook {
    let now = Utc::now().trunc_subsecs(3);
    Webhook {
        id: id(),
        sandbox: "prod".into(),
        name: "ops".into(),
        url,
        channels: vec![Channel::Email],
        auth: WebhookAuth::Hmac {
            secret: SECRET.into(),
        },
        headers: BTreeMap::from([("X-Team".into(), "ops".into())]),
        allow_private_network: allow_private,
        enabled: true,
        created_at: now,
        updated_at: now,
    }
}

fn fast() -> DispatcherConfig {
    DispatcherConfig {
        poll: Duration::from_millis(50),
        retry_base: Duration::from_millis(50),
        retry_max: Duration::from_millis(400),
        ..DispatcherConfig::default()
    }
}

async fn wait_until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !f().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn status_of(v: &Value) -> (String, String) {
    (
        v["messageExecution"]["messageID"]
            .as_str()
            .unwrap()
            .to_string(),
        v["messageDeliveryFeedback"]["feedbackStatus"]["value"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

#[tokio::test]
async fn every_event_arrives_once_signed_and_in_order_even_across_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    live_campaign(&store, "hooked", true).await;
    live_campaign(&store, "quiet", false).await;
    let (rx, port) = start_receiver().await;
    rx.up.store(true, Ordering::SeqCst);
    let w = webhook(format!("http://127.0.0.1:{port}/hook"), true);
    store.insert_webhook(&w).await.unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let task = Dispatcher::new(store.clone(), fast())
        .unwrap()
        .start(stop_rx);

    // Phase 1: receiver up. One sent, one excluded; the quiet campaign's
    // events are not reported.
    let first = fire(&store, "hooked", 1, 1).await;
    fire(&store, "quiet", 1, 1).await;
    complete_all(&store, || OutcomeKind::Sent {
        reply: "250 OK".into(),
        rendered: herald_domain::message::RenderedEmail {
            subject: "Hi".into(),
            preheader: None,
            html: None,
            text: "Hi".into(),
            ..Default::default()
        },
        header_message_id: "x@y".into(),
    })
    .await;
    wait_until("phase 1 events", async || rx.got.lock().unwrap().len() >= 2).await;
    {
        let got = rx.got.lock().unwrap();
        let mut seen: Vec<(String, String)> = got.iter().map(|(_, v)| status_of(v)).collect();
        seen.sort();
        let mut want = vec![
            (first[0].clone(), "sent".to_string()),
            (first[1].clone(), "exclude".to_string()),
        ];
        want.sort();
        assert_eq!(seen, want);
        let p = &got
            .iter()
            .find(|(_, v)| status_of(v).1 == "exclude")
            .unwrap()
            .1;
        assert_eq!(p["eventType"], "message.feedback");
        assert_eq!(p["messageExecution"]["campaignID"], "hooked");
        assert_eq!(p["messageExecution"]["campaignVersionID"], "1");
        assert_eq!(p["messageExecution"]["messageType"], "transactional");
        assert_eq!(
            p["messageDeliveryFeedback"]["messageExclusion"]["reason"],
            "noAddress"
        );
        assert_eq!(p["identityMap"]["email"][0]["id"], "u1@example.com");
        assert_eq!(p["sandbox"]["id"], "prod");
        assert!(p["timestamp"].is_i64());
    }

    // Phase 2: receiver down while messages retry, fail and get excluded.
    rx.up.store(false, Ordering::SeqCst);
    let second = fire(&store, "hooked", 2, 1).await;
    complete_all(&store, || OutcomeKind::Retry {
        error: "451 4.3.0 try later".into(),
        retry_at: Utc::now(),
    })
    .await;
    complete_all(&store, || OutcomeKind::Failed {
        error: "550 5.1.1 no such user".into(),
        reason: herald_store::failure_reason::PERMANENT_REPLY.into(),
        rendered: None,
    })
    .await;
    wait_until("failed attempts", async || *rx.refused.lock().unwrap() >= 3).await;
    assert_eq!(
        rx.got.lock().unwrap().len(),
        2,
        "nothing accepted while down"
    );

    // Phase 3: back up. Everything arrives, once, in order per message.
    rx.up.store(true, Ordering::SeqCst);
    wait_until("all events", async || rx.got.lock().unwrap().len() >= 2 + 5).await;
    // The cursor reaches the end of the log: nothing is left to send.
    wait_until("the cursor at the end", async || {
        let cursor = store.webhook_cursor("prod", &w.id).await.unwrap().unwrap();
        let page = store
            .webhook_events("prod", &[Channel::Email], cursor, 10)
            .await
            .unwrap();
        page.scanned_to.is_none()
    })
    .await;
    stop.send(true).unwrap();
    task.await.unwrap();

    let got = rx.got.lock().unwrap().clone();
    assert_eq!(*rx.bad_signatures.lock().unwrap(), 0);
    let ids: Vec<&String> = got.iter().map(|(id, _)| id).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "an event arrived twice: {ids:?}");
    assert_eq!(got.len(), 7);
    for m in &second[..2] {
        let statuses: Vec<String> = got
            .iter()
            .map(|(_, v)| status_of(v))
            .filter(|(id, _)| id == m)
            .map(|(_, s)| s)
            .collect();
        assert_eq!(statuses, ["delay", "error"], "message {m}");
    }
    let failed = got
        .iter()
        .find(|(_, v)| status_of(v) == (second[0].clone(), "error".into()))
        .unwrap();
    assert_eq!(
        failed.1["messageDeliveryFeedback"]["messageFailure"]["code"],
        "550"
    );
    assert_eq!(failed.1["messageDeliveryFeedback"]["retryCount"], 1);
    assert!(
        got.iter()
            .any(|(_, v)| status_of(v) == (second[2].clone(), "exclude".into()))
    );

    // The delivery log shows the failed attempts (503) and the deliveries.
    let log = store
        .list_webhook_deliveries("prod", &w.id, None, 500)
        .await
        .unwrap();
    let failures: Vec<_> = log.iter().filter(|d| !d.delivered).collect();
    assert!(failures.len() >= 3, "{log:?}");
    assert!(failures.iter().all(|d| d.status_code == Some(503)));
    assert!(failures.iter().any(|d| d.attempt >= 2), "retries counted");
    assert_eq!(log.iter().filter(|d| d.delivered).count(), 7);
}

#[tokio::test]
async fn private_targets_are_refused_at_send_time_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    live_campaign(&store, "hooked", true).await;
    let (rx, port) = start_receiver().await;
    rx.up.store(true, Ordering::SeqCst);
    // Stored directly (the API refuses both): a name that resolves to
    // loopback, and a literal loopback address.
    let by_name = webhook(format!("http://localhost:{port}/hook"), false);
    let by_ip = webhook(format!("http://127.0.0.1:{port}/hook"), false);
    store.insert_webhook(&by_name).await.unwrap();
    store.insert_webhook(&by_ip).await.unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let task = Dispatcher::new(store.clone(), fast())
        .unwrap()
        .start(stop_rx);
    fire(&store, "hooked", 0, 1).await;
    for w in [&by_name, &by_ip] {
        wait_until("a refused attempt", async || {
            !store
                .list_webhook_deliveries("prod", &w.id, None, 10)
                .await
                .unwrap()
                .is_empty()
        })
        .await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
    for w in [&by_name, &by_ip] {
        let log = store
            .list_webhook_deliveries("prod", &w.id, None, 10)
            .await
            .unwrap();
        assert!(log.iter().all(|d| !d.delivered && d.status_code.is_none()));
        let err = log[0].error.as_deref().unwrap_or_default();
        assert!(err.contains("refused"), "{err}");
    }
    assert!(
        rx.got.lock().unwrap().is_empty(),
        "the receiver was reached"
    );
    assert_eq!(*rx.refused.lock().unwrap(), 0);
}

#[tokio::test]
async fn two_nodes_on_one_store_send_each_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    live_campaign(&store, "hooked", true).await;
    let (rx, port) = start_receiver().await;
    rx.up.store(true, Ordering::SeqCst);
    let w = webhook(format!("http://127.0.0.1:{port}/hook"), true);
    store.insert_webhook(&w).await.unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    // Two dispatchers with their own node ids, as two processes would be.
    let tasks: Vec<_> = ["node-a", "node-b"]
        .into_iter()
        .map(|node| {
            Dispatcher::new(
                store.clone(),
                DispatcherConfig {
                    node_id: node.into(),
                    ..fast()
                },
            )
            .unwrap()
            .start(stop_rx.clone())
        })
        .collect();
    for _ in 0..5 {
        fire(&store, "hooked", 0, 4).await;
    }
    wait_until("every event", async || {
        let cursor = store.webhook_cursor("prod", &w.id).await.unwrap().unwrap();
        store
            .webhook_events("prod", &[Channel::Email], cursor, 10)
            .await
            .unwrap()
            .scanned_to
            .is_none()
            && rx.got.lock().unwrap().len() >= 20
    })
    .await;
    stop.send(true).unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let got = rx.got.lock().unwrap();
    let mut ids: Vec<&String> = got.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 20, "an event was sent twice");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
}
