//! Test harness: a Herald server on a temp-dir SQLite store, served on
//! 127.0.0.1:0, called with reqwest.
#![allow(dead_code)]

pub mod reference;

use std::sync::Arc;

use herald_server::{AppState, RouterOptions, ensure_admin_key, router};
use herald_store::Store;
use herald_store::sqlite::SqliteStore;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub const ADMIN_KEY: &str = "hk_test_admin_key_0123456789";

pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    pub key: String,
    pub store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
    _task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// Asserts a problem+json error with this status (and, when given, an
    /// `errors[]` entry with this pointer). Returns the body.
    #[track_caller]
    pub fn problem(&self, status: u16, pointer: Option<&str>) -> &Value {
        assert_eq!(self.status, status, "status; body: {}", self.text);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "content type; body: {}",
            self.text
        );
        assert_eq!(
            self.json["status"],
            json!(status),
            "body status: {}",
            self.text
        );
        assert!(self.json["title"].is_string(), "title: {}", self.text);
        assert!(self.json["type"].is_string(), "type: {}", self.text);
        assert!(
            self.json["report"]["additionalContext"].is_object(),
            "report.additionalContext: {}",
            self.text
        );
        if let Some(p) = pointer {
            assert!(
                self.pointers().iter().any(|x| x == p),
                "expected an error with pointer {p}; body: {}",
                self.text
            );
        }
        &self.json
    }

    pub fn pointers(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["pointer"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "status; body: {}", self.text);
        &self.json
    }
}

pub async fn start() -> Server {
    start_inner(None, None).await.0
}

/// A server with a delivery engine on the same store, sending through
/// `transport` and reading time from `config.clock`.
pub async fn start_with_engine(
    transport: Arc<dyn herald_mail::MailTransport>,
    config: herald_delivery::EngineConfig,
) -> (Server, herald_delivery::EngineHandle) {
    let (server, engine) = start_inner(Some((transport, config)), None).await;
    (server, engine.expect("engine"))
}

/// As [`start_with_engine`], with SMS and push transports whose outboxes
/// are in `outbox_dir/outbox/`.
pub async fn start_with_channels(
    transport: Arc<dyn herald_mail::MailTransport>,
    config: herald_delivery::EngineConfig,
    outbox_dir: &std::path::Path,
) -> (Server, herald_delivery::EngineHandle) {
    let channels = Arc::new(herald_delivery::Channels::open(outbox_dir).expect("outboxes"));
    let (server, engine) = start_inner(Some((transport, config)), Some(channels)).await;
    (server, engine.expect("engine"))
}

