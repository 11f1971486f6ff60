//! Apple Push Notification service over HTTP/2 with token auth: an ES256
//! provider token (kid = key id, iss = team id, iat) reused for 50 minutes
//! (Apple refuses tokens older than an hour and throttles frequent new
//! ones), one `POST /3/device/{token}` per notification, all multiplexed on
//! one HTTP/2 connection.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::debug;

use super::{PushMessage, PushReceipt, PushTransport};
use crate::error::{ChannelError, ErrorClass};
use crate::http;
use crate::jwt::{Es256Key, now_secs};

const TOKEN_REUSE: Duration = Duration::from_secs(50 * 60);

#[derive(Debug, Clone)]
pub struct ApnsConfig {
    pub team_id: String,
    pub key_id: String,
    /// PKCS#8 PEM of the `.p8` key.
    pub private_key: String,
    /// The bundle id (`apns-topic`).
    pub topic: String,
    /// `https://api.push.apple.com` (or the sandbox); `http://host:port`
    /// speaks HTTP/2 without TLS (h2c), for tests.
    pub base_url: String,
}

pub struct ApnsPush {
    config: ApnsConfig,
    key: Es256Key,
    client: reqwest::Client,
    token: Mutex<Option<(String, Instant)>>,
}

impl ApnsPush {
    pub fn new(config: ApnsConfig) -> Result<Self, ChannelError> {
        // APNs speaks only HTTP/2: prior knowledge for h2c, and ALPN offers
        // only h2 over TLS. Either way the pool knows up front the
        // connection is HTTP/2 and shares one among concurrent requests.
        let builder = http::client_builder().http2_prior_knowledge();
        let client = http::build(builder)?;
        Self::with_client(config, client)
    }

    pub fn with_client(config: ApnsConfig, client: reqwest::Client) -> Result<Self, ChannelError> {
        let key = Es256Key::from_pem(&config.private_key)?;
        Ok(ApnsPush {
            config,
            key,
            client,
            token: Mutex::new(None),
        })
    }

    /// The provider token, signed anew after [`TOKEN_REUSE`] or when `stale`
    /// (a token Apple called expired) is still the cached one.
    fn provider_token(&self, stale: Option<&str>) -> Result<String, ChannelError> {
        let mut guard = self
            .token
            .lock()
            .map_err(|_| ChannelError::transient("the APNs token cache is poisoned"))?;
        if let Some((t, at)) = guard.as_ref()
            && at.elapsed() < TOKEN_REUSE
            && stale != Some(t.as_str())
        {
            return Ok(t.clone());
        }
        let jwt = self.key.sign(
            &json!({"alg": "ES256", "kid": self.config.key_id}),
            &json!({"iss": self.config.team_id, "iat": now_secs()}),
        )?;
        *guard = Some((jwt.clone(), Instant::now()));
        Ok(jwt)
    }

