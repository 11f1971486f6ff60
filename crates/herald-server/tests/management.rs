//! The management API (API.md, "Management API").

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

fn checks(v: &Value) -> Vec<(String, String, String)> {
    v["checks"]
        .as_array()
        .expect("checks[]")
        .iter()
        .map(|c| {
            (
                c["code"].as_str().unwrap_or("").to_string(),
                c["severity"].as_str().unwrap_or("").to_string(),
                c["pointer"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_configuration_create_get_and_invalid() {
    let s = start().await;
    let r = s
        .post(
            "/v1/channel-configurations",
            &json!({"name": "Transactional mail", "channel": "email", "category": "transactional",
                    "email": {"fromAddress": "noreply@shop.example.com", "fromName": "Shop",
                              "replyTo": "help@shop.example.com", "listUnsubscribe": true}}),
        )
        .await;
    let b = r.ok(201);
    let id = b["id"].as_str().unwrap();
    assert_eq!(b["channel"], "email");
    assert_eq!(b["category"], "transactional");
    assert_eq!(b["email"]["fromAddress"], "noreply@shop.example.com");
    let g = s.get(&format!("/v1/channel-configurations/{id}")).await;
    assert_eq!(g.ok(200)["name"], "Transactional mail");
    let l = s.get("/v1/channel-configurations").await;
    assert!(
        l.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == json!(id))
    );

    let bad = s
        .post(
            "/v1/channel-configurations",
            &json!({"name": "Broken", "channel": "email", "email": {"fromAddress": "not-an-address"}}),
        )
        .await;
    bad.problem(400, Some("/email/fromAddress"));
    let bad = s
        .post(
            "/v1/channel-configurations",
            &json!({"name": "Broken", "channel": "email", "email": {}}),
        )
        .await;
    bad.problem(400, Some("/email/fromAddress"));
    s.get("/v1/channel-configurations/nope")
        .await
        .problem(404, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_create_defaults_and_missing_required_fields() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let minimal = json!({
        "name": "Minimal", "category": "transactional",
        "action": {"channel": "email", "channelConfigurationId": cfg},
        "content": {"email": {"subject": "Hi", "text": "Hello"}},
        "audience": {"identityNamespace": "email"}
    });
    let r = s.post("/v1/campaigns", &minimal).await;
    let c = r.ok(201);
    assert_eq!(c["status"], "draft");
    assert!(c["id"].is_string());
    assert_eq!(c["tags"], json!([]));
    assert_eq!(c["labels"], json!([]));
    assert_eq!(c["audience"]["createNewProfiles"], false);
    assert_eq!(c["webhooksEnabled"], false);
    assert_eq!(c["action"]["tracking"]["opens"], false);
    assert_eq!(c["action"]["tracking"]["clicks"], false);

    for (path, pointer) in [
        ("/name", "/name"),
        ("/category", "/category"),
        ("/action/channel", "/action/channel"),
        (
            "/action/channelConfigurationId",
            "/action/channelConfigurationId",
        ),
        ("/content/email", "/content/email"),
        ("/audience/identityNamespace", "/audience/identityNamespace"),
    ] {
        let mut def = minimal.clone();
        let (parent, leaf) = path.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut def
        } else {
            def.pointer_mut(parent).unwrap()
        };
        target.as_object_mut().unwrap().remove(leaf);
        let r = s.post("/v1/campaigns", &def).await;
        r.problem(400, Some(pointer));
    }
    // An empty identity namespace is the same as a missing one.
    let mut def = minimal.clone();
    def["audience"]["identityNamespace"] = json!("");
    s.post("/v1/campaigns", &def)
        .await
        .problem(400, Some("/audience/identityNamespace"));
    let mut def = minimal.clone();
    def["category"] = json!("promotional");
    s.post("/v1/campaigns", &def)
        .await
        .problem(400, Some("/category"));
    let l = s.get("/v1/campaigns").await;
    assert_eq!(l.ok(200)["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_reports_every_blocking_check_with_pointers() {
    let s = start().await;
    let marketing = s.email_config("marketing").await;
    let good = s.email_config("transactional").await;

    // Unknown configuration.
    let c = s
        .create_campaign(&campaign_def("cfg-that-does-not-exist"))
        .await;
    let r = s
        .post_empty(&format!(
            "/v1/campaigns/{}/review",
            c["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.ok(200)["ready"], false);
    assert!(
        checks(&r.json).contains(&(
            "unknown_channel_configuration".into(),
            "error".into(),
            "/action/channelConfigurationId".into()
        )),
        "{}",
        r.text
    );

    // Several problems at once: all reported.
    let mut def = campaign_def(&marketing);
    def["schedule"] = json!({"startAt": "2099-01-02T00:00:00Z", "endAt": "2099-01-01T00:00:00Z"});
    def["content"]["email"]["html"] = json!("<p>Hi\n{{#profile.vip}}VIP</p>");
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap();
    let r = s.post_empty(&format!("/v1/campaigns/{id}/review")).await;
    let v = r.ok(200).clone();
    assert_eq!(v["ready"], false);
    let got = checks(&v);
    for (code, pointer) in [
        ("category_mismatch", "/action/channelConfigurationId"),
        ("end_before_start", "/schedule/endAt"),
        ("template_syntax", "/content/email/html"),
    ] {
        assert!(
            got.contains(&(code.into(), "error".into(), pointer.into())),
            "missing {code} at {pointer}: {v}"
        );
    }
    let tpl = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "template_syntax")
        .unwrap();
    assert!(
        tpl["line"].as_u64().is_some() && tpl["column"].as_u64().is_some(),
        "{tpl}"
    );
    let msg = tpl["message"].as_str().unwrap();
    assert!(msg.contains("line") && msg.contains("column"), "{tpl}");
    for c in v["checks"].as_array().unwrap() {
        assert!(c["message"].as_str().is_some_and(|m| !m.is_empty()), "{c}");
        assert!(
            c["pointer"].as_str().is_some_and(|p| p.starts_with('/')),
            "{c}"
        );
    }

    // Activate with a failing review: 422 listing the checks.
    let a = s.post_empty(&format!("/v1/campaigns/{id}/activate")).await;
    a.problem(422, Some("/action/channelConfigurationId"));
    a.problem(422, Some("/schedule/endAt"));
    a.problem(422, Some("/content/email/html"));
    let codes: Vec<&str> = a.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["code"].as_str())
        .collect();
    for code in ["category_mismatch", "end_before_start", "template_syntax"] {
        assert!(codes.contains(&code), "{codes:?}");
    }
    assert_eq!(
        s.get(&format!("/v1/campaigns/{id}")).await.ok(200)["status"],
        "draft"
    );

    // A clean campaign is ready.
    let c = s.create_campaign(&campaign_def(&good)).await;
    let r = s
        .post_empty(&format!(
            "/v1/campaigns/{}/review",
            c["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.ok(200)["ready"], true, "{}", r.text);
    assert!(
        r.json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["severity"] != "error")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_a_draft_in_place() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let c = s.create_campaign(&campaign_def(&cfg)).await;
    let id = c["id"].as_str().unwrap();
    let r = s
        .patch(
            &format!("/v1/campaigns/{id}"),
            &json!({"name": "Renamed", "tags": ["x"], "content": {"email": {"subject": "New subject"}}}),
        )
        .await;
    let b = r.ok(200);
    assert_eq!(b["status"], "draft");
    assert_eq!(b["name"], "Renamed");
    assert_eq!(b["tags"], json!(["x"]));
    assert_eq!(b["content"]["email"]["subject"], "New subject");
    assert!(
        b["content"]["email"]["html"].is_string(),
        "merge patch keeps siblings: {b}"
    );
    // A patch making it invalid is a 400 with a pointer, and changes nothing.
    let r = s
        .patch(
            &format!("/v1/campaigns/{id}"),
            &json!({"audience": {"identityNamespace": ""}}),
        )
        .await;
    r.problem(400, Some("/audience/identityNamespace"));
    let r = s
        .patch(&format!("/v1/campaigns/{id}"), &json!({"category": 5}))
        .await;
    r.problem(400, Some("/category"));
    assert_eq!(
        s.get(&format!("/v1/campaigns/{id}")).await.ok(200)["name"],
        "Renamed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_live_makes_a_draft_version_executions_use_live_until_activated() {
    let s = start().await;
    let c = s.live_campaign().await;
    let before = s.get(&format!("/v1/campaigns/{c}")).await.ok(200).clone();
    assert_eq!(before["liveVersion"], 1);

    let r = s
        .patch(
            &format!("/v1/campaigns/{c}"),
            &json!({"content": {"email": {"subject": "Version two"}}}),
        )
        .await;
    let b = r.ok(200).clone();
    assert_eq!(b["status"], "live");
    assert_eq!(b["liveVersion"], 1);
    assert_eq!(b["draftVersion"], 2, "{b}");

    let r = s.fire(&unitary(&c, "req-v1")).await;
    let e = s
        .execution(r.ok(202)["executionId"].as_str().unwrap())
        .await;
    assert_eq!(e["campaignVersion"], 1);
    let mid = r.json["recipients"][0]["messageId"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("/v1/messages/{mid}")).await.ok(200)["campaignVersion"],
        1
    );

    let a = s.activate(&c).await;
    assert_eq!(a["status"], "live");
    assert_eq!(a["liveVersion"], 2, "{a}");
    assert!(a["draftVersion"].is_null(), "{a}");

    let r = s.fire(&unitary(&c, "req-v2")).await;
    let e = s
        .execution(r.ok(202)["executionId"].as_str().unwrap())
        .await;
    assert_eq!(e["campaignVersion"], 2);
    let mid = r.json["recipients"][0]["messageId"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("/v1/messages/{mid}")).await.ok(200)["campaignVersion"],
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_only_in_draft() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let d = s.create_campaign(&campaign_def(&cfg)).await;
    let did = d["id"].as_str().unwrap();
    let r = s.delete(&format!("/v1/campaigns/{did}")).await;
    assert!(
        r.status == 204 || r.status == 200,
        "{} {}",
        r.status,
        r.text
    );
    s.get(&format!("/v1/campaigns/{did}"))
        .await
        .problem(404, None);

    let live = s.live_campaign().await;
    s.delete(&format!("/v1/campaigns/{live}"))
        .await
        .problem(409, None);
    assert_eq!(
        s.get(&format!("/v1/campaigns/{live}")).await.ok(200)["status"],
        "live"
    );
    s.delete("/v1/campaigns/nope").await.problem(404, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_by_status_tag_and_text() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let mut a = campaign_def(&cfg);
    a["name"] = json!("Order confirmation");
    a["tags"] = json!(["orders"]);
    let a = s.create_campaign(&a).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut b = campaign_def(&cfg);
    b["name"] = json!("Password reset");
    b["description"] = json!("Security mail for FORGOTTEN passwords");
    b["tags"] = json!(["auth"]);
    let b = s.create_campaign(&b).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.activate(&b).await;

    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(s.get("/v1/campaigns").await.ok(200)).len(), 2);
    assert_eq!(
        ids(s.get("/v1/campaigns?status=draft").await.ok(200)),
        vec![a.clone()]
    );
    assert_eq!(
        ids(s.get("/v1/campaigns?status=live").await.ok(200)),
        vec![b.clone()]
    );
    assert_eq!(
        ids(s.get("/v1/campaigns?tag=orders").await.ok(200)),
        vec![a.clone()]
    );
    assert_eq!(
        ids(s.get("/v1/campaigns?tag=auth").await.ok(200)),
        vec![b.clone()]
    );
    assert!(ids(s.get("/v1/campaigns?tag=none").await.ok(200)).is_empty());
    assert_eq!(
        ids(s.get("/v1/campaigns?q=confirm").await.ok(200)),
        vec![a.clone()]
    );
    assert_eq!(
        ids(s.get("/v1/campaigns?q=forgotten").await.ok(200)),
        vec![b.clone()]
    );
    assert_eq!(
        ids(s
            .get("/v1/campaigns?status=live&tag=auth&q=password")
            .await
            .ok(200)),
        vec![b.clone()]
    );
    assert!(ids(s.get("/v1/campaigns?status=live&tag=orders").await.ok(200)).is_empty());
    s.get("/v1/campaigns?status=bogus")
        .await
        .problem(400, Some("/status"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_is_final_and_blocks_executions() {
    let s = start().await;
    let c = s.live_campaign().await;
    let r = s.post_empty(&format!("/v1/campaigns/{c}/stop")).await;
    assert_eq!(r.ok(200)["status"], "stopped");
    assert_eq!(
        s.get(&format!("/v1/campaigns/{c}")).await.ok(200)["status"],
        "stopped"
    );
    s.fire(&unitary(&c, "req-stopped")).await.problem(409, None);
    // Final: cannot be re-activated.
    s.post_empty(&format!("/v1/campaigns/{c}/activate"))
        .await
        .problem(409, None);
    s.fire(&unitary(&c, "req-stopped-2"))
        .await
        .problem(409, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_renders_with_inline_profile_and_context() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let c = s.create_campaign(&campaign_def(&cfg)).await;
    let id = c["id"].as_str().unwrap();
    let r = s
        .post(
            &format!("/v1/campaigns/{id}/simulate"),
            &json!({"profile": {"person": {"name": {"firstName": "Jane"}}},
                    "context": {"resetUrl": "https://accounts.example.com/r/9", "shop": "North Store"}}),
        )
        .await;
    let b = r.ok(200);
    let e = &b["content"]["email"];
    assert_eq!(e["subject"], "Reset your password, Jane");
    assert_eq!(
        e["html"],
        "<p>Hi Jane, <a href=\"https://accounts.example.com/r/9\">reset</a> at North Store</p>"
    );
    assert_eq!(
        e["text"],
        "Hi Jane, reset: https://accounts.example.com/r/9 at North Store"
    );
    assert!(b["warnings"].is_array());

    // profileRef reads a stored profile.
    s.put(
        "/v1/profiles/email/ref@example.com",
        &json!({"attributes": {"person": {"name": {"firstName": "Stored"}}}}),
    )
    .await
    .ok(201);
    let r = s
        .post(
            &format!("/v1/campaigns/{id}/simulate"),
            &json!({"profileRef": {"namespace": "email", "id": "ref@example.com"}, "context": {}}),
        )
        .await;
    assert_eq!(
        r.ok(200)["content"]["email"]["subject"],
        "Reset your password, Stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_broken_template_is_422_naming_field_line_column() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let mut def = campaign_def(&cfg);
    def["content"]["email"]["text"] = json!("line one\nHi {{profile.name");
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap();
    let r = s
        .post(
            &format!("/v1/campaigns/{id}/simulate"),
            &json!({"context": {}}),
        )
        .await;
    r.problem(422, Some("/content/email/text"));
    let msg = r.json["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("line 2"), "{msg}");
    assert!(msg.contains("column"), "{msg}");
    assert!(msg.contains("text"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_contains_every_variable() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let mut def = campaign_def(&cfg);
    def["content"]["email"]["html"] = json!(
        "<p>{{profile.person.name.lastName}} {{context.order.id}} {{#context.items}}{{name}}{{/context.items}}</p>"
    );
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap();
    let r = s.get(&format!("/v1/campaigns/{id}/curl")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.content_type().starts_with("text/plain"),
        "{}",
        r.content_type()
    );
    let t = &r.text;
    assert!(t.contains("curl"), "{t}");
    assert!(t.contains("/ajo/im/executions/unitary"), "{t}");
    assert!(t.contains(id), "{t}");
    assert!(t.contains("Authorization: Bearer"), "{t}");
    for var in ["resetUrl", "shop", "order", "items"] {
        assert!(
            t.contains(&format!("\"{var}\"")),
            "context.{var} missing: {t}"
        );
    }
    for var in ["firstName", "lastName"] {
        assert!(
            t.contains(&format!("\"{var}\"")),
            "profile ... {var} missing: {t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_has_every_counter() {
    let s = start().await;
    let c = s.live_campaign().await;
    let mut body = unitary(&c, "req-report");
    body["recipients"] = json!([
        {"type": "external", "namespace": "email", "userId": "a@example.com"},
        {"type": "external", "namespace": "crmId", "userId": "CRM-1"}
    ]);
    s.fire(&body).await.ok(202);
    let r = s.report(&c).await;
    assert_eq!(r["campaignId"], json!(c));
    assert!(r["window"].is_string());
    for k in [
        "targeted",
        "sent",
        "delivered",
        "retries",
        "opens",
        "uniqueOpens",
        "clicks",
        "uniqueClicks",
        "unsubscribes",
        "complaints",
    ] {
        assert!(r[k].as_u64().is_some(), "{k} missing: {r}");
    }
    for k in ["ctr", "ctor"] {
        assert!(r[k].is_number(), "{k} missing: {r}");
    }
    assert!(r["excluded"]["total"].as_u64().is_some(), "{r}");
    assert!(r["excluded"]["byReason"].is_object(), "{r}");
    assert!(r["bounced"]["hard"].as_u64().is_some() && r["bounced"]["soft"].as_u64().is_some());
    assert!(r["errors"]["total"].as_u64().is_some() && r["errors"]["byReason"].is_object());
    for st in [
        "queued",
        "sending",
        "sent",
        "delivered",
        "failed",
        "bounced",
        "excluded",
    ] {
        assert!(
            r["byStatus"][st].as_u64().is_some(),
            "byStatus.{st} missing: {r}"
        );
    }
    assert!(r["byDomain"].is_array() && r["byLink"].is_array() && r["byLocale"].is_object());
    assert_eq!(r["targeted"], 2);
    assert_eq!(r["byStatus"]["queued"], 1);
    assert_eq!(
        r["byStatus"]["excluded"], 1,
        "crmId recipient has no address: {r}"
    );
    assert_eq!(r["excluded"]["total"], 1);
    assert_eq!(r["sent"], 0);
    let w = s.get(&format!("/v1/campaigns/{c}/report?window=all")).await;
    assert_eq!(w.ok(200)["window"], "all");
    let day = s.get(&format!("/v1/campaigns/{c}/report?window=24h")).await;
    let day = day.ok(200);
    assert_eq!(day["window"], "24h");
    assert_eq!(
        day["targeted"], 2,
        "both messages are from the last 24h: {day}"
    );
    assert_eq!(day["excluded"]["byReason"]["noAddress"], 1, "{day}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execution_report_counts_only_that_execution() {
    let s = start().await;
    let c = s.live_campaign().await;
    let mut first = unitary(&c, "req-exec-report-1");
    first["recipients"] = json!([
        {"type": "external", "namespace": "email", "userId": "a@example.com"},
        {"type": "external", "namespace": "crmId", "userId": "CRM-1"}
    ]);
    let e1 = s.fire(&first).await.json["executionId"]
        .as_str()
        .unwrap()
        .to_string();
    let e2 = s.fire(&unitary(&c, "req-exec-report-2")).await.json["executionId"]
        .as_str()
        .unwrap()
        .to_string();
    let r1 = s.get(&format!("/v1/executions/{e1}/report")).await;
    let r1 = r1.ok(200);
    assert_eq!(r1["executionId"], json!(e1));
    assert_eq!(r1["requestId"], "req-exec-report-1");
    assert_eq!(r1["campaignId"], json!(c));
    assert_eq!(r1["targeted"], 2, "{r1}");
    assert_eq!(r1["excluded"]["byReason"]["noAddress"], 1, "{r1}");
    let r2 = s
        .get(&format!("/v1/executions/{e2}/report?window=24h"))
        .await;
    let r2 = r2.ok(200);
    assert_eq!(
        (r2["targeted"].clone(), r2["window"].clone()),
        (json!(1), json!("24h"))
    );
    assert_eq!(
        s.report(&c).await["targeted"],
        3,
        "the campaign counts both"
    );
    let missing = s.get("/v1/executions/nope/report").await;
    assert_eq!(missing.status, 404);
    let bad = s
        .get(&format!("/v1/executions/{e1}/report?window=week"))
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json["errors"][0]["pointer"], "/window", "{}", bad.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_query_strings_are_problems_naming_the_parameter() {
    let s = start().await;
    let c = s.live_campaign().await;
    let bad = s
        .get(&format!("/v1/campaigns/{c}/report?window=week"))
        .await;
    let p = bad.problem(400, Some("/window"));
    assert!(p.to_string().contains("24h"), "says what is allowed: {p}");
    let bad = s.get("/v1/campaigns?limit=many").await;
    bad.problem(400, Some("/limit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_and_docs() {
    let s = start().await;
    let r = s.raw(Method::GET, "/openapi.json", None, &[], false).await;
    assert_eq!(r.status, 200);
    let doc: Value = serde_json::from_str(&r.text).expect("valid JSON");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["paths"]["/ajo/im/executions/unitary"]["post"].is_object());
    for p in [
        "/v1/campaigns",
        "/v1/campaigns/{id}",
        "/v1/channel-configurations",
        "/ajo/im/health",
        "/v1/language-settings",
        "/v1/language-settings/{id}",
        "/v1/fragments",
        "/v1/fragments/{id}",
        "/v1/fragments/{id}/versions/{version}",
        "/v1/campaigns/{id}/proofs",
        "/v1/messages",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing from openapi.json");
    }
    for schema in [
        "LanguageSettings",
        "NewLanguageSettings",
        "Fragment",
        "ProofRequest",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing from openapi.json"
        );
    }
    let d = s.raw(Method::GET, "/docs/", None, &[], false).await;
    assert_eq!(d.status, 200, "{}", d.text);
    assert!(
        d.content_type().starts_with("text/html"),
        "{}",
        d.content_type()
    );
    assert!(
        d.text.to_lowercase().contains("<html"),
        "{}",
        &d.text[..d.text.len().min(200)]
    );
}

#[tokio::test]
async fn extractor_rejections_are_problem_json_with_pointers() {
    let s = start().await;
    // A path segment that is not UTF-8.
    s.get("/v1/campaigns/%ff/report")
        .await
        .problem(400, Some("/"));
    // A query parameter given twice names the parameter.
    let c = s
        .post(
            "/v1/channel-configurations",
            &json!({"name": "m", "channel": "email", "category": "any",
                    "email": {"fromAddress": "a@shop.example.com"}}),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.text);
    s.get("/v1/campaigns?status=draft&status=live")
        .await
        .problem(400, Some("/status"));
    // Tracking links answer 404 to anything that is not a token.
    let r = s.raw(Method::GET, "/t/c/%00%ff", None, &[], false).await;
    assert_eq!(r.status, 404, "{}", r.text);
}
