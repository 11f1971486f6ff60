//! The SQLite store against a real database file.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use herald_domain::channel::Channel;
use herald_domain::execution::{Execution, PlannedMessage};
use herald_domain::message::{MessageStatus, RenderedEmail};
use herald_store::sqlite::SqliteStore;
use herald_store::{AcceptOutcome, DeliveryOutcome, NewExecution, OutcomeKind, ReportScope, Store};

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn execution(request_id: &str, recipients: usize) -> NewExecution {
    let now = Utc::now();
    let exec_id = id();
    NewExecution {
        execution: Execution {
            id: exec_id.clone(),
            sandbox: "prod".into(),
            campaign_id: "c1".into(),
            campaign_version: 1,
            request_id: request_id.into(),
            request_hash: "h".into(),
            kind: "unitary".into(),
            context: json!({"shop": "North"}),
            created_at: now,
            created_by: "admin".into(),
            response: json!({"executionId": exec_id}),
        },
        channel: Channel::Email,
        priority: 0,
        messages: (0..recipients)
            .map(|i| PlannedMessage {
                message_id: id(),
                user_id: format!("u{i}@example.com"),
                namespace: "email".into(),
                profile_id: None,
                address: Some(format!("u{i}@example.com")),
                status: MessageStatus::Queued,
                exclusion_reason: None,
                profile: json!({"n": i}),
                recipient_context: json!({"i": i}),
                locale: None,
                proof: None,
                detail: None,
            })
            .collect(),
        profiles_to_create: vec![],
        profile_origin: None,
    }
}

async fn open() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    (dir, store)
}

