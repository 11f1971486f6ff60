//! The SQLite store against a real database file.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use herald_domain::message::{MessageStatus, RenderedEmail};
use herald_store::sqlite::SqliteStore;
use herald_store::{AcceptOutcome, DeliveryOutcome, OutcomeKind, ReportScope, Store};

use common::execution;

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

/// A small deterministic generator: the event set is random but the same
/// on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[tokio::test]
async fn report_counters_match_a_replayed_event_set() {
    use herald_domain::report::{CounterRow, Report};
    use herald_store::{NewEvent, RollupScope};
    use std::collections::{BTreeMap, HashSet};

    let (_dir, store) = open().await;
    // Two executions of campaign c1: 40 messages over two domains with 4
    // exclusions, and 10 more.
    let mut first = execution("r1", 40);
    for (i, m) in first.messages.iter_mut().enumerate() {
        if i % 2 == 1 {
            m.address = Some(format!("u{i}@other.example"));
        }
        if i < 4 {
            m.status = MessageStatus::Excluded;
            m.exclusion_reason = Some(if i < 3 { "emailNoConsent" } else { "noAddress" }.into());
        }
        m.locale = Some(if i % 4 == 0 { "fr-FR" } else { "en-US" }.into());
    }
    let first_id = first.execution.id.clone();
    store.accept_execution(first).await.unwrap();
    store.accept_execution(execution("r2", 10)).await.unwrap();
    let now = Utc::now();
    let claimed = store
        .claim_messages("w", 100, Duration::from_secs(60), now)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 46);
    // Outcomes: every 10th fails, every 7th bounces, every 5th is retried
    // first; the rest are sent.
    let mut outcomes = Vec::new();
    let mut sent_ids = Vec::new();
    let (mut failed, mut hard, mut retried) = (0u64, 0u64, 0u64);
    for (i, m) in claimed.iter().enumerate() {
        let kind = if i % 10 == 0 {
            failed += 1;
            OutcomeKind::Failed {
                error: "gave up".into(),
                reason: herald_store::failure_reason::MAX_ATTEMPTS.into(),
                rendered: None,
            }
        } else if i % 7 == 0 {
            hard += 1;
            OutcomeKind::Bounced {
                error: "550 5.1.1 no such user".into(),
                rendered: None,
                suppression: None,
            }
        } else if i % 5 == 0 {
            retried += 1;
            OutcomeKind::Retry {
                error: "451 later".into(),
                retry_at: now,
            }
        } else {
            sent_ids.push(m.message_id.clone());
            OutcomeKind::Sent {
                reply: "250 ok".into(),
                rendered: RenderedEmail::default(),
                header_message_id: format!("{}@x", m.message_id),
            }
        };
        outcomes.push(DeliveryOutcome {
            message_id: m.message_id.clone(),
            worker: "w".into(),
            at: now,
            kind,
        });
    }
    store.complete_messages(outcomes).await.unwrap();
    // The retried ones are sent on their second try.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = store
        .claim_messages("w", 100, Duration::from_secs(60), now)
        .await
        .unwrap();
    assert_eq!(again.len() as u64, retried);
    let outcomes: Vec<DeliveryOutcome> = again
        .iter()
        .map(|m| {
            sent_ids.push(m.message_id.clone());
            DeliveryOutcome {
                message_id: m.message_id.clone(),
                worker: "w".into(),
                at: now,
                kind: OutcomeKind::Sent {
                    reply: "250 ok".into(),
                    rendered: RenderedEmail::default(),
                    header_message_id: "x".into(),
                },
            }
        })
        .collect();
    store.complete_messages(outcomes).await.unwrap();

    // 3,000 engagement events over the sent messages, half of them more
    // than 24 h ago; the expected numbers are counted here, by brute force.
    let mut rng = Lcg(42);
    let urls = [
        "https://a.example/",
        "https://b.example/",
        "https://c.example/",
    ];
    let mut events = Vec::new();
    let (mut all, mut recent) = (BTreeMap::<&str, u64>::new(), BTreeMap::<&str, u64>::new());
    let mut opened: HashSet<String> = HashSet::new();
    let mut clicked: HashSet<String> = HashSet::new();
    let mut clicked_link: HashSet<(String, u64)> = HashSet::new();
    // In time order, as the unique counts are decided by the first event.
    let mut timed: Vec<(chrono::DateTime<Utc>, String, u64, u64)> = (0..3000)
        .map(|_| {
            let id = sent_ids[rng.next(sent_ids.len() as u64) as usize].clone();
            let hours = rng.next(48) as i64;
            (
                now - chrono::Duration::hours(hours) - chrono::Duration::minutes(1),
                id,
                rng.next(10),
                rng.next(3),
            )
        })
        .collect();
    timed.sort_by_key(|t| t.0);
    for (at, id, kind, link) in timed {
        let is_recent = at > now - chrono::Duration::hours(24);
        let mut count = |k: &'static str| {
            *all.entry(k).or_default() += 1;
            if is_recent {
                *recent.entry(k).or_default() += 1;
            }
        };
        let (status, reason, detail) = match kind {
            0..=4 => {
                count("opens");
                if opened.insert(id.clone()) {
                    count("uniqueOpens");
                }
                ("opened", None, None)
            }
            5 => {
                count("machineOpens");
                ("opened", Some("machine".to_string()), None)
            }
            6..=8 => {
                count("clicks");
                if clicked.insert(id.clone()) {
                    count("uniqueClicks");
                }
                // A click implies an open.
                if opened.insert(id.clone()) {
                    count("uniqueOpens");
                }
                if clicked_link.insert((id.clone(), link)) && link == 0 {
                    count("uniqueClicksA");
                }
                (
                    "clicked",
                    Some(link.to_string()),
                    Some(urls[link as usize].to_string()),
                )
            }
            _ => {
                count("complaints");
                ("complained", Some("abuse".to_string()), None)
            }
        };
        events.push(NewEvent {
            message_id: id,
            at,
            status: status.into(),
            reason,
            detail,
            data: None,
        });
    }
    // Several concurrent callers, as the tracking endpoints would be.
    let mut tasks = Vec::new();
    for chunk in events.chunks(250) {
        let (store, chunk) = (store.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(
            async move { store.record_events(chunk).await },
        ));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }

    let scope = RollupScope {
        campaign_id: "c1",
        execution_id: None,
    };
    let report = |from: Option<chrono::DateTime<Utc>>| {
        let store = store.clone();
        async move {
            let counters = store.report_counters(scope, from, None).await.unwrap();
            let statuses = store.report_statuses(scope).await.unwrap();
            let links = store.report_links("c1").await.unwrap();
            Report::from_counters(
                counters.iter().map(|c| CounterRow {
                    metric: &c.metric,
                    dim: &c.dim,
                    n: c.n,
                }),
                &statuses,
                &links,
            )
        }
    };
    let whole = report(None).await;
    let day = report(Some(now - chrono::Duration::hours(24))).await;
    for (r, expect) in [(&whole, &all), (&day, &recent)] {
        let e = |k| expect.get(k).copied().unwrap_or(0);
        assert_eq!(r.opens, e("opens"));
        assert_eq!(r.unique_opens, e("uniqueOpens"), "unique opens");
        assert_eq!(r.machine_opens, e("machineOpens"));
        assert_eq!(r.clicks, e("clicks"));
        assert_eq!(r.complaints, e("complaints"));
        let link_a = r.by_link.iter().find(|l| l.url == urls[0]).unwrap();
        assert_eq!(
            link_a.unique_clicks,
            e("uniqueClicksA"),
            "unique clicks of a link"
        );
        assert_eq!(r.by_link.iter().map(|l| l.clicks).sum::<u64>(), e("clicks"));
    }
    // Unique counts are decided over all time: the window's are its first
    // events, which may come after ones outside it; the whole is exact.
    assert_eq!(whole.unique_clicks, all["uniqueClicks"]);
    assert_eq!(whole.targeted, 50);
    assert_eq!(whole.excluded.total, 4);
    assert_eq!(whole.excluded.by_reason["emailNoConsent"], 3);
    assert_eq!(whole.sent, sent_ids.len() as u64);
    assert_eq!(whole.bounced.hard, hard);
    assert_eq!(whole.errors.by_reason["maxAttempts"], failed);
    assert_eq!(whole.retries, retried);
    assert_eq!(whole.by_locale["fr-FR"], 10);
    // byStatus from the counters equals a scan of the messages.
    let scan = store
        .count_messages("prod", ReportScope::Campaign("c1"), None)
        .await
        .unwrap();
    for (status, n) in &scan.by_status {
        assert_eq!(whole.by_status[status.as_str()], *n, "{status:?}");
    }
    // The first execution's own counters.
    let mine = store
        .report_counters(
            RollupScope {
                campaign_id: "c1",
                execution_id: Some(&first_id),
            },
            None,
            None,
        )
        .await
        .unwrap();
    let targeted: u64 = mine
        .iter()
        .filter(|c| c.metric == "targeted")
        .map(|c| c.n)
        .sum();
    assert_eq!(targeted, 40);
}
