//! Multilingual content: language settings, per-locale content, review,
//! simulate, and the locale each message of an execution is given.

mod support;

use serde_json::{Value, json};
use support::*;

async fn language_settings(s: &Server, body: Value) -> String {
    let r = s.post("/v1/language-settings", &body).await;
    r.ok(201)["id"].as_str().expect("id").to_string()
}

fn email(subject: &str) -> Value {
    json!({"email": {"subject": subject, "html": format!("<p>{subject}</p>")}})
}

/// A multilingual campaign definition over en-US, fr-FR, de-DE.
fn ml_def(cfg: &str, settings_id: &str) -> Value {
    let mut def = campaign_def(cfg);
    def["languageSettingsId"] = json!(settings_id);
    def["content"] = json!({"locales": {
        "en-US": email("Hello {{profile.person.name.firstName}}"),
        "fr-FR": email("Bonjour {{profile.person.name.firstName}}"),
        "de-DE": email("Hallo {{profile.person.name.firstName}}"),
    }});
    def
}

async fn review_of(s: &Server, def: &Value) -> Value {
    let c = s.create_campaign(def).await;
    let id = c["id"].as_str().unwrap();
    s.post_empty(&format!("/v1/campaigns/{id}/review"))
        .await
        .ok(200)
        .clone()
}

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
async fn language_settings_create_list_get_and_invalid() {
    let s = start().await;
    let r = s
        .post(
            "/v1/language-settings",
            &json!({"name": "EU", "locales": ["en-US", "fr-FR", "de-DE"], "fallbackLocale": "en-US",
                    "rules": [{"locale": "fr-FR", "condition": "context.country = \"FR\""}]}),
        )
        .await;
    let b = r.ok(201).clone();
    let id = b["id"].as_str().unwrap();
    assert_eq!(b["preferenceAttribute"], "profile.preferredLanguage");
    assert_eq!(b["locales"], json!(["en-US", "fr-FR", "de-DE"]));
    assert_eq!(b["fallbackLocale"], "en-US");
    assert_eq!(b["rules"][0]["locale"], "fr-FR");
    assert!(b["createdAt"].is_string());
    let g = s.get(&format!("/v1/language-settings/{id}")).await;
    assert_eq!(g.ok(200)["name"], "EU");
    let l = s.get("/v1/language-settings").await;
    assert!(
        l.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == json!(id))
    );
    s.get("/v1/language-settings/nope").await.problem(404, None);
    // Another sandbox does not see them.
    let other = s
        .raw(
            reqwest::Method::GET,
            &format!("/v1/language-settings/{id}"),
            None,
            &[("x-sandbox-name", "dev")],
            true,
        )
        .await;
    other.problem(404, None);

    let bad = s
        .post(
            "/v1/language-settings",
            &json!({"name": "Bad", "locales": ["en-US", "EN-us", "fr_FR"], "fallbackLocale": "it-IT",
                    "rules": [{"locale": "de-DE", "condition": "context.country ="}]}),
        )
        .await;
    bad.problem(400, Some("/locales/1"));
    for p in [
        "/locales/2",
        "/fallbackLocale",
        "/rules/0/locale",
        "/rules/0/condition",
    ] {
        assert!(bad.pointers().iter().any(|x| x == p), "{p}: {}", bad.text);
    }
    let many: Vec<String> = (0..51).map(|i| format!("x{:02}-US", i % 100)).collect();
    let too_many = s
        .post(
            "/v1/language-settings",
            &json!({"name": "Many", "locales": many}),
        )
        .await;
    too_many.problem(400, Some("/locales"));
    let none = s
        .post(
            "/v1/language-settings",
            &json!({"name": "None", "locales": []}),
        )
        .await;
    none.problem(400, Some("/locales"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_checks_every_locale() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let no_fallback = language_settings(
        &s,
        json!({"name": "EU", "locales": ["en-US", "fr-FR", "de-DE"]}),
    )
    .await;

    // Complete content, no fallback: a warning, still ready.
    let c = s.create_campaign(&ml_def(&cfg, &no_fallback)).await;
    let id = c["id"].as_str().unwrap();
    assert_eq!(c["languageSettingsId"], json!(no_fallback));
    let r = s.post_empty(&format!("/v1/campaigns/{id}/review")).await;
    let b = r.ok(200).clone();
    assert_eq!(b["ready"], true, "{b}");
    assert!(checks(&b).contains(&(
        "no_fallback_locale".into(),
        "warning".into(),
        "/languageSettingsId".into()
    )));

    // Template errors in two locales and two fields, a missing locale, a
    // locale the settings do not have: all reported at once.
    let mut def = ml_def(&cfg, &no_fallback);
    def["content"]["locales"]["fr-FR"]["email"]["subject"] = json!("Bonjour {{profile.name");
    def["content"]["locales"]["en-US"]["email"]["html"] = json!("<p>\n{{#if x}}</p>");
    def["content"]["locales"]
        .as_object_mut()
        .unwrap()
        .remove("de-DE");
    def["content"]["locales"]["it-IT"] = email("Ciao");
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap();
    let r = s.post_empty(&format!("/v1/campaigns/{id}/review")).await;
    let b = r.ok(200).clone();
    assert_eq!(b["ready"], false);
    let cs = checks(&b);
    for (code, pointer) in [
        ("template_syntax", "/content/locales/fr-FR/email/subject"),
        ("template_syntax", "/content/locales/en-US/email/html"),
        ("locale_content_missing", "/content/locales/de-DE"),
        ("unknown_locale", "/content/locales/it-IT"),
    ] {
        assert!(
            cs.contains(&(code.into(), "error".into(), pointer.into())),
            "{code} at {pointer}: {b:#}"
        );
    }
    let syntax = b["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["pointer"] == "/content/locales/en-US/email/html")
        .unwrap();
    assert_eq!(syntax["line"], 2, "{syntax}");
    assert!(syntax["column"].is_number());
    // Activation refuses with the same pointers.
    let a = s.post_empty(&format!("/v1/campaigns/{id}/activate")).await;
    a.problem(422, Some("/content/locales/de-DE"));

    // Unknown language settings.
    let c = s.create_campaign(&ml_def(&cfg, "no-such-settings")).await;
    let id = c["id"].as_str().unwrap();
    let b = s
        .post_empty(&format!("/v1/campaigns/{id}/review"))
        .await
        .ok(200)
        .clone();
    assert_eq!(b["ready"], false);
    assert!(checks(&b).contains(&(
        "unknown_language_settings".into(),
        "error".into(),
        "/languageSettingsId".into()
    )));

    // content.locales without languageSettingsId: a review error.
    let mut def = campaign_def(&cfg);
    def["content"]["locales"] = json!({"fr-FR": email("Bonjour")});
    let b = review_of(&s, &def).await;
    assert!(checks(&b).contains(&(
        "locales_without_language_settings".into(),
        "error".into(),
        "/content/locales".into()
    )));
    // A locale key that is not BCP 47 is refused on create.
    let mut def = ml_def(&cfg, &no_fallback);
    def["content"]["locales"]["fr_FR"] = email("Bonjour");
    s.post("/v1/campaigns", &def)
        .await
        .problem(400, Some("/content/locales/fr_FR"));

    // languageSettingsId without content.locales is refused on create.
    let mut def = campaign_def(&cfg);
    def["languageSettingsId"] = json!(no_fallback);
    s.post("/v1/campaigns", &def)
        .await
        .problem(400, Some("/content/locales"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_chooses_the_locale_like_an_execution() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let settings = language_settings(
        &s,
        json!({"name": "EU", "locales": ["en-US", "fr-FR", "de-DE"],
               "rules": [{"locale": "de-DE", "condition": "context.country = \"DE\""}]}),
    )
    .await;
    let c = s.create_campaign(&ml_def(&cfg, &settings)).await;
    let id = c["id"].as_str().unwrap();
    let sim = |body: Value| {
        let s = &s;
        let path = format!("/v1/campaigns/{id}/simulate");
        async move { s.post(&path, &body).await }
    };
    let jane = json!({"person": {"name": {"firstName": "Jane"}}, "preferredLanguage": "fr-CA"});

    let r = sim(json!({"profile": jane})).await;
    let b = r.ok(200);
    assert_eq!(b["locale"], "fr-FR");
    assert_eq!(b["content"]["email"]["subject"], "Bonjour Jane");

    // A rule wins over the preference.
    let r = sim(json!({"profile": jane, "context": {"country": "DE"}})).await;
    assert_eq!(r.ok(200)["locale"], "de-DE");
    assert_eq!(r.json["content"]["email"]["subject"], "Hallo Jane");

    // An explicit locale (case-insensitive) wins over everything.
    let r = sim(json!({"profile": jane, "locale": "en-us"})).await;
    assert_eq!(r.ok(200)["locale"], "en-US");
    assert_eq!(r.json["content"]["email"]["subject"], "Hello Jane");
    sim(json!({"profile": jane, "locale": "it-IT"}))
        .await
        .problem(422, Some("/locale"));

    // No match and no fallback: 422 saying so.
    let r = sim(json!({"profile": {"preferredLanguage": "ja-JP"}})).await;
    r.problem(422, None);
    assert_eq!(r.json["errors"][0]["code"], "noLocale", "{}", r.text);
    assert!(r.text.contains("noLocale"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execution_records_the_locale_and_excludes_no_locale() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let settings = language_settings(
        &s,
        json!({"name": "EU", "locales": ["en-US", "fr-FR", "de-DE"], "fallbackLocale": "en-US"}),
    )
    .await;
    let strict =
        language_settings(&s, json!({"name": "Strict", "locales": ["en-US", "fr-FR"]})).await;

    let with_fallback = s.create_campaign(&ml_def(&cfg, &settings)).await;
    let with_fallback = with_fallback["id"].as_str().unwrap().to_string();
    s.activate(&with_fallback).await;
    let mut def = ml_def(&cfg, &strict);
    def["content"]["locales"]
        .as_object_mut()
        .unwrap()
        .remove("de-DE");
    let c = s.create_campaign(&def).await;
    let strict_id = c["id"].as_str().unwrap().to_string();
    s.activate(&strict_id).await;

    let person = |user: &str, lang: Option<&str>| {
        let mut p = json!({"person": {"name": {"firstName": user}}});
        if let Some(l) = lang {
            p["preferredLanguage"] = json!(l);
        }
        json!({"type": "external", "namespace": "email", "userId": format!("{user}@example.com"), "profile": p})
    };
    let r = s
        .fire(&json!({"requestId": "ml-1", "campaignId": strict_id, "recipients": [
            person("ann", Some("en-US")), person("bea", Some("fr-CA")), person("dan", Some("de-DE"))]}))
        .await;
    let b = r.ok(202).clone();
    assert_eq!(b["recipients"][0]["status"], "queued");
    assert_eq!(b["recipients"][1]["status"], "queued");
    assert_eq!(b["recipients"][2]["status"], "excluded");
    assert_eq!(b["recipients"][2]["reason"], "noLocale");
    let e = s.execution(b["executionId"].as_str().unwrap()).await;
    let locales: Vec<Value> = e["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["locale"].clone())
        .collect();
    assert_eq!(locales, vec![json!("en-US"), json!("fr-FR"), Value::Null]);
    let m = s
        .get(&format!(
            "/v1/messages/{}",
            b["recipients"][1]["messageId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(m.ok(200)["locale"], "fr-FR");
    let report = s.report(&strict_id).await;
    assert_eq!(report["byLocale"], json!({"en-US": 1, "fr-FR": 1}));
    assert_eq!(report["excluded"]["byReason"]["noLocale"], 1);

    // The version keeps the settings it was activated with.
    let r = s
        .fire(
            &json!({"requestId": "ml-2", "campaignId": with_fallback, "recipients": [
            person("eve", Some("de-AT")), person("fay", Some("ja-JP")), person("gus", None)]}),
        )
        .await;
    let b = r.ok(202).clone();
    let e = s.execution(b["executionId"].as_str().unwrap()).await;
    let locales: Vec<Value> = e["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["locale"].clone())
        .collect();
    assert_eq!(
        locales,
        vec![json!("de-DE"), json!("en-US"), json!("en-US")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_content_keeps_working_and_curl_lists_every_locale_variable() {
    let s = start().await;
    let cfg = s.email_config("transactional").await;
    let settings = language_settings(
        &s,
        json!({"name": "EU", "locales": ["en-US", "fr-FR", "de-DE"]}),
    )
    .await;
    let mut def = ml_def(&cfg, &settings);
    def["content"]["locales"]["fr-FR"]["email"]["html"] = json!("<p>{{context.order.id}}</p>");
    let c = s.create_campaign(&def).await;
    let id = c["id"].as_str().unwrap();
    let text = s.get(&format!("/v1/campaigns/{id}/curl")).await.text;
    assert!(text.contains("<order.id>"), "{text}");
    assert!(text.contains("firstName"), "{text}");

    // Plain content: the message has no locale.
    let plain = s.live_campaign().await;
    let r = s.fire(&unitary(&plain, "plain-1")).await;
    let b = r.ok(202).clone();
    let e = s.execution(b["executionId"].as_str().unwrap()).await;
    assert!(e["messages"][0]["locale"].is_null());
    assert_eq!(s.report(&plain).await["byLocale"], json!({}));
}
