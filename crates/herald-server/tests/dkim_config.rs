//! DKIM keys in email channel configurations: parsed when created (a bad key
//! is a 400 naming the field), stored, and never shown again.

mod support;

use serde_json::{Value, json};
use support::*;

fn key_fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../herald-mail/tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn config(keys: Value) -> Value {
    json!({"name": "News", "channel": "email", "category": "marketing",
           "email": {"fromAddress": "news@mail.shop.example.com", "listUnsubscribe": true,
                     "dkim": keys}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkim_keys_are_checked_stored_and_redacted() {
    let s = start().await;
    let rsa = key_fixture("dkim-rsa2048.pkcs1.pem");
    let ed = key_fixture("dkim-ed25519.pem");
    let r = s
        .post(
            "/v1/channel-configurations",
            &config(json!([
                {"domain": "shop.example.com", "selector": "rsa2026", "algorithm": "rsaSha256", "privateKey": rsa},
                {"domain": "mail.shop.example.com", "selector": "ed2026", "algorithm": "ed25519Sha256", "privateKey": ed}
            ])),
        )
        .await;
    let body = r.ok(201).clone();
    assert!(!r.text.contains("PRIVATE KEY"), "{}", r.text);
    assert_eq!(body["email"]["dkim"][0]["privateKey"], "***");
    assert_eq!(body["email"]["dkim"][1]["selector"], "ed2026");
    let id = body["id"].as_str().expect("id").to_owned();

    let one = s.get(&format!("/v1/channel-configurations/{id}")).await;
    assert_eq!(one.ok(200)["email"]["dkim"][1]["privateKey"], "***");
    assert!(!one.text.contains("PRIVATE KEY"));
    let all = s.get("/v1/channel-configurations").await;
    all.ok(200);
    assert!(!all.text.contains("PRIVATE KEY"));

    // The store keeps the real key for signing.
    let sandbox = body["sandbox"].as_str().expect("sandbox");
    let stored = s
        .store
        .get_channel_configuration(sandbox, &id)
        .await
        .expect("store")
        .expect("stored configuration");
    let keys = stored.email.and_then(|e| e.dkim).expect("dkim");
    assert_eq!(keys[0].private_key, rsa);
    assert_eq!(keys[1].private_key, ed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_dkim_keys_are_rejected_with_pointers() {
    let s = start().await;
    // PEM-shaped but not a key: herald-mail's parser decides.
    let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    s.post(
        "/v1/channel-configurations",
        &config(json!([{"domain": "shop.example.com", "selector": "s1", "algorithm": "rsaSha256", "privateKey": garbage}])),
    )
    .await
    .problem(400, Some("/email/dkim/0/privateKey"));

    // A 1024-bit RSA key, and an Ed25519 key declared as RSA.
    let r = s
        .post(
            "/v1/channel-configurations",
            &config(json!([
                {"domain": "shop.example.com", "selector": "s1", "algorithm": "ed25519Sha256",
                 "privateKey": key_fixture("dkim-ed25519.pem")},
                {"domain": "shop.example.com", "selector": "s2", "algorithm": "rsaSha256",
                 "privateKey": key_fixture("dkim-rsa1024.pkcs1.pem")},
                {"domain": "shop.example.com", "selector": "s3", "algorithm": "rsaSha256",
                 "privateKey": key_fixture("dkim-ed25519.pem")}
            ])),
        )
        .await;
    r.problem(400, None);
    assert_eq!(
        r.pointers(),
        ["/email/dkim/1/privateKey", "/email/dkim/2/privateKey"]
    );
    assert!(!r.text.contains("PRIVATE KEY"), "{}", r.text);

    // Shape errors come from the domain model.
    let r = s
        .post(
            "/v1/channel-configurations",
            &config(json!([{"domain": "shop example", "selector": "s;1", "algorithm": "rsaSha256", "privateKey": "secret"}])),
        )
        .await;
    r.problem(400, Some("/email/dkim/0/domain"));
    assert!(r.pointers().contains(&"/email/dkim/0/selector".to_owned()));
    assert!(
        r.pointers()
            .contains(&"/email/dkim/0/privateKey".to_owned())
    );
    assert!(!r.text.contains("secret"), "{}", r.text);

    // No key for the From domain.
    s.post(
        "/v1/channel-configurations",
        &config(
            json!([{"domain": "other.example", "selector": "s1", "algorithm": "ed25519Sha256",
                         "privateKey": key_fixture("dkim-ed25519.pem")}]),
        ),
    )
    .await
    .problem(400, Some("/email/dkim"));

    // An unknown algorithm is a body error too.
    let r = s
        .post(
            "/v1/channel-configurations",
            &config(json!([{"domain": "shop.example.com", "selector": "s1", "algorithm": "dsa", "privateKey": "x"}])),
        )
        .await;
    r.problem(400, None);
}
