//! The delivery engine's scheduling, through the API with the engine on
//! the same store: exact rates with a manual clock, quiet hours in both
//! modes, throttled audience sends, priority lanes, a broken domain, reply
//! overrides, max attempts and resends. The transport here records what
//! the engine hands it and answers as each test scripts it; delivery over
//! real SMTP servers is covered by herald-mail's and the binary's tests.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use herald_delivery::{EngineConfig, EngineHandle, ManualClock, RetryPolicy};
use herald_mail::{Delivered, FailureClass, MailTransport, SendError};
use support::*;

/// How the scripted transport answers one recipient.
type Script = dyn Fn(&str, usize) -> Result<(), SendError> + Send + Sync;

/// Records every send (recipient, Message-ID) in order; answers by script.
struct Recorder {
    sent: Mutex<Vec<(String, String)>>,
    attempts: Mutex<HashMap<String, usize>>,
    in_flight: Mutex<HashMap<String, (usize, usize)>>,
    delay: Mutex<HashMap<String, Duration>>,
    script: Box<Script>,
}

impl Recorder {
    fn new(
        script: impl Fn(&str, usize) -> Result<(), SendError> + Send + Sync + 'static,
    ) -> Arc<Recorder> {
        Arc::new(Recorder {
            sent: Mutex::new(Vec::new()),
            attempts: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            delay: Mutex::new(HashMap::new()),
            script: Box::new(script),
        })
    }
    fn ok() -> Arc<Recorder> {
        Recorder::new(|_, _| Ok(()))
    }
    fn sent(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|(to, _)| to.clone())
            .collect()
    }
    fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
    fn attempts_to(&self, domain: &str) -> usize {
        self.attempts
            .lock()
            .unwrap()
            .iter()
            .filter(|(to, _)| to.ends_with(domain))
            .map(|(_, n)| n)
            .sum()
    }
    fn max_in_flight(&self, domain: &str) -> usize {
        self.in_flight
            .lock()
            .unwrap()
            .get(domain)
            .map_or(0, |v| v.1)
    }
}

#[async_trait]
impl MailTransport for Recorder {
    async fn send(&self, _from: &str, to: &str, raw: &[u8]) -> Result<Delivered, SendError> {
        let domain = to
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_default();
        let n = {
            let mut a = self.attempts.lock().unwrap();
            let e = a.entry(to.to_string()).or_insert(0);
            *e += 1;
            *e
        };
        {
            let mut f = self.in_flight.lock().unwrap();
            let e = f.entry(domain.clone()).or_insert((0, 0));
            e.0 += 1;
            e.1 = e.1.max(e.0);
        }
        let delay = self.delay.lock().unwrap().get(&domain).copied();
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        let answer = (self.script)(to, n);
        self.in_flight.lock().unwrap().get_mut(&domain).unwrap().0 -= 1;
        answer?;
        let text = String::from_utf8_lossy(raw);
        let mid = text
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .unwrap_or_default()
            .to_string();
        self.sent.lock().unwrap().push((to.to_string(), mid));
        Ok(Delivered {
            reply: "250 2.0.0 queued".into(),
        })
    }
    fn describe(&self) -> String {
        "recorder".into()
    }
}

fn engine_config(clock: Arc<ManualClock>) -> EngineConfig {
    EngineConfig {
        worker_id: "test-worker".into(),
        idle_poll: Duration::from_millis(50),
        linger: Duration::from_millis(1),
        clock,
        retry: RetryPolicy {
            max_attempts: 5,
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(2),
        },
        ..EngineConfig::default()
    }
}

/// A manual clock an hour ahead of the system's: messages are stamped by
/// the API with the system time, so everything accepted is due at once,
/// while retries, deferrals and windows follow the manual clock.
fn ahead() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Utc::now() + chrono::Duration::hours(1)))
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn start(transport: Arc<Recorder>, clock: Arc<ManualClock>) -> (Server, EngineHandle) {
    start_with_engine(transport, engine_config(clock)).await
}

async fn config_with(s: &Server, category: &str, delivery: Value) -> String {
    let r = s
        .post(
            "/v1/channel-configurations",
            &json!({"name": format!("{category} mail"), "channel": "email", "category": category,
                    "email": {"fromAddress": "noreply@shop.example.com"}, "delivery": delivery}),
        )
        .await;
    r.ok(201)["id"].as_str().unwrap().to_string()
}