async fn start_inner(
    engine: Option<(
        Arc<dyn herald_mail::MailTransport>,
        herald_delivery::EngineConfig,
    )>,
    channels: Option<Arc<herald_delivery::Channels>>,
) -> (Server, Option<herald_delivery::EngineHandle>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.expect("open store"));
    ensure_admin_key(store.as_ref(), Some(ADMIN_KEY))
        .await
        .expect("admin key");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    // Links in messages point back at this server, signed with its key.
    let token_key = herald_domain::token::TokenKey::new([7; 32]);
    let engine = engine.map(|(transport, config)| {
        let mut e = herald_delivery::DeliveryEngine::new(store.clone(), transport, config)
            .with_email_builder(herald_delivery::EmailBuilder::new(
                Some(token_key.clone()),
                format!("http://{addr}"),
            ));
        if let Some(c) = channels {
            e = e.with_channels(c);
        }
        e.start()
    });
    let state =
        AppState::new(store.clone(), engine.as_ref().map(|e| e.waker())).with_token_key(token_key);
    let (stop, rx) = tokio::sync::watch::channel(false);
    // The scheduler lives as long as the test's runtime.
    std::mem::forget(stop);
    state.start_background(rx).await.expect("background tasks");
    let app = router(state, RouterOptions::default());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    let server = Server {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        key: ADMIN_KEY.to_string(),
        store,
        _dir: dir,
        _task: task,
    };
    (server, engine)
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the admin key; `body` is sent verbatim as JSON text.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
        auth: bool,
    ) -> Resp {
        let mut rb = self.client.request(method, self.url(path));
        if auth {
            rb = rb.bearer_auth(&self.key);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let sent = body.clone();
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b);
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        // Every execution call that is accepted was a valid reference
        // request and got a reference response; every error body has the
        // reference's error shape.
        let v = reference::validators();
        if status == 202 && path.contains("/executions/unitary") {
            let req: Value = serde_json::from_str(sent.as_deref().unwrap_or("null")).unwrap();
            reference::assert_valid(&v.request, &req, "accepted request body");
            reference::assert_valid(&v.response, &json, "202 response body");
        }
        if status >= 400 && !json.is_null() {
            reference::assert_valid(&v.error, &json, "error body");
        }
        Resp {
            status,
            headers,
            text,
            json,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.raw(Method::GET, path, None, &[], true).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.raw(Method::POST, path, Some(body.to_string()), &[], true)
            .await
    }

    pub async fn post_empty(&self, path: &str) -> Resp {
        self.raw(Method::POST, path, None, &[], true).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.raw(Method::PATCH, path, Some(body.to_string()), &[], true)
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.raw(Method::PUT, path, Some(body.to_string()), &[], true)
            .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.raw(Method::DELETE, path, None, &[], true).await
    }

    /// `POST /ajo/im/executions/unitary`.
    pub async fn fire(&self, body: &Value) -> Resp {
        self.post("/ajo/im/executions/unitary", body).await
    }

    /// An email channel configuration; returns its id.
    pub async fn email_config(&self, category: &str) -> String {
        let r = self
            .post(
                "/v1/channel-configurations",
                &json!({"name": format!("{category} mail"), "channel": "email", "category": category,
                        "email": {"fromAddress": "noreply@shop.example.com", "fromName": "Shop"}}),
            )
            .await;
        r.ok(201)["id"].as_str().expect("config id").to_string()
    }

    /// Creates a campaign (201) from a definition; returns the campaign.
    pub async fn create_campaign(&self, def: &Value) -> Value {
        self.post("/v1/campaigns", def).await.ok(201).clone()
    }

    pub async fn activate(&self, id: &str) -> Value {
        self.post_empty(&format!("/v1/campaigns/{id}/activate"))
            .await
            .ok(200)
            .clone()
    }

    /// A live transactional email campaign (with `overrides` merged into the
    /// default definition); returns its id.
    pub async fn live_campaign_with(&self, overrides: Value) -> String {
        let cfg = self.email_config("transactional").await;
        let mut def = campaign_def(&cfg);
        merge(&mut def, &overrides);
        let c = self.create_campaign(&def).await;
        let id = c["id"].as_str().unwrap().to_string();
        let a = self.activate(&id).await;
        assert_eq!(a["status"], "live", "{a}");
        id
    }

    pub async fn live_campaign(&self) -> String {
        self.live_campaign_with(json!({})).await
    }

    pub async fn execution(&self, id: &str) -> Value {
        self.get(&format!("/v1/executions/{id}"))
            .await
            .ok(200)
            .clone()
    }

    pub async fn report(&self, campaign_id: &str) -> Value {
        self.get(&format!("/v1/campaigns/{campaign_id}/report"))
            .await
            .ok(200)
            .clone()
    }

    /// Number of messages the campaign has stored (the report's `targeted`).
    pub async fn targeted(&self, campaign_id: &str) -> u64 {
        self.report(campaign_id).await["targeted"].as_u64().unwrap()
    }
}

/// A valid transactional email campaign definition.
pub fn campaign_def(config_id: &str) -> Value {
    json!({
        "name": "Password reset",
        "description": "Sent when a user asks to reset their password",
        "tags": ["auth", "security"],
        "labels": [],
        "category": "transactional",
        "action": {"channel": "email", "channelConfigurationId": config_id,
                   "tracking": {"opens": true, "clicks": true}},
        "content": {"email": {
            "subject": "Reset your password, {{profile.person.name.firstName}}",
            "html": "<p>Hi {{profile.person.name.firstName}}, <a href=\"{{context.resetUrl}}\">reset</a> at {{context.shop}}</p>",
            "text": "Hi {{profile.person.name.firstName}}, reset: {{context.resetUrl}} at {{context.shop}}"}},
        "audience": {"identityNamespace": "email", "createNewProfiles": true},
        "schedule": {"startAt": null, "endAt": null},
        "webhooksEnabled": false
    })
}

/// A unitary request with one external recipient.
pub fn unitary(campaign_id: &str, request_id: &str) -> Value {
    json!({
        "requestId": request_id,
        "campaignId": campaign_id,
        "recipients": [
            {"type": "external", "namespace": "email", "userId": "jane@example.com",
             "profile": {"person": {"name": {"firstName": "Jane"}}},
             "context": {"resetUrl": "https://accounts.example.com/r/1"}}
        ],
        "context": {"shop": "North Store"}
    })
}

/// `n` distinct external recipients.
pub fn recipients(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                json!({"type": "external", "namespace": "email", "userId": format!("user{i}@example.com"),
                       "profile": {"person": {"name": {"firstName": format!("U{i}")}}}})
            })
            .collect(),
    )
}

/// RFC 7396 merge patch.
pub fn merge(target: &mut Value, patch: &Value) {
    if let Value::Object(p) = patch {
        if !target.is_object() {
            *target = json!({});
        }
        let t = target.as_object_mut().unwrap();
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    } else {
        *target = patch.clone();
    }
}