#[tokio::test]
async fn accepted_executions_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let exec_id;
    {
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let e = execution("r1", 3);
        exec_id = e.execution.id.clone();
        assert!(matches!(
            store.accept_execution(e).await.unwrap(),
            AcceptOutcome::Created
        ));
        // No close(): accepted must already be on disk.
    }
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let got = store
        .get_execution("prod", &exec_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.request_id, "r1");
    assert_eq!(
        store
            .list_execution_messages("prod", &exec_id)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn concurrent_accepts_share_commits_and_request_ids_stay_unique() {
    let (_dir, store) = open().await;
    let mut tasks = Vec::new();
    // 200 distinct requests and 50 repeats of one request, all at once.
    for i in 0..250 {
        let store = store.clone();
        let rid = if i < 200 {
            format!("r{i}")
        } else {
            "same".to_string()
        };
        tasks.push(tokio::spawn(async move {
            store.accept_execution(execution(&rid, 2)).await.unwrap()
        }));
    }
    let mut created = 0;
    let mut existing = 0;
    for t in tasks {
        match t.await.unwrap() {
            AcceptOutcome::Created => created += 1,
            AcceptOutcome::Existing(_) => existing += 1,
        }
    }
    assert_eq!(created, 201);
    assert_eq!(existing, 49);
    let counts = store
        .count_messages("prod", ReportScope::Campaign("c1"), None)
        .await
        .unwrap();
    assert_eq!(counts.by_status.get(&MessageStatus::Queued), Some(&402));
}

#[tokio::test]
async fn a_message_is_leased_to_one_worker_at_a_time() {
    let (_dir, store) = open().await;
    for i in 0..10 {
        store
            .accept_execution(execution(&format!("r{i}"), 10))
            .await
            .unwrap();
    }
    let now = Utc::now();
    let lease = Duration::from_secs(60);
    let (a, b) = tokio::join!(
        store.claim_messages("a", 70, lease, now),
        store.claim_messages("b", 70, lease, now)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 100);
    let mut ids: Vec<_> = a
        .iter()
        .chain(b.iter())
        .map(|m| m.message_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100, "no message was claimed twice");
    assert!(
        store
            .claim_messages("c", 10, lease, now)
            .await
            .unwrap()
            .is_empty()
    );
    // The execution's shared context comes with every claimed message.
    assert_eq!(a[0].execution_context, json!({"shop": "North"}));
    assert_eq!(a[0].attempts, 1);
}

#[tokio::test]
async fn an_expired_lease_makes_the_message_claimable_again() {
    let (_dir, store) = open().await;
    store.accept_execution(execution("r", 1)).await.unwrap();
    let now = Utc::now();
    let first = store
        .claim_messages("dead-worker", 10, Duration::from_millis(10), now)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    // The dead worker's lease runs out; another worker gets the message.
    let later = now + chrono::Duration::seconds(5);
    tokio::time::sleep(Duration::from_millis(600)).await; // reclaim runs at most twice a second
    let again = store
        .claim_messages("live-worker", 10, Duration::from_secs(60), later)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    // The dead worker's late outcome is ignored: it no longer holds the lease.
    let stale = DeliveryOutcome {
        message_id: first[0].message_id.clone(),
        worker: "dead-worker".into(),
        at: later,
        kind: OutcomeKind::Failed {
            error: "late".into(),
            reason: herald_store::failure_reason::PERMANENT_REPLY.into(),
            rendered: None,
        },
    };
    store.complete_messages(vec![stale]).await.unwrap();
    let m = store
        .get_message("prod", &first[0].message_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.status, MessageStatus::Sending);
}

#[tokio::test]
async fn outcomes_move_messages_and_keep_history() {
    let (_dir, store) = open().await;
    store.accept_execution(execution("r", 3)).await.unwrap();
    let now = Utc::now();
    let claimed = store
        .claim_messages("w", 10, Duration::from_secs(60), now)
        .await
        .unwrap();
    let rendered = RenderedEmail {
        subject: "Hi".into(),
        preheader: None,
        html: Some("<p>Hi</p>".into()),
        text: "Hi".into(),
        ..RenderedEmail::default()
    };
    let outcomes = vec![
        DeliveryOutcome {
            message_id: claimed[0].message_id.clone(),
            worker: "w".into(),
            at: now,
            kind: OutcomeKind::Sent {
                reply: "250 OK".into(),
                rendered: rendered.clone(),
                header_message_id: "x@y".into(),
            },
        },
        DeliveryOutcome {
            message_id: claimed[1].message_id.clone(),
            worker: "w".into(),
            at: now,
            kind: OutcomeKind::Retry {
                error: "451 later".into(),
                retry_at: now + chrono::Duration::hours(1),
            },
        },
        DeliveryOutcome {
            message_id: claimed[2].message_id.clone(),
            worker: "w".into(),
            at: now,
            kind: OutcomeKind::Failed {
                error: "550 no such user".into(),
                reason: herald_store::failure_reason::PERMANENT_REPLY.into(),
                rendered: None,
            },
        },
    ];
    store.complete_messages(outcomes).await.unwrap();
    let sent = store
        .get_message("prod", &claimed[0].message_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sent.status, MessageStatus::Sent);
    assert_eq!(sent.rendered.as_ref().unwrap().subject, "Hi");
    assert_eq!(sent.header_message_id.as_deref(), Some("x@y"));
    assert_eq!(sent.history.len(), 2);
    assert_eq!(sent.history[1].status, MessageStatus::Sent.as_str());
    let retry = store
        .get_message("prod", &claimed[1].message_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retry.status, MessageStatus::Queued);
    assert_eq!(retry.last_error.as_deref(), Some("451 later"));
    // Not due before its retry time.
    assert!(
        store
            .claim_messages("w", 10, Duration::from_secs(60), now)
            .await
            .unwrap()
            .is_empty()
    );
    let failed = store
        .get_message("prod", &claimed[2].message_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, MessageStatus::Failed);
    let due = store.next_due_at().await.unwrap().unwrap();
    assert!(due > now);
}

#[tokio::test]
async fn releasing_leases_requeues_only_that_workers_messages() {
    let (_dir, store) = open().await;
    store.accept_execution(execution("r", 4)).await.unwrap();
    let now = Utc::now();
    store
        .claim_messages("a", 2, Duration::from_secs(600), now)
        .await
        .unwrap();
    store
        .claim_messages("b", 2, Duration::from_secs(600), now)
        .await
        .unwrap();
    assert_eq!(store.release_leases("a").await.unwrap(), 2);
    let counts = store
        .count_messages("prod", ReportScope::Campaign("c1"), None)
        .await
        .unwrap();
    assert_eq!(counts.by_status.get(&MessageStatus::Queued), Some(&2));
    assert_eq!(counts.by_status.get(&MessageStatus::Sending), Some(&2));
}

#[tokio::test]
async fn sandboxes_do_not_see_each_other() {
    let (_dir, store) = open().await;
    let e = execution("r", 1);
    let id = e.execution.id.clone();
    store.accept_execution(e).await.unwrap();
    assert!(store.get_execution("prod", &id).await.unwrap().is_some());
    assert!(store.get_execution("dev", &id).await.unwrap().is_none());
    assert!(
        store
            .find_execution_by_request("dev", "c1", "r")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn counts_are_scoped_and_carry_retries_and_domains() {
    let (_dir, store) = open().await;
    let mut first = execution("r1", 2);
    first.messages[1].address = Some("Ann@Other.ORG".into());
    let first_id = first.execution.id.clone();
    store.accept_execution(first).await.unwrap();
    let second = execution("r2", 1);
    let second_id = second.execution.id.clone();
    store.accept_execution(second).await.unwrap();
    let now = Utc::now();
    let outcome = |id: &str, kind: OutcomeKind| DeliveryOutcome {
        message_id: id.to_string(),
        worker: "w".into(),
        at: now,
        kind,
    };
    // Every message fails once (a retry due at once), then one is sent and
    // one failed for good; the third stays queued after its retry.
    let claimed = store
        .claim_messages("w", 10, Duration::from_secs(60), now)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let retries = claimed
        .iter()
        .map(|d| {
            outcome(
                &d.message_id,
                OutcomeKind::Retry {
                    error: "451 later".into(),
                    retry_at: now,
                },
            )
        })
        .collect();
    store.complete_messages(retries).await.unwrap();
    let again = store
        .claim_messages("w", 10, Duration::from_secs(60), now)
        .await
        .unwrap();
    let by_address = |a: &str| {
        again
            .iter()
            .find(|d| d.address == a)
            .map(|d| d.message_id.clone())
            .unwrap()
    };
    let rendered = RenderedEmail {
        subject: "Hi".into(),
        preheader: None,
        html: None,
        text: "Hi".into(),
        ..RenderedEmail::default()
    };
    store
        .complete_messages(vec![
            outcome(
                &by_address("u0@example.com"),
                OutcomeKind::Sent {
                    reply: "250 OK".into(),
                    rendered,
                    header_message_id: "x@y".into(),
                },
            ),
            outcome(
                &by_address("Ann@Other.ORG"),
                OutcomeKind::Failed {
                    error: "550 no".into(),
                    reason: herald_store::failure_reason::PERMANENT_REPLY.into(),
                    rendered: None,
                },
            ),
        ])
        .await
        .unwrap();

    let campaign = store
        .count_messages("prod", ReportScope::Campaign("c1"), None)
        .await
        .unwrap();
    assert_eq!(campaign.by_status.values().sum::<u64>(), 3);
    assert_eq!(campaign.retries, 3, "three messages tried a second time");
    let domains: Vec<(&str, Vec<(MessageStatus, u64)>)> = campaign
        .by_domain
        .iter()
        .map(|(d, by)| (d.as_str(), by.iter().map(|(s, n)| (*s, *n)).collect()))
        .collect();
    assert_eq!(
        domains,
        vec![
            ("example.com", vec![(MessageStatus::Sent, 1)]),
            ("other.org", vec![(MessageStatus::Failed, 1)]),
        ],
        "domains are lower-cased; messages still in flight are not listed"
    );

    let one = store
        .count_messages("prod", ReportScope::Execution(&first_id), None)
        .await
        .unwrap();
    assert_eq!(one.by_status.values().sum::<u64>(), 2);
    assert_eq!(one.retries, 2);
    let other = store
        .count_messages("prod", ReportScope::Execution(&second_id), None)
        .await
        .unwrap();
    assert_eq!(other.by_status.values().sum::<u64>(), 1);
    assert_eq!(
        other.by_status.get(&MessageStatus::Sending),
        Some(&1),
        "{other:?}"
    );
    let foreign = store
        .count_messages("other", ReportScope::Execution(&first_id), None)
        .await
        .unwrap();
    assert!(foreign.by_status.is_empty(), "sandboxes stay apart");
}
