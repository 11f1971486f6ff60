//! Every rule of the unitary execution call (API.md, "Execution API").

mod support;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const UNITARY: &str = "/ajo/im/executions/unitary";

fn assert_rfc3339(v: &Value, what: &str) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{what} '{s}' is not RFC 3339: {e}"));
}

fn assert_accepted(r: &Resp, request_id: &str, n: usize) -> String {
    let b = r.ok(202);
    assert!(
        r.content_type().starts_with("application/json"),
        "content type {}",
        r.content_type()
    );
    let id = b["executionId"].as_str().expect("executionId").to_string();
    assert!(!id.is_empty());
    assert_eq!(b["requestId"], json!(request_id));
    assert_rfc3339(&b["createdAt"], "createdAt");
    assert_rfc3339(&b["modifiedAt"], "modifiedAt");
    assert_eq!(b["createdBy"], "admin", "createdBy is the key name");
    assert_eq!(b["modifiedBy"], "admin", "modifiedBy is the key name");
    let rs = b["recipients"].as_array().expect("recipients[]");
    assert_eq!(rs.len(), n, "{b}");
    for x in rs {
        assert!(x["userId"].is_string(), "{x}");
        assert!(
            x["messageId"].as_str().is_some_and(|m| !m.is_empty()),
            "{x}"
        );
        assert!(x["status"].is_string(), "{x}");
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_is_202_with_the_reference_fields() {
    let s = start().await;
    let c = s.live_campaign().await;
    let r = s.fire(&unitary(&c, "req-1")).await;
    let id = assert_accepted(&r, "req-1", 1);
    assert_eq!(r.json["recipients"][0]["userId"], "jane@example.com");
    assert_eq!(r.json["recipients"][0]["status"], "queued");
    assert_ne!(r.header("idempotent-replayed"), Some("true"));

    let e = s.execution(&id).await;
    assert_eq!(e["executionId"], json!(id));
    assert_eq!(e["requestId"], "req-1");
    assert_eq!(e["campaignId"], json!(c));
    assert_eq!(e["campaignVersion"], 1);
    let msgs = e["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["messageId"], r.json["recipients"][0]["messageId"]);
    assert_eq!(msgs[0]["address"], "jane@example.com");
    assert_eq!(msgs[0]["status"], "queued");
    assert_eq!(s.targeted(&c).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_alias_behaves_the_same() {
    let s = start().await;
    let c = s.live_campaign().await;
    let r = s
        .post("/v1/executions/unitary", &unitary(&c, "req-alias"))
        .await;
    let id = assert_accepted(&r, "req-alias", 1);
    assert_eq!(
        s.execution(&id).await["messages"].as_array().unwrap().len(),
        1
    );
    // Same idempotency space as the /ajo path.
    let again = s.fire(&unitary(&c, "req-alias")).await;
    assert_eq!(again.ok(202)["executionId"], json!(id));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    // And its errors are the same problem JSON.
    let mut bad = unitary(&c, "req-alias-2");
    bad["recipients"] = json!([]);
    s.post("/v1/executions/unitary", &bad)
        .await
        .problem(400, Some("/recipients"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_with_same_body_returns_first_response_and_sends_nothing() {
    let s = start().await;
    let c = s.live_campaign().await;
    let body = unitary(&c, "req-replay");
    let first = s.fire(&body).await;
    let id = assert_accepted(&first, "req-replay", 1);
    let second = s.fire(&body).await;
    assert_accepted(&second, "req-replay", 1);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.json, first.json, "the first response, verbatim");
    // Same body re-serialized with another key order: still a replay.
    let reordered = format!(
        "{{\"context\":{{\"shop\":\"North Store\"}},\"recipients\":{},\"campaignId\":\"{c}\",\"requestId\":\"req-replay\"}}",
        body["recipients"]
    );
    let third = s
        .raw(Method::POST, UNITARY, Some(reordered), &[], true)
        .await;
    assert_eq!(third.ok(202)["executionId"], json!(id));
    assert_eq!(third.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        s.execution(&id).await["messages"].as_array().unwrap().len(),
        1
    );
    assert_eq!(s.targeted(&c).await, 1, "no new messages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_identical_calls_execute_once() {
    let s = start().await;
    let c = s.live_campaign().await;
    let mut body = unitary(&c, "req-concurrent");
    body["recipients"] = recipients(2);
    let futs = (0..50).map(|_| s.fire(&body));
    let rs = futures::future::join_all(futs).await;
    let mut ids = HashSet::new();
    let mut fresh = 0;
    for r in &rs {
        ids.insert(assert_accepted(r, "req-concurrent", 2));
        if r.header("idempotent-replayed") != Some("true") {
            fresh += 1;
        }
    }
    assert_eq!(ids.len(), 1, "exactly one executionId: {ids:?}");
    assert_eq!(fresh, 1, "exactly one call is not a replay");
    let id = ids.into_iter().next().unwrap();
    assert_eq!(
        s.execution(&id).await["messages"].as_array().unwrap().len(),
        2
    );
    assert_eq!(s.targeted(&c).await, 2, "exactly the original messages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_replays_after_the_first_call() {
    let s = start().await;
    let c = s.live_campaign().await;
    let mut body = unitary(&c, "req-concurrent-2");
    body["recipients"] = recipients(3);
    let first = s.fire(&body).await;
    let id = assert_accepted(&first, "req-concurrent-2", 3);
    let rs = futures::future::join_all((0..50).map(|_| s.fire(&body))).await;
    for r in &rs {
        assert_eq!(r.ok(202)["executionId"], json!(id));
        assert_eq!(r.header("idempotent-replayed"), Some("true"));
        assert_eq!(r.json, first.json);
    }
    assert_eq!(s.targeted(&c).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_request_id_with_a_different_body_is_409() {
    let s = start().await;
    let c = s.live_campaign().await;
    let body = unitary(&c, "req-conflict");
    assert_accepted(&s.fire(&body).await, "req-conflict", 1);
    let mut other = body.clone();
    other["context"]["shop"] = json!("South Store");
    let r = s.fire(&other).await;
    let p = r.problem(409, Some("/requestId"));
    assert!(
        p["detail"].as_str().unwrap().contains("req-conflict"),
        "{p}"
    );
    assert_eq!(
        p["report"]["additionalContext"]["requestId"],
        "req-conflict"
    );
    assert_eq!(s.targeted(&c).await, 1);
    // The same requestId on another campaign is a different execution.
    let c2 = s.live_campaign().await;
    assert_accepted(
        &s.fire(&unitary(&c2, "req-conflict")).await,
        "req-conflict",
        1,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_recipients_ok_twenty_one_is_400() {
    let s = start().await;
    let c = s.live_campaign().await;
    let mut body = unitary(&c, "req-20");
    body["recipients"] = recipients(20);
    assert_accepted(&s.fire(&body).await, "req-20", 20);
    let mut body = unitary(&c, "req-21");
    body["recipients"] = recipients(21);
    let r = s.fire(&body).await;
    r.problem(400, Some("/recipients"));
    assert_eq!(s.targeted(&c).await, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_recipients_is_400() {
    let s = start().await;
    let c = s.live_campaign().await;
    let mut body = unitary(&c, "req-0");
    body["recipients"] = json!([]);
    s.fire(&body).await.problem(400, Some("/recipients"));
    assert_eq!(s.targeted(&c).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_user_id_is_400_at_the_second_one() {
    let s = start().await;
    let c = s.live_campaign().await;
    let mut body = unitary(&c, "req-dup");
    body["recipients"] = json!([
        {"type": "external", "namespace": "email", "userId": "a@example.com"},
        {"type": "external", "namespace": "email", "userId": "a@example.com"}
    ]);
    let r = s.fire(&body).await;
    r.problem(400, Some("/recipients/1/userId"));
    assert!(
        r.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "duplicate_user_id"),
        "{}",
        r.text
    );
    assert_eq!(s.targeted(&c).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_over_200_kb_is_413_and_under_is_fine() {
    let s = start().await;
    let c = s.live_campaign().await;
    let mut body = unitary(&c, "req-big");
    body["context"] = json!({"blob": "x".repeat(210 * 1024)});
    let r = s.fire(&body).await;
    r.problem(413, Some("/context"));
    assert_eq!(s.targeted(&c).await, 0);
    // Split between the top-level and a recipient context: still counted.
    let mut body = unitary(&c, "req-big-2");
    body["context"] = json!({"blob": "x".repeat(110 * 1024)});
    body["recipients"][0]["context"] = json!({"blob2": "y".repeat(110 * 1024)});
    s.fire(&body).await.problem(413, Some("/context"));
    // Under the limit: accepted.
    let mut body = unitary(&c, "req-big-3");
    body["context"] = json!({"blob": "x".repeat(150 * 1024)});
    assert_accepted(&s.fire(&body).await, "req-big-3", 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_campaign_is_404() {
    let s = start().await;
    s.live_campaign().await;
    let r = s.fire(&unitary("no-such-campaign", "req-404")).await;
    let p = r.problem(404, Some("/campaignId"));
    assert_eq!(
        p["report"]["additionalContext"]["campaignId"],
        "no-such-campaign"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_campaign_is_409_saying_draft() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let c = s.create_campaign(&campaign_def(&cfg)).await;
    let id = c["id"].as_str().unwrap();
    assert_eq!(c["status"], "draft");
    let r = s.fire(&unitary(id, "req-draft")).await;
    let p = r.problem(409, Some("/campaignId"));
    assert!(p["detail"].as_str().unwrap().contains("draft"), "{p}");
    assert_eq!(s.targeted(id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_campaign_is_409_saying_stopped() {
    let s = start().await;
    let c = s.live_campaign().await;
    assert_accepted(
        &s.fire(&unitary(&c, "req-before-stop")).await,
        "req-before-stop",
        1,
    );
    let st = s.post_empty(&format!("/v1/campaigns/{c}/stop")).await;
    assert_eq!(st.ok(200)["status"], "stopped");
    let r = s.fire(&unitary(&c, "req-after-stop")).await;
    let p = r.problem(409, None);
    assert!(p["detail"].as_str().unwrap().contains("stopped"), "{p}");
    assert_eq!(s.targeted(&c).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_schedule_start_is_409_saying_the_window() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let start_at =
        (Utc::now() + chrono::Duration::days(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut def = campaign_def(&cfg);
    def["schedule"] = json!({"startAt": start_at, "endAt": null});
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap();
    let a = s.activate(id).await;
    assert_eq!(a["status"], "scheduled", "{a}");
    let r = s.fire(&unitary(id, "req-early")).await;
    let p = r.problem(409, None);
    assert!(
        p["detail"].as_str().unwrap().contains(&start_at),
        "the detail names the window ({start_at}): {p}"
    );
    assert_eq!(s.targeted(id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_schedule_end_is_409_and_the_campaign_is_completed() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let end = Utc::now() + chrono::Duration::seconds(3);
    let mut def = campaign_def(&cfg);
    def["schedule"] = json!({"startAt": null, "endAt": end.to_rfc3339()});
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap().to_string();
    let a = s.activate(&id).await;
    assert_eq!(a["status"], "live", "{a}");
    // Wait (not a timing assertion) until the window is over.
    while Utc::now() <= end + chrono::Duration::milliseconds(500) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = s.fire(&unitary(&id, "req-late")).await;
    let p = r.problem(409, None);
    assert!(p["detail"].as_str().unwrap().contains("completed"), "{p}");
    let got = s.get(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(got.ok(200)["status"], "completed");
    let listed = s.get("/v1/campaigns?status=completed").await;
    assert!(
        listed.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == json!(id)),
        "{}",
        listed.text
    );
    assert_eq!(s.targeted(&id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_aep_profile_without_creation_is_422_and_nothing_is_stored() {
    let s = start().await;
    let c = s
        .live_campaign_with(json!({"audience": {"createNewProfiles": false}}))
        .await;
    let mut body = unitary(&c, "req-unknown");
    body["recipients"] = json!([
        {"type": "aep", "namespace": "email", "userId": "ghost@example.com"},
        {"type": "external", "namespace": "email", "userId": "fine@example.com"}
    ]);
    let r = s.fire(&body).await;
    r.problem(422, Some("/recipients/0/userId"));
    assert_eq!(r.pointers(), vec!["/recipients/0/userId".to_string()]);
    assert_eq!(s.targeted(&c).await, 0, "nothing from the call is stored");
    s.get("/v1/profiles/email/ghost@example.com")
        .await
        .problem(404, None);
    // The execution was not created: once the profile exists, the same
    // requestId executes for real (a stored execution would be replayed).
    s.put(
        "/v1/profiles/email/ghost@example.com",
        &json!({"attributes": {"person": {"name": {"firstName": "Casper"}}}}),
    )
    .await
    .ok(201);
    let again = s.fire(&body).await;
    assert_accepted(&again, "req-unknown", 2);
    assert_ne!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(s.targeted(&c).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_aep_profile_with_creation_creates_the_profile() {
    let s = start().await;
    let c = s.live_campaign().await; // createNewProfiles: true
    s.get("/v1/profiles/email/new.person@example.com")
        .await
        .problem(404, None);
    let mut body = unitary(&c, "req-create");
    body["recipients"] =
        json!([{"type": "aep", "namespace": "email", "userId": "new.person@example.com"}]);
    let r = s.fire(&body).await;
    assert_accepted(&r, "req-create", 1);
    assert_eq!(r.json["recipients"][0]["status"], "queued");
    let p = s.get("/v1/profiles/email/new.person@example.com").await;
    let p = p.ok(200);
    assert!(p["id"].is_string(), "{p}");
    assert!(
        p["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["namespace"] == "email" && i["id"] == "new.person@example.com"),
        "{p}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_recipients_need_no_profile() {
    let s = start().await;
    let c = s
        .live_campaign_with(json!({"audience": {"createNewProfiles": false}}))
        .await;
    let r = s.fire(&unitary(&c, "req-ext")).await;
    assert_accepted(&r, "req-ext", 1);
    assert_eq!(r.json["recipients"][0]["status"], "queued");
    assert_eq!(s.targeted(&c).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_data_email_address_overrides_the_address() {
    let s = start().await;
    let c = s.live_campaign().await;
    s.put(
        "/v1/profiles/email/jane@example.com",
        &json!({"attributes": {"person": {"name": {"firstName": "Jane"}}}}),
    )
    .await
    .ok(201);
    let mut body = unitary(&c, "req-override");
    body["recipients"] = json!([{
        "type": "aep", "namespace": "email", "userId": "jane@example.com",
        "channelData": {"emailAddress": "jane.work@example.com"}}]);
    let r = s.fire(&body).await;
    let id = assert_accepted(&r, "req-override", 1);
    let e = s.execution(&id).await;
    assert_eq!(e["messages"][0]["address"], "jane.work@example.com");
    let mid = r.json["recipients"][0]["messageId"].as_str().unwrap();
    let m = s.get(&format!("/v1/messages/{mid}")).await;
    assert_eq!(m.ok(200)["address"], "jane.work@example.com");
    assert_eq!(m.json["userId"], "jane@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipient_context_is_merged_over_the_call_context() {
    let s = start().await;
    let c = s.live_campaign().await;
    let body = json!({
        "requestId": "req-merge", "campaignId": c,
        "context": {"shop": "North Store", "order": {"id": "1", "currency": "EUR"}, "resetUrl": "https://top.example.com"},
        "recipients": [{"type": "external", "namespace": "email", "userId": "jane@example.com",
                        "profile": {"person": {"name": {"firstName": "Jane"}}},
                        "context": {"order": {"id": "48213"}, "resetUrl": "https://mine.example.com"}}]
    });
    let r = s.fire(&body).await;
    assert_accepted(&r, "req-merge", 1);
    let mid = r.json["recipients"][0]["messageId"]
        .as_str()
        .unwrap()
        .to_string();
    // No delivery engine runs here (wake None): the message waits, queued.
    let m = s.get(&format!("/v1/messages/{mid}")).await;
    assert_eq!(m.ok(200)["status"], "queued");
    // Act as the delivery engine: what a worker gets renders with the
    // recipient's context merged over the call's.
    let claimed = s
        .store
        .claim_messages("test-worker", 10, Duration::from_secs(60), Utc::now())
        .await
        .unwrap();
    let d = claimed
        .iter()
        .find(|d| d.message_id == mid)
        .expect("claimable");
    let data =
        herald_domain::content::render_data(&d.profile, &d.execution_context, &d.recipient_context);
    assert_eq!(
        data["context"],
        json!({"shop": "North Store", "order": {"id": "48213", "currency": "EUR"}, "resetUrl": "https://mine.example.com"})
    );
    assert_eq!(data["profile"]["person"]["name"]["firstName"], "Jane");
    assert_eq!(d.address, "jane@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_api_key_is_401_problem_json() {
    let s = start().await;
    let c = s.live_campaign().await;
    let body = unitary(&c, "req-auth").to_string();
    let r = s
        .raw(Method::POST, UNITARY, Some(body.clone()), &[], false)
        .await;
    r.problem(401, None);
    let r = s
        .raw(
            Method::POST,
            UNITARY,
            Some(body.clone()),
            &[("authorization", "Bearer hk_wrong")],
            false,
        )
        .await;
    r.problem(401, None);
    let r = s
        .raw(
            Method::POST,
            UNITARY,
            Some(body.clone()),
            &[("authorization", "Basic Zm9vOmJhcg==")],
            false,
        )
        .await;
    r.problem(401, None);
    // The reference's extra headers are accepted and ignored.
    let r = s
        .raw(
            Method::POST,
            UNITARY,
            Some(body),
            &[
                ("x-api-key", "whatever"),
                ("x-gw-ims-org-id", "ORG@AdobeOrg"),
            ],
            true,
        )
        .await;
    assert_accepted(&r, "req-auth", 1);
    assert_eq!(s.targeted(&c).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_400_with_a_pointer_never_500() {
    let s = start().await;
    let c = s.live_campaign().await;
    let bodies = [
        "{\"requestId\": \"r\", ".to_string(),
        "not json at all".to_string(),
        "".to_string(),
        "   ".to_string(),
        "[1, 2, 3]".to_string(),
        "null".to_string(),
        "\"a string\"".to_string(),
        format!("{{\"requestId\": \"r\", \"campaignId\": \"{c}\", \"recipients\": [{{]}}"),
        "{\"requestId\": \"\u{0}\"}".to_string(),
        // A valid call spelled positionally: serde would fill the struct from it.
        format!("[\"arr-req\", \"{c}\", [[\"aep\", \"email\", \"arr@example.com\"]]]"),
    ];
    for b in bodies {
        let r = s
            .raw(Method::POST, UNITARY, Some(b.clone()), &[], true)
            .await;
        assert_eq!(r.status, 400, "body {b:?} -> {}", r.text);
        r.problem(400, None);
        let errs = r.json["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("errors[] for {b:?}: {}", r.text));
        assert!(
            !errs.is_empty() && errs.iter().all(|e| e["pointer"].is_string()),
            "{}",
            r.text
        );
    }
    assert_eq!(
        s.targeted(&c).await,
        0,
        "nothing from those bodies was stored"
    );
    // The same at depth: a recipient spelled as an array names its place.
    let r = s
        .post(
            UNITARY,
            &json!({"requestId": "r-nested", "campaignId": c,
                    "recipients": [["aep", "email", "arr@example.com"]]}),
        )
        .await;
    r.problem(400, Some("/recipients/0"));
    let r = s
        .post(
            "/v1/channel-configurations",
            &json!({"name": "x", "channel": "email", "email": ["a@b.c"]}),
        )
        .await;
    r.problem(400, Some("/email"));
    // A missing required field names it.
    let r = s
        .post(
            UNITARY,
            &json!({"campaignId": c, "recipients": recipients(1)}),
        )
        .await;
    r.problem(400, Some("/requestId"));
    let r = s
        .post(
            UNITARY,
            &json!({"requestId": "r", "recipients": recipients(1)}),
        )
        .await;
    r.problem(400, Some("/campaignId"));
    let r = s
        .post(UNITARY, &json!({"requestId": "r", "campaignId": c}))
        .await;
    r.problem(400, Some("/recipients"));
    assert_eq!(s.targeted(&c).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_type_is_400_at_its_pointer() {
    let s = start().await;
    let c = s.live_campaign().await;
    let mut body = unitary(&c, "req-type");
    body["recipients"] = json!("x");
    s.fire(&body).await.problem(400, Some("/recipients"));
    let mut body = unitary(&c, "req-type-2");
    body["recipients"][0]["userId"] = json!(42);
    s.fire(&body)
        .await
        .problem(400, Some("/recipients/0/userId"));
    let mut body = unitary(&c, "req-type-ctx");
    body["context"] = json!("not an object");
    s.fire(&body).await.problem(400, Some("/context"));
    let mut body = unitary(&c, "req-type-ctx2");
    body["recipients"][0]["context"] = json!([1]);
    s.fire(&body)
        .await
        .problem(400, Some("/recipients/0/context"));
    let mut body = unitary(&c, "req-type-3");
    body["requestId"] = json!(["a"]);
    s.fire(&body).await.problem(400, Some("/requestId"));
    assert_eq!(s.targeted(&c).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bogus_recipient_type_is_400() {
    let s = start().await;
    let c = s.live_campaign().await;
    let mut body = unitary(&c, "req-bogus");
    body["recipients"][0]["type"] = json!("bogus");
    let r = s.fire(&body).await;
    r.problem(400, Some("/recipients/0/type"));
    assert_eq!(s.targeted(&c).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sandbox_does_not_see_the_campaign() {
    let s = start().await;
    let c = s.live_campaign().await;
    let body = unitary(&c, "req-sandbox").to_string();
    let r = s
        .raw(
            Method::POST,
            UNITARY,
            Some(body.clone()),
            &[("x-sandbox-name", "staging")],
            true,
        )
        .await;
    r.problem(404, None);
    let r = s
        .raw(
            Method::GET,
            &format!("/v1/campaigns/{c}"),
            None,
            &[("x-sandbox-name", "staging")],
            true,
        )
        .await;
    r.problem(404, None);
    // Explicit default sandbox works.
    let r = s
        .raw(
            Method::POST,
            UNITARY,
            Some(body),
            &[("x-sandbox-name", "prod")],
            true,
        )
        .await;
    assert_accepted(&r, "req-sandbox", 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_needs_no_auth() {
    let s = start().await;
    let r = s.raw(Method::GET, "/ajo/im/health", None, &[], false).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A client retrying a call whose 202 it never saw must get that 202 back,
/// even if the campaign was stopped in between: the pair (campaignId,
/// requestId) already executed, and a 409 would make the client believe
/// nothing was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_after_stop_still_returns_the_first_response() {
    let s = start().await;
    let c = s.live_campaign().await;
    let body = unitary(&c, "req-retry-after-stop");
    let first = s.fire(&body).await;
    let id = assert_accepted(&first, "req-retry-after-stop", 1);
    s.post_empty(&format!("/v1/campaigns/{c}/stop"))
        .await
        .ok(200);
    let again = s.fire(&body).await;
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(again.json["executionId"], json!(id));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(s.targeted(&c).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_over_256_bytes_is_400() {
    let s = start().await;
    let c = s.live_campaign().await;
    let long = "r".repeat(257);
    s.fire(&unitary(&c, &long))
        .await
        .problem(400, Some("/requestId"));
    let ok = "r".repeat(256);
    assert_accepted(&s.fire(&unitary(&c, &ok)).await, &ok, 1);
}

/// A body over the server's body limit (4 MiB) is still an error in the
/// contract's shape: 413 problem JSON, not a bare text answer. The request
/// announces its size and the test reads the answer before sending the body:
/// writing 5 MiB into a socket the server has already answered and closed
/// would make the client see a reset instead of the 413.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_the_server_limit_is_413_problem_json() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = start().await;
    let c = s.live_campaign().await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /ajo/im/executions/unitary HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        s.key,
        5 * 1024 * 1024
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    sock.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{answer}"
    );
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let problem: Value = serde_json::from_str(body).expect("problem JSON body");
    assert_eq!(problem["status"], 413);
    assert_eq!(s.targeted(&c).await, 0);
}

/// Several calls creating the same new profile at once: each is a valid
/// request, so each is a 202 (never a 500 from a uniqueness race), and one
/// profile exists afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_creating_the_same_profile() {
    let s = start().await;
    let c = s.live_campaign().await; // createNewProfiles: true
    let bodies: Vec<Value> = (0..10)
        .map(|i| {
            json!({"requestId": format!("req-race-{i}"), "campaignId": c,
                   "recipients": [{"type": "aep", "namespace": "email", "userId": "racer@example.com"}]})
        })
        .collect();
    let rs = futures::future::join_all(bodies.iter().map(|b| s.fire(b))).await;
    for r in &rs {
        assert_eq!(r.status, 202, "{}", r.text);
    }
    s.get("/v1/profiles/email/racer@example.com").await.ok(200);
    assert_eq!(s.targeted(&c).await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marketing_campaign_is_not_fired_through_unitary() {
    let s = start().await;
    let cfg = s.email_config("marketing").await;
    let mut def = campaign_def(&cfg);
    def["category"] = json!("marketing");
    let aud = s
        .post(
            "/v1/audiences",
            &json!({"name": "all", "rule": "profile.a != 1"}),
        )
        .await;
    def["audience"]["audienceId"] = aud.ok(201)["id"].clone();
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap();
    assert_eq!(s.activate(id).await["status"], "live");
    s.fire(&unitary(id, "req-mkt")).await.problem(409, None);
    assert_eq!(s.targeted(id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_and_messages_are_per_sandbox() {
    let s = start().await;
    let c = s.live_campaign().await;
    let r = s.fire(&unitary(&c, "req-tenant")).await;
    let id = assert_accepted(&r, "req-tenant", 1);
    let mid = r.json["recipients"][0]["messageId"].as_str().unwrap();
    for path in [
        format!("/v1/executions/{id}"),
        format!("/v1/messages/{mid}"),
    ] {
        s.get(&path).await.ok(200);
        s.raw(
            Method::GET,
            &path,
            None,
            &[("x-sandbox-name", "staging")],
            true,
        )
        .await
        .problem(404, None);
    }
}

/// Every error is problem JSON, including the router's own answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_is_problem_json() {
    let s = start().await;
    let r = s.get(UNITARY).await;
    r.problem(405, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_route_is_404_problem_json() {
    let s = start().await;
    s.get("/ajo/im/executions/nope/nope")
        .await
        .problem(404, None);
}
