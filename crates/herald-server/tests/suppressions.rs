//! Suppressions and business rules: the API, idempotent adds, domain
//! matches, the check endpoint, field pointers on bad input, sandboxes.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

/// Percent-encodes a query value (enough for addresses and phone numbers).
fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn check(s: &Server, channel: &str, address: &str) -> Value {
    let r = s
        .get(&format!(
            "/v1/suppressions:check?channel={channel}&address={}",
            enc(address)
        ))
        .await;
    r.ok(200).clone()
}

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppression_crud_and_idempotent_add() {
    let s = start().await;
    let r = s
        .post(
            "/v1/suppressions",
            &json!({"channel": "email", "address": "Jane.Doe@Example.COM", "reason": "hardBounce", "source": "bounce"}),
        )
        .await;
    let b = r.ok(201).clone();
    let id = b["id"].as_str().unwrap().to_string();
    assert_eq!(b["address"], "Jane.Doe@example.com", "domain lower-cased");
    assert_eq!(b["channel"], "email");
    assert_eq!(b["reason"], "hardBounce");
    assert_eq!(b["source"], "bounce");
    assert!(b["createdAt"].is_string());
    assert!(b.get("domain").is_none());
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/suppressions/{id}").as_str())
    );

    // The same address again, in any case, with any reason: the first entry.
    let again = s
        .post(
            "/v1/suppressions",
            &json!({"channel": "email", "address": "jane.doe@example.com", "reason": "complaint"}),
        )
        .await;
    let a = again.ok(200);
    assert_eq!(a["id"], id.as_str());
    assert_eq!(a["reason"], "hardBounce");

    let got = s.get(&format!("/v1/suppressions/{id}")).await;
    assert_eq!(got.ok(200)["id"], id.as_str());

    let sms = s
        .post(
            "/v1/suppressions",
            &json!({"channel": "sms", "address": "+49 151 1234-5678", "reason": "unsubscribe"}),
        )
        .await;
    let sms = sms.ok(201).clone();
    assert_eq!(sms["address"], "+4915112345678");
    assert_eq!(sms["source"], "api", "source defaults to api");

    let all = s.get("/v1/suppressions").await;
    assert_eq!(
        ids(all.ok(200)),
        [id.clone(), sms["id"].as_str().unwrap().to_string()]
    );
    let emails = s.get("/v1/suppressions?channel=email").await;
    assert_eq!(ids(emails.ok(200)), [id.as_str()]);
    let by_address = s
        .get(&format!(
            "/v1/suppressions?address={}",
            enc("JANE.DOE@example.com")
        ))
        .await;
    assert_eq!(ids(by_address.ok(200)), [id.as_str()]);

    // Pagination.
    let page = s.get("/v1/suppressions?limit=1").await;
    let page = page.ok(200).clone();
    assert_eq!(ids(&page), [id.as_str()]);
    let next = page["next"].as_str().unwrap();
    let page2 = s
        .get(&format!("/v1/suppressions?limit=1&cursor={next}"))
        .await;
    let page2 = page2.ok(200).clone();
    assert_eq!(ids(&page2), [sms["id"].as_str().unwrap().to_string()]);
    assert!(page2.get("next").is_none());

    assert_eq!(
        s.delete(&format!("/v1/suppressions/{id}")).await.status,
        204
    );
    s.delete(&format!("/v1/suppressions/{id}"))
        .await
        .problem(404, None);
    s.get(&format!("/v1/suppressions/{id}"))
        .await
        .problem(404, None);
    let after = check(&s, "email", "jane.doe@example.com").await;
    assert_eq!(after, json!({"suppressed": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_suppression_and_the_check_endpoint() {
    let s = start().await;
    let d = s
        .post(
            "/v1/suppressions",
            &json!({"channel": "email", "domain": "Blocked.Example", "reason": "manual"}),
        )
        .await;
    let d = d.ok(201).clone();
    assert_eq!(d["domain"], "blocked.example");
    let again = s
        .post(
            "/v1/suppressions",
            &json!({"channel": "email", "domain": "blocked.example", "reason": "manual"}),
        )
        .await;
    assert_eq!(again.ok(200)["id"], d["id"]);
    let a = s
        .post(
            "/v1/suppressions",
            &json!({"channel": "email", "address": "vip@blocked.example", "reason": "complaint"}),
        )
        .await;
    let a = a.ok(201).clone();

    let hit = check(&s, "email", "Anyone@BLOCKED.example").await;
    assert_eq!(
        hit,
        json!({"suppressed": true, "reason": "domainSuppressed", "suppressionId": d["id"]})
    );
    let own = check(&s, "email", "vip@blocked.example").await;
    assert_eq!(own["reason"], "emailSuppressed");
    assert_eq!(own["suppressionId"], a["id"]);
    assert_eq!(
        check(&s, "email", "someone@example.com").await,
        json!({"suppressed": false})
    );
    assert_eq!(
        check(&s, "email", "x@sub.blocked.example").await["suppressed"],
        false,
        "a domain entry is that domain, not its subdomains"
    );

    let by_domain = s.get("/v1/suppressions?domain=BLOCKED.example").await;
    assert_eq!(
        ids(by_domain.ok(200)),
        [d["id"].as_str().unwrap().to_string()]
    );

    s.post(
        "/v1/suppressions",
        &json!({"channel": "push", "address": "tok-ABC_123", "reason": "invalidAddress"}),
    )
    .await
    .ok(201);
    assert_eq!(
        check(&s, "push", "tok-ABC_123").await["reason"],
        "pushSuppressed"
    );
    assert_eq!(
        check(&s, "push", "tok-abc_123").await["suppressed"],
        false,
        "push tokens keep their case"
    );
    s.post(
        "/v1/suppressions",
        &json!({"channel": "sms", "address": "+15551234567", "reason": "unsubscribe"}),
    )
    .await
    .ok(201);
    let sms = check(&s, "sms", "+1 555 123 4567").await;
    assert_eq!(sms["reason"], "smsSuppressed");
    assert_eq!(
        check(&s, "email", "+15551234567@x.com").await["suppressed"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_suppressions_name_the_field() {
    let s = start().await;
    let cases = [
        (json!({"channel": "email", "reason": "manual"}), "/address"),
        (
            json!({"channel": "email", "address": "a@b.com", "domain": "b.com", "reason": "manual"}),
            "/domain",
        ),
        (
            json!({"channel": "email", "address": "not-an-address", "reason": "manual"}),
            "/address",
        ),
        (
            json!({"channel": "email", "domain": "localhost", "reason": "manual"}),
            "/domain",
        ),
        (
            json!({"channel": "sms", "domain": "example.com", "reason": "manual"}),
            "/domain",
        ),
        (
            json!({"channel": "sms", "address": "0151 1234567", "reason": "manual"}),
            "/address",
        ),
        (
            json!({"channel": "push", "address": "has space", "reason": "manual"}),
            "/address",
        ),
        (
            json!({"channel": "email", "address": "a@b.com", "reason": ""}),
            "/reason",
        ),
        (
            json!({"channel": "email", "address": "a@b.com", "reason": "manual", "source": "x y"}),
            "/source",
        ),
        (
            json!({"channel": "fax", "address": "a@b.com", "reason": "manual"}),
            "/channel",
        ),
        (json!({"channel": "email", "address": "a@b.com"}), "/reason"),
        (
            json!({"channel": "email", "address": "a@b.com", "reason": "manual", "extra": 1}),
            "/extra",
        ),
    ];
    for (body, pointer) in cases {
        let r = s.post("/v1/suppressions", &body).await;
        r.problem(400, Some(pointer));
    }
    s.get("/v1/suppressions?channel=fax")
        .await
        .problem(400, Some("/channel"));
    s.get("/v1/suppressions?domain=nodot")
        .await
        .problem(400, Some("/domain"));
    s.get("/v1/suppressions?limit=many")
        .await
        .problem(400, Some("/limit"));
    s.get("/v1/suppressions:check?address=a@b.com")
        .await
        .problem(400, Some("/channel"));
    s.get("/v1/suppressions:check?channel=email")
        .await
        .problem(400, Some("/address"));
    s.get("/v1/suppressions:check?channel=email&address=nope")
        .await
        .problem(400, Some("/address"));
    s.get("/v1/suppressions:check?channel=pigeon&address=a@b.com")
        .await
        .problem(400, Some("/channel"));
    s.get("/v1/suppressions/nope").await.problem(404, None);
    let list = s.get("/v1/suppressions").await;
    assert!(ids(list.ok(200)).is_empty(), "nothing bad was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppressions_are_per_sandbox() {
    let s = start().await;
    let r = s
        .post(
            "/v1/suppressions",
            &json!({"channel": "email", "address": "a@example.com", "reason": "manual"}),
        )
        .await;
    let id = r.ok(201)["id"].as_str().unwrap().to_string();
    let staging = [("x-sandbox-name", "staging")];
    let get = |path: String| {
        let s = &s;
        async move { s.raw(Method::GET, &path, None, &staging, true).await }
    };
    get(format!("/v1/suppressions/{id}"))
        .await
        .problem(404, None);
    let list = get("/v1/suppressions".into()).await;
    assert!(ids(list.ok(200)).is_empty());
    let c = get(format!(
        "/v1/suppressions:check?channel=email&address={}",
        enc("a@example.com")
    ))
    .await;
    assert_eq!(c.ok(200)["suppressed"], false);
    s.raw(
        Method::DELETE,
        &format!("/v1/suppressions/{id}"),
        None,
        &staging,
        true,
    )
    .await
    .problem(404, None);
    // The same address in staging is staging's own entry.
    let own = s
        .raw(
            Method::POST,
            "/v1/suppressions",
            Some(
                json!({"channel": "email", "address": "a@example.com", "reason": "manual"})
                    .to_string(),
            ),
            &staging,
            true,
        )
        .await;
    assert_ne!(own.ok(201)["id"], id.as_str());
    assert_eq!(
        check(&s, "email", "a@example.com").await["suppressionId"],
        id.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_rules_crud_and_validation() {
    let s = start().await;
    let body = json!({"name": "3 a week", "channel": "email", "maxMessages": 3, "period": {"count": 1, "unit": "week"}});
    let r = s.post("/v1/business-rules", &body).await;
    let b = r.ok(201).clone();
    let id = b["id"].as_str().unwrap().to_string();
    assert_eq!(b["category"], "marketing");
    assert_eq!(b["maxMessages"], 3);
    assert_eq!(b["period"], json!({"count": 1, "unit": "week"}));
    assert!(b["createdAt"].is_string() && b["updatedAt"].is_string());

    let got = s.get(&format!("/v1/business-rules/{id}")).await;
    assert_eq!(got.ok(200)["name"], "3 a week");
    let list = s.get("/v1/business-rules").await;
    assert_eq!(ids(list.ok(200)), [id.as_str()]);

    let put = s
        .put(
            &format!("/v1/business-rules/{id}"),
            &json!({"name": "daily", "channel": "sms", "category": "marketing", "maxMessages": 1, "period": {"count": 1, "unit": "day"}}),
        )
        .await;
    let p = put.ok(200).clone();
    assert_eq!(p["id"], id.as_str());
    assert_eq!(p["channel"], "sms");
    assert_eq!(p["period"]["unit"], "day");
    assert_eq!(p["createdAt"], b["createdAt"]);
    let got = s.get(&format!("/v1/business-rules/{id}")).await;
    assert_eq!(got.ok(200)["maxMessages"], 1);

    // Another sandbox sees none of it.
    let other = s
        .raw(
            Method::GET,
            &format!("/v1/business-rules/{id}"),
            None,
            &[("x-sandbox-name", "staging")],
            true,
        )
        .await;
    other.problem(404, None);

    for (bad, pointer) in [
        (
            json!({"name": "x", "channel": "email", "maxMessages": 0, "period": {"count": 1, "unit": "day"}}),
            "/maxMessages",
        ),
        (
            json!({"name": "x", "channel": "email", "maxMessages": 1001, "period": {"count": 1, "unit": "day"}}),
            "/maxMessages",
        ),
        (
            json!({"name": "x", "channel": "email", "maxMessages": 1, "period": {"count": 0, "unit": "day"}}),
            "/period/count",
        ),
        (
            json!({"name": "x", "channel": "email", "maxMessages": 1, "period": {"count": 1, "unit": "year"}}),
            "/period/unit",
        ),
        (
            json!({"name": "x", "channel": "email", "category": "transactional", "maxMessages": 1, "period": {"count": 1, "unit": "day"}}),
            "/category",
        ),
        (
            json!({"name": " ", "channel": "email", "maxMessages": 1, "period": {"count": 1, "unit": "day"}}),
            "/name",
        ),
        (
            json!({"name": "x", "channel": "email", "maxMessages": 1}),
            "/period",
        ),
    ] {
        s.post("/v1/business-rules", &bad)
            .await
            .problem(400, Some(pointer));
        s.put(&format!("/v1/business-rules/{id}"), &bad)
            .await
            .problem(400, Some(pointer));
    }
    s.put("/v1/business-rules/nope", &body)
        .await
        .problem(404, None);

    assert_eq!(
        s.delete(&format!("/v1/business-rules/{id}")).await.status,
        204
    );
    s.delete(&format!("/v1/business-rules/{id}"))
        .await
        .problem(404, None);
    s.get(&format!("/v1/business-rules/{id}"))
        .await
        .problem(404, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_suppressions_and_business_rules() {
    let s = start().await;
    let r = s.raw(Method::GET, "/openapi.json", None, &[], false).await;
    let doc: Value = serde_json::from_str(&r.text).expect("valid JSON");
    for p in [
        "/v1/suppressions",
        "/v1/suppressions/{id}",
        "/v1/suppressions:check",
        "/v1/business-rules",
        "/v1/business-rules/{id}",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing from openapi.json");
    }
    for schema in [
        "Suppression",
        "NewSuppression",
        "SuppressionCheck",
        "BusinessRule",
        "NewBusinessRule",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing from openapi.json"
        );
    }
}
