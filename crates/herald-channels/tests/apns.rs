//! APNs over HTTP/2 (h2c here) against a local server that checks the
//! pseudo-headers and headers Apple documents and verifies the ES256
//! provider token with the key's public half.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Version};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use herald_channels::settings::push_transport;
use herald_channels::{ErrorClass, PushMessage, PushPlatform, PushTransport};
use herald_domain::push_settings::PushSettings;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use ring::signature::KeyPair;
use serde_json::{Value, json};

const TEAM: &str = "TEAM123456";
const KEY_ID: &str = "KEY1234567";
const TOPIC: &str = "com.example.herald";

#[derive(Default)]
struct Apple {
    public_key: Vec<u8>,
    jwts: HashSet<String>,
    bodies: Vec<Value>,
    apns_ids: Vec<String>,
    problems: Vec<String>,
    /// Provider tokens answered 403 ExpiredProviderToken (as if an hour old).
    expired: HashSet<String>,
    expire_next_new_token: bool,
}

type Shared = Arc<Mutex<Apple>>;

fn reason(status: StatusCode, reason: &str) -> axum::response::Response {
    (status, Json(json!({"reason": reason}))).into_response()
}

async fn device(
    State(a): State<Shared>,
    Path(token): Path<String>,
    version: Version,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> axum::response::Response {
    let mut a = a.lock().unwrap();
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    if version != Version::HTTP_2 {
        a.problems.push(format!("version {version:?}"));
    }
    if h("apns-topic") != TOPIC {
        return reason(StatusCode::BAD_REQUEST, "MissingTopic");
    }
    if h("apns-push-type") != "alert" {
        a.problems
            .push(format!("apns-push-type {}", h("apns-push-type")));
    }
    let id = h("apns-id");
    if uuid::Uuid::parse_str(&id).is_err() {
        return reason(StatusCode::BAD_REQUEST, "BadMessageId");
    }
    let Some(jwt) = h("authorization")
        .strip_prefix("bearer ")
        .map(str::to_string)
    else {
        return reason(StatusCode::FORBIDDEN, "MissingProviderToken");
    };
    match common::verify_jwt(
        &jwt,
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        &a.public_key,
    ) {
        Ok((header, claims)) => {
            if header["alg"] != "ES256" || header["kid"] != KEY_ID || claims["iss"] != TEAM {
                a.problems.push(format!("token {header} {claims}"));
                return reason(StatusCode::FORBIDDEN, "InvalidProviderToken");
            }
            if claims["iat"]
                .as_u64()
                .is_none_or(|iat| iat.abs_diff(common::now_secs()) > 3600)
            {
                return reason(StatusCode::FORBIDDEN, "ExpiredProviderToken");
            }
        }
        Err(e) => {
            a.problems.push(format!("token: {e}"));
            return reason(StatusCode::FORBIDDEN, "InvalidProviderToken");
        }
    }
    if a.expired.contains(&jwt) {
        return reason(StatusCode::FORBIDDEN, "ExpiredProviderToken");
    }
    if a.expire_next_new_token && !a.jwts.contains(&jwt) {
        a.expire_next_new_token = false;
        a.expired.insert(jwt);
        return reason(StatusCode::FORBIDDEN, "ExpiredProviderToken");
    }
    a.jwts.insert(jwt);
    a.bodies.push(body);
    a.apns_ids.push(id.clone());
    match token.as_str() {
        "dead" => (
            StatusCode::GONE,
            Json(json!({"reason": "Unregistered", "timestamp": 1_700_000_000_000u64})),
        )
            .into_response(),
        "malformed" => reason(StatusCode::BAD_REQUEST, "BadDeviceToken"),
        "busy" => reason(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests"),
        "big" => reason(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge"),
        _ => ([("apns-id", id)], StatusCode::OK).into_response(),
    }
}

/// An h2c-only server (HTTP/2 with prior knowledge), counting connections.
async fn apple() -> (String, Shared, Arc<AtomicUsize>, String) {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );

    let state: Shared = Arc::new(Mutex::new(Apple {
        public_key: pair.public_key().as_ref().to_vec(),
        ..Apple::default()
    }));
    let router = Router::new()
        .route("/3/device/{token}", post(device))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            counted.fetch_add(1, Ordering::SeqCst);
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), state, connections, pem)
}

