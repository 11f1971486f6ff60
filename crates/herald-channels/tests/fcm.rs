//! FCM HTTP v1 against a local Google: the token endpoint verifies the
//! service account's RS256 assertion with its public key, the send endpoint
//! checks the bearer token and the message shape.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use herald_channels::settings::push_transport;
use herald_channels::{ErrorClass, PushMessage, PushPlatform, PushTransport};
use herald_domain::push_settings::{FCM_SCOPE, PushSettings};
use serde_json::{Value, json};

const PUBLIC_KEY: &[u8] = include_bytes!("fixtures/test-service-account-public.der");
const SERVICE_ACCOUNT: &str = include_str!("fixtures/test-service-account.json");

#[derive(Default)]
struct Google {
    /// The `aud` the assertion must carry: the service account's token_uri.
    audience: String,
    /// Access tokens issued, in order.
    issued: Vec<String>,
    /// Tokens the send endpoint answers 401 to (revoked early).
    revoked: HashSet<String>,
    sent: Vec<Value>,
    problems: Vec<String>,
}

type Shared = Arc<Mutex<Google>>;

async fn token(
    State(g): State<Shared>,
    Form(form): Form<Vec<(String, String)>>,
) -> axum::response::Response {
    let mut g = g.lock().unwrap();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if get("grant_type").as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        g.problems
            .push(format!("grant_type {:?}", get("grant_type")));
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    let assertion = get("assertion").unwrap_or_default();
    let (header, claims) = match common::verify_jwt(
        &assertion,
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        PUBLIC_KEY,
    ) {
        Ok(v) => v,
        Err(e) => {
            g.problems.push(format!("assertion: {e}"));
            return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}))).into_response();
        }
    };
    let now = common::now_secs();
    let checks = [
        (header["alg"] == "RS256", "alg"),
        (
            claims["iss"] == "herald-test@herald-test.iam.gserviceaccount.com",
            "iss",
        ),
        (claims["scope"] == FCM_SCOPE, "scope"),
        (claims["aud"] == g.audience.as_str(), "aud"),
        (
            claims["iat"]
                .as_u64()
                .is_some_and(|iat| iat.abs_diff(now) < 300),
            "iat",
        ),
        (
            claims["exp"].as_u64() == claims["iat"].as_u64().map(|i| i + 3600),
            "exp",
        ),
    ];
    for (ok, what) in checks {
        if !ok {
            g.problems.push(format!("claim {what}: {header} {claims}"));
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_grant"})),
            )
                .into_response();
        }
    }
    let t = format!("ya29.test-{}", g.issued.len() + 1);
    g.issued.push(t.clone());
    Json(json!({"access_token": t, "expires_in": 3599, "token_type": "Bearer"})).into_response()
}

async fn send(
    State(g): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> axum::response::Response {
    let mut g = g.lock().unwrap();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    if !g.issued.contains(&bearer) || g.revoked.contains(&bearer) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}})),
        )
            .into_response();
    }
    g.sent.push(body.clone());
    let message = &body["message"];
    if message["data"]
        .as_object()
        .is_some_and(|d| d.values().any(|v| !v.is_string()))
    {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": {"code": 400, "message": "Invalid value at 'message.data'", "status": "INVALID_ARGUMENT"}}))).into_response();
    }
    if message["token"] == "dead-token" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
                "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]
            }})),
        )
            .into_response();
    }
    if message["token"] == "busy-token" {
        return (StatusCode::TOO_MANY_REQUESTS, Json(json!({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "QUOTA_EXCEEDED"}]}}))).into_response();
    }
    let n = g.sent.len();
    Json(json!({"name": format!("projects/herald-test/messages/0:{n}")})).into_response()
}

async fn setup() -> (Box<dyn PushTransport>, Shared) {
    setup_with(false).await
}

/// `via_override`: the account keeps Google's token_uri and `tokenUrl`
/// points at the local endpoint, as with a proxy.
async fn setup_with(via_override: bool) -> (Box<dyn PushTransport>, Shared) {
    let g: Shared = Arc::default();
    let router = Router::new()
        .route("/token", post(token))
        .route("/v1/projects/{project}/messages:send", post(send))
        .with_state(g.clone());
    let addr = common::serve(router).await;
    let token_url = format!("http://{addr}/token");
    let mut sa: Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap();
    let mut fcm = json!({
        "serviceAccount": sa.clone(),
        "sendUrl": format!("http://{addr}/v1/projects/{{project_id}}/messages:send")
    });
    if via_override {
        g.lock().unwrap().audience = "https://oauth2.googleapis.com/token".into();
        fcm["tokenUrl"] = json!(token_url);
    } else {
        g.lock().unwrap().audience = token_url.clone();
        sa["token_uri"] = json!(token_url);
        fcm["serviceAccount"] = sa;
    }
    let settings =
        PushSettings::from_value(&json!({"appId": "com.example.herald", "fcm": fcm})).unwrap();
    (Box::new(push_transport(&settings).unwrap()), g)
}

