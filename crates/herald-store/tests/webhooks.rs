//! The event log feedback webhooks tail (excluded messages included) and
//! the webhooks' cursors and delivery log, against a real SQLite file.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use serde_json::json;

use herald_domain::campaign::{Campaign, CampaignDefinition, CampaignStatus, CampaignVersion};
use herald_domain::channel::Channel;
use herald_domain::execution::{Execution, PlannedMessage};
use herald_domain::message::MessageStatus;
use herald_domain::webhook::{Webhook, WebhookAuth};
use herald_store::sqlite::SqliteStore;
use herald_store::{
    DeliveryOutcome, FanoutBatch, FanoutMessage, NewExecution, NewFanout, OutcomeKind, Store,
    WebhookDelivery,
};

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn open() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    (dir, store)
}

fn definition(webhooks: bool) -> CampaignDefinition {
    serde_json::from_value(json!({
        "name": "Receipt",
        "category": "transactional",
        "action": {"channel": "email", "channelConfigurationId": "cfg"},
        "content": {"email": {"subject": "Hi", "html": "<p>Hi</p>", "text": "Hi"}},
        "audience": {"identityNamespace": "email"},
        "webhooksEnabled": webhooks
    }))
    .unwrap()
}

/// A live campaign `id` at version 1.
async fn live_campaign(store: &SqliteStore, id: &str, webhooks: bool) {
    let now = Utc::now().trunc_subsecs(3);
    let mut c = Campaign {
        id: id.into(),
        sandbox: "prod".into(),
        status: CampaignStatus::Draft,
        definition: definition(webhooks),
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
        definition: definition(webhooks),
        activated_at: now,
        language_settings: None,
        fragments: Default::default(),
    };
    store.update_campaign(&c, Some(&v)).await.unwrap();
}

fn planned(i: usize, excluded: bool) -> PlannedMessage {
    PlannedMessage {
        message_id: id(),
        user_id: format!("u{i}@example.com"),
        namespace: "email".into(),
        profile_id: None,
        address: (!excluded).then(|| format!("u{i}@example.com")),
        status: if excluded {
            MessageStatus::Excluded
        } else {
            MessageStatus::Queued
        },
        exclusion_reason: excluded.then(|| "noAddress".to_string()),
        profile: json!({}),
        recipient_context: json!({}),
        locale: None,
        proof: None,
        detail: None,
    }
}