async fn transactional(s: &Server, delivery: Value) -> String {
    let cfg = config_with(s, "transactional", delivery).await;
    let c = s.create_campaign(&campaign_def(&cfg)).await;
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(s.activate(&id).await["status"], "live");
    id
}

/// Fires one unitary call to `addresses`; returns the execution id.
async fn fire_to(s: &Server, campaign: &str, request: &str, addresses: &[String]) -> String {
    let recipients: Vec<Value> = addresses
        .iter()
        .map(|a| json!({"type": "external", "namespace": "email", "userId": a}))
        .collect();
    let r = s
        .fire(
            &json!({"requestId": request, "campaignId": campaign, "recipients": recipients,
                      "context": {"resetUrl": "https://x.example.com", "shop": "S"}}),
        )
        .await;
    r.ok(202)["executionId"].as_str().unwrap().to_string()
}

async fn messages(s: &Server, execution: &str) -> Vec<Value> {
    s.get(&format!("/v1/messages?executionId={execution}&limit=200"))
        .await
        .ok(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits until every message of the execution has one of `finals`, then
/// returns them.
async fn settled(s: &Server, ex: &str, finals: &[&str]) -> Vec<Value> {
    eventually("every message final", async || {
        messages(s, ex)
            .await
            .iter()
            .all(|m| finals.iter().any(|f| m["status"] == *f))
    })
    .await;
    messages(s, ex).await
}

/// The messages by one of their fields (`userId`, `address`).
fn keyed(ms: &[Value], field: &str) -> HashMap<String, Value> {
    ms.iter()
        .map(|m| (m[field].as_str().unwrap_or_default().to_string(), m.clone()))
        .collect()
}

async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Lets the engine run a few claim rounds (it polls every 50 ms).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(600)).await;
}

#[tokio::test]
async fn a_rate_of_one_per_two_minutes_sends_one_then_the_other_two_minutes_later() {
    let clock = ahead();
    let rec = Recorder::ok();
    let (s, _e) = start(rec.clone(), clock.clone()).await;
    let c = transactional(&s, json!({"rate": {"messages": 1, "perSeconds": 120}})).await;
    let ex = fire_to(
        &s,
        &c,
        "r1",
        &["a@one.example".into(), "b@one.example".into()],
    )
    .await;
    eventually("the first send", async || rec.count() == 1).await;
    settle().await;
    assert_eq!(rec.count(), 1, "the second must wait for the next token");
    clock.advance(chrono::Duration::seconds(119));
    settle().await;
    assert_eq!(rec.count(), 1, "119 s is not 120 s");
    clock.advance(chrono::Duration::seconds(1));
    eventually("the second send", async || rec.count() == 2).await;
    settle().await;
    assert_eq!(rec.count(), 2);
    eventually("both recorded as sent", async || {
        messages(&s, &ex)
            .await
            .iter()
            .all(|m| m["status"] == "sent")
    })
    .await;
    let ms = messages(&s, &ex).await;
    // The wait did not cost an attempt.
    assert!(ms.iter().all(|m| m["attempts"] == 1), "{ms:?}");
}

async fn marketing_audience(
    s: &Server,
    profiles: &[(&str, Option<&str>)],
    def_extra: Value,
    delivery: Value,
) -> String {
    for (email, zone) in profiles {
        let mut attrs = json!({"person": {"name": {"firstName": "P"}},
                               "consents": {"marketing": {"email": {"val": "y"}}}});
        if let Some(z) = zone {
            attrs["timeZone"] = json!(z);
        }
        let r = s
            .put(
                &format!("/v1/profiles/email/{email}"),
                &json!({ "attributes": attrs }),
            )
            .await;
        assert!(r.status == 200 || r.status == 201, "{}", r.text);
    }
    let a = s
        .post(
            "/v1/audiences",
            &json!({"name": "everyone", "rule": "profile.person.name.firstName = \"P\""}),
        )
        .await;
    let audience = a.ok(201)["id"].as_str().unwrap().to_string();
    let cfg = config_with(s, "marketing", delivery).await;
    let mut def = json!({
        "name": "Newsletter",
        "category": "marketing",
        "action": {"channel": "email", "channelConfigurationId": cfg},
        "content": {"email": {"subject": "News", "html": "<p>Hello</p>"}},
        "audience": {"identityNamespace": "email", "audienceId": audience},
    });
    merge(&mut def, &def_extra);
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap().to_string();
    let act = s.activate(&id).await;
    assert_eq!(act["status"], "live", "{act}");
    id
}