    async fn post(
        &self,
        msg: &PushMessage,
        body: &Value,
        jwt: &str,
    ) -> Result<(u16, Option<String>, String), ChannelError> {
        let url = format!(
            "{}/3/device/{}",
            self.config.base_url.trim_end_matches('/'),
            msg.token
        );
        let reply = self
            .client
            .post(url)
            .header("authorization", format!("bearer {jwt}"))
            .header("apns-topic", &self.config.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header("apns-id", apns_id(&msg.message_id))
            .json(body)
            .send()
            .await
            .map_err(|e| http::classify(&e, "APNs"))?;
        let status = reply.status().as_u16();
        let id = reply
            .headers()
            .get("apns-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = reply
            .text()
            .await
            .map_err(|e| http::classify(&e, "APNs reply"))?;
        Ok((status, id, text))
    }
}

/// The `apns-id` of a message: its id when it is a UUID (Herald's ids are
/// UUIDv7), else a UUID derived from a hash of it, so a retry of the same
/// message carries the same id.
pub fn apns_id(message_id: &str) -> String {
    if let Ok(u) = uuid::Uuid::parse_str(message_id) {
        return u.hyphenated().to_string().to_ascii_uppercase();
    }
    let digest = Sha256::digest(message_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
        .to_ascii_uppercase()
}

/// `{"aps": {"alert": {"title", "body"}}, …data}`; data cannot replace `aps`.
pub(crate) fn apns_body(msg: &PushMessage) -> Value {
    let mut aps = json!({"alert": {"title": msg.title, "body": msg.body}});
    let mut body = serde_json::Map::new();
    for (k, v) in &msg.data {
        if k != "aps" {
            body.insert(k.clone(), v.clone());
        }
    }
    if let Some(image) = &msg.image {
        // A notification service extension fetches it.
        aps["mutable-content"] = json!(1);
        body.insert("image".into(), Value::String(image.clone()));
    }
    body.insert("aps".into(), aps);
    Value::Object(body)
}

fn classify(status: u16, text: &str) -> ChannelError {
    let reason = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["reason"].as_str().map(str::to_string));
    let class = match (status, reason.as_deref()) {
        (410, _) => ErrorClass::InvalidToken,
        // DeviceTokenNotForTopic stays permanent: a wrong topic would make
        // every token of the app look dead.
        (400, Some("BadDeviceToken")) => ErrorClass::InvalidToken,
        (s, _) if s == 429 || s >= 500 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    };
    ChannelError::new(
        class,
        Some(reason.clone().unwrap_or_else(|| status.to_string())),
        format!(
            "APNs answered {status}: {}",
            reason.unwrap_or_else(|| http::snippet(text, 200))
        ),
    )
}

#[async_trait]
impl PushTransport for ApnsPush {
    async fn send(&self, msg: &PushMessage) -> Result<PushReceipt, ChannelError> {
        // A device token is hex; anything else would also change the URL path.
        if msg.token.is_empty() || !msg.token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ChannelError::new(
                ErrorClass::InvalidToken,
                Some("BadDeviceToken".into()),
                "an APNs device token is hexadecimal",
            ));
        }
        let body = apns_body(msg);
        let jwt = self.provider_token(None)?;
        let (mut status, mut id, mut text) = self.post(msg, &body, &jwt).await?;
        if status == 403 && text.contains("ExpiredProviderToken") {
            debug!(message_id = %msg.message_id, "APNs called the provider token expired; signing a new one");
            let jwt = self.provider_token(Some(&jwt))?;
            (status, id, text) = self.post(msg, &body, &jwt).await?;
        }
        if status != 200 {
            return Err(classify(status, &text));
        }
        Ok(PushReceipt {
            reply: format!("{status} {}", id.as_deref().unwrap_or("accepted")),
            provider_message_id: id,
        })
    }

    fn describe(&self) -> String {
        format!("APNs {} topic {}", self.config.base_url, self.config.topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apns_ids_are_stable_uuids() {
        let id = "0190f1a2-7b3c-7def-8123-456789abcdef";
        assert_eq!(apns_id(id), id.to_ascii_uppercase());
        let derived = apns_id("not-a-uuid");
        assert_eq!(derived, apns_id("not-a-uuid"));
        assert_ne!(derived, apns_id("not-a-uuid2"));
        assert!(uuid::Uuid::parse_str(&derived).is_ok());
    }

    #[test]
    fn classification() {
        assert_eq!(
            classify(410, r#"{"reason":"Unregistered","timestamp":1}"#).class,
            ErrorClass::InvalidToken
        );
        assert_eq!(
            classify(400, r#"{"reason":"BadDeviceToken"}"#).class,
            ErrorClass::InvalidToken
        );
        assert_eq!(
            classify(400, r#"{"reason":"DeviceTokenNotForTopic"}"#).class,
            ErrorClass::Permanent
        );
        assert_eq!(
            classify(400, r#"{"reason":"PayloadTooLarge"}"#).class,
            ErrorClass::Permanent
        );
        assert_eq!(
            classify(429, r#"{"reason":"TooManyRequests"}"#).class,
            ErrorClass::Transient
        );
        assert_eq!(
            classify(503, r#"{"reason":"ServiceUnavailable"}"#).class,
            ErrorClass::Transient
        );
        assert_eq!(
            classify(403, r#"{"reason":"InvalidProviderToken"}"#)
                .code
                .as_deref(),
            Some("InvalidProviderToken")
        );
    }
}