fn execution(campaign: &str, request_id: &str, messages: Vec<PlannedMessage>) -> NewExecution {
    let exec_id = id();
    NewExecution {
        execution: Execution {
            id: exec_id.clone(),
            sandbox: "prod".into(),
            campaign_id: campaign.into(),
            campaign_version: 1,
            request_id: request_id.into(),
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
    }
}

fn webhook(id: &str) -> Webhook {
    let now = Utc::now().trunc_subsecs(3);
    Webhook {
        id: id.into(),
        sandbox: "prod".into(),
        name: "ops".into(),
        url: "https://hooks.example.com/h".into(),
        channels: vec![Channel::Email],
        auth: WebhookAuth::Hmac { secret: "k".into() },
        headers: BTreeMap::from([("X-Team".into(), "ops".into())]),
        allow_private_network: false,
        enabled: true,
        created_at: now,
        updated_at: now,
    }
}

#[tokio::test]
async fn an_excluded_message_has_an_excluded_event_with_its_reason() {
    let (_dir, store) = open().await;
    let new = execution("c1", "r1", vec![planned(0, false), planned(1, true)]);
    let (kept, excluded) = (
        new.messages[0].message_id.clone(),
        new.messages[1].message_id.clone(),
    );
    store.accept_execution(new).await.unwrap();
    let m = store.get_message("prod", &excluded).await.unwrap().unwrap();
    assert_eq!(m.history.len(), 1, "{:?}", m.history);
    assert_eq!(m.history[0].status, MessageStatus::Excluded.as_str());
    assert_eq!(m.history[0].detail.as_deref(), Some("noAddress"));
    let q = store.get_message("prod", &kept).await.unwrap().unwrap();
    assert_eq!(q.history.len(), 1, "only its creation");
    assert_eq!(q.history[0].status, MessageStatus::Queued.as_str());
}

#[tokio::test]
async fn an_audience_batch_writes_the_excluded_events_with_its_messages() {
    let (_dir, store) = open().await;
    let exec_id = id();
    store
        .start_fanout(NewFanout {
            execution: Execution {
                id: exec_id.clone(),
                sandbox: "prod".into(),
                campaign_id: "c1".into(),
                campaign_version: 1,
                request_id: "a1".into(),
                request_hash: "h".into(),
                kind: "audience".into(),
                context: json!({}),
                created_at: Utc::now(),
                created_by: "admin".into(),
                response: json!({"executionId": exec_id}),
            },
            audience_id: "aud".into(),
            schedule_id: None,
        })
        .await
        .unwrap();
    let msg = |i: usize, excluded: bool| FanoutMessage {
        message_id: id(),
        user_id: format!("p{i}@example.com"),
        namespace: "email".into(),
        profile_id: format!("p{i}"),
        address: Some(format!("p{i}@example.com")),
        status: if excluded {
            MessageStatus::Excluded
        } else {
            MessageStatus::Queued
        },
        exclusion_reason: excluded.then(|| "emailNoConsent".to_string()),
        profile: "{}".into(),
        locale: None,
        detail: None,
    };
    let messages = vec![msg(0, false), msg(1, true), msg(2, true)];
    let ids: Vec<String> = messages.iter().map(|m| m.message_id.clone()).collect();
    let r = store
        .append_fanout(FanoutBatch {
            sandbox: "prod".into(),
            execution_id: exec_id.clone(),
            campaign_id: "c1".into(),
            campaign_version: 1,
            channel: Channel::Email,
            messages,
            caps: vec![],
            cursor: 3,
            done: true,
            now: Utc::now(),
            throttle: None,
        })
        .await
        .unwrap();
    assert_eq!(r.inserted, 3);
    for (i, id) in ids.iter().enumerate() {
        let m = store.get_message("prod", id).await.unwrap().unwrap();
        if i == 0 {
            assert_eq!(m.history.len(), 1);
            assert_eq!(m.history[0].status, MessageStatus::Queued.as_str());
        } else {
            assert_eq!(m.history.len(), 1);
            assert_eq!(m.history[0].status, MessageStatus::Excluded.as_str());
            assert_eq!(m.history[0].detail.as_deref(), Some("emailNoConsent"));
        }
    }
}

#[tokio::test]
async fn a_webhook_sees_the_events_of_its_campaigns_after_its_cursor() {
    let (_dir, store) = open().await;
    live_campaign(&store, "hooked", true).await;
    live_campaign(&store, "quiet", false).await;
    // Before the webhook exists: never reported.
    store
        .accept_execution(execution("hooked", "before", vec![planned(9, true)]))
        .await
        .unwrap();
    store.insert_webhook(&webhook("w1")).await.unwrap();
    let start = store.webhook_cursor("prod", "w1").await.unwrap().unwrap();
    assert!(start >= 1);

    let hooked = execution("hooked", "r1", vec![planned(0, false), planned(1, true)]);
    let (sent_id, excluded_id) = (
        hooked.messages[0].message_id.clone(),
        hooked.messages[1].message_id.clone(),
    );
    store.accept_execution(hooked).await.unwrap();
    store
        .accept_execution(execution("quiet", "r2", vec![planned(2, true)]))
        .await
        .unwrap();
    // A retry, then the send.
    for kind in [
        OutcomeKind::Retry {
            error: "451 later".into(),
            retry_at: Utc::now(),
        },
        OutcomeKind::Failed {
            error: "550 no such user".into(),
            reason: herald_store::failure_reason::PERMANENT_REPLY.into(),
            rendered: None,
        },
    ] {
        let claimed = store
            .claim_messages("w", 10, Duration::from_secs(60), Utc::now())
            .await
            .unwrap();
        let mine = claimed
            .iter()
            .find(|d| d.message_id == sent_id)
            .expect("claimed");
        store
            .complete_messages(vec![DeliveryOutcome {
                message_id: mine.message_id.clone(),
                worker: "w".into(),
                at: Utc::now(),
                kind,
            }])
            .await
            .unwrap();
    }

    let page = store
        .webhook_events("prod", &[Channel::Email], start, 500)
        .await
        .unwrap();
    let seen: Vec<(&str, &str, i64)> = page
        .events
        .iter()
        .map(|e| (e.message_id.as_str(), e.status.as_str(), e.retry_count))
        .collect();
    assert_eq!(
        seen,
        [
            (excluded_id.as_str(), "excluded", 0),
            (sent_id.as_str(), "queued", 0),
            (sent_id.as_str(), "failed", 1),
        ]
    );
    let e = &page.events[0];
    assert_eq!(e.campaign_id, "hooked");
    assert_eq!(e.request_id.as_deref(), Some("r1"));
    assert_eq!(e.detail.as_deref(), Some("noAddress"));
    // The quiet campaign's event was scanned (the cursor may pass it).
    assert!(page.scanned_to.unwrap() > page.events[1].seq);
    // Another channel or sandbox sees nothing.
    let sms = store
        .webhook_events("prod", &[Channel::Sms], start, 500)
        .await
        .unwrap();
    assert!(sms.events.is_empty());
    assert_eq!(sms.scanned_to, page.scanned_to);
    let other = store
        .webhook_events("dev", &[Channel::Email], start, 500)
        .await
        .unwrap();
    assert!(other.events.is_empty());
    // A limit scans only that many.
    let first = store
        .webhook_events("prod", &[Channel::Email], start, 1)
        .await
        .unwrap();
    assert_eq!(first.events.len(), 1);
    assert_eq!(first.scanned_to, Some(first.events[0].seq));

    // A failed attempt leaves the cursor; a delivered one moves it; it
    // never goes back.
    let attempt = |n: i64, delivered: bool| WebhookDelivery {
        id: 0,
        sandbox: "prod".into(),
        webhook_id: "w1".into(),
        event_seq: e.seq,
        message_id: e.message_id.clone(),
        attempt: n,
        at: Utc::now().trunc_subsecs(3),
        status_code: Some(if delivered { 200 } else { 503 }),
        error: (!delivered).then(|| "HTTP 503".to_string()),
        duration_ms: 3,
        delivered,
    };
    store
        .record_webhook_attempt("prod", "w1", Some(&attempt(1, false)), None)
        .await
        .unwrap();
    assert_eq!(
        store.webhook_cursor("prod", "w1").await.unwrap(),
        Some(start)
    );
    store
        .record_webhook_attempt("prod", "w1", Some(&attempt(2, true)), Some(e.seq))
        .await
        .unwrap();
    assert_eq!(
        store.webhook_cursor("prod", "w1").await.unwrap(),
        Some(e.seq)
    );
    store
        .record_webhook_attempt("prod", "w1", None, Some(start))
        .await
        .unwrap();
    assert_eq!(
        store.webhook_cursor("prod", "w1").await.unwrap(),
        Some(e.seq)
    );
    let log = store
        .list_webhook_deliveries("prod", "w1", None, 10)
        .await
        .unwrap();
    assert_eq!(
        log.iter().map(|d| d.attempt).collect::<Vec<_>>(),
        [2, 1],
        "newest first"
    );
    assert_eq!(log[1].status_code, Some(503));
    let older = store
        .list_webhook_deliveries("prod", "w1", Some(log[0].id), 10)
        .await
        .unwrap();
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].attempt, 1);

    let enabled = store.enabled_webhooks().await.unwrap();
    assert_eq!(enabled.len(), 1);
    assert_eq!(enabled[0].seq, e.seq);
    assert_eq!(enabled[0].webhook, webhook_stored(&store).await);
}

