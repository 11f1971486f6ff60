//! End-to-end content features: multilingual campaigns (and, below,
//! fragments and proofs) through the real binary, delivered into the
//! Maildir outbox and parsed with mail-parser.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use mail_parser::MessageParser;
use serde_json::{Value, json};

use support::{Herald, HeraldOptions, read_maildir_new, wait_for};

/// Subject of every mail in the outbox, keyed by recipient address.
fn subjects_by_recipient(raw: &[Vec<u8>]) -> BTreeMap<String, String> {
    raw.iter()
        .map(|r| {
            let m = MessageParser::default().parse(r).expect("mail parses");
            let to = m
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or("")
                .to_string();
            (to, m.subject().unwrap_or("").to_string())
        })
        .collect()
}

fn recipient(user: &str, lang: &str) -> Value {
    json!({"type": "external", "namespace": "email", "userId": format!("{user}@example.com"),
           "profile": {"person": {"name": {"firstName": user}}, "preferredLanguage": lang}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multilingual_unitary_call_delivers_each_recipient_in_their_locale() {
    let herald = Herald::start(HeraldOptions::outbox()).await;
    let outbox = herald.outbox_maildir();
    let cfg = herald.create_email_configuration().await;
    let content = |greeting: &str| {
        json!({"email": {"subject": format!("{greeting} {{{{profile.person.name.firstName}}}}"),
                         "html": format!("<p>{greeting}!</p>"), "text": format!("{greeting}!")}})
    };
    let campaign = |settings: &str, fallback_content: bool| {
        let mut locales = json!({"en-US": content("Hello"), "fr-FR": content("Bonjour")});
        if fallback_content {
            locales["es-ES"] = content("Hola");
        }
        json!({
            "name": "Multilingual",
            "category": "transactional",
            "action": {"channel": "email", "channelConfigurationId": cfg},
            "languageSettingsId": settings,
            "content": {"locales": locales},
            "audience": {"identityNamespace": "email"}
        })
    };

    // Three locales with a fallback.
    let with_fallback = herald
        .post(
            "/v1/language-settings",
            &json!({"name": "Three", "locales": ["en-US", "fr-FR", "es-ES"], "fallbackLocale": "es-ES"}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = herald
        .post("/v1/campaigns", &campaign(&with_fallback, true), 201)
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    herald.activate(&id).await;

    // The same locales without one.
    let strict = herald
        .post(
            "/v1/language-settings",
            &json!({"name": "Strict", "locales": ["en-US", "fr-FR"]}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = herald
        .post("/v1/campaigns", &campaign(&strict, false), 201)
        .await;
    let strict_id = c["id"].as_str().unwrap().to_string();
    herald.activate(&strict_id).await;

    let accepted = herald
        .fire_unitary(
            &id,
            "ml-e2e-1",
            vec![
                recipient("ann", "en-US"),
                recipient("bea", "fr-CA"),
                recipient("dan", "de-DE"),
            ],
            json!({}),
        )
        .await;
    let strict_accepted = herald
        .fire_unitary(
            &strict_id,
            "ml-e2e-2",
            vec![recipient("eve", "fr-FR"), recipient("zed", "ja-JP")],
            json!({}),
        )
        .await;
    assert_eq!(strict_accepted["recipients"][1]["status"], "excluded");
    assert_eq!(strict_accepted["recipients"][1]["reason"], "noLocale");

    let done = herald
        .wait_final(accepted["executionId"].as_str().unwrap())
        .await;
    let strict_done = herald
        .wait_final(strict_accepted["executionId"].as_str().unwrap())
        .await;
    let raw = wait_for(Duration::from_secs(20), "4 mails in the outbox", || {
        let r = read_maildir_new(&outbox);
        (r.len() >= 4).then_some(r)
    })
    .await;
    assert_eq!(raw.len(), 4, "exactly 4 mails: zed is not sent to");
    let subjects = subjects_by_recipient(&raw);
    assert_eq!(subjects["ann@example.com"], "Hello ann");
    assert_eq!(subjects["bea@example.com"], "Bonjour bea");
    assert_eq!(subjects["dan@example.com"], "Hola dan");
    assert_eq!(subjects["eve@example.com"], "Bonjour eve");

    let locales: Vec<Value> = done["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["locale"].clone())
        .collect();
    assert_eq!(
        locales,
        vec![json!("en-US"), json!("fr-FR"), json!("es-ES")]
    );
    let zed = &strict_done["messages"][1];
    assert_eq!(zed["status"], "excluded");
    assert_eq!(zed["reason"], "noLocale");
    assert!(zed["locale"].is_null());
    let m = herald
        .message(accepted["recipients"][1]["messageId"].as_str().unwrap())
        .await;
    assert_eq!(m["locale"], "fr-FR");
    assert_eq!(m["rendered"]["subject"], "Bonjour bea");

    let report = herald.get(&format!("/v1/campaigns/{id}/report")).await;
    assert_eq!(
        report["byLocale"],
        json!({"en-US": 1, "es-ES": 1, "fr-FR": 1})
    );
    let report = herald
        .get(&format!("/v1/campaigns/{strict_id}/report"))
        .await;
    assert_eq!(report["byLocale"], json!({"fr-FR": 1}));
    assert_eq!(report["excluded"]["byReason"]["noLocale"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_are_delivered_as_activated_until_reactivation() {
    let herald = Herald::start(HeraldOptions::outbox()).await;
    let outbox = herald.outbox_maildir();
    let cfg = herald.create_email_configuration().await;
    let f = herald
        .post(
            "/v1/fragments",
            &json!({"name": "Brand", "content": "{% let brand = \"Acme\" %}[{{brand}} v1]"}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = herald
        .post(
            "/v1/campaigns",
            &json!({
                "name": "Fragments",
                "category": "transactional",
                "action": {"channel": "email", "channelConfigurationId": cfg},
                "content": {"email": {
                    "subject": format!("{{{{fragment id='ajo:{f}'}}}} for {{{{profile.person.name.firstName}}}} from {{{{brand}}}}"),
                    "text": "body"}},
                "audience": {"identityNamespace": "email"}
            }),
            201,
        )
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    herald.activate(&id).await;
    // A new fragment version does not reach the live version…
    let (status, _) = herald
        .request(
            reqwest::Method::PUT,
            &format!("/v1/fragments/{f}"),
            Some(&json!({"content": "{% let brand = \"Acme\" %}[{{brand}} v2]"})),
        )
        .await;
    assert_eq!(status, 200);
    let e = herald
        .fire_unitary(&id, "frag-1", vec![recipient("ann", "en")], json!({}))
        .await;
    herald.wait_final(e["executionId"].as_str().unwrap()).await;
    let raw = wait_for(Duration::from_secs(20), "1 mail", || {
        let r = read_maildir_new(&outbox);
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(
        subjects_by_recipient(&raw)["ann@example.com"],
        "[Acme v1] for ann from Acme"
    );
    // …until the campaign is activated again.
    herald
        .request(
            reqwest::Method::PATCH,
            &format!("/v1/campaigns/{id}"),
            Some(&json!({"description": "v2"})),
        )
        .await;
    herald.activate(&id).await;
    let e = herald
        .fire_unitary(&id, "frag-2", vec![recipient("bob", "en")], json!({}))
        .await;
    herald.wait_final(e["executionId"].as_str().unwrap()).await;
    let raw = wait_for(Duration::from_secs(20), "2 mails", || {
        let r = read_maildir_new(&outbox);
        (r.len() >= 2).then_some(r)
    })
    .await;
    assert_eq!(
        subjects_by_recipient(&raw)["bob@example.com"],
        "[Acme v2] for bob from Acme"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_arrives_prefixed_and_leaves_the_report_alone() {
    let herald = Herald::start(HeraldOptions::outbox()).await;
    let outbox = herald.outbox_maildir();
    let id = herald
        .live_campaign(
            "Receipt for {{profile.person.name.firstName}}",
            "<p>Thanks {{profile.person.name.firstName}}</p>",
            "Thanks {{profile.person.name.firstName}}",
        )
        .await;
    let e = herald
        .fire_unitary(&id, "real-1", vec![recipient("ann", "en")], json!({}))
        .await;
    herald.wait_final(e["executionId"].as_str().unwrap()).await;
    let before = herald.get(&format!("/v1/campaigns/{id}/report")).await;
    assert_eq!(before["sent"], 1, "{before}");

    let p = herald
        .post(
            &format!("/v1/campaigns/{id}/proofs"),
            &json!({"addresses": ["qa@example.com", "boss@example.com"],
                    "profile": {"person": {"name": {"firstName": "Sample"}}}}),
            202,
        )
        .await;
    let proof_id = p["proofs"][0]["messageId"].as_str().unwrap().to_string();
    let raw = wait_for(Duration::from_secs(20), "3 mails", || {
        let r = read_maildir_new(&outbox);
        (r.len() >= 3).then_some(r)
    })
    .await;
    let subjects = subjects_by_recipient(&raw);
    assert_eq!(subjects["ann@example.com"], "Receipt for ann");
    assert_eq!(subjects["qa@example.com"], "[Proof] Receipt for Sample");
    assert_eq!(subjects["boss@example.com"], "[Proof] Receipt for Sample");
    let mut msg = herald.message(&proof_id).await;
    for _ in 0..100 {
        if msg["status"] == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        msg = herald.message(&proof_id).await;
    }
    assert_eq!(msg["status"], "sent", "{msg}");
    assert_eq!(msg["proof"], true);
    assert_eq!(msg["rendered"]["subject"], "[Proof] Receipt for Sample");

    let after = herald.get(&format!("/v1/campaigns/{id}/report")).await;
    assert_eq!(after["targeted"], before["targeted"]);
    assert_eq!(after["sent"], before["sent"]);
    assert_eq!(after["byStatus"], before["byStatus"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_values_fail_excludes_only_the_recipient_missing_one() {
    let herald = Herald::start(HeraldOptions::outbox()).await;
    let outbox = herald.outbox_maildir();
    let cfg = herald.create_email_configuration().await;
    let c = herald
        .post(
            "/v1/campaigns",
            &json!({
                "name": "Strict",
                "category": "transactional",
                "action": {"channel": "email", "channelConfigurationId": cfg},
                "missingValues": "fail",
                "content": {"email": {"subject": "Code {{context.code}} for {{profile.person.name.firstName}}",
                                      "text": "Your code is {{context.code}}"}},
                "audience": {"identityNamespace": "email"}
            }),
            201,
        )
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    herald.activate(&id).await;
    let with_code = |user: &str, code: Option<&str>| {
        let mut r = recipient(user, "en");
        if let Some(c) = code {
            r["context"] = json!({"code": c});
        }
        r
    };
    let e = herald
        .fire_unitary(
            &id,
            "mv-e2e",
            vec![
                with_code("ann", Some("111")),
                with_code("bob", None),
                with_code("cat", Some("333")),
            ],
            json!({}),
        )
        .await;
    assert_eq!(e["recipients"][1]["status"], "excluded");
    assert_eq!(e["recipients"][1]["reason"], "missingValue");
    let done = herald.wait_final(e["executionId"].as_str().unwrap()).await;
    assert!(
        done["messages"][1]["lastError"]
            .as_str()
            .unwrap_or("")
            .contains("context.code"),
        "{done}"
    );
    let raw = wait_for(Duration::from_secs(20), "2 mails", || {
        let r = read_maildir_new(&outbox);
        (r.len() >= 2).then_some(r)
    })
    .await;
    let subjects = subjects_by_recipient(&raw);
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert_eq!(subjects["ann@example.com"], "Code 111 for ann");
    assert_eq!(subjects["cat@example.com"], "Code 333 for cat");
    assert_eq!(done["messages"][0]["status"], "sent");
    assert_eq!(done["messages"][2]["status"], "sent");
}
