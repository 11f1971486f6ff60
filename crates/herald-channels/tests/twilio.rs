//! Twilio's Messages API against a local server that checks requests the
//! way Twilio documents them and answers Twilio's JSON shapes.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use herald_channels::sms::{TwilioConfig, TwilioSms};
use herald_channels::{ErrorClass, SmsMessage, SmsTransport};
use herald_domain::sms_encoding::SmsEncoding;
use herald_domain::sms_settings::SmsSettings;
use serde_json::json;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "test-auth-token";

#[derive(Default)]
struct Seen {
    forms: Vec<HashMap<String, String>>,
}

fn twilio_error(status: u16, code: u64, message: &str) -> axum::response::Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status
        })),
    )
        .into_response()
}

async fn messages(
    State(seen): State<Arc<Mutex<Seen>>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> axum::response::Response {
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    );
    if account != SID {
        return twilio_error(404, 20404, "The requested resource was not found");
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected_auth.as_str()) {
        return twilio_error(401, 20003, "Authenticate");
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(ct, "application/x-www-form-urlencoded");
    seen.lock().unwrap().forms.push(form.clone());
    let to = form.get("To").cloned().unwrap_or_default();
    if form.get("Body").is_none_or(|b| b.is_empty()) {
        return twilio_error(400, 21602, "Message body is required.");
    }
    if !form.contains_key("From") && !form.contains_key("MessagingServiceSid") {
        return twilio_error(
            400,
            21603,
            "A 'From' or 'MessagingServiceSid' parameter is required",
        );
    }
    match to.as_str() {
        "+15005550001" => twilio_error(
            400,
            21211,
            "The 'To' number +15005550001 is not a valid phone number.",
        ),
        "+15005550429" => twilio_error(429, 20429, "Too Many Requests"),
        "+15005550002" => twilio_error(400, 30001, "Queue overflow"),
        "+15005550500" => twilio_error(500, 20500, "Internal Server Error"),
        _ => (
            StatusCode::CREATED,
            Json(json!({
                "account_sid": SID,
                "sid": "SM0123456789abcdef0123456789abcdef",
                "status": "queued",
                "to": to,
                "from": form.get("From"),
                "body": form.get("Body"),
                "num_segments": "1",
                "error_code": null,
                "error_message": null,
                "uri": format!("/2010-04-01/Accounts/{SID}/Messages/SM0123456789abcdef0123456789abcdef.json")
            })),
        )
            .into_response(),
    }
}

async fn twilio() -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let router = Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            post(messages),
        )
        .with_state(seen.clone());
    let addr = common::serve(router).await;
    (format!("http://{addr}"), seen)
}

fn config(base_url: &str) -> TwilioConfig {
    TwilioConfig {
        account_sid: SID.into(),
        auth_token: TOKEN.into(),
        base_url: base_url.into(),
        messaging_service_sid: None,
        error_codes: HashMap::new(),
    }
}

fn sms(to: &str, text: &str) -> SmsMessage {
    SmsMessage {
        message_id: "0190f1a2-7b3c-7def-8123-456789abcdef".into(),
        to: to.into(),
        from: "+15005550006".into(),
        text: text.into(),
    }
}

#[tokio::test]
async fn sends_the_documented_form_and_reads_the_sid() {
    let (base, seen) = twilio().await;
    // Built from channel-configuration settings, as the engine will.
    let settings = SmsSettings::from_value(&json!({
        "provider": "twilio",
        "from": "+15005550006",
        "twilio": {"accountSid": SID, "authToken": TOKEN, "baseUrl": base}
    }))
    .unwrap();
    let t = herald_channels::settings::sms_transport(&settings).unwrap();
    let text = "Your code is 123456 — valid 5 min";
    let r = t.send(&sms("+14155550100", text)).await.unwrap();
    assert_eq!(
        r.provider_message_id.as_deref(),
        Some("SM0123456789abcdef0123456789abcdef")
    );
    assert!(r.reply.contains("queued"), "{}", r.reply);
    // The em dash is not GSM-7.
    assert_eq!((r.encoding, r.segments), (SmsEncoding::Ucs2, 1));
    let forms = &seen.lock().unwrap().forms;
    assert_eq!(forms.len(), 1);
    assert_eq!(forms[0]["To"], "+14155550100");
    assert_eq!(forms[0]["From"], "+15005550006");
    assert_eq!(forms[0]["Body"], text);
    assert!(!forms[0].contains_key("MessagingServiceSid"));
}

#[tokio::test]
async fn a_messaging_service_replaces_from() {
    let (base, seen) = twilio().await;
    let mut c = config(&base);
    c.messaging_service_sid = Some("MG0123456789abcdef0123456789abcdef".into());
    let t = TwilioSms::new(c).unwrap();
    t.send(&sms("+14155550100", "hi")).await.unwrap();
    let forms = &seen.lock().unwrap().forms;
    assert_eq!(
        forms[0]["MessagingServiceSid"],
        "MG0123456789abcdef0123456789abcdef"
    );
    assert!(!forms[0].contains_key("From"));
}

#[tokio::test]
async fn error_replies_are_classified() {
    let (base, _) = twilio().await;
    let t = TwilioSms::new(config(&base)).unwrap();

    let e = t.send(&sms("+15005550001", "hi")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent, "{e}");
    assert_eq!(e.code.as_deref(), Some("21211"));
    assert!(e.reason.contains("not a valid phone number"), "{e}");

    let e = t.send(&sms("+15005550429", "hi")).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_deref()),
        (ErrorClass::Transient, Some("20429"))
    );

    // A 400 whose Twilio code means "later".
    let e = t.send(&sms("+15005550002", "hi")).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_deref()),
        (ErrorClass::Transient, Some("30001"))
    );

    let e = t.send(&sms("+15005550500", "hi")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);

    // Wrong credentials: permanent, and the token never appears in the reason.
    let mut c = config(&base);
    c.auth_token = "wrong-token".into();
    let e = TwilioSms::new(c)
        .unwrap()
        .send(&sms("+14155550100", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.class, e.code.as_deref()),
        (ErrorClass::Permanent, Some("20003"))
    );
    assert!(!e.to_string().contains("wrong-token"));
}

#[tokio::test]
async fn error_codes_override_the_classification() {
    let (base, _) = twilio().await;
    let settings = SmsSettings::from_value(&json!({
        "provider": "twilio",
        "from": "+15005550006",
        "twilio": {"accountSid": SID, "authToken": TOKEN, "baseUrl": base},
        "errorCodes": {"21211": "transient", "30001": "permanent"}
    }))
    .unwrap();
    let t = herald_channels::settings::sms_transport(&settings).unwrap();
    let e = t.send(&sms("+15005550001", "hi")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    let e = t.send(&sms("+15005550002", "hi")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
}

#[tokio::test]
async fn connection_refused_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let t = TwilioSms::new(config(&format!("http://{addr}"))).unwrap();
    let e = t.send(&sms("+14155550100", "hi")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient, "{e}");
}

#[tokio::test]
async fn no_answer_after_the_request_was_sent_is_unknown() {
    // A server that reads the request and never answers.
    let router = Router::new().route(
        "/2010-04-01/Accounts/{account}/Messages.json",
        post(|_body: String| async {
            std::future::pending::<()>().await;
            StatusCode::OK
        }),
    );
    let addr = common::serve(router).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let t = TwilioSms::with_client(config(&format!("http://{addr}")), client);
    let e = t.send(&sms("+14155550100", "hi")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Unknown, "{e}");
}