fn push(token: &str) -> PushMessage {
    PushMessage {
        message_id: "0190f1a2-7b3c-7def-8123-456789abcdef".into(),
        platform: PushPlatform::Fcm,
        token: token.into(),
        title: "Your order shipped".into(),
        body: "Arrives \"tomorrow\"".into(),
        data: serde_json::from_value(json!({"orderId": 42, "deepLink": "app://orders/42"}))
            .unwrap(),
        image: None,
    }
}

#[tokio::test]
async fn one_token_for_many_concurrent_sends() {
    let (t, g) = setup().await;
    let t: Arc<dyn PushTransport> = Arc::from(t);
    let sends: Vec<_> = (0..20)
        .map(|i| {
            let t = t.clone();
            tokio::spawn(async move { t.send(&push(&format!("device-{i}"))).await })
        })
        .collect();
    for s in sends {
        let r = s.await.unwrap().unwrap();
        assert!(
            r.provider_message_id
                .unwrap()
                .starts_with("projects/herald-test/messages/")
        );
    }
    let g = g.lock().unwrap();
    assert!(g.problems.is_empty(), "{:?}", g.problems);
    assert_eq!(g.issued.len(), 1, "the token endpoint is hit once");
    assert_eq!(g.sent.len(), 20);
    let m = &g.sent[0]["message"];
    assert_eq!(
        m["notification"],
        json!({"title": "Your order shipped", "body": "Arrives \"tomorrow\""})
    );
    assert_eq!(
        m["data"],
        json!({"orderId": "42", "deepLink": "app://orders/42"})
    );
    assert!(m["token"].as_str().unwrap().starts_with("device-"));
}

#[tokio::test]
async fn unregistered_is_an_invalid_token() {
    let (t, _) = setup().await;
    let e = t.send(&push("dead-token")).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_deref()),
        (ErrorClass::InvalidToken, Some("UNREGISTERED"))
    );
    let e = t.send(&push("busy-token")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
}

#[tokio::test]
async fn a_rejected_access_token_is_refreshed_once() {
    let (t, g) = setup().await;
    t.send(&push("device-1")).await.unwrap();
    // Google revokes the token before its expiry.
    {
        let mut g = g.lock().unwrap();
        let first = g.issued[0].clone();
        g.revoked.insert(first);
    }
    t.send(&push("device-2")).await.unwrap();
    t.send(&push("device-3")).await.unwrap();
    let g = g.lock().unwrap();
    assert_eq!(
        g.issued.len(),
        2,
        "one refresh, then the new token is cached"
    );
    assert_eq!(g.sent.len(), 3);
}

#[tokio::test]
async fn a_token_rejected_after_refresh_is_permanent() {
    let (t, g) = setup().await;
    t.send(&push("device-1")).await.unwrap();
    // Every token is refused: the refreshed one too (e.g. the API disabled).
    {
        let mut g = g.lock().unwrap();
        let all: Vec<String> = (1..=5).map(|i| format!("ya29.test-{i}")).collect();
        g.revoked.extend(all);
    }
    let e = t.send(&push("device-2")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent, "{e}");
    assert_eq!(g.lock().unwrap().issued.len(), 2, "exactly one refresh");
}

#[tokio::test]
async fn an_apns_message_without_apns_settings_fails_permanently() {
    let (t, _) = setup().await;
    let mut m = push("device-1");
    m.platform = PushPlatform::Apns;
    let e = t.send(&m).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_deref()),
        (ErrorClass::Permanent, Some("platformNotConfigured"))
    );
}

#[tokio::test]
async fn through_a_token_url_override_the_audience_stays_token_uri() {
    let (t, g) = setup_with(true).await;
    t.send(&push("device-1")).await.unwrap();
    let g = g.lock().unwrap();
    assert!(g.problems.is_empty(), "{:?}", g.problems);
    assert_eq!(g.issued.len(), 1);
}
