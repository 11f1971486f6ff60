//! Proofs: validation, the stored message marked as a proof, reports
//! untouched. (Delivery itself is covered end to end in crates/herald.)

mod support;

use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_are_validated_stored_as_proofs_and_never_counted() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    // A draft works: the definition being edited is rendered.
    let c = s.create_campaign(&campaign_def(&cfg)).await;
    let id = c["id"].as_str().unwrap().to_string();
    let path = format!("/v1/campaigns/{id}/proofs");

    let r = s
        .post(
            &path,
            &json!({"addresses": ["qa@example.com", "lead@example.com"],
                    "profile": {"person": {"name": {"firstName": "Jane"}}},
                    "context": {"resetUrl": "https://x.example/r", "shop": "North"}}),
        )
        .await;
    let b = r.ok(202).clone();
    let proofs = b["proofs"].as_array().unwrap();
    assert_eq!(proofs.len(), 2);
    assert_eq!(proofs[0]["address"], "qa@example.com");
    let m = s
        .get(&format!(
            "/v1/messages/{}",
            proofs[0]["messageId"].as_str().unwrap()
        ))
        .await;
    let m = m.ok(200);
    assert_eq!(m["proof"], true);
    assert_eq!(m["status"], "queued");
    assert_eq!(m["address"], "qa@example.com");
    assert_eq!(
        m["rendered"]["subject"],
        "[Proof] Reset your password, Jane"
    );
    assert_eq!(m["campaignId"], json!(id));

    // Custom prefix (empty allowed).
    let r = s
        .post(
            &path,
            &json!({"addresses": ["qa@example.com"], "subjectPrefix": "",
                    "profile": {"person": {"name": {"firstName": "Jo"}}}}),
        )
        .await;
    let mid = r.ok(202)["proofs"][0]["messageId"]
        .as_str()
        .unwrap()
        .to_string();
    let m = s.get(&format!("/v1/messages/{mid}")).await;
    assert_eq!(m.ok(200)["rendered"]["subject"], "Reset your password, Jo");

    // Reports and counts never see proofs.
    let report = s.report(&id).await;
    assert_eq!(report["targeted"], 0, "{report}");
    assert_eq!(report["byStatus"]["queued"], 0);

    // Nor do message listings, unless asked.
    let l = s.get(&format!("/v1/messages?campaignId={id}")).await;
    assert_eq!(l.ok(200)["items"], json!([]), "{}", l.text);
    let l = s
        .get(&format!(
            "/v1/messages?campaignId={id}&includeProofs=true&limit=2"
        ))
        .await;
    let page = l.ok(200).clone();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["proof"] == true)
    );
    let next = page["next"].as_str().unwrap();
    let l = s
        .get(&format!(
            "/v1/messages?campaignId={id}&includeProofs=true&limit=2&cursor={next}"
        ))
        .await;
    let page = l.ok(200).clone();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert!(page["next"].is_null());
    s.get("/v1/messages?status=bogus")
        .await
        .problem(400, Some("/status"));

    // Bad input: pointers.
    let r = s
        .post(
            &path,
            &json!({"addresses": ["ok@example.com", "not-an-address"]}),
        )
        .await;
    r.problem(400, Some("/addresses/1"));
    let eleven: Vec<String> = (0..11).map(|i| format!("u{i}@example.com")).collect();
    s.post(&path, &json!({"addresses": eleven}))
        .await
        .problem(400, Some("/addresses"));
    s.post(&path, &json!({"addresses": []}))
        .await
        .problem(400, Some("/addresses"));
    s.post(
        &path,
        &json!({"addresses": ["a@example.com"], "subjectPrefix": "a\nb"}),
    )
    .await
    .problem(400, Some("/subjectPrefix"));
    s.post(
        "/v1/campaigns/nope/proofs",
        &json!({"addresses": ["a@example.com"]}),
    )
    .await
    .problem(404, None);

    // No such channel configuration: 422 naming the field.
    let mut def = campaign_def("no-such-config");
    def["name"] = json!("Orphan");
    let orphan = s.create_campaign(&def).await;
    s.post(
        &format!("/v1/campaigns/{}/proofs", orphan["id"].as_str().unwrap()),
        &json!({"addresses": ["a@example.com"]}),
    )
    .await
    .problem(422, Some("/action/channelConfigurationId"));

    // A template error: 422 naming the field.
    let mut def = campaign_def(&cfg);
    def["content"]["email"]["subject"] = json!("Hi {{profile.name");
    let broken = s.create_campaign(&def).await;
    let r = s
        .post(
            &format!("/v1/campaigns/{}/proofs", broken["id"].as_str().unwrap()),
            &json!({"addresses": ["a@example.com"]}),
        )
        .await;
    r.problem(422, Some("/content/email/subject"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_of_a_multilingual_campaign_uses_the_locale_asked_for() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let settings = s
        .post(
            "/v1/language-settings",
            &json!({"name": "EU", "locales": ["en-US", "fr-FR"]}),
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut def = campaign_def(&cfg);
    def["languageSettingsId"] = json!(settings);
    def["content"] = json!({"locales": {
        "en-US": {"email": {"subject": "Hello", "text": "Hello"}},
        "fr-FR": {"email": {"subject": "Bonjour", "text": "Bonjour"}}}});
    let c = s.create_campaign(&def).await;
    let path = format!("/v1/campaigns/{}/proofs", c["id"].as_str().unwrap());
    let r = s
        .post(
            &path,
            &json!({"addresses": ["qa@example.com"], "locale": "fr-FR"}),
        )
        .await;
    let mid = r.ok(202)["proofs"][0]["messageId"]
        .as_str()
        .unwrap()
        .to_string();
    let m = s.get(&format!("/v1/messages/{mid}")).await;
    assert_eq!(m.ok(200)["rendered"]["subject"], "[Proof] Bonjour");
    assert_eq!(m.json["locale"], "fr-FR");
    // No locale asked for and none matches (no fallback): 422.
    s.post(&path, &json!({"addresses": ["qa@example.com"]}))
        .await
        .problem(422, None);
}
