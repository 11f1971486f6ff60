//! Bounces and complaints received later, recorded against sent messages.

mod common;

use std::time::Duration;

use chrono::Utc;

use herald_domain::feedback::{BounceClass, FeedbackEvent, FeedbackKind, FeedbackSource};
use herald_domain::message::{MessageStatus, RenderedEmail};
use herald_domain::suppression::SuppressionFilter;
use herald_store::sqlite::SqliteStore;
use herald_store::{DeliveryOutcome, FeedbackRecorded, OutcomeKind, Store};

use common::{execution, id};

/// `n` messages to `u{i}@example.com`, accepted, claimed and sent with
/// Message-ID `<id>@herald.test`; returns their ids.
async fn sent(store: &SqliteStore, n: usize) -> Vec<String> {
    let now = Utc::now();
    let new = execution(&id(), n);
    store.accept_execution(new).await.unwrap();
    let claimed = store
        .claim_messages("w", 100, Duration::from_secs(60), now)
        .await
        .unwrap();
    let outcomes = claimed
        .iter()
        .map(|d| DeliveryOutcome {
            message_id: d.message_id.clone(),
            worker: "w".into(),
            at: now,
            kind: OutcomeKind::Sent {
                reply: "250 OK".into(),
                rendered: RenderedEmail::default(),
                header_message_id: format!("{}@herald.test", d.message_id),
            },
        })
        .collect();
    store.complete_messages(outcomes).await.unwrap();
    claimed.into_iter().map(|d| d.message_id).collect()
}

fn bounce(class: BounceClass, status: &str) -> FeedbackEvent {
    FeedbackEvent {
        kind: FeedbackKind::Bounce(class),
        source: FeedbackSource::Dsn,
        message_id: None,
        header_message_id: None,
        recipient: None,
        status: Some(status.into()),
        diagnostic: Some(format!("550 {status} user unknown")),
        remote_mta: Some("mx.example.com".into()),
        user_agent: None,
        envelope_id: None,
        fingerprint: "report-1".into(),
    }
}

async fn suppressions(store: &SqliteStore, address: &str) -> Vec<(String, String)> {
    store
        .list_suppressions(
            "prod",
            &SuppressionFilter {
                address: Some(address.into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.reason, s.source))
        .collect()
}

#[tokio::test]
async fn a_hard_bounce_by_message_id_header_bounces_and_suppresses_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let ids = sent(&store, 2).await;
    let (m, address) = (&ids[0], "u0@example.com");

    let mut e = bounce(BounceClass::Hard, "5.1.1");
    e.header_message_id = Some(format!("<{m}@HERALD.test>"));
    let got = store.record_feedback(None, &e, Utc::now()).await.unwrap();
    assert!(
        matches!(&got, FeedbackRecorded::Recorded { message_id, sandbox, suppressed: true }
            if message_id == m && sandbox == "prod"),
        "{got:?}"
    );
    let msg = store.get_message("prod", m).await.unwrap().unwrap();
    assert_eq!(msg.status, MessageStatus::Bounced);
    let last = msg.history.last().unwrap();
    assert_eq!(last.status, "bounced");
    assert_eq!(last.reason.as_deref(), Some("hard"));
    assert_eq!(last.detail.as_deref(), Some("550 5.1.1 user unknown"));
    assert_eq!(last.data.as_ref().unwrap()["source"], "dsn");
    assert_eq!(
        suppressions(&store, address).await,
        vec![("hardBounce".to_string(), "bounce".to_string())]
    );

    // The same report again: nothing new.
    let again = store.record_feedback(None, &e, Utc::now()).await.unwrap();
    assert_eq!(
        again,
        FeedbackRecorded::Duplicate {
            message_id: m.clone()
        }
    );
    // The same bounce from another source (another report, another
    // provider event id, another status text): a message bounces once.
    let other = FeedbackEvent {
        fingerprint: "provider-event-2".into(),
        status: Some("5.1.10".into()),
        ..e.clone()
    };
    let again = store
        .record_feedback(None, &other, Utc::now())
        .await
        .unwrap();
    assert!(
        matches!(again, FeedbackRecorded::Duplicate { .. }),
        "{again:?}"
    );
    let msg = store.get_message("prod", m).await.unwrap().unwrap();
    assert_eq!(
        msg.history.iter().filter(|h| h.status == "bounced").count(),
        1
    );
}

#[tokio::test]
async fn soft_bounces_and_complaints_by_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let ids = sent(&store, 2).await;

    let mut soft = bounce(BounceClass::Soft, "4.2.2");
    soft.message_id = Some(ids[0].clone());
    let got = store
        .record_feedback(Some("prod"), &soft, Utc::now())
        .await
        .unwrap();
    assert!(
        matches!(
            got,
            FeedbackRecorded::Recorded {
                suppressed: false,
                ..
            }
        ),
        "{got:?}"
    );
    let msg = store.get_message("prod", &ids[0]).await.unwrap().unwrap();
    assert_eq!(
        msg.status,
        MessageStatus::Sent,
        "a soft bounce is only an event"
    );
    assert_eq!(msg.history.last().unwrap().reason.as_deref(), Some("soft"));
    assert!(suppressions(&store, "u0@example.com").await.is_empty());

    let complaint = FeedbackEvent {
        kind: FeedbackKind::Complaint {
            feedback_type: "abuse".into(),
        },
        source: FeedbackSource::Arf,
        message_id: Some(ids[1].clone()),
        status: None,
        diagnostic: None,
        ..bounce(BounceClass::Hard, "5.1.1")
    };
    let got = store
        .record_feedback(Some("prod"), &complaint, Utc::now())
        .await
        .unwrap();
    assert!(
        matches!(
            got,
            FeedbackRecorded::Recorded {
                suppressed: true,
                ..
            }
        ),
        "{got:?}"
    );
    let msg = store.get_message("prod", &ids[1]).await.unwrap().unwrap();
    assert_eq!(msg.status, MessageStatus::Sent);
    let last = msg.history.last().unwrap();
    assert_eq!(last.status, "complained");
    assert_eq!(last.reason.as_deref(), Some("abuse"));
    assert_eq!(
        suppressions(&store, "u1@example.com").await,
        vec![("complaint".to_string(), "complaint".to_string())]
    );
}

#[tokio::test]
async fn unmatched_feedback_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let ids = sent(&store, 1).await;
    let mut e = bounce(BounceClass::Hard, "5.1.1");
    for (message_id, header, sandbox) in [
        (Some(id()), None, None),
        (Some(ids[0].clone()), None, Some("dev")),
        (None, Some(format!("{}@elsewhere.example", ids[0])), None),
        (None, Some("CAF=abc@mail.gmail.com".to_string()), None),
        (None, None, None),
    ] {
        e.message_id = message_id;
        e.header_message_id = header;
        assert_eq!(
            store
                .record_feedback(sandbox, &e, Utc::now())
                .await
                .unwrap(),
            FeedbackRecorded::Unmatched,
            "{e:?} in {sandbox:?}"
        );
    }
    let msg = store.get_message("prod", &ids[0]).await.unwrap().unwrap();
    assert_eq!(msg.status, MessageStatus::Sent);
    assert!(suppressions(&store, "u0@example.com").await.is_empty());
}
