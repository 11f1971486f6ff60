//! Fragments: the API, inclusion rules checked by review, expansion in
//! simulate and cURL, and versions pinned at activation.

mod support;

use serde_json::{Value, json};
use support::*;

async fn fragment(s: &Server, name: &str, content: &str) -> String {
    let r = s
        .post(
            "/v1/fragments",
            &json!({"name": name, "description": "d", "content": content}),
        )
        .await;
    let b = r.ok(201);
    assert_eq!(b["version"], 1);
    assert_eq!(b["content"], content);
    b["id"].as_str().unwrap().to_string()
}

fn def_with(cfg: &str, subject: &str, html: &str) -> Value {
    let mut def = campaign_def(cfg);
    def["content"]["email"] = json!({"subject": subject, "html": html});
    def
}

fn check_codes(v: &Value) -> Vec<(String, String)> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["code"].as_str().unwrap().to_string(),
                c["pointer"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragment_api_versions_and_errors() {
    let s = start().await;
    let id = fragment(&s, "Footer", "<footer>{{context.shop}}</footer>").await;
    let g = s.get(&format!("/v1/fragments/{id}")).await;
    let b = g.ok(200);
    assert_eq!(b["name"], "Footer");
    assert!(b["createdAt"].is_string() && b["updatedAt"].is_string());

    let p = s
        .put(
            &format!("/v1/fragments/{id}"),
            &json!({"content": "<footer>v2 {{context.shop}}</footer>"}),
        )
        .await;
    let b = p.ok(200);
    assert_eq!(b["version"], 2);
    assert_eq!(b["name"], "Footer", "name kept when not given");
    assert_eq!(b["description"], "d");
    let latest = s.get(&format!("/v1/fragments/{id}")).await;
    assert_eq!(latest.ok(200)["version"], 2);
    let v1 = s.get(&format!("/v1/fragments/{id}/versions/1")).await;
    assert_eq!(v1.ok(200)["content"], "<footer>{{context.shop}}</footer>");
    s.get(&format!("/v1/fragments/{id}/versions/3"))
        .await
        .problem(404, None);
    s.get(&format!("/v1/fragments/{id}/versions/x"))
        .await
        .problem(404, None);
    let list = s.get("/v1/fragments").await;
    let items = list.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["version"], 2);

    s.get("/v1/fragments/nope").await.problem(404, None);
    s.put("/v1/fragments/nope", &json!({"content": "x"}))
        .await
        .problem(404, None);
    s.post("/v1/fragments", &json!({"name": " ", "content": "x"}))
        .await
        .problem(400, Some("/name"));
    s.post("/v1/fragments", &json!({"name": "x"}))
        .await
        .problem(400, None);

    // Delete: refused while a live campaign uses it, allowed after it stops.
    let cfg = s.email_config("transactional").await;
    let c = s
        .create_campaign(&def_with(
            &cfg,
            "Hi",
            &format!("<p>x</p>{{{{fragment id='ajo:{id}'}}}}"),
        ))
        .await;
    let cid = c["id"].as_str().unwrap();
    s.activate(cid).await;
    let d = s.delete(&format!("/v1/fragments/{id}")).await;
    d.problem(409, None);
    assert!(d.text.contains(cid), "{}", d.text);
    s.post_empty(&format!("/v1/campaigns/{cid}/stop"))
        .await
        .ok(200);
    assert_eq!(s.delete(&format!("/v1/fragments/{id}")).await.status, 204);
    s.get(&format!("/v1/fragments/{id}"))
        .await
        .problem(404, None);
    s.delete(&format!("/v1/fragments/{id}"))
        .await
        .problem(404, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_reports_unknown_deep_broken_and_too_many_fragments() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let leaf = fragment(&s, "Leaf", "leaf").await;
    let middle = fragment(&s, "Middle", &format!("m {{{{fragment id='{leaf}'}}}}")).await;
    let top = fragment(
        &s,
        "Top",
        &format!("t {{{{fragment id=\"ajo:{middle}\"}}}}"),
    )
    .await;
    // A fragment's content is checked where it is included.
    let opener = fragment(&s, "Opener", "{{#if context.x}}open").await;

    let review = |def: Value| {
        let s = &s;
        async move {
            let c = s.create_campaign(&def).await;
            let id = c["id"].as_str().unwrap().to_string();
            s.post_empty(&format!("/v1/campaigns/{id}/review"))
                .await
                .ok(200)
                .clone()
        }
    };

    // One level of nesting is fine.
    let b = review(def_with(
        &cfg,
        "Hi",
        &format!("<p>{{{{fragment id='ajo:{middle}' mode='inline'}}}}</p>"),
    ))
    .await;
    assert_eq!(b["ready"], true, "{b:#}");

    // Unknown id, nesting too deep, too many inclusions: all reported.
    let many = format!("{{{{fragment id='{leaf}'}}}}").repeat(31);
    let b = review(def_with(
        &cfg,
        "Hi {{fragment id='ajo:nope'}}",
        &format!("<p>{{{{fragment id='{top}'}}}}</p>"),
    ))
    .await;
    let mut def = def_with(&cfg, "Hi", "<p>x</p>");
    def["content"]["email"]["text"] = json!(many);
    let many_review = review(def).await;
    let codes = check_codes(&b);
    assert!(
        codes.contains(&("unknown_fragment".into(), "/content/email/subject".into())),
        "{b:#}"
    );
    assert!(
        codes.contains(&(
            "fragment_nesting_too_deep".into(),
            "/content/email/html".into()
        )),
        "{b:#}"
    );
    assert!(
        check_codes(&many_review)
            .contains(&("too_many_fragments".into(), "/content/email/text".into())),
        "{many_review:#}"
    );
    assert_eq!(b["ready"], false);
    let unknown = b["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "unknown_fragment")
        .unwrap();
    assert_eq!(unknown["line"], 1);
    assert_eq!(unknown["column"], 4);

    // A fragment that breaks the field it lands in: the message names it.
    let b = review(def_with(
        &cfg,
        "Hi",
        &format!("<p>{{{{fragment id='{opener}'}}}}</p>"),
    ))
    .await;
    assert_eq!(b["ready"], false, "{b:#}");
    let c = b["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["pointer"] == "/content/email/html")
        .unwrap()
        .clone();
    assert!(
        c["message"].as_str().unwrap().contains("Opener"),
        "the message names the fragment: {c}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_and_curl_see_fragments_and_lets_flow() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let f = fragment(
        &s,
        "Greeting",
        "{% let who = profile.person.name.firstName %}<b>{{context.order.id}}</b>",
    )
    .await;
    let c = s
        .create_campaign(&def_with(
            &cfg,
            "Order {{fragment id='ajo:FRAG'}}"
                .replace("FRAG", &f)
                .as_str(),
            &format!("{{{{fragment id='{f}'}}}} for {{{{who}}}}"),
        ))
        .await;
    let id = c["id"].as_str().unwrap();
    let r = s
        .post(
            &format!("/v1/campaigns/{id}/simulate"),
            &json!({"profile": {"person": {"name": {"firstName": "Jane"}}}, "context": {"order": {"id": "42"}}}),
        )
        .await;
    let b = r.ok(200);
    assert_eq!(b["content"]["email"]["subject"], "Order <b>42</b>");
    assert_eq!(b["content"]["email"]["html"], "<b>42</b> for Jane");
    let text = s.get(&format!("/v1/campaigns/{id}/curl")).await.text;
    assert!(text.contains("<order.id>"), "{text}");
    assert!(text.contains("firstName"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_pins_fragment_versions() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let f = fragment(&s, "Sig", "v1").await;
    let c = s
        .create_campaign(&def_with(
            &cfg,
            "Hi",
            &format!("<p>{{{{fragment id='ajo:{f}'}}}}</p>"),
        ))
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    s.activate(&id).await;
    s.put(&format!("/v1/fragments/{f}"), &json!({"content": "v2"}))
        .await
        .ok(200);
    let v = s
        .store
        .get_campaign_version("prod", &id, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.fragments[&f].version, 1);
    assert_eq!(v.fragments[&f].content, "v1");
    // Simulate renders the definition being edited with the latest version.
    let r = s
        .post(&format!("/v1/campaigns/{id}/simulate"), &json!({}))
        .await;
    assert_eq!(r.ok(200)["content"]["email"]["html"], "<p>v2</p>");
    // Re-activating (after an edit) picks up the new version.
    s.patch(
        &format!("/v1/campaigns/{id}"),
        &json!({"description": "again"}),
    )
    .await
    .ok(200);
    s.activate(&id).await;
    let v = s
        .store
        .get_campaign_version("prod", &id, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.fragments[&f].version, 2);
}