async fn transport(base: &str, pem: &str) -> Box<dyn PushTransport> {
    let settings = PushSettings::from_value(&json!({
        "appId": TOPIC,
        "apns": {"teamId": TEAM, "keyId": KEY_ID, "privateKey": pem, "topic": TOPIC, "baseUrl": base}
    }))
    .unwrap();
    assert!(
        settings.validate("/push").is_empty(),
        "{:?}",
        settings.validate("/push")
    );
    Box::new(push_transport(&settings).unwrap())
}

fn push(id: usize, token: &str) -> PushMessage {
    PushMessage {
        message_id: format!("0190f1a2-7b3c-7def-8123-{id:012x}"),
        platform: PushPlatform::Apns,
        token: token.into(),
        title: "Hello".into(),
        body: "World".into(),
        data: serde_json::from_value(json!({"orderId": 42, "aps": "ignored"})).unwrap(),
        image: None,
    }
}

#[tokio::test]
async fn concurrent_sends_share_one_connection_and_one_token() {
    let (base, state, connections, pem) = apple().await;
    let t: Arc<dyn PushTransport> = Arc::from(transport(&base, &pem).await);
    let sends: Vec<_> = (0..50)
        .map(|i| {
            let t = t.clone();
            tokio::spawn(async move { t.send(&push(i, &format!("{i:064x}"))).await })
        })
        .collect();
    for s in sends {
        s.await.unwrap().unwrap();
    }
    let a = state.lock().unwrap();
    assert!(a.problems.is_empty(), "{:?}", a.problems);
    assert_eq!(a.bodies.len(), 50);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one multiplexed HTTP/2 connection"
    );
    assert_eq!(a.jwts.len(), 1, "the provider token is reused");
    assert_eq!(
        a.bodies[0],
        json!({"orderId": 42, "aps": {"alert": {"title": "Hello", "body": "World"}}})
    );
    // apns-id is the message id (a UUID), so a retry carries the same one.
    let ids: HashSet<_> = a.apns_ids.iter().map(|s| s.to_ascii_lowercase()).collect();
    assert!(ids.contains("0190f1a2-7b3c-7def-8123-000000000007"));
}

#[tokio::test]
async fn the_receipt_carries_the_apns_id() {
    let (base, _, _, pem) = apple().await;
    let t = transport(&base, &pem).await;
    let r = t.send(&push(1, "device")).await.unwrap();
    assert_eq!(
        r.provider_message_id.as_deref(),
        Some("0190F1A2-7B3C-7DEF-8123-000000000001")
    );
}

#[tokio::test]
async fn dead_tokens_and_errors_are_classified() {
    let (base, _, _, pem) = apple().await;
    let t = transport(&base, &pem).await;
    let e = t.send(&push(1, "dead")).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_deref()),
        (ErrorClass::InvalidToken, Some("Unregistered"))
    );
    let e = t.send(&push(2, "malformed")).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_deref()),
        (ErrorClass::InvalidToken, Some("BadDeviceToken"))
    );
    // Never sent: it would change the request path.
    let e = t.send(&push(5, "../../x?y")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::InvalidToken);
    let e = t.send(&push(3, "busy")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    let e = t.send(&push(4, "big")).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_deref()),
        (ErrorClass::Permanent, Some("PayloadTooLarge"))
    );
}

#[tokio::test]
async fn a_key_that_does_not_match_is_refused() {
    let (base, _, _, _) = apple().await;
    // Another key than the one Apple holds for KEY_ID.
    let (_, _, _, other_pem) = apple().await;
    let t = transport(&base, &other_pem).await;
    let e = t.send(&push(1, "device")).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_deref()),
        (ErrorClass::Permanent, Some("InvalidProviderToken"))
    );
}

#[tokio::test]
async fn an_expired_provider_token_is_signed_anew_once() {
    let (base, state, _, pem) = apple().await;
    state.lock().unwrap().expire_next_new_token = true;
    let t = transport(&base, &pem).await;
    t.send(&push(1, "device")).await.unwrap();
    t.send(&push(2, "device")).await.unwrap();
    let a = state.lock().unwrap();
    assert_eq!(a.expired.len(), 1);
    assert_eq!(a.jwts.len(), 1, "the new token is cached for the next send");
    assert_eq!(a.bodies.len(), 2);
}
