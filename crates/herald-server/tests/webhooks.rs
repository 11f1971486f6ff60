//! Feedback webhooks' management API: CRUD, secrets never answered back,
//! validation with pointers (private targets refused without the flag),
//! the delivery log, sandboxes.

mod support;

use reqwest::Method;
use serde_json::json;
use support::*;

fn body() -> serde_json::Value {
    json!({
        "name": "Ops feedback",
        "url": "https://hooks.example.com/herald",
        "channels": ["email"],
        "auth": {"type": "hmac", "secret": "whsec-very-secret"},
        "headers": {"X-Team": "ops"}
    })
}

#[tokio::test]
async fn webhooks_are_created_read_patched_and_deleted_without_echoing_secrets() {
    let s = start().await;
    let r = s.post("/v1/webhooks", &body()).await;
    let created = r.ok(201).clone();
    assert!(!r.text.contains("whsec-very-secret"), "{}", r.text);
    assert_eq!(created["auth"], json!({"type": "hmac", "secret": "***"}));
    assert_eq!(created["enabled"], true);
    assert_eq!(created["allowPrivateNetwork"], false);
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/webhooks/{id}").as_str())
    );

    let got = s.get(&format!("/v1/webhooks/{id}")).await;
    assert_eq!(got.ok(200), &created);
    assert!(!got.text.contains("whsec-very-secret"));
    let list = s.get("/v1/webhooks").await;
    assert_eq!(list.ok(200)["items"], json!([created]));
    assert!(!list.text.contains("whsec-very-secret"));

    // A patch keeps what it does not name, the secret included.
    let p = s
        .patch(
            &format!("/v1/webhooks/{id}"),
            &json!({"enabled": false, "channels": ["email", "sms"]}),
        )
        .await;
    let patched = p.ok(200).clone();
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["channels"], json!(["email", "sms"]));
    assert_eq!(patched["url"], created["url"]);
    let stored = s
        .store
        .get_webhook("prod", &id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(
        stored.auth,
        herald_domain::webhook::WebhookAuth::Hmac {
            secret: "whsec-very-secret".into()
        }
    );

    // Bearer and JWT secrets are hidden too.
    let p = s
        .patch(
            &format!("/v1/webhooks/{id}"),
            &json!({"auth": {"type": "jwt", "secret": "jwt-key", "issuer": "herald"}}),
        )
        .await;
    assert_eq!(
        p.ok(200)["auth"],
        json!({"type": "jwt", "secret": "***", "issuer": "herald", "ttlSeconds": 300})
    );

    let log = s.get(&format!("/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(log.ok(200)["items"], json!([]));

    assert_eq!(s.delete(&format!("/v1/webhooks/{id}")).await.status, 204);
    s.get(&format!("/v1/webhooks/{id}"))
        .await
        .problem(404, None);
    s.delete(&format!("/v1/webhooks/{id}"))
        .await
        .problem(404, None);
    s.get(&format!("/v1/webhooks/{id}/deliveries"))
        .await
        .problem(404, None);
}

#[tokio::test]
async fn private_targets_need_the_flag() {
    let s = start().await;
    for url in [
        "http://127.0.0.1:9000/hook",
        "http://10.0.0.8/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:8080/",
    ] {
        let mut b = body();
        b["url"] = json!(url);
        let r = s.post("/v1/webhooks", &b).await;
        r.problem(400, Some("/url"));
        assert_eq!(r.pointers(), ["/url"], "{url}: {}", r.text);
        b["allowPrivateNetwork"] = json!(true);
        s.post("/v1/webhooks", &b).await.ok(201);
    }
    // A patch cannot point an existing webhook inside either.
    let id = s.post("/v1/webhooks", &body()).await.ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.patch(
        &format!("/v1/webhooks/{id}"),
        &json!({"url": "http://192.168.1.1/"}),
    )
    .await
    .problem(400, Some("/url"));
    // … nor turn the flag off under a private URL.
    let mut b = body();
    b["url"] = json!("http://127.0.0.1:1/");
    b["allowPrivateNetwork"] = json!(true);
    let id = s.post("/v1/webhooks", &b).await.ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.patch(
        &format!("/v1/webhooks/{id}"),
        &json!({"allowPrivateNetwork": false}),
    )
    .await
    .problem(400, Some("/url"));
}

#[tokio::test]
async fn bad_fields_are_named_by_pointer() {
    let s = start().await;
    let r = s
        .post(
            "/v1/webhooks",
            &json!({
                "name": "",
                "url": "ftp://files.example.com/",
                "channels": [],
                "auth": {"type": "bearer", "token": ""},
                "headers": {"Bad Header": "x", "X-Evil": "a\r\nInjected: yes", "Content-Type": "text/plain"}
            }),
        )
        .await;
    r.problem(400, None);
    let mut p = r.pointers();
    p.sort();
    assert_eq!(
        p,
        [
            "/auth/token",
            "/channels",
            "/headers/Bad Header",
            "/headers/Content-Type",
            "/headers/X-Evil",
            "/name",
            "/url"
        ]
    );
    // Unknown channels, auth types and fields are refused by the parser.
    let mut b = body();
    b["channels"] = json!(["fax"]);
    s.post("/v1/webhooks", &b)
        .await
        .problem(400, Some("/channels/0"));
    let mut b = body();
    b["auth"] = json!({"type": "basic", "user": "x"});
    s.post("/v1/webhooks", &b).await.problem(400, None);
    let mut b = body();
    b["colour"] = json!("red");
    s.post("/v1/webhooks", &b).await.problem(400, None);
    // The redacted form is not a secret.
    let id = s.post("/v1/webhooks", &body()).await.ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.patch(
        &format!("/v1/webhooks/{id}"),
        &json!({"auth": {"type": "hmac", "secret": "***"}}),
    )
    .await
    .problem(400, Some("/auth/secret"));
    s.get(&format!("/v1/webhooks/{id}/deliveries?cursor=abc"))
        .await
        .problem(400, Some("/cursor"));
}

#[tokio::test]
async fn webhooks_are_per_sandbox() {
    let s = start().await;
    let id = s.post("/v1/webhooks", &body()).await.ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let staging = [("x-sandbox-name", "staging")];
    let r = s
        .raw(
            Method::GET,
            &format!("/v1/webhooks/{id}"),
            None,
            &staging,
            true,
        )
        .await;
    r.problem(404, None);
    let r = s
        .raw(Method::GET, "/v1/webhooks", None, &staging, true)
        .await;
    assert_eq!(r.ok(200)["items"], json!([]));
}
