//! Profiles, identity namespaces and the bulk import (API.md, "Management
//! API" and "Shapes for profiles…"), against the real SQLite store.

mod support;

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use support::*;

use herald_domain::message::RenderedEmail;
use herald_store::{DeliveryOutcome, OutcomeKind};

/// `POST /v1/profiles:import` with this content type; returns the response.
async fn import(s: &Server, content_type: &str, body: String) -> Resp {
    let r = s
        .client
        .post(s.url("/v1/profiles:import"))
        .bearer_auth(&s.key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        json,
    }
}

fn error_lines(v: &Value) -> Vec<u64> {
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_namespaces_standard_and_custom() {
    let s = start().await;
    let l = s.get("/v1/identity-namespaces").await;
    let codes: Vec<&str> = l.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["email", "phone", "ecid", "crmId"]);
    assert_eq!(
        s.get("/v1/identity-namespaces/phone").await.ok(200)["kind"],
        "phone"
    );

    let r = s
        .post(
            "/v1/identity-namespaces",
            &json!({"code": "loyaltyId", "name": "Loyalty card"}),
        )
        .await;
    let b = r.ok(201);
    assert_eq!(b["kind"], "string");
    assert_eq!(b["standard"], false);
    assert_eq!(
        r.header("location"),
        Some("/v1/identity-namespaces/loyaltyId")
    );
    s.post(
        "/v1/identity-namespaces",
        &json!({"code": "workEmail", "name": "Work email", "kind": "email"}),
    )
    .await
    .ok(201);
    assert_eq!(
        s.get("/v1/identity-namespaces/workEmail").await.ok(200)["kind"],
        "email"
    );
    let l = s.get("/v1/identity-namespaces").await;
    assert_eq!(l.ok(200)["items"].as_array().unwrap().len(), 6);

    s.post(
        "/v1/identity-namespaces",
        &json!({"code": "loyaltyId", "name": "Again"}),
    )
    .await
    .problem(409, Some("/code"));
    s.post(
        "/v1/identity-namespaces",
        &json!({"code": "email", "name": "Mine"}),
    )
    .await
    .problem(409, Some("/code"));
    for bad in ["1abc", "", "a b", "a/b"] {
        s.post(
            "/v1/identity-namespaces",
            &json!({"code": bad, "name": "Bad"}),
        )
        .await
        .problem(400, Some("/code"));
    }
    s.post(
        "/v1/identity-namespaces",
        &json!({"code": "fax", "name": "Fax", "kind": "fax"}),
    )
    .await
    .problem(400, Some("/kind"));
    s.get("/v1/identity-namespaces/nope")
        .await
        .problem(404, None);
    // Another sandbox does not see it.
    let other = s
        .raw(
            reqwest::Method::GET,
            "/v1/identity-namespaces/loyaltyId",
            None,
            &[("x-sandbox-name", "dev")],
            true,
        )
        .await;
    other.problem(404, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_identities_are_validated_and_normalized() {
    let s = start().await;
    s.put(
        "/v1/profiles/email/not-an-email",
        &json!({"attributes": {}}),
    )
    .await
    .problem(400, Some("/id"));
    let r = s.put("/v1/profiles/fax/123", &json!({})).await;
    r.problem(400, Some("/namespace"));
    assert_eq!(r.json["errors"][0]["code"], "unknown_namespace");
    let r = s
        .put(
            "/v1/profiles/email/ann@example.com",
            &json!({"identities": [{"namespace": "crmId", "id": "C1"}, {"namespace": "phone", "id": "12"}]}),
        )
        .await;
    r.problem(400, Some("/identities/1/id"));
    assert_eq!(r.json["errors"][0]["code"], "invalid_phone");
    s.put(
        "/v1/profiles/email/ann@example.com",
        &json!({"identities": [{"namespace": "fax", "id": "1"}]}),
    )
    .await
    .problem(400, Some("/identities/0/namespace"));
    s.put(
        "/v1/profiles/email/ann@example.com",
        &json!({"attributes": [1]}),
    )
    .await
    .problem(400, Some("/attributes"));

    // Phone numbers are stored in E.164, emails with a lower-case domain.
    let r = s
        .put(
            "/v1/profiles/phone/+33%206%2012%2034%2056%2078",
            &json!({"attributes": {"person": {"name": {"firstName": "Léa"}}},
                    "identities": [{"namespace": "email", "id": " Lea@Exemple.FR "}]}),
        )
        .await;
    let p = r.ok(201);
    let ids: Vec<(String, String)> = p["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["namespace"].as_str().unwrap().to_string(),
                i["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("email".to_string(), "Lea@exemple.fr".to_string()),
            ("phone".to_string(), "+33612345678".to_string())
        ]
    );
    let g = s.get("/v1/profiles/phone/0033612345678").await;
    assert_eq!(g.ok(200)["id"], p["id"]);

    // Custom namespaces are accepted once created, with their kind's rules.
    s.put("/v1/profiles/loyaltyId/L-1", &json!({"attributes": {}}))
        .await
        .problem(400, Some("/namespace"));
    s.post(
        "/v1/identity-namespaces",
        &json!({"code": "loyaltyId", "name": "Loyalty card"}),
    )
    .await
    .ok(201);
    s.put("/v1/profiles/loyaltyId/L-1", &json!({"attributes": {}}))
        .await
        .ok(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_merge_on_upsert() {
    let s = start().await;
    let r = s
        .put(
            "/v1/profiles/email/ann@example.com",
            &json!({"attributes": {"person": {"name": {"firstName": "Ann"}}},
                    "identities": [{"namespace": "crmId", "id": "C1"}]}),
        )
        .await;
    let id = r.ok(201)["id"].clone();

    // The second identity finds the same profile.
    let r = s
        .put(
            "/v1/profiles/crmId/C1",
            &json!({"attributes": {"preferredLanguage": "fr-FR", "consents": {"marketing": {"email": {"val": "y"}}}}}),
        )
        .await;
    let p = r.ok(200);
    assert_eq!(p["id"], id);
    assert_eq!(p["attributes"]["person"]["name"]["firstName"], "Ann");
    assert_eq!(p["attributes"]["preferredLanguage"], "fr-FR");
    for path in [
        "/v1/profiles/email/ann@EXAMPLE.com",
        "/v1/profiles/crmId/C1",
    ] {
        let g = s.get(path).await;
        let g = g.ok(200);
        assert_eq!(g["id"], id, "{path}");
        assert_eq!(
            g["attributes"]["consents"]["marketing"]["email"]["val"],
            "y"
        );
    }

    // A new path identity with a known extra identity joins that profile.
    let r = s
        .put(
            "/v1/profiles/email/ann.work@example.com",
            &json!({"identities": [{"namespace": "crmId", "id": "C1"}]}),
        )
        .await;
    assert_eq!(r.ok(200)["id"], id);
    assert_eq!(
        s.get("/v1/profiles/email/ann.work@example.com")
            .await
            .ok(200)["id"],
        id
    );

    // An identity of another profile is never moved silently.
    let bob = s
        .put(
            "/v1/profiles/email/bob@example.com",
            &json!({"attributes": {}}),
        )
        .await
        .ok(201)["id"]
        .clone();
    let r = s
        .put(
            "/v1/profiles/email/bob@example.com",
            &json!({"attributes": {"person": {"name": {"firstName": "Bob"}}},
                    "identities": [{"namespace": "ecid", "id": "E-9"}, {"namespace": "crmId", "id": "C1"}]}),
        )
        .await;
    r.problem(409, Some("/identities/1"));
    assert!(
        r.json["detail"].as_str().unwrap().contains("crmId/C1"),
        "{}",
        r.text
    );
    assert_eq!(s.get("/v1/profiles/crmId/C1").await.ok(200)["id"], id);
    let b = s.get("/v1/profiles/email/bob@example.com").await;
    let b = b.ok(200);
    assert_eq!(b["id"], bob);
    assert_eq!(b["attributes"], json!({}), "nothing written on a 409");
    s.get("/v1/profiles/ecid/E-9").await.problem(404, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_search_profiles_with_keyset_pages() {
    let s = start().await;
    for (i, name) in ["ann", "bob", "cat", "cora", "dan"].iter().enumerate() {
        s.put(
            &format!("/v1/profiles/email/{name}@example.com"),
            &json!({"identities": [{"namespace": "crmId", "id": format!("CRM-{i}")}]}),
        )
        .await
        .ok(201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _page in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/v1/profiles?limit=2&cursor={c}"),
            None => "/v1/profiles?limit=2".to_string(),
        };
        let r = s.get(&path).await;
        let v = r.ok(200).clone();
        let items = v["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|p| p["id"].as_str().unwrap().to_string()));
        match v["next"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "no profile twice: {seen:?}");

    let emails = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                p["identities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|i| i["namespace"] == "email")
                    .unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let r = s.get("/v1/profiles?namespace=email&q=c").await;
    assert_eq!(emails(r.ok(200)), ["cat@example.com", "cora@example.com"]);
    let r = s.get("/v1/profiles?namespace=email&q=c&limit=1").await;
    let v = r.ok(200).clone();
    assert_eq!(emails(&v), ["cat@example.com"]);
    let next = v["next"].as_str().unwrap();
    let r = s
        .get(&format!(
            "/v1/profiles?namespace=email&q=c&limit=1&cursor={next}"
        ))
        .await;
    let v = r.ok(200).clone();
    assert_eq!(emails(&v), ["cora@example.com"]);
    assert!(v.get("next").is_none(), "{v}");
    // Without a namespace, q matches any identity.
    let r = s.get("/v1/profiles?q=CRM-3").await;
    assert_eq!(emails(r.ok(200)), ["cora@example.com"]);
    s.get("/v1/profiles?namespace=fax")
        .await
        .problem(400, Some("/namespace"));
    s.get("/v1/profiles?limit=abc")
        .await
        .problem(400, Some("/limit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unitary_recipients_with_bad_emails_or_phones_are_400() {
    let s = start().await;
    let id = s.live_campaign().await;
    let mut body = unitary(&id, "r-1");
    body["recipients"][0]["userId"] = json!("not-an-email");
    let r = s.fire(&body).await;
    r.problem(400, Some("/recipients/0/userId"));
    assert_eq!(r.json["errors"][0]["code"], "invalid_email");

    let mut body = unitary(&id, "r-2");
    body["recipients"][0]["namespace"] = json!("phone");
    body["recipients"][0]["userId"] = json!("12");
    let r = s.fire(&body).await;
    r.problem(400, Some("/recipients/0/userId"));
    assert_eq!(r.json["errors"][0]["code"], "invalid_phone");

    let mut body = unitary(&id, "r-3");
    body["recipients"][0]["channelData"] = json!({"mobilePhoneNumber": "call me"});
    let r = s.fire(&body).await;
    r.problem(400, Some("/recipients/0/channelData/mobilePhoneNumber"));

    // Valid international numbers pass.
    let mut body = unitary(&id, "r-4");
    body["recipients"][0]["channelData"] = json!({"mobilePhoneNumber": "+44 20 7946 0958"});
    s.fire(&body).await.ok(202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_profile_scrubs_its_messages() {
    let s = start().await;
    let campaign = s.live_campaign().await;
    s.put(
        "/v1/profiles/email/jane@example.com",
        &json!({"attributes": {"person": {"name": {"firstName": "Jane"}}},
                "identities": [{"namespace": "crmId", "id": "J-1"}]}),
    )
    .await
    .ok(201);
    let r = s
        .fire(&json!({
            "requestId": "del-1", "campaignId": campaign,
            "recipients": [{"type": "aep", "namespace": "email", "userId": "jane@example.com",
                            "context": {"resetUrl": "https://accounts.example.com/r/secret"}}],
            "context": {"shop": "North Store"}
        }))
        .await;
    let exec_id = r.ok(202)["executionId"].as_str().unwrap().to_string();
    let exec = s.execution(&exec_id).await;
    let message_id = exec["messages"][0]["messageId"]
        .as_str()
        .unwrap()
        .to_string();

    // Deliver it by hand (no engine in these tests): claimed and sent, so
    // the message holds its rendered content.
    let claimed = s
        .store
        .claim_messages("w", 10, Duration::from_secs(30), Utc::now())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    s.store
        .complete_messages(vec![DeliveryOutcome {
            message_id: message_id.clone(),
            worker: "w".into(),
            at: Utc::now(),
            kind: OutcomeKind::Sent {
                reply: "250 ok: queued for jane@example.com".into(),
                rendered: RenderedEmail {
                    subject: "Reset your password, Jane".into(),
                    preheader: None,
                    html: Some("<p>Hi Jane, https://accounts.example.com/r/secret</p>".into()),
                    text: "Hi Jane, https://accounts.example.com/r/secret".into(),
                    ..RenderedEmail::default()
                },
                header_message_id: "<m1@herald>".into(),
            },
        }])
        .await
        .unwrap();
    let before = s.get(&format!("/v1/messages/{message_id}")).await;
    let before = before.ok(200).clone();
    assert_eq!(before["address"], "jane@example.com");
    assert_eq!(before["status"], "sent");
    assert!(
        before["rendered"]["text"]
            .as_str()
            .unwrap()
            .contains("Jane")
    );

    let d = s.delete("/v1/profiles/crmId/J-1").await;
    assert_eq!(d.status, 204, "{}", d.text);
    s.delete("/v1/profiles/crmId/J-1").await.problem(404, None);
    s.get("/v1/profiles/email/jane@example.com")
        .await
        .problem(404, None);

    let after = s.get(&format!("/v1/messages/{message_id}")).await;
    let after = after.ok(200).clone();
    assert_eq!(after["status"], "sent", "the status stays: {after}");
    assert_eq!(after["messageId"], before["messageId"]);
    assert_eq!(after["campaignId"], before["campaignId"]);
    assert_eq!(after["attempts"], before["attempts"]);
    assert_eq!(after["sentAt"], before["sentAt"]);
    assert_eq!(after["userId"], "[deleted]");
    assert!(after.get("address").is_none(), "{after}");
    assert!(after.get("rendered").is_none(), "{after}");
    let text = after.to_string();
    for secret in ["jane", "Jane", "secret"] {
        assert!(!text.contains(secret), "{secret} left in {text}");
    }
    // The report still counts it.
    assert_eq!(s.targeted(&campaign).await, 1);
    // The profile can be created again, from scratch.
    let again = s
        .put("/v1/profiles/email/jane@example.com", &json!({}))
        .await;
    assert_eq!(again.ok(201)["attributes"], json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_with_bad_rows() {
    let s = start().await;
    s.post(
        "/v1/identity-namespaces",
        &json!({"code": "loyaltyId", "name": "Loyalty card"}),
    )
    .await
    .ok(201);
    let csv = "email,crmId,loyaltyId,person.name.firstName,consents.marketing.email.val,preferredLanguage\n\
               ann@example.com,C-1,L-1,Ann,y,en-US\n\
               not-an-email,C-2,,Bad,y,\n\
               ,,,NoIdentity,n,\n\
               bob@Example.COM,,,Bob,n,fr-FR\n\
               \"carol@example.com\",C-3,,\"Carol, \"\"CJ\"\"\nSmith\",y,\n\
               dan@example.com,C-4,too,many,cells,here,x\n";
    let r = import(&s, "text/csv", csv.to_string()).await;
    let v = r.ok(200).clone();
    assert_eq!(v["created"], 3, "{v}");
    assert_eq!(v["updated"], 0);
    assert_eq!(v["rejected"], 3);
    assert_eq!(error_lines(&v), [3, 4, 8], "{v}");
    let msgs: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(msgs[0].contains("not an email address"), "{msgs:?}");
    assert!(msgs[1].contains("no identity"), "{msgs:?}");
    assert!(msgs[2].contains("fields"), "{msgs:?}");

    let bob = s.get("/v1/profiles/email/bob@example.com").await;
    let bob = bob.ok(200);
    assert_eq!(bob["attributes"]["person"]["name"]["firstName"], "Bob");
    assert_eq!(bob["attributes"]["preferredLanguage"], "fr-FR");
    assert!(bob["attributes"].get("loyaltyId").is_none());
    let ann = s.get("/v1/profiles/loyaltyId/L-1").await;
    let ann = ann.ok(200);
    assert_eq!(ann["identities"].as_array().unwrap().len(), 3);
    assert_eq!(
        ann["attributes"]["consents"]["marketing"]["email"]["val"],
        "y"
    );
    let carol = s.get("/v1/profiles/crmId/C-3").await;
    assert_eq!(
        carol.ok(200)["attributes"]["person"]["name"]["firstName"],
        "Carol, \"CJ\"\nSmith"
    );

    // The same file again: the good rows update.
    let r = import(&s, "text/csv; charset=utf-8", csv.to_string()).await;
    let v = r.ok(200).clone();
    assert_eq!(
        (v["created"].clone(), v["updated"].clone()),
        (json!(0), json!(3)),
        "{v}"
    );

    // A header without any identity column fails the whole request.
    import(&s, "text/csv", "name,city\nAnn,Paris\n".into())
        .await
        .problem(400, None);
    import(&s, "application/json", "{}".into())
        .await
        .problem(415, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_import_rejects_bad_lines_and_spans_batches() {
    let s = start().await;
    s.put(
        "/v1/profiles/email/ann@example.com",
        &json!({"identities": [{"namespace": "crmId", "id": "C-ANN"}]}),
    )
    .await
    .ok(201);
    s.put("/v1/profiles/crmId/C-BOB", &json!({})).await.ok(201);
    let mut body = String::new();
    body.push_str(r#"{"identities": [{"namespace": "email", "id": "ann@example.com"}], "attributes": {"person": {"name": {"firstName": "Ann"}}}}"#);
    body.push('\n');
    body.push_str("{not json\n");
    body.push('\n'); // blank: skipped, still a line
    body.push_str(r#"{"identities": [{"namespace": "fax", "id": "1"}]}"#);
    body.push('\n');
    body.push_str(
        r#"{"identities": [{"namespace": "email", "id": "x@example.com"}], "attributes": "no"}"#,
    );
    body.push('\n');
    // Two identities of two different profiles.
    body.push_str(r#"{"identities": [{"namespace": "email", "id": "ann@example.com"}, {"namespace": "crmId", "id": "C-BOB"}]}"#);
    body.push('\n');
    // 2,500 new profiles: three batches.
    for i in 0..2500 {
        body.push_str(&format!(
            r#"{{"identities": [{{"namespace": "email", "id": "user{i}@example.com"}}, {{"namespace": "phone", "id": "+1 415 253 {:04}"}}], "attributes": {{"n": {i}}}}}"#,
            i % 10000
        ));
        body.push('\n');
    }
    // The last line has no line end.
    body.push_str(r#"{"identities": [{"namespace": "email", "id": "user7@example.com"}], "attributes": {"last": true}}"#);
    let r = import(&s, "application/x-ndjson", body).await;
    let v = r.ok(200).clone();
    assert_eq!(v["created"], 2500, "{v}");
    assert_eq!(v["updated"], 2, "{v}");
    assert_eq!(v["rejected"], 4, "{v}");
    assert_eq!(error_lines(&v), [2, 4, 5, 6], "{v}");
    assert!(
        v["errors"][3]["message"]
            .as_str()
            .unwrap()
            .contains("another profile"),
        "{v}"
    );
    let u = s.get("/v1/profiles/phone/+14152530007").await;
    let u = u.ok(200);
    assert_eq!(u["attributes"], json!({"n": 7, "last": true}));
    assert_eq!(
        s.get("/v1/profiles/email/ann@example.com").await.ok(200)["attributes"]["person"]["name"]["firstName"],
        "Ann"
    );
    let page = s
        .get("/v1/profiles?namespace=email&q=user24&limit=200")
        .await;
    // user24, user240..249, user2400..2499
    assert_eq!(page.ok(200)["items"].as_array().unwrap().len(), 111);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_profile_cancels_its_queued_messages() {
    let s = start().await;
    let c = s.live_campaign().await;
    let mut body = unitary(&c, "del-queued");
    body["recipients"][0]["type"] = json!("aep");
    let r = s.fire(&body).await;
    let message_id = r.ok(202)["recipients"][0]["messageId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(r.json["recipients"][0]["status"], "queued");
    let d = s.delete("/v1/profiles/email/jane@example.com").await;
    assert_eq!(d.status, 204, "{}", d.text);
    let m = s.get(&format!("/v1/messages/{message_id}")).await;
    let m = m.ok(200);
    assert_eq!(m["status"], "excluded", "{m}");
    assert_eq!(m["exclusionReason"], "profileDeleted", "{m}");
    assert!(m["address"].is_null(), "{m}");
}
