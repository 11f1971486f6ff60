//! Audiences, the exclusion policy, audience executions (now, scheduled,
//! idempotent), frequency caps under concurrency, high-throughput mode.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;

const AUDIENCE: &str = "/ajo/im/executions/audience";

async fn config(s: &Server, channel: &str) -> String {
    let body = match channel {
        "email" => json!({"name": "marketing mail", "channel": "email", "category": "marketing",
                          "email": {"fromAddress": "news@shop.example.com", "fromName": "Shop"}}),
        "sms" => json!({"name": "marketing sms", "channel": "sms", "category": "marketing",
                        "sms": {"sender": "Shop"}}),
        _ => json!({"name": "marketing push", "channel": "push", "category": "marketing",
                    "push": {"appId": "shop-app"}}),
    };
    s.post("/v1/channel-configurations", &body).await.ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn content(channel: &str) -> Value {
    match channel {
        "email" => json!({"email": {"subject": "Hello {{profile.person.name.firstName}}",
                                    "html": "<p>News for {{profile.person.name.firstName}} from {{context.shop}}</p>",
                                    "text": "News for {{profile.person.name.firstName}}"}}),
        "sms" => json!({"sms": {"text": "News for {{profile.person.name.firstName}}"}}),
        _ => json!({"push": {"title": "News", "body": "For {{profile.person.name.firstName}}"}}),
    }
}

/// A live marketing campaign on `channel` over `audience_id`.
async fn marketing(s: &Server, channel: &str, audience_id: &str, extra: Value) -> String {
    let cfg = config(s, channel).await;
    let mut def = json!({
        "name": format!("{channel} newsletter"),
        "category": "marketing",
        "action": {"channel": channel, "channelConfigurationId": cfg},
        "content": content(channel),
        "audience": {"identityNamespace": "email", "audienceId": audience_id},
    });
    merge(&mut def, &extra);
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap().to_string();
    let a = s.activate(&id).await;
    assert_eq!(a["status"], "live", "{a}");
    id
}

async fn profile(s: &Server, email: &str, attributes: Value) {
    let r = s
        .put(
            &format!("/v1/profiles/email/{email}"),
            &json!({ "attributes": attributes }),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
}

fn opted_in(first: &str, channel: &str) -> Value {
    json!({"person": {"name": {"firstName": first}},
           "consents": {"marketing": {channel: {"val": "y"}}}})
}

async fn rule_audience(s: &Server, rule: &str) -> String {
    let r = s
        .post(
            "/v1/audiences",
            &json!({"name": "test audience", "rule": rule}),
        )
        .await;
    let b = r.ok(201);
    assert_eq!(b["kind"], "rule");
    b["id"].as_str().unwrap().to_string()
}

/// Polls the execution until it is no longer in progress.
async fn finished(s: &Server, execution_id: &str) -> Value {
    for _ in 0..600 {
        let r = s.get(&format!("{AUDIENCE}/{execution_id}")).await;
        let b = r.ok(200).clone();
        if b["status"] != "InProgress" {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {execution_id} did not finish");
}

/// Every message of an execution, by user id: (status, reason).
async fn outcomes(s: &Server, execution_id: &str) -> HashMap<String, (String, Option<String>)> {
    let mut out = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/messages?executionId={execution_id}&limit=500");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let b = s.get(&path).await.ok(200).clone();
        for m in b["items"].as_array().unwrap() {
            let reason = m
                .get("exclusionReason")
                .or_else(|| m.get("reason"))
                .and_then(Value::as_str)
                .map(str::to_string);
            out.insert(
                m["userId"].as_str().unwrap().to_string(),
                (m["status"].as_str().unwrap().to_string(), reason),
            );
        }
        match b["next"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => return out,
        }
    }
}

async fn fire(s: &Server, campaign: &str, request_id: &str) -> String {
    let r = s
        .post(
            AUDIENCE,
            &json!({"campaignId": campaign, "requestId": request_id, "context": {"shop": "North"}}),
        )
        .await;
    let b = r.ok(202);
    assert_eq!(b["requestId"], request_id);
    b["executionId"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_audiences_estimate_and_reject_bad_rules() {
    let s = start().await;
    for (i, (city, tier)) in [
        ("Paris", "gold"),
        ("Paris", "platinum"),
        ("Paris", "silver"),
        ("Lyon", "gold"),
    ]
    .iter()
    .enumerate()
    {
        profile(
            &s,
            &format!("p{i}@example.com"),
            json!({"homeAddress": {"city": city}, "loyalty": {"tier": tier, "points": i * 100}}),
        )
        .await;
    }
    let cases = [
        (r#"profile.homeAddress.city = "Paris""#, 3),
        (
            r#"profile.homeAddress.city = "Paris" and profile.loyalty.tier in ["gold","platinum"]"#,
            2,
        ),
        (r#"profile.loyalty.tier notIn ["gold"]"#, 2),
        (r#"profile.loyalty.points >= 200"#, 2),
        (
            r#"profile.loyalty.points < 100 or profile.homeAddress.city != "Paris""#,
            2,
        ),
        (r#"not(profile.homeAddress.city = "Paris")"#, 1),
        (r#"profile.nothing = "x""#, 0),
    ];
    for (rule, expected) in cases {
        let id = rule_audience(&s, rule).await;
        let e = s.get(&format!("/v1/audiences/{id}/estimate")).await;
        assert_eq!(e.ok(200)["count"], expected, "{rule}: {}", e.text);
        assert_eq!(e.json["scanned"], 4);
    }
    for bad in ["profile.a = ", "", "context.x = 1", "profile.a = 1 %}{{x}}"] {
        let r = s
            .post("/v1/audiences", &json!({"name": "bad", "rule": bad}))
            .await;
        r.problem(400, Some("/rule"));
    }
    let r = s.post("/v1/audiences", &json!({"name": "none"})).await;
    r.problem(400, Some("/rule"));
    let r = s
        .post(
            "/v1/audiences",
            &json!({"name": "both", "rule": "profile.a = 1", "identities": []}),
        )
        .await;
    r.problem(400, Some("/identities"));
    let r = s
        .post(
            "/v1/audiences",
            &json!({"name": "x", "rule": "profile.a = 1", "extra": 1}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    s.get("/v1/audiences/nope").await.problem(404, None);
    let listed = s.get("/v1/audiences").await;
    assert_eq!(
        listed.ok(200)["items"].as_array().unwrap().len(),
        cases.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_audiences_resolve_identities() {
    let s = start().await;
    profile(&s, "a@example.com", opted_in("A", "email")).await;
    profile(&s, "b@example.com", opted_in("B", "email")).await;
    let r = s
        .post(
            "/v1/audiences",
            &json!({"name": "vip", "identities": [
                {"namespace": "email", "id": "a@example.com"},
                {"namespace": "email", "id": "A@EXAMPLE.COM"},
                {"namespace": "email", "id": "ghost@example.com"}]}),
        )
        .await;
    let b = r.ok(201).clone();
    assert_eq!(b["kind"], "static");
    let id = b["id"].as_str().unwrap().to_string();
    let added = s
        .post(
            &format!("/v1/audiences/{id}/members"),
            &json!({"identities": [{"namespace": "email", "id": "b@example.com"}]}),
        )
        .await;
    assert_eq!(added.ok(200)["added"], 1, "{}", added.text);
    let e = s.get(&format!("/v1/audiences/{id}/estimate")).await;
    // ghost has no profile; a@ twice (case of the domain) is one member.
    assert_eq!(e.ok(200)["count"], 2, "{}", e.text);

    let campaign = marketing(&s, "email", &id, json!({})).await;
    let exec = fire(&s, &campaign, "vip-1").await;
    let st = finished(&s, &exec).await;
    assert_eq!(st["status"], "Succeeded", "{st}");
    assert_eq!(st["targetedProfileCount"], 2, "{st}");
    let got = outcomes(&s, &exec).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.values().all(|(st, _)| st == "queued"), "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exclusion_code_through_an_audience_execution() {
    let s = start().await;
    // Email.
    profile(&s, "ok@example.com", opted_in("Ok", "email")).await;
    profile(
        &s,
        "noconsent@example.com",
        json!({"person": {"name": {"firstName": "N"}}}),
    )
    .await;
    profile(
        &s,
        "optout@example.com",
        json!({"consents": {"marketing": {"email": {"val": "n"}}}}),
    )
    .await;
    profile(&s, "listed@example.com", opted_in("L", "email")).await;
    profile(&s, "someone@blocked.example", opted_in("D", "email")).await;
    profile(&s, "unsub@example.com", opted_in("U", "email")).await;
    for body in [
        json!({"channel": "email", "address": "listed@example.com", "reason": "hardBounce"}),
        json!({"channel": "email", "domain": "blocked.example", "reason": "manual"}),
        json!({"channel": "email", "address": "unsub@example.com", "reason": "unsubscribe"}),
    ] {
        s.post("/v1/suppressions", &body).await.ok(201);
    }
    let all = rule_audience(&s, r#"profile.kind != "none""#).await;
    let campaign = marketing(&s, "email", &all, json!({})).await;
    let exec = fire(&s, &campaign, "email-1").await;
    assert_eq!(finished(&s, &exec).await["status"], "Succeeded");
    let got = outcomes(&s, &exec).await;
    let expect = |u: &str, st: &str, reason: Option<&str>| {
        let (gs, gr) = got.get(u).unwrap_or_else(|| panic!("{u} missing: {got:?}"));
        assert_eq!(gs, st, "{u}: {got:?}");
        assert_eq!(gr.as_deref(), reason, "{u}: {got:?}");
    };
    expect("ok@example.com", "queued", None);
    expect("noconsent@example.com", "excluded", Some("emailNoConsent"));
    expect("optout@example.com", "excluded", Some("emailNoConsent"));
    expect("listed@example.com", "excluded", Some("emailSuppressed"));
    expect(
        "someone@blocked.example",
        "excluded",
        Some("domainSuppressed"),
    );
    expect("unsub@example.com", "excluded", Some("emailSuppressed"));
    let report = s.report(&campaign).await;
    assert_eq!(report["excluded"]["total"], 5, "{report}");
    // The fan-out's counters: every recipient targeted once, by status.
    let listed = report["byStatus"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum::<u64>());
    assert_eq!(
        Some(report["targeted"].as_u64().unwrap_or(0)),
        listed,
        "{report}"
    );
    assert_eq!(report["byStatus"]["excluded"], 5, "{report}");
    assert_eq!(
        report["excluded"]["byReason"]["emailNoConsent"], 2,
        "{report}"
    );

    // SMS: the number from the profile; consent per channel.
    let sms_people = [
        (
            "s1@example.com",
            json!({"mobilePhone": {"number": "+33612345678"}, "consents": {"marketing": {"sms": {"val": "y"}}}}),
        ),
        (
            "s2@example.com",
            json!({"mobilePhone": {"number": "+33612345679"}, "consents": {"marketing": {"email": {"val": "y"}}}}),
        ),
        (
            "s3@example.com",
            json!({"consents": {"marketing": {"sms": {"val": "y"}}}}),
        ),
        (
            "s4@example.com",
            json!({"mobilePhone": {"number": "+447700900123"}, "consents": {"marketing": {"any": {"val": "y"}}}}),
        ),
    ];
    for (e, a) in &sms_people {
        let mut a = a.clone();
        a["kind"] = json!("sms");
        profile(&s, e, a).await;
    }
    s.post(
        "/v1/suppressions",
        &json!({"channel": "sms", "address": "+447700900123", "reason": "manual"}),
    )
    .await
    .ok(201);
    let sms_aud = rule_audience(&s, r#"profile.kind = "sms""#).await;
    let sms = marketing(&s, "sms", &sms_aud, json!({})).await;
    let exec = fire(&s, &sms, "sms-1").await;
    assert_eq!(finished(&s, &exec).await["status"], "Succeeded");
    let got = outcomes(&s, &exec).await;
    assert_eq!(got["s1@example.com"], ("queued".into(), None));
    assert_eq!(
        got["s2@example.com"],
        ("excluded".into(), Some("smsNoConsent".into()))
    );
    assert_eq!(
        got["s3@example.com"],
        ("excluded".into(), Some("noAddress".into()))
    );
    assert_eq!(
        got["s4@example.com"],
        ("excluded".into(), Some("smsSuppressed".into()))
    );

    // Push: tokens of the configuration's app.
    let push_people = [
        (
            "q1@example.com",
            json!({"pushNotificationDetails": [{"appID": "shop-app", "token": "tok-1"}], "consents": {"marketing": {"push": {"val": "y"}}}}),
        ),
        (
            "q2@example.com",
            json!({"pushNotificationDetails": [{"appID": "other-app", "token": "tok-2"}], "consents": {"marketing": {"push": {"val": "y"}}}}),
        ),
        (
            "q3@example.com",
            json!({"pushNotificationDetails": [{"appID": "shop-app", "token": "tok-3"}]}),
        ),
    ];
    for (e, a) in &push_people {
        let mut a = a.clone();
        a["kind"] = json!("push");
        profile(&s, e, a).await;
    }
    let push_aud = rule_audience(&s, r#"profile.kind = "push""#).await;
    let push = marketing(&s, "push", &push_aud, json!({})).await;
    let exec = fire(&s, &push, "push-1").await;
    assert_eq!(finished(&s, &exec).await["status"], "Succeeded");
    let got = outcomes(&s, &exec).await;
    assert_eq!(got["q1@example.com"], ("queued".into(), None));
    assert_eq!(
        got["q2@example.com"],
        ("excluded".into(), Some("pushNoToken".into()))
    );
    assert_eq!(
        got["q3@example.com"],
        ("excluded".into(), Some("pushNoConsent".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_calls_skip_consent_and_unsubscribes_but_not_bounces() {
    let s = start().await;
    s.post(
        "/v1/suppressions",
        &json!({"channel": "email", "address": "bounced@example.com", "reason": "hardBounce"}),
    )
    .await
    .ok(201);
    s.post(
        "/v1/suppressions",
        &json!({"channel": "email", "address": "unsub@example.com", "reason": "unsubscribe"}),
    )
    .await
    .ok(201);
    let c = s.live_campaign().await;
    let mut body = unitary(&c, "tx-1");
    body["recipients"] = json!([
        {"type": "external", "namespace": "email", "userId": "bounced@example.com"},
        {"type": "external", "namespace": "email", "userId": "unsub@example.com"},
        {"type": "external", "namespace": "email", "userId": "fresh@example.com"}
    ]);
    let r = s.fire(&body).await;
    let rs = r.ok(202)["recipients"].as_array().unwrap().clone();
    assert_eq!(rs[0]["status"], "excluded", "{rs:?}");
    assert_eq!(rs[0]["reason"], "emailSuppressed");
    assert_eq!(
        rs[1]["status"], "queued",
        "unsubscribe stops marketing only: {rs:?}"
    );
    assert_eq!(rs[2]["status"], "queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn frequency_caps_hold_under_20_concurrent_executions() {
    let s = start().await;
    for i in 0..10 {
        profile(&s, &format!("f{i}@example.com"), opted_in("F", "email")).await;
    }
    let rule = s
        .post(
            "/v1/business-rules",
            &json!({"name": "3 a week", "channel": "email", "category": "marketing",
                    "maxMessages": 3, "period": {"count": 7, "unit": "day"}}),
        )
        .await;
    let rule_id = rule.ok(201)["id"].as_str().unwrap().to_string();
    let aud = rule_audience(&s, r#"profile.consents.marketing.email.val = "y""#).await;
    let campaign = marketing(&s, "email", &aud, json!({"businessRuleIds": [rule_id]})).await;
    let mut handles = Vec::new();
    for k in 0..20 {
        let base = s.base.clone();
        let client = s.client.clone();
        let key = s.key.clone();
        let campaign = campaign.clone();
        handles.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}{AUDIENCE}"))
                .bearer_auth(key)
                .json(&json!({"campaignId": campaign, "requestId": format!("blast-{k}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
            let b: Value = r.json().await.unwrap();
            b["executionId"].as_str().unwrap().to_string()
        }));
    }
    let mut executions = Vec::new();
    for h in handles {
        executions.push(h.await.unwrap());
    }
    let mut per_user: HashMap<String, u32> = HashMap::new();
    let mut capped = 0;
    for e in &executions {
        assert_eq!(finished(&s, e).await["status"], "Succeeded");
        for (user, (status, reason)) in outcomes(&s, e).await {
            if status == "queued" {
                *per_user.entry(user).or_default() += 1;
            } else {
                assert_eq!(reason.as_deref(), Some("frequencyCapped"));
                capped += 1;
            }
        }
    }
    assert_eq!(per_user.len(), 10, "{per_user:?}");
    for (user, n) in &per_user {
        assert_eq!(*n, 3, "{user} got {n} messages; the cap is 3");
    }
    assert_eq!(capped, 20 * 10 - 30);
    let report = s.report(&campaign).await;
    assert_eq!(
        report["excluded"]["byReason"]["frequencyCapped"], 170,
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_execution_fires_and_deleted_one_does_not() {
    let s = start().await;
    profile(&s, "sched@example.com", opted_in("S", "email")).await;
    let aud = rule_audience(&s, r#"profile.consents.marketing.email.val = "y""#).await;
    let campaign = marketing(&s, "email", &aud, json!({})).await;
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let r = s
        .post(
            AUDIENCE,
            &json!({"campaignId": campaign, "requestId": "later-1", "schedule": {"executeAt": at}}),
        )
        .await;
    let b = r.ok(202).clone();
    assert_eq!(b["scheduleStatus"], "Scheduled", "{b}");
    assert_eq!(b["audience"]["id"], aud.as_str());
    let schedule = b["scheduleId"].as_str().unwrap().to_string();
    // Same body again: the same schedule, replayed.
    let again = s
        .post(
            AUDIENCE,
            &json!({"campaignId": campaign, "requestId": "later-1", "schedule": {"executeAt": at}}),
        )
        .await;
    assert_eq!(again.ok(202)["scheduleId"], schedule.as_str());
    assert_eq!(again.header("idempotent-replayed"), Some("true"));

    let doomed = s
        .post(
            AUDIENCE,
            &json!({"campaignId": campaign, "requestId": "later-2",
                    "schedule": {"executeAt": chrono::Utc::now() + chrono::Duration::seconds(3)}}),
        )
        .await;
    let doomed_id = doomed.ok(202)["scheduleId"].as_str().unwrap().to_string();
    let d = s
        .delete(&format!("/ajo/im/executions/schedules/{doomed_id}"))
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    s.get(&format!("/ajo/im/executions/schedules/{doomed_id}"))
        .await
        .problem(404, None);

    let mut fired = Value::Null;
    for _ in 0..200 {
        let g = s
            .get(&format!("/ajo/im/executions/schedules/{schedule}"))
            .await;
        fired = g.ok(200).clone();
        if fired["scheduleStatus"] == "Triggered"
            && fired["executionDetails"]["status"] == "Succeeded"
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fired["scheduleStatus"], "Triggered", "{fired}");
    assert_eq!(
        fired["executionDetails"]["targetedProfileCount"], 1,
        "{fired}"
    );
    let exec = fired["executionDetails"]["executionId"].as_str().unwrap();
    let got = outcomes(&s, exec).await;
    assert_eq!(got["sched@example.com"].0, "queued");
    // Too late to delete it now.
    s.delete(&format!("/ajo/im/executions/schedules/{schedule}"))
        .await
        .problem(409, None);
    // Wait past the deleted one's time: it never fired.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(s.targeted(&campaign).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audience_call_rules_and_idempotency() {
    let s = start().await;
    profile(&s, "i@example.com", opted_in("I", "email")).await;
    let aud = rule_audience(&s, r#"profile.consents.marketing.email.val = "y""#).await;
    let campaign = marketing(&s, "email", &aud, json!({})).await;
    let first = fire(&s, &campaign, "once").await;
    let again = s
        .post(
            AUDIENCE,
            &json!({"campaignId": campaign, "requestId": "once", "context": {"shop": "North"}}),
        )
        .await;
    assert_eq!(again.ok(202)["executionId"], first.as_str());
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    s.post(
        AUDIENCE,
        &json!({"campaignId": campaign, "requestId": "once", "context": {"shop": "South"}}),
    )
    .await
    .problem(409, Some("/requestId"));
    finished(&s, &first).await;
    assert_eq!(s.targeted(&campaign).await, 1);
    // The generic execution lookup links to the messages instead of
    // listing what may be millions.
    let e = s.execution(&first).await;
    assert_eq!(e["status"], "Succeeded", "{e}");
    assert_eq!(e["targetedProfileCount"], 1, "{e}");
    assert_eq!(
        e["messages"],
        json!(format!("/v1/messages?executionId={first}"))
    );

    // Errors name their field.
    s.post(AUDIENCE, &json!({"campaignId": "nope"}))
        .await
        .problem(404, Some("/campaignId"));
    s.post(
        AUDIENCE,
        &json!({"campaignId": campaign, "audience": {"id": "nope"}}),
    )
    .await
    .problem(404, Some("/audience/id"));
    s.post(AUDIENCE, &json!({"campaignId": campaign, "context": [1]}))
        .await
        .problem(400, Some("/context"));
    s.post(
        AUDIENCE,
        &json!({"campaignId": campaign, "schedule": {"executeAt": "tomorrow"}}),
    )
    .await
    .problem(400, Some("/schedule/executeAt"));
    s.post(
        AUDIENCE,
        &json!({"campaignId": campaign, "schedule": {"executeAt": "2020-01-01T00:00:00Z"}}),
    )
    .await
    .problem(400, Some("/schedule/executeAt"));
    // The audience of a live campaign cannot be deleted.
    s.delete(&format!("/v1/audiences/{aud}"))
        .await
        .problem(409, None);
    // Every bad identity of a static audience is named at once.
    let r = s
        .post(
            "/v1/audiences",
            &json!({"name": "bad", "identities": [
                {"namespace": "email", "id": "not-an-email"},
                {"namespace": "nope", "id": "a"}]}),
        )
        .await;
    r.problem(400, Some("/identities/0/id"));
    r.problem(400, Some("/identities/1/namespace"));
    s.post(AUDIENCE, &json!({"requestId": "x"}))
        .await
        .problem(400, Some("/campaignId"));
    let tx = s.live_campaign().await;
    s.post(AUDIENCE, &json!({"campaignId": tx}))
        .await
        .problem(409, Some("/campaignId"));
    s.get(&format!("{AUDIENCE}/nope")).await.problem(404, None);
    s.get("/ajo/im/executions/schedules/nope")
        .await
        .problem(404, None);
    // The marketing campaign is not fired by the unitary call.
    s.fire(&unitary(&campaign, "u-1"))
        .await
        .problem(409, Some("/campaignId"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_throughput_mode() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    // Review rejects profile reads in a high-throughput campaign.
    let mut def = campaign_def(&cfg);
    def["highThroughput"] = json!(true);
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap();
    let review = s.post_empty(&format!("/v1/campaigns/{id}/review")).await;
    let checks = review.ok(200)["checks"].as_array().unwrap().clone();
    assert!(
        checks.iter().any(|c| c["code"] == "high_throughput_profile"
            && c["pointer"]
                .as_str()
                .unwrap()
                .starts_with("/content/email/")),
        "{checks:?}"
    );
    assert_eq!(review.json["ready"], false);

    def["content"] = json!({"email": {"subject": "Code {{context.code}}", "text": "Your code is {{context.code}}"}});
    let c = s.create_campaign(&def).await;
    let ht = c["id"].as_str().unwrap().to_string();
    s.activate(&ht).await;
    let body = json!({"requestId": "ht-1", "campaignId": ht, "recipients": [
        {"type": "external", "namespace": "email", "userId": "otp@example.com", "context": {"code": "123456"}}]});
    let r = s.post("/ajo/im/executions/highthroughput", &body).await;
    let b = r.ok(202).clone();
    assert_eq!(b["recipients"][0]["status"], "queued");
    let e = s.execution(b["executionId"].as_str().unwrap()).await;
    assert_eq!(e["messages"][0]["address"], "otp@example.com");
    // No profile was looked up or created.
    s.get("/v1/profiles/email/otp@example.com")
        .await
        .problem(404, None);
    // aep recipients are refused, naming the field.
    let mut aep = body.clone();
    aep["requestId"] = json!("ht-2");
    aep["recipients"][0]["type"] = json!("aep");
    s.post("/ajo/im/executions/highthroughput", &aep)
        .await
        .problem(400, Some("/recipients/0/type"));
    // Each mode has its own endpoint.
    s.fire(&json!({"requestId": "ht-3", "campaignId": ht, "recipients": body["recipients"]}))
        .await
        .problem(409, Some("/campaignId"));
    let plain = s.live_campaign().await;
    s.post(
        "/ajo/im/executions/highthroughput",
        &json!({"requestId": "ht-4", "campaignId": plain, "recipients": body["recipients"]}),
    )
    .await
    .problem(409, Some("/campaignId"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_checks_business_rules_and_audience() {
    let s = start().await;
    let cfg = config(&s, "email").await;
    let def = json!({
        "name": "bad refs", "category": "marketing",
        "action": {"channel": "email", "channelConfigurationId": cfg},
        "content": content("email"),
        "audience": {"identityNamespace": "email", "audienceId": "missing-audience"},
        "businessRuleIds": ["missing-rule"],
    });
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap();
    let r = s.post_empty(&format!("/v1/campaigns/{id}/review")).await;
    let b = r.ok(200).clone();
    assert_eq!(b["ready"], false);
    let pointers: Vec<&str> = b["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["pointer"].as_str().unwrap())
        .collect();
    assert!(pointers.contains(&"/businessRuleIds/0"), "{b}");
    assert!(pointers.contains(&"/audience/audienceId"), "{b}");
    s.post_empty(&format!("/v1/campaigns/{id}/activate"))
        .await
        .problem(422, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_audiences_are_estimated_from_a_sample() {
    let s = start().await;
    // 3,000 profiles, one in three in Paris.
    let mut body = String::new();
    for i in 0..3000 {
        let city = if i % 3 == 0 { "Paris" } else { "Lyon" };
        body.push_str(&format!(
            "{{\"identities\":[{{\"namespace\":\"email\",\"id\":\"s{i}@example.com\"}}],\"attributes\":{{\"homeAddress\":{{\"city\":\"{city}\"}}}}}}\n"
        ));
    }
    let r = s
        .client
        .post(s.url("/v1/profiles:import"))
        .bearer_auth(&s.key)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = rule_audience(&s, r#"profile.homeAddress.city = "Paris""#).await;
    let e = s
        .get(&format!("/v1/audiences/{id}/estimate?sampleSize=1000"))
        .await;
    let b = e.ok(200).clone();
    assert_eq!(b["exact"], false, "{b}");
    assert_eq!(b["total"], 3000, "{b}");
    let sampled = b["sampled"].as_u64().unwrap();
    assert!((500..=1000).contains(&sampled), "{b}");
    let count = b["count"].as_i64().unwrap();
    let margin = b["margin"].as_i64().unwrap();
    assert!(margin > 0 && margin < 200, "{b}");
    // Twice the 95% margin: wrong far less than once in 10,000 runs.
    assert!((count - 1000).abs() <= 2 * margin, "{b}");
    let exact = s
        .get(&format!("/v1/audiences/{id}/estimate?exact=true"))
        .await;
    assert_eq!(exact.ok(200)["count"], 1000, "{}", exact.text);
    assert_eq!(exact.json["exact"], true);
    s.get(&format!("/v1/audiences/{id}/estimate?sampleSize=5"))
        .await
        .problem(400, Some("/sampleSize"));
    s.get(&format!("/v1/audiences/{id}/estimate?exact=maybe"))
        .await
        .problem(400, Some("/exact"));
}