async fn webhook_stored(store: &SqliteStore) -> Webhook {
    store.get_webhook("prod", "w1").await.unwrap().unwrap()
}

#[tokio::test]
async fn webhooks_are_updated_disabled_and_deleted_with_their_log() {
    let (_dir, store) = open().await;
    let w = webhook("w1");
    store.insert_webhook(&w).await.unwrap();
    assert_eq!(
        store.get_webhook("prod", "w1").await.unwrap(),
        Some(w.clone())
    );
    assert!(store.get_webhook("dev", "w1").await.unwrap().is_none());
    let off = Webhook {
        enabled: false,
        name: "renamed".into(),
        ..w.clone()
    };
    assert!(store.update_webhook(&off).await.unwrap());
    assert!(store.enabled_webhooks().await.unwrap().is_empty());
    assert_eq!(store.list_webhooks("prod").await.unwrap(), vec![off]);
    assert!(store.delete_webhook("prod", "w1").await.unwrap());
    assert!(!store.delete_webhook("prod", "w1").await.unwrap());
    assert!(store.webhook_cursor("prod", "w1").await.unwrap().is_none());
    assert!(!store.update_webhook(&w).await.unwrap());
    // A dispatcher still finishing a call to the deleted webhook leaves
    // no orphan log rows.
    let late = WebhookDelivery {
        id: 0,
        sandbox: "prod".into(),
        webhook_id: "w1".into(),
        event_seq: 1,
        message_id: "m".into(),
        attempt: 1,
        at: Utc::now().trunc_subsecs(3),
        status_code: Some(200),
        error: None,
        duration_ms: 1,
        delivered: true,
    };
    store
        .record_webhook_attempt("prod", "w1", Some(&late), Some(1))
        .await
        .unwrap();
    assert!(
        store
            .list_webhook_deliveries("prod", "w1", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_webhook_is_leased_to_one_node_at_a_time() {
    let (_dir, store) = open().await;
    store.insert_webhook(&webhook("w1")).await.unwrap();
    let lease = Duration::from_secs(30);
    let now = Utc::now();
    let a = store.lease_webhooks("node-a", lease, now).await.unwrap();
    assert_eq!(a.len(), 1);
    assert!(
        store
            .lease_webhooks("node-b", lease, now)
            .await
            .unwrap()
            .is_empty()
    );
    // Its owner keeps it (and renews it past half the lease).
    let later = now + chrono::Duration::seconds(20);
    assert_eq!(
        store
            .lease_webhooks("node-a", lease, later)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .lease_webhooks("node-b", lease, now + chrono::Duration::seconds(40))
            .await
            .unwrap()
            .is_empty()
    );
    // Once the owner stops renewing, another node takes it over.
    let expired = later + chrono::Duration::seconds(31);
    assert_eq!(
        store
            .lease_webhooks("node-b", lease, expired)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .lease_webhooks("node-a", lease, expired)
            .await
            .unwrap()
            .is_empty()
    );
    // A disabled webhook is nobody's.
    let off = Webhook {
        enabled: false,
        ..webhook_stored(&store).await
    };
    store.update_webhook(&off).await.unwrap();
    assert!(
        store
            .lease_webhooks("node-b", lease, expired)
            .await
            .unwrap()
            .is_empty()
    );
}
