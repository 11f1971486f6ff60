//! `missingValues: "fail"` through a unitary call.

mod support;

use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_missing_a_value_is_excluded_with_the_path_and_others_go() {
    let s = start().await;
    let id = s
        .live_campaign_with(json!({"missingValues": "fail",
            "content": {"email": {"subject": "Hi {{profile.person.name.firstName}}",
                                  "html": "<p>Order {{context.order.id}}</p>", "text": null}}}))
        .await;
    let r = s
        .fire(
            &json!({"requestId": "mv-1", "campaignId": id, "context": {"order": {"id": "7"}},
            "recipients": [
                {"type": "external", "namespace": "email", "userId": "ann@example.com",
                 "profile": {"person": {"name": {"firstName": "Ann"}}}},
                {"type": "external", "namespace": "email", "userId": "bob@example.com",
                 "profile": {"person": {}}}]}),
        )
        .await;
    let b = r.ok(202).clone();
    assert_eq!(b["recipients"][0]["status"], "queued");
    assert_eq!(b["recipients"][1]["status"], "excluded");
    assert_eq!(b["recipients"][1]["reason"], "missingValue");
    let e = s.execution(b["executionId"].as_str().unwrap()).await;
    let bob = &e["messages"][1];
    assert_eq!(bob["reason"], "missingValue");
    assert!(
        bob["lastError"]
            .as_str()
            .unwrap()
            .contains("profile.person.name.firstName"),
        "{bob}"
    );
    let l = s
        .get(&format!("/v1/messages?campaignId={id}&status=excluded"))
        .await;
    let items = l.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["userId"], "bob@example.com");
    let report = s.report(&id).await;
    assert_eq!(report["excluded"]["byReason"]["missingValue"], 1);
    assert_eq!(report["byStatus"]["queued"], 1);

    // With the default policy the same call sends both.
    let lenient = s
        .live_campaign_with(
            json!({"content": {"email": {"subject": "Hi {{profile.person.name.firstName}}"}}}),
        )
        .await;
    let r = s
        .fire(&json!({"requestId": "mv-2", "campaignId": lenient, "recipients": [
            {"type": "external", "namespace": "email", "userId": "bob@example.com", "profile": {}}]}))
        .await;
    assert_eq!(r.ok(202)["recipients"][0]["status"], "queued");
}
