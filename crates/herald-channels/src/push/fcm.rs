//! Firebase Cloud Messaging HTTP v1. A service account signs an RS256 JWT
//! that Google's token endpoint exchanges for an OAuth access token
//! (cached until shortly before it expires, refreshed by one caller at a
//! time); each message is one `POST …/messages:send` with that token.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;
use tracing::debug;

use super::{PushMessage, PushReceipt, PushTransport};
use crate::error::{ChannelError, ErrorClass};
use crate::http;
use crate::jwt::{Rs256Key, now_secs};

use herald_domain::push_settings::FCM_SCOPE;

/// A token is replaced this long before Google says it expires, so a
/// request never carries one that expires in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct FcmConfig {
    /// The service account's `client_email` (the JWT's `iss`).
    pub client_email: String,
    /// The service account's `private_key` (PKCS#8 PEM).
    pub private_key: String,
    /// Where the token request goes: the account's `token_uri` or an override.
    pub token_url: String,
    /// The JWT's `aud`: always the account's `token_uri`, which Google checks
    /// even when the request goes through an override (a proxy).
    pub audience: String,
    /// Where messages go, `{project_id}` already substituted.
    pub send_url: String,
}

struct AccessToken {
    value: String,
    refresh_at: Instant,
}

pub struct FcmPush {
    config: FcmConfig,
    key: Rs256Key,
    client: reqwest::Client,
    /// Held across a refresh: concurrent senders wait for the one refresh
    /// instead of each asking Google for a token.
    token: Mutex<Option<AccessToken>>,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    expires_in: Option<u64>,
}

impl FcmPush {
    pub fn new(config: FcmConfig) -> Result<Self, ChannelError> {
        let client = http::build(http::client_builder())?;
        Self::with_client(config, client)
    }

    pub fn with_client(config: FcmConfig, client: reqwest::Client) -> Result<Self, ChannelError> {
        let key = Rs256Key::from_pem(&config.private_key)?;
        Ok(FcmPush {
            config,
            key,
            client,
            token: Mutex::new(None),
        })
    }

    /// The cached access token, or a new one. `stale` names a token the
    /// caller saw rejected: it is replaced unless another caller already did.
    async fn access_token(&self, stale: Option<&str>) -> Result<String, ChannelError> {
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.as_ref()
            && Instant::now() < t.refresh_at
            && stale != Some(t.value.as_str())
        {
            return Ok(t.value.clone());
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *guard = Some(fresh);
        Ok(value)
    }

    async fn fetch_token(&self) -> Result<AccessToken, ChannelError> {
        let iat = now_secs();
        let assertion = self.key.sign(&json!({
            "iss": self.config.client_email,
            "scope": FCM_SCOPE,
            "aud": self.config.audience,
            "iat": iat,
            "exp": iat + 3600,
        }))?;
        let reply = self
            .client
            .post(&self.config.token_url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| {
                // Nothing was sent to FCM yet: a token failure never leaves a
                // message in doubt.
                let mut e = http::classify(&e, "Google token endpoint");
                if e.class == ErrorClass::Unknown {
                    e.class = ErrorClass::Transient;
                }
                e
            })?;
        let status = reply.status().as_u16();
        let body = reply.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            let class = if http::status_is_transient(status) {
                ErrorClass::Transient
            } else {
                // invalid_grant and friends: the service account is wrong.
                ErrorClass::Permanent
            };
            return Err(ChannelError::new(
                class,
                Some(status.to_string()),
                format!(
                    "the Google token endpoint answered {status}: {}",
                    http::snippet(&body, 200)
                ),
            ));
        }
        let t: TokenReply = serde_json::from_str(&body).map_err(|_| {
            ChannelError::transient("the Google token endpoint answered without an access_token")
        })?;
        let lifetime = Duration::from_secs(t.expires_in.unwrap_or(3600));
        debug!(expires_in = lifetime.as_secs(), "FCM access token obtained");
        Ok(AccessToken {
            value: t.access_token,
            refresh_at: Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN),
        })
    }

    async fn post(&self, body: &Value, token: &str) -> Result<(u16, String), ChannelError> {
        let reply = self
            .client
            .post(&self.config.send_url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .map_err(|e| http::classify(&e, "FCM"))?;
        let status = reply.status().as_u16();
        let text = reply
            .text()
            .await
            .map_err(|e| http::classify(&e, "FCM reply"))?;
        Ok((status, text))
    }
}

