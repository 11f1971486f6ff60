//! `Store::queue_depth`, the operators' queue gauges, on a real database file.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use herald_domain::channel::Channel;
use herald_domain::execution::{Execution, PlannedMessage};
use herald_domain::message::MessageStatus;
use herald_store::sqlite::SqliteStore;
use herald_store::{LaneDepth, NewExecution, Store};

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn execution(priority: i64, statuses: &[MessageStatus]) -> NewExecution {
    let exec_id = id();
    NewExecution {
        execution: Execution {
            id: exec_id.clone(),
            sandbox: "prod".into(),
            campaign_id: "c1".into(),
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
        priority,
        messages: statuses
            .iter()
            .enumerate()
            .map(|(i, status)| PlannedMessage {
                message_id: id(),
                user_id: format!("u{i}@example.com"),
                namespace: "email".into(),
                profile_id: None,
                address: Some(format!("u{i}@example.com")),
                status: *status,
                exclusion_reason: (*status == MessageStatus::Excluded).then(|| "noAddress".into()),
                profile: json!({}),
                recipient_context: json!({}),
                locale: None,
                proof: None,
                detail: None,
            })
            .collect(),
        profiles_to_create: vec![],
        profile_origin: None,
    }
}

#[tokio::test]
async fn queue_depth_counts_queued_due_and_sending_per_lane() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let empty = store.queue_depth(Utc::now()).await.unwrap();
    assert_eq!(
        empty,
        [
            LaneDepth {
                priority: 0,
                ..LaneDepth::default()
            },
            LaneDepth {
                priority: 1,
                ..LaneDepth::default()
            },
        ]
    );

    use MessageStatus::{Excluded, Queued};
    store
        .accept_execution(execution(0, &[Queued; 5]))
        .await
        .unwrap();
    store
        .accept_execution(execution(1, &[Queued, Queued, Queued, Excluded]))
        .await
        .unwrap();
    let now = Utc::now();
    // Two transactional messages go out (claims take the transactional lane first).
    let claimed = store
        .claim_messages("w", 2, Duration::from_secs(60), now)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);

    let lanes = store.queue_depth(now).await.unwrap();
    assert_eq!(
        lanes[0],
        LaneDepth {
            priority: 0,
            queued: 3,
            due: 3,
            sending: 2
        }
    );
    // Excluded messages are not in the queue.
    assert_eq!(
        lanes[1],
        LaneDepth {
            priority: 1,
            queued: 3,
            due: 3,
            sending: 0
        }
    );
    // Before they were accepted none was due yet.
    let earlier = store
        .queue_depth(now - chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!((earlier[0].queued, earlier[0].due), (3, 0));
}