async fn fire_audience(s: &Server, campaign: &str) -> String {
    let r = s
        .post(
            "/ajo/im/executions/audience",
            &json!({"requestId": "blast", "campaignId": campaign}),
        )
        .await;
    let ex = r.ok(202)["executionId"].as_str().unwrap().to_string();
    eventually("the fan-out", async || {
        s.get(&format!("/ajo/im/executions/audience/{ex}"))
            .await
            .json["status"]
            == "Succeeded"
    })
    .await;
    ex
}

#[tokio::test]
async fn quiet_hours_queue_until_the_window_ends_in_the_recipients_zone() {
    // 21:30 UTC: 22:30 in Paris (quiet), 16:30 in New York (not).
    let clock = Arc::new(ManualClock::new(at("2027-01-10T21:30:00Z")));
    let rec = Recorder::ok();
    let (s, _e) = start(rec.clone(), clock.clone()).await;
    let c = marketing_audience(
        &s,
        &[("paris@a.example", Some("Europe/Paris")), ("ny@a.example", Some("America/New_York"))],
        json!({}),
        json!({"quietHours": {"start": "21:00", "end": "08:00", "timeZone": "UTC", "mode": "queue"}}),
    )
    .await;
    let ex = fire_audience(&s, &c).await;
    eventually("New York's message", async || {
        rec.sent() == ["ny@a.example"]
    })
    .await;
    clock.set(at("2027-01-11T06:59:00Z"));
    settle().await;
    assert_eq!(
        rec.sent(),
        ["ny@a.example"],
        "07:59 in Paris is still quiet"
    );
    clock.set(at("2027-01-11T07:00:00Z"));
    eventually("Paris's message at 08:00 local", async || rec.count() == 2).await;
    // The transport saw it; the outcome is recorded a moment later.
    eventually("both recorded as sent", async || {
        messages(&s, &ex)
            .await
            .iter()
            .all(|m| m["status"] == "sent")
    })
    .await;
}

#[tokio::test]
async fn quiet_hours_discard_excludes_with_a_reason_the_report_counts() {
    let clock = Arc::new(ManualClock::new(at("2027-01-10T21:30:00Z")));
    let rec = Recorder::ok();
    let (s, _e) = start(rec.clone(), clock.clone()).await;
    let c = marketing_audience(
        &s,
        &[("paris@a.example", Some("Europe/Paris")), ("nozone@a.example", None), ("ny@a.example", Some("America/New_York"))],
        json!({}),
        // No profile zone: the configuration's (Tokyo, 06:30: quiet).
        json!({"quietHours": {"start": "21:00", "end": "08:00", "timeZone": "Asia/Tokyo", "mode": "discard"}}),
    )
    .await;
    let ex = fire_audience(&s, &c).await;
    eventually("every message final", async || {
        messages(&s, &ex)
            .await
            .iter()
            .all(|m| m["status"] == "sent" || m["status"] == "excluded")
    })
    .await;
    assert_eq!(rec.sent(), ["ny@a.example"]);
    let ms = messages(&s, &ex).await;
    let excluded: Vec<&Value> = ms.iter().filter(|m| m["status"] == "excluded").collect();
    assert_eq!(excluded.len(), 2, "{ms:?}");
    assert!(
        excluded
            .iter()
            .all(|m| m["exclusionReason"] == "quietHours"),
        "{ms:?}"
    );
    let report = s.report(&c).await;
    assert_eq!(report["excluded"]["byReason"]["quietHours"], 2, "{report}");
}