/// FCM's v1 request body. `data` values must be strings.
pub(crate) fn fcm_body(msg: &PushMessage) -> Value {
    let data: Map<String, Value> = msg
        .data
        .iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), Value::String(s))
        })
        .collect();
    let mut notification = json!({"title": msg.title, "body": msg.body});
    if let Some(image) = &msg.image {
        notification["image"] = Value::String(image.clone());
    }
    let mut message = json!({"token": msg.token, "notification": notification});
    if !data.is_empty() {
        message["data"] = Value::Object(data);
    }
    json!({ "message": message })
}

/// Maps an FCM error reply (`{"error": {"code", "message", "status",
/// "details": [{"errorCode": …}]}}`) to a class.
fn classify(status: u16, body: &str) -> ChannelError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let err = &v["error"];
    let message = err["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| http::snippet(body, 200));
    let details = err["details"].as_array();
    let error_code = details
        .into_iter()
        .flatten()
        .find_map(|d| d["errorCode"].as_str())
        .or_else(|| err["status"].as_str())
        .map(str::to_string);
    // INVALID_ARGUMENT covers the whole payload; it is the token's fault
    // only when the token is the field named.
    let about_token = message.to_ascii_lowercase().contains("token")
        || details.into_iter().flatten().any(|d| {
            d["fieldViolations"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|f| f["field"].as_str().is_some_and(|f| f.contains("token")))
        });
    let class = match (status, error_code.as_deref()) {
        (_, Some("UNREGISTERED")) => ErrorClass::InvalidToken,
        // SENDER_ID_MISMATCH stays permanent: with a wrong project every
        // token would look dead, and the engine would delete them all.
        (400, Some("INVALID_ARGUMENT")) if about_token => ErrorClass::InvalidToken,
        (_, Some("QUOTA_EXCEEDED" | "UNAVAILABLE" | "INTERNAL")) => ErrorClass::Transient,
        (s, _) if http::status_is_transient(s) => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    };
    ChannelError::new(
        class,
        Some(error_code.unwrap_or_else(|| status.to_string())),
        format!("FCM answered {status}: {message}"),
    )
}

#[async_trait]
impl PushTransport for FcmPush {
    async fn send(&self, msg: &PushMessage) -> Result<PushReceipt, ChannelError> {
        let body = fcm_body(msg);
        let token = self.access_token(None).await?;
        let (mut status, mut text) = self.post(&body, &token).await?;
        if status == 401 {
            // The token was revoked or expired early: one refresh, one retry.
            debug!(message_id = %msg.message_id, "FCM rejected the access token; refreshing");
            let token = self.access_token(Some(&token)).await?;
            (status, text) = self.post(&body, &token).await?;
        }
        if !(200..300).contains(&status) {
            return Err(classify(status, &text));
        }
        let name = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["name"].as_str().map(str::to_string));
        Ok(PushReceipt {
            reply: format!("{status} {}", name.as_deref().unwrap_or("accepted")),
            provider_message_id: name,
        })
    }

    fn describe(&self) -> String {
        format!(
            "FCM {} as {}",
            self.config.send_url, self.config.client_email
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let unregistered = r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#;
        let e = classify(404, unregistered);
        assert_eq!(e.class, ErrorClass::InvalidToken);
        assert_eq!(e.code.as_deref(), Some("UNREGISTERED"));
        let bad_token = r#"{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}]}}"#;
        assert_eq!(classify(400, bad_token).class, ErrorClass::InvalidToken);
        let bad_payload = r#"{"error":{"code":400,"message":"Invalid value at 'message.data[0].value'","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.data[0].value"}]}]}}"#;
        assert_eq!(classify(400, bad_payload).class, ErrorClass::Permanent);
        let mismatch = r#"{"error":{"code":403,"message":"SenderId mismatch","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"SENDER_ID_MISMATCH"}]}}"#;
        assert_eq!(classify(403, mismatch).class, ErrorClass::Permanent);
        assert_eq!(classify(429, "{}").class, ErrorClass::Transient);
        assert_eq!(classify(503, "oops").class, ErrorClass::Transient);
        assert_eq!(classify(403, "{}").class, ErrorClass::Permanent);
    }

    #[test]
    fn data_values_become_strings() {
        let msg = PushMessage {
            message_id: "m".into(),
            platform: super::super::PushPlatform::Fcm,
            token: "tok".into(),
            title: "T".into(),
            body: "B".into(),
            data: serde_json::from_value(json!({"n": 3, "s": "x", "o": {"a": true}})).unwrap(),
            image: None,
        };
        let b = fcm_body(&msg);
        assert_eq!(
            b["message"]["data"],
            json!({"n": "3", "s": "x", "o": "{\"a\":true}"})
        );
        assert_eq!(
            b["message"]["notification"],
            json!({"title": "T", "body": "B"})
        );
    }
}
