//! The generic JSON SMS provider: the body template rendered with JSON
//! escaping, headers and method as configured, replies classified.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use axum::{Json, Router};
use herald_channels::settings::sms_transport;
use herald_channels::{ErrorClass, SmsMessage, SmsTransport};
use herald_domain::sms_settings::SmsSettings;
use serde_json::{Value, json};

type Seen = Arc<Mutex<Vec<(Method, HeaderMap, Value)>>>;

async fn provider(
    State(seen): State<Seen>,
    method: Method,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    // The body must be JSON as sent, whatever the text contained.
    let v: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not JSON: {e}")).into_response(),
    };
    seen.lock().unwrap().push((method, headers, v.clone()));
    match v["destination"]["msisdn"].as_str() {
        Some("+33600000503") => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        Some("+33600000422") => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": {"code": "E_THROTTLED", "text": "slow down"}})),
        )
            .into_response(),
        Some("+33600000400") => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "E_NUMBER", "text": "bad number"}})),
        )
            .into_response(),
        _ => Json(json!({"result": {"id": 987654, "state": "accepted"}})).into_response(),
    }
}

async fn setup() -> (Box<dyn SmsTransport>, Seen) {
    let seen: Seen = Arc::default();
    let router = Router::new()
        .route("/api/sms", any(provider))
        .with_state(seen.clone());
    let addr = common::serve(router).await;
    let settings = SmsSettings::from_value(&json!({
        "provider": "http",
        "from": "Herald",
        "http": {
            "url": format!("http://{addr}/api/sms"),
            "method": "PUT",
            "headers": {"X-Api-Key": "k-123"},
            "bodyTemplate": {
                "destination": {"msisdn": "{{to}}"},
                "sender": "{{from}}",
                "content": {"text": "{{text}}", "parts": ["ref {{messageId}}", 1, true, null]}
            },
            "responseIdPointer": "/result/id",
            "errorCodePointer": "/error/code"
        },
        "errorCodes": {"E_THROTTLED": "transient"}
    }))
    .unwrap();
    assert!(
        settings.validate("/sms").is_empty(),
        "{:?}",
        settings.validate("/sms")
    );
    (sms_transport(&settings).unwrap(), seen)
}

fn sms(to: &str, text: &str) -> SmsMessage {
    SmsMessage {
        message_id: "msg-1".into(),
        to: to.into(),
        from: "Herald".into(),
        text: text.into(),
    }
}

#[tokio::test]
async fn the_template_arrives_rendered_and_escaped() {
    let (t, seen) = setup().await;
    let text = "He said \"stop\"\nthen left\\ {{to}} \u{1}";
    let r = t.send(&sms("+33612345678", text)).await.unwrap();
    assert_eq!(r.provider_message_id.as_deref(), Some("987654"));
    let seen = seen.lock().unwrap();
    let (method, headers, body) = &seen[0];
    assert_eq!(method, Method::PUT);
    assert_eq!(headers["x-api-key"], "k-123");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        body,
        &json!({
            "destination": {"msisdn": "+33612345678"},
            "sender": "Herald",
            "content": {"text": text, "parts": ["ref msg-1", 1, true, null]}
        })
    );
}

#[tokio::test]
async fn replies_are_classified() {
    let (t, _) = setup().await;
    let e = t.send(&sms("+33600000503", "x")).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_deref()),
        (ErrorClass::Transient, Some("503"))
    );
    // A 4xx whose provider code is overridden as transient.
    let e = t.send(&sms("+33600000422", "x")).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_deref()),
        (ErrorClass::Transient, Some("E_THROTTLED"))
    );
    let e = t.send(&sms("+33600000400", "x")).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_deref()),
        (ErrorClass::Permanent, Some("E_NUMBER"))
    );
}
