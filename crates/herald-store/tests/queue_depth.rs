//! `Store::queue_depth`, the operators' queue gauges, on a real database file.

mod common;

use std::time::Duration;

use chrono::Utc;

use herald_domain::message::MessageStatus;
use herald_store::sqlite::SqliteStore;
use herald_store::{LaneDepth, NewExecution, Store};

/// Messages of one execution with the given statuses, in one lane.
fn execution(priority: i64, statuses: &[MessageStatus]) -> NewExecution {
    let mut e = common::execution(&common::id(), statuses.len());
    e.priority = priority;
    for (m, status) in e.messages.iter_mut().zip(statuses) {
        m.status = *status;
        m.exclusion_reason = (*status == MessageStatus::Excluded).then(|| "noAddress".into());
    }
    e
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
