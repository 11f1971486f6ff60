//! Herald against the reference's own schemas (messaging.yaml): its samples
//! and Herald's answers.

mod support;

use serde_json::{Value, json};
use support::reference::{assert_valid, errors, fixtures_dir, validators};
use support::*;

fn samples(campaign_id: &str) -> Vec<(String, Value)> {
    let dir = fixtures_dir().join("ajo-samples");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with("unitary-") && n.ends_with(".json")
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .unwrap()
                .replace("REPLACE-WITH-CAMPAIGN-ID", campaign_id);
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), 4, "the four unitary samples");
    out
}

#[test]
fn the_samples_are_valid_reference_requests() {
    let v = validators();
    for (name, body) in samples("c-123") {
        assert_valid(&v.request, &body, &name);
    }
}

/// Why `reference::components` applies the discriminator: read literally,
/// `oneOf: [AEPRecipient, ExternalRecipient]` matches both variants for any
/// recipient (they differ only in the discriminator), so JSON Schema
/// rejects every request, the reference's own samples included.
#[test]
fn the_literal_schema_needs_its_discriminator() {
    let literal = support::reference::literal_validator("imExecutionRequestUnitary");
    let (_, sample) = samples("c-1").remove(0);
    assert!(!errors(&literal, &sample).is_empty());
    assert_valid(&validators().request, &sample, "with discriminator");
}

#[test]
fn the_validator_can_fail() {
    let v = validators();
    let good = unitary("c-1", "r-1");
    assert_valid(&v.request, &good, "baseline");

    let mut no_recipients = good.clone();
    no_recipients.as_object_mut().unwrap().remove("recipients");
    assert!(
        !errors(&v.request, &no_recipients).is_empty(),
        "no recipients must fail"
    );

    let mut empty = good.clone();
    empty["recipients"] = json!([]);
    assert!(!errors(&v.request, &empty).is_empty(), "minItems 1");

    let mut many = good.clone();
    many["recipients"] = recipients(21);
    assert!(!errors(&v.request, &many).is_empty(), "maxItems 20");

    let mut no_user = good.clone();
    no_user["recipients"][0]
        .as_object_mut()
        .unwrap()
        .remove("userId");
    assert!(!errors(&v.request, &no_user).is_empty(), "userId required");

    let mut bogus = good.clone();
    bogus["recipients"][0]["type"] = json!("bogus");
    assert!(
        !errors(&v.request, &bogus).is_empty(),
        "type must be aep or external"
    );

    let mut ctx = good.clone();
    ctx["recipients"][0]["context"] = json!({"count": 3});
    assert!(
        !errors(&v.request, &ctx).is_empty(),
        "context values are strings or objects"
    );

    let mut wrong = good.clone();
    wrong["recipients"] = json!("x");
    assert!(!errors(&v.request, &wrong).is_empty());

    assert!(!errors(&v.response, &json!({"createdAt": "yesterday"})).is_empty());
    assert!(!errors(&v.error, &json!({"status": "400"})).is_empty());
    assert!(!errors(&v.error, &json!({"report": {}})).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_accepts_the_samples_with_reference_responses() {
    let s = start().await;
    let c = s.live_campaign().await; // email, createNewProfiles: true
    let v = validators();
    for (name, body) in samples(&c) {
        let r = s.fire(&body).await;
        assert_eq!(r.status, 202, "{name}: {}", r.text);
        assert_valid(&v.response, &r.json, &name);
        let n = body["recipients"].as_array().unwrap().len();
        assert_eq!(r.json["recipients"].as_array().unwrap().len(), n, "{name}");
        // And the replay is the same reference response.
        let again = s.fire(&body).await;
        assert_eq!(again.json, r.json, "{name}");
        assert_valid(&v.response, &again.json, &name);
    }
    // The override sample sends to its channelData address.
    let (_, body) = samples(&c)
        .into_iter()
        .find(|(n, _)| n.contains("override"))
        .unwrap();
    let r = s.fire(&body).await;
    let e = s.execution(r.json["executionId"].as_str().unwrap()).await;
    assert_eq!(e["messages"][0]["address"], "j.okafor@work.example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_errors_have_the_reference_error_shape() {
    let s = start().await;
    let c = s.live_campaign().await;
    let v = validators();
    let mut bodies = vec![];
    let mut b = unitary(&c, "e-1");
    b["recipients"] = json!([]);
    bodies.push(b);
    bodies.push(unitary("missing", "e-2"));
    let mut b = unitary(&c, "e-3");
    b["recipients"][0]["type"] = json!("bogus");
    bodies.push(b);
    let mut b = unitary(&c, "e-4");
    b["context"] = json!({"blob": "x".repeat(201 * 1024)});
    bodies.push(b);
    for body in bodies {
        let r = s.fire(&body).await;
        assert!(r.status >= 400, "{}", r.text);
        assert_valid(&v.error, &r.json, "error body");
        assert!(r.json["detail"].is_string(), "RFC 9457 detail: {}", r.text);
    }
    let r = s
        .raw(
            reqwest::Method::POST,
            "/ajo/im/executions/unitary",
            Some("{".into()),
            &[],
            true,
        )
        .await;
    assert_valid(&v.error, &r.json, "malformed body error");
    let r = s
        .raw(
            reqwest::Method::POST,
            "/ajo/im/executions/unitary",
            Some("{}".into()),
            &[],
            false,
        )
        .await;
    assert_eq!(r.status, 401);
    assert_valid(&v.error, &r.json, "401 body");
}
