//! End to end: audience executions survive `kill -9`.
//!
//! - A 100,000-profile fan-out killed in the middle resumes from its
//!   checkpoint after a restart and ends with exactly one message per
//!   profile.
//! - A scheduled audience execution still fires after a `kill -9` before its
//!   time.
//!
//! Both run on an API-only node (`--no-delivery`): the messages stay
//! queued in the store, where they are counted.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;

use support::{
    AUDIENCE_EXECUTIONS, Herald, HeraldOptions, import_opted_in, opted_in_campaign_with,
};

/// Profiles of the big fan-out.
const PROFILES: usize = 100_000;

fn options() -> HeraldOptions {
    HeraldOptions {
        no_delivery: true,
        ..HeraldOptions::outbox()
    }
}

/// A live marketing email campaign over a rule audience of the opted-in
/// profiles, its body reading the call's context; returns the campaign and
/// audience ids.
async fn marketing_campaign(herald: &Herald) -> (String, String) {
    opted_in_campaign_with(
        herald,
        "<p>News for {{profile.person.name.firstName}} from {{context.shop}}</p>",
    )
    .await
}

/// Polls the execution status until it is no longer `InProgress`.
async fn wait_finished(herald: &Herald, execution_id: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let v = herald
            .get(&format!("{AUDIENCE_EXECUTIONS}/{execution_id}"))
            .await;
        if v["status"] != "InProgress" {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "execution {execution_id} still in progress after {timeout:?}: {v}\n{}",
            herald.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (messages, distinct profiles) of an execution, read from the SQLite file
/// of a stopped Herald.
async fn count_messages(herald: &Herald, execution_id: &str) -> (i64, i64) {
    let path = herald.data_dir().join("herald.db");
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts)
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let row: (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT profile_id) FROM messages WHERE execution_id = ?",
    )
    .bind(execution_id)
    .fetch_one(&mut conn)
    .await
    .expect("count messages");
    conn.close().await.expect("close");
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_of_100000_profiles_killed_mid_way_resumes_with_one_message_each() {
    let started = Instant::now();
    let mut herald = Herald::start(options()).await;
    import_opted_in(&herald, PROFILES, "example.com").await;
    let (campaign, _audience) = marketing_campaign(&herald).await;

    // Fire, then kill -9 as soon as the first batches are committed.
    let t = Instant::now();
    let fired = herald
        .post(
            AUDIENCE_EXECUTIONS,
            &json!({"campaignId": campaign, "requestId": "blast-1", "context": {"shop": "North"}}),
            202,
        )
        .await;
    let execution_id = fired["executionId"]
        .as_str()
        .expect("execution id")
        .to_owned();
    let status_path = format!("{AUDIENCE_EXECUTIONS}/{execution_id}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let at_kill = loop {
        let v = herald.get(&status_path).await;
        let targeted = v["targetedProfileCount"].as_u64().expect("targeted count");
        assert_eq!(
            v["status"], "InProgress",
            "the fan-out finished before it could be killed (targeted {targeted}): {v}"
        );
        if targeted > 0 {
            herald.kill_9();
            break targeted;
        }
        assert!(
            Instant::now() < deadline,
            "no batch committed within 120 s: {v}\n{}",
            herald.logs()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    println!(
        "kill -9 with {at_kill} of {PROFILES} profiles targeted, {:.2} s after the call",
        t.elapsed().as_secs_f64()
    );
    assert!(
        (at_kill as usize) < PROFILES,
        "the kill must land mid-way: {at_kill} targeted at the kill"
    );

    // Restart on the same data dir: the fan-out resumes from its checkpoint.
    let t = Instant::now();
    herald.restart().await;
    let after_restart = herald.get(&status_path).await;
    let targeted_at_restart = after_restart["targetedProfileCount"]
        .as_u64()
        .expect("targeted count");
    println!(
        "after the restart: {} with {targeted_at_restart} targeted (checkpoint)",
        after_restart["status"]
    );
    assert!(
        targeted_at_restart >= at_kill,
        "the checkpoint went back: {at_kill} at the kill, {targeted_at_restart} after: {after_restart}"
    );
    let done = wait_finished(&herald, &execution_id, Duration::from_secs(300)).await;
    println!(
        "resumed and finished in {:.1} s: {done}",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(done["status"], "Succeeded", "{done}\n{}", herald.logs());
    assert_eq!(done["targetedProfileCount"], PROFILES as u64, "{done}");
    assert!(
        herald.logs().contains("resuming audience execution"),
        "the second run resumed the execution:\n{}",
        herald.logs()
    );

    let report = herald
        .get(&format!("/v1/executions/{execution_id}/report"))
        .await;
    println!(
        "report: targeted {}, byStatus {}",
        report["targeted"], report["byStatus"]
    );
    assert_eq!(report["targeted"], PROFILES as u64, "{report}");
    assert_eq!(report["byStatus"]["queued"], PROFILES as u64, "{report}");

    // Exactly one message per profile, counted in the database itself.
    herald.sigterm();
    let exit = herald.wait_exit(Duration::from_secs(60)).await;
    assert!(exit.success(), "graceful stop: {exit}\n{}", herald.logs());
    let (messages, profiles) = count_messages(&herald, &execution_id).await;
    println!(
        "messages table: {messages} messages for {profiles} distinct profiles; total {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(messages, PROFILES as i64);
    assert_eq!(profiles, PROFILES as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_execution_survives_a_kill_before_its_time() {
    const N: usize = 50;
    let mut herald = Herald::start(options()).await;
    import_opted_in(&herald, N, "example.com").await;
    let (campaign, audience) = marketing_campaign(&herald).await;

    let at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let scheduled = herald
        .post(
            AUDIENCE_EXECUTIONS,
            &json!({"campaignId": campaign, "requestId": "later-1",
                    "context": {"shop": "North"}, "schedule": {"executeAt": at}}),
            202,
        )
        .await;
    assert_eq!(scheduled["scheduleStatus"], "Scheduled", "{scheduled}");
    assert_eq!(
        scheduled["audience"]["id"],
        audience.as_str(),
        "{scheduled}"
    );
    let schedule_id = scheduled["scheduleId"]
        .as_str()
        .expect("schedule id")
        .to_owned();
    herald.kill_9();
    let killed_at = chrono::Utc::now();
    assert!(
        killed_at < at,
        "the kill must come before the schedule's time ({killed_at} vs {at})"
    );
    println!("kill -9 {:.2} s before the schedule's time", {
        (at - killed_at).num_milliseconds() as f64 / 1000.0
    });

    herald.restart().await;
    let path = format!("/ajo/im/executions/schedules/{schedule_id}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let fired = loop {
        let v = herald.get(&path).await;
        if v["scheduleStatus"] == "Triggered"
            && v["executionDetails"]["status"] != "InProgress"
            && !v["executionDetails"]["status"].is_null()
        {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the schedule did not fire within 60 s of the restart: {v}\n{}",
            herald.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("after the restart the schedule fired: {fired}");
    let details = &fired["executionDetails"];
    assert_eq!(details["status"], "Succeeded", "{fired}");
    assert_eq!(details["targetedProfileCount"], N as u64, "{fired}");
    let execution_id = details["executionId"]
        .as_str()
        .expect("execution id")
        .to_owned();
    let report = herald
        .get(&format!("/v1/executions/{execution_id}/report"))
        .await;
    assert_eq!(report["targeted"], N as u64, "{report}");

    herald.sigterm();
    let exit = herald.wait_exit(Duration::from_secs(60)).await;
    assert!(exit.success(), "graceful stop: {exit}\n{}", herald.logs());
    let (messages, profiles) = count_messages(&herald, &execution_id).await;
    println!("messages table: {messages} messages for {profiles} distinct profiles");
    assert_eq!(messages, N as i64);
    assert_eq!(profiles, N as i64);
}