#[tokio::test]
async fn a_throttled_audience_send_spreads_its_messages_and_expires_after_12_hours() {
    // Behind the system clock: nothing is due until the test says so.
    let clock = Arc::new(ManualClock::new(Utc::now() - chrono::Duration::hours(1)));
    let rec = Recorder::ok();
    let (s, _e) = start(rec.clone(), clock.clone()).await;
    let emails: Vec<String> = (0..10).map(|i| format!("p{i}@t.example")).collect();
    let profiles: Vec<(&str, Option<&str>)> = emails.iter().map(|e| (e.as_str(), None)).collect();
    let c = marketing_audience(
        &s,
        &profiles,
        json!({"schedule": {"throttle": 2}}),
        json!({}),
    )
    .await;
    let ex = fire_audience(&s, &c).await;
    // Each message has its own send slot, half a second apart from the
    // execution's start.
    let ms = messages(&s, &ex).await;
    assert_eq!(ms.len(), 10);
    let status = s.get(&format!("/ajo/im/executions/audience/{ex}")).await;
    let started = DateTime::parse_from_rfc3339(status.json["createdAt"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    clock.set(started + chrono::Duration::milliseconds(100));
    settle().await;
    let before = rec.count();
    assert!(
        before <= 1,
        "the clock stands still: at most the first slot is due, {before} sent"
    );
    clock.advance(chrono::Duration::milliseconds(2_600));
    settle().await;
    let after = rec.count();
    assert!(
        (4..=7).contains(&after),
        "2.6 s more at 2/s: about 5 more slots, {after} sent"
    );
    // Jump past the 12 h window: what is left is excluded and counted.
    clock.advance(chrono::Duration::hours(13));
    eventually("the rest excluded", async || {
        messages(&s, &ex)
            .await
            .iter()
            .all(|m| m["status"] != "queued" && m["status"] != "sending")
    })
    .await;
    let report = s.report(&c).await;
    let expired = report["excluded"]["byReason"]["throttleWindowExpired"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(expired as usize + rec.count(), 10, "{report}");
    assert!(expired >= 3, "{report}");
}

#[tokio::test]
async fn throttling_is_checked_at_review() {
    let s = support::start().await;
    let cfg = s.email_config("marketing").await;
    let def = json!({"name": "N", "category": "marketing",
                     "action": {"channel": "email", "channelConfigurationId": cfg},
                     "content": {"email": {"subject": "S", "html": "<p>x</p>"}},
                     "audience": {"identityNamespace": "email"},
                     "schedule": {"throttle": 5000}});
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap();
    let r = s.post_empty(&format!("/v1/campaigns/{id}/review")).await;
    let checks = r.json["checks"].as_array().cloned().unwrap_or_default();
    assert!(
        checks
            .iter()
            .any(|c| c["path"] == "/schedule/throttle" || c["pointer"] == "/schedule/throttle"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn a_broken_domain_does_not_hold_the_slots_of_healthy_ones() {
    let clock = ahead();
    let rec = Recorder::new(|to, _| {
        if to.ends_with("@broken.example") {
            Err(SendError::new(
                FailureClass::Transient,
                Some(451),
                "451 4.4.1 try again later",
            ))
        } else {
            Ok(())
        }
    });
    rec.delay
        .lock()
        .unwrap()
        .insert("broken.example".into(), Duration::from_secs(2));
    let mut config = engine_config(clock.clone());
    config.per_domain_concurrency = 4;
    let (s, _e) = start_with_engine(rec.clone(), config).await;
    let c = transactional(&s, json!({})).await;
    // 10,000 healthy messages with broken ones among them.
    let mut calls = Vec::new();
    for call in 0..500 {
        let mut to: Vec<String> = (0..19)
            .map(|i| format!("u{call}-{i}@ok{}.example", call % 7))
            .collect();
        to.push(format!("u{call}@broken.example"));
        calls.push(to);
    }
    let healthy: usize = calls.iter().map(|c| c.len() - 1).sum();
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for (i, to) in calls.into_iter().enumerate() {
        let s = s.clone();
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            fire_to(&s, &c, &format!("r{i}"), &to).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    eventually("every healthy message", async || {
        rec.sent()
            .iter()
            .filter(|t| !t.ends_with("broken.example"))
            .count()
            == 9_500
    })
    .await;
    let broken_attempts = rec.attempts_to("broken.example");
    println!(
        "healthy sent: 9500 of {healthy}; attempts to the broken domain meanwhile: {broken_attempts}; \
         most in flight to it: {}",
        rec.max_in_flight("broken.example")
    );
    assert!(
        rec.max_in_flight("broken.example") <= 4,
        "the per-domain cap holds"
    );
    // The breaker paused it after a few failures in a row: the 500
    // messages to it were not each tried while the others waited.
    assert!(
        broken_attempts < 50,
        "{broken_attempts} attempts to a domain that keeps failing"
    );
    let report = s.report(&c).await;
    assert_eq!(report["failed"].as_u64().unwrap_or(0), 0, "{report}");
}

#[tokio::test]
async fn transactional_messages_go_before_a_queued_marketing_backlog() {
    let clock = ahead();
    let rec = Recorder::ok();
    // Slow sends so the marketing backlog takes a while to drain.
    rec.delay
        .lock()
        .unwrap()
        .insert("m.example".into(), Duration::from_millis(20));
    let mut config = engine_config(clock.clone());
    config.concurrency = 8;
    config.transactional_concurrency = 4;
    let (s, _e) = start_with_engine(rec.clone(), config).await;
    let emails: Vec<String> = (0..300).map(|i| format!("p{i}@m.example")).collect();
    let profiles: Vec<(&str, Option<&str>)> = emails.iter().map(|e| (e.as_str(), None)).collect();
    let m = marketing_audience(&s, &profiles, json!({}), json!({})).await;
    fire_audience(&s, &m).await;
    eventually("the marketing drain to start", async || rec.count() > 10).await;
    let t = transactional(&s, json!({})).await;
    fire_to(&s, &t, "urgent", &["vip@t.example".into()]).await;
    eventually("the transactional message", async || {
        rec.sent().contains(&"vip@t.example".to_string())
    })
    .await;
    let position = rec
        .sent()
        .iter()
        .position(|t| t == "vip@t.example")
        .unwrap();
    println!(
        "transactional message sent at position {position} of a 300-message marketing backlog"
    );
    assert!(
        position < 150,
        "sent at position {position}: it waited for the backlog"
    );
}

#[tokio::test]
async fn reply_overrides_turn_a_throttling_5xx_into_a_retry_and_max_attempts_end_retries() {
    let clock = ahead();
    let rec = Recorder::new(|to, n| {
        if to.starts_with("throttled") && n == 1 {
            Err(SendError::new(
                FailureClass::Permanent,
                Some(550),
                "550 5.7.1 Rate limit exceeded, slow down",
            ))
        } else if to.starts_with("always") {
            Err(SendError::new(
                FailureClass::Transient,
                Some(451),
                "451 4.3.0 busy",
            ))
        } else {
            Ok(())
        }
    });
    let (s, _e) = start(rec.clone(), clock.clone()).await;
    let c = transactional(
        &s,
        json!({"maxAttempts": 2, "retryBaseSeconds": 1,
               "replyOverrides": [{"pattern": "rate limit|throttl", "class": "transient"}]}),
    )
    .await;
    let ex = fire_to(
        &s,
        &c,
        "r",
        &["throttled@x.example".into(), "always@y.example".into()],
    )
    .await;
    eventually("the first attempts", async || {
        messages(&s, &ex)
            .await
            .iter()
            .all(|m| m["status"] == "queued" && m["attempts"] == 1)
    })
    .await;
    clock.advance(chrono::Duration::seconds(5));
    let ms = settled(&s, &ex, &["sent", "failed"]).await;
    let by = keyed(&ms, "userId");
    assert_eq!(by["throttled@x.example"]["status"], "sent");
    assert_eq!(by["throttled@x.example"]["attempts"], 2);
    assert_eq!(by["always@y.example"]["status"], "failed");
    assert_eq!(by["always@y.example"]["attempts"], 2);
    assert!(
        by["always@y.example"]["lastError"]
            .as_str()
            .unwrap()
            .contains("gave up after 2 attempts"),
        "{ms:?}"
    );
}

#[tokio::test]
async fn failed_messages_are_listed_and_resent_with_a_link_to_the_first_attempt() {
    let clock = ahead();
    let rec = Recorder::new(|_, n| {
        if n == 1 {
            Err(SendError::new(
                FailureClass::Permanent,
                Some(554),
                "554 5.7.1 message refused",
            ))
        } else {
            Ok(())
        }
    });
    let (s, _e) = start(rec.clone(), clock.clone()).await;
    let c = transactional(&s, json!({})).await;
    let ex = fire_to(&s, &c, "r", &["a@x.example".into(), "b@x.example".into()]).await;
    eventually("both failed", async || {
        messages(&s, &ex)
            .await
            .iter()
            .all(|m| m["status"] == "failed")
    })
    .await;
    let failed = s
        .get(&format!("/v1/messages?status=failed&campaignId={c}"))
        .await;
    let items = failed.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    let first = items[0]["messageId"].as_str().unwrap().to_string();
    // Single resend by id.
    let r = s
        .post("/v1/messages:resend", &json!({"messageIds": [first]}))
        .await;
    let body = r.ok(202).clone();
    assert_eq!(body["resent"], 1, "{body}");
    let new_id = body["items"][0]["newMessageId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(body["items"][0]["resendOf"], first.as_str());
    eventually("the resend delivered", async || {
        s.get(&format!("/v1/messages/{new_id}")).await.json["status"] == "sent"
    })
    .await;
    let m = s.get(&format!("/v1/messages/{new_id}")).await;
    assert_eq!(m.json["resendOf"], first.as_str());
    // The first attempt keeps its record.
    assert_eq!(
        s.get(&format!("/v1/messages/{first}")).await.json["status"],
        "failed"
    );
    // Bulk: the campaign's failed messages (the other one) — a sent message
    // and the already resent one are not resent twice.
    let r = s
        .post("/v1/messages:resend", &json!({"campaignId": c}))
        .await;
    let body = r.ok(202).clone();
    assert_eq!(body["resent"], 2, "both failed messages again: {body}");
    let r = s
        .post("/v1/messages:resend", &json!({"messageIds": [new_id]}))
        .await;
    assert_eq!(r.ok(202)["skipped"], 1, "a sent message is not resendable");
    // Bad requests name the field.
    s.post("/v1/messages:resend", &json!({}))
        .await
        .problem(400, Some("/messageIds"));
    s.post(
        "/v1/messages:resend",
        &json!({"campaignId": c, "status": "sent"}),
    )
    .await
    .problem(400, Some("/status"));
    s.post("/v1/messages:resend", &json!({"messageIds": "x"}))
        .await
        .problem(400, Some("/messageIds"));
}

#[tokio::test]
async fn delivery_settings_are_validated_with_pointers() {
    let s = support::start().await;
    let r = s
        .post(
            "/v1/channel-configurations",
            &json!({"name": "m", "channel": "email", "email": {"fromAddress": "a@b.example"},
                    "delivery": {"maxAttempts": 0, "rate": {"messages": 1, "perSeconds": 0},
                                 "replyOverrides": [{"pattern": "(", "class": "transient"}],
                                 "quietHours": {"start": "9", "end": "08:00", "timeZone": "Nowhere"}}}),
        )
        .await;
    r.problem(400, Some("/delivery/maxAttempts"));
    let pointers = r.pointers();
    for p in [
        "/delivery/rate/perSeconds",
        "/delivery/replyOverrides/0/pattern",
        "/delivery/quietHours/start",
        "/delivery/quietHours/timeZone",
    ] {
        assert!(
            pointers.contains(&p.to_string()),
            "{p} missing in {pointers:?}"
        );
    }
}

async fn channel_config(s: &Server, channel: &str, settings: Value) -> String {
    let r = s
        .post(
            "/v1/channel-configurations",
            &json!({"name": format!("{channel} out"), "channel": channel, "category": "transactional",
                    channel: settings}),
        )
        .await;
    r.ok(201)["id"].as_str().unwrap().to_string()
}

async fn live(s: &Server, def: Value) -> String {
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap().to_string();
    let a = s.activate(&id).await;
    assert_eq!(a["status"], "live", "{a}");
    id
}

fn jsonl(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// A live transactional SMS campaign (`action` extras merged in) to the
/// outbox, fired at one phone number with `context`; waits until it is
/// sent. Returns the execution id and the outbox lines.
async fn sms_to_outbox(
    s: &Server,
    dir: &std::path::Path,
    text: &str,
    tracking: Value,
    context: Value,
    to: &str,
) -> (String, Vec<Value>) {
    let cfg = channel_config(s, "sms", json!({"from": "SHOP"})).await;
    let c = live(
        s,
        json!({"name": "Codes", "category": "transactional",
               "action": {"channel": "sms", "channelConfigurationId": cfg, "tracking": tracking},
               "content": {"sms": {"text": text}},
               "audience": {"identityNamespace": "phone", "createNewProfiles": true}}),
    )
    .await;
    let r = s
        .fire(
            &json!({"requestId": format!("sms-{to}"), "campaignId": c, "context": context,
                      "recipients": [{"type": "external", "namespace": "phone", "userId": to}]}),
        )
        .await;
    let ex = r.ok(202)["executionId"].as_str().unwrap().to_string();
    eventually("the SMS sent", async || {
        messages(s, &ex).await.iter().all(|m| m["status"] == "sent")
    })
    .await;
    (ex, jsonl(&dir.join("outbox/sms.jsonl")))
}

#[tokio::test]
async fn sms_without_a_provider_goes_to_the_outbox_with_its_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _e) = start_with_channels(Recorder::ok(), engine_config(ahead()), dir.path()).await;
    let text = format!("Your code is {{{{context.code}}}}. {}", "€".repeat(150));
    let (ex, lines) = sms_to_outbox(
        &s,
        dir.path(),
        &text,
        json!({}),
        json!({"code": "4711"}),
        "+33 6 12 34 56 78",
    )
    .await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["to"], "+33612345678");
    assert!(
        lines[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Your code is 4711.")
    );
    let m = &messages(&s, &ex).await[0];
    // 150 € at two septets each plus the prefix: more than 160 septets.
    assert_eq!(m["rendered"]["encoding"], "gsm7", "{m}");
    assert_eq!(m["rendered"]["segments"], 3, "{m}");
}

#[tokio::test]
async fn sms_links_are_click_tracked_when_the_campaign_asks() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _e) = start_with_channels(Recorder::ok(), engine_config(ahead()), dir.path()).await;
    let (ex, lines) = sms_to_outbox(
        &s,
        dir.path(),
        "Parcel {{context.id}}: https://parcel.example/t/{{context.id}}.",
        json!({"clicks": true}),
        json!({"id": "P42"}),
        "+33612345678",
    )
    .await;
    let text = lines[0]["text"].as_str().unwrap();
    let prefix = format!("Parcel P42: {}/t/c/", s.base);
    assert!(text.starts_with(&prefix) && text.ends_with('.'), "{text}");
    let url = text.trim_end_matches('.').rsplit(' ').next().unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let r = client.get(url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "https://parcel.example/t/P42");
    let report = s.get(&format!("/v1/executions/{ex}/report")).await;
    assert_eq!(report.ok(200)["clicks"], 1, "{}", report.text);
}

#[tokio::test]
async fn sms_through_twilio_records_the_provider_id() {
    use axum::extract::Form;
    use axum::routing::post;
    let seen: Arc<Mutex<Vec<HashMap<String, String>>>> = Arc::default();
    let seen2 = seen.clone();
    let app = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        post(move |Form(f): Form<HashMap<String, String>>| {
            let seen = seen2.clone();
            async move {
                let to = f.get("To").cloned().unwrap_or_default();
                seen.lock().unwrap().push(f);
                if to == "+15005550001" {
                    return (
                        axum::http::StatusCode::BAD_REQUEST,
                        axum::Json(json!({"code": 21211, "message": "The 'To' number is not a valid phone number.",
                                          "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})),
                    );
                }
                (
                    axum::http::StatusCode::CREATED,
                    axum::Json(json!({"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": to})),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let (s, _e) = start_with_channels(Recorder::ok(), engine_config(ahead()), dir.path()).await;
    let cfg = channel_config(
        &s,
        "sms",
        json!({"provider": "twilio", "from": "+15017122661",
               "twilio": {"accountSid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "authToken": "secret-token",
                          "baseUrl": format!("http://{addr}")}}),
    )
    .await;
    let c = live(
        &s,
        json!({"name": "Codes", "category": "transactional",
               "action": {"channel": "sms", "channelConfigurationId": cfg},
               "content": {"sms": {"text": "Hello from Herald"}},
               "audience": {"identityNamespace": "phone", "createNewProfiles": true}}),
    )
    .await;
    let r = s
        .fire(&json!({"requestId": "sms-2", "campaignId": c,
                      "recipients": [{"type": "external", "namespace": "phone", "userId": "+14155550100"},
                                     {"type": "external", "namespace": "phone", "userId": "+15005550001"}]}))
        .await;
    let ex = r.ok(202)["executionId"].as_str().unwrap().to_string();
    let by = keyed(&settled(&s, &ex, &["sent", "failed"]).await, "address");
    assert_eq!(by["+14155550100"]["status"], "sent");
    assert_eq!(
        by["+14155550100"]["headerMessageId"],
        "SM0123456789abcdef0123456789abcdef"
    );
    assert_eq!(by["+15005550001"]["status"], "failed", "21211 is permanent");
    assert_eq!(by["+15005550001"]["attempts"], 1);
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .all(|f| f["From"] == "+15017122661" && f["Body"] == "Hello from Herald"),
        "{seen:?}"
    );
    assert!(
        std::fs::read_to_string(dir.path().join("outbox/sms.jsonl"))
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn an_unregistered_push_token_is_removed_and_the_message_excluded() {
    use axum::routing::post;
    let app = axum::Router::new()
        .route(
            "/token",
            post(|| async { axum::Json(json!({"access_token": "ya29.test", "expires_in": 3599, "token_type": "Bearer"})) }),
        )
        .route(
            "/send",
            post(|body: axum::Json<Value>| async move {
                if body["message"]["token"] == "dead-token" {
                    return (
                        axum::http::StatusCode::NOT_FOUND,
                        axum::Json(json!({"error": {"code": 404, "message": "Requested entity was not found.",
                            "status": "NOT_FOUND",
                            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                         "errorCode": "UNREGISTERED"}]}})),
                    );
                }
                (
                    axum::http::StatusCode::OK,
                    axum::Json(json!({"name": "projects/herald-test/messages/0:1"})),
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let account: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../herald-channels/tests/fixtures/test-service-account.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (s, _e) = start_with_channels(Recorder::ok(), engine_config(ahead()), dir.path()).await;
    let cfg = channel_config(
        &s,
        "push",
        json!({"appId": "shop-app", "fcm": {"serviceAccount": account,
               "tokenUrl": format!("http://{addr}/token"), "sendUrl": format!("http://{addr}/send")}}),
    )
    .await;
    for (email, token) in [
        ("dead@p.example", "dead-token"),
        ("live@p.example", "live-token"),
    ] {
        let r = s
            .put(
                &format!("/v1/profiles/email/{email}"),
                &json!({"attributes": {"pushNotificationDetails": [
                    {"appID": "shop-app", "token": token, "platform": "fcm"}]}}),
            )
            .await;
        assert!(r.status == 200 || r.status == 201, "{}", r.text);
    }
    let c = live(
        &s,
        json!({"name": "Order shipped", "category": "transactional",
               "action": {"channel": "push", "channelConfigurationId": cfg},
               "content": {"push": {"title": "Shipped", "body": "Your order is on its way"}},
               "audience": {"identityNamespace": "email", "createNewProfiles": false}}),
    )
    .await;
    let r = s
        .fire(&json!({"requestId": "push-1", "campaignId": c,
                      "recipients": [{"type": "aep", "namespace": "email", "userId": "dead@p.example"},
                                     {"type": "aep", "namespace": "email", "userId": "live@p.example"}]}))
        .await;
    let ex = r.ok(202)["executionId"].as_str().unwrap().to_string();
    let ms = settled(&s, &ex, &["sent", "excluded"]).await;
    let by = keyed(&ms, "userId");
    assert_eq!(by["live@p.example"]["status"], "sent", "{ms:?}");
    assert_eq!(by["dead@p.example"]["status"], "excluded", "{ms:?}");
    assert_eq!(by["dead@p.example"]["exclusionReason"], "pushTokenInvalid");
    let p = s.get("/v1/profiles/email/dead@p.example").await;
    assert_eq!(
        p.json["attributes"]["pushNotificationDetails"],
        json!([]),
        "{}",
        p.text
    );
    let p = s.get("/v1/profiles/email/live@p.example").await;
    assert_eq!(
        p.json["attributes"]["pushNotificationDetails"][0]["token"],
        "live-token"
    );
}
