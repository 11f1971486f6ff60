//! Push: the [`PushTransport`] trait, its message and receipt, the
//! providers (FCM HTTP v1, APNs) and [`PushRouter`], which picks the
//! provider by the token's platform.

mod apns;
mod fcm;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ChannelError;

pub use apns::{ApnsConfig, ApnsPush, apns_id};
pub use fcm::{FcmConfig, FcmPush};

pub use herald_domain::push_settings::PushPlatform;

/// One rendered notification for one device token.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushMessage {
    pub message_id: String,
    pub platform: PushPlatform,
    pub token: String,
    pub title: String,
    pub body: String,
    /// Custom data: FCM gets every value as a string (non-strings as their
    /// JSON text); APNs gets them beside `aps`.
    pub data: Map<String, Value>,
    /// An image URL (FCM `notification.image`, APNs `mutable-content` + `image`).
    pub image: Option<String>,
}

/// A provider's acceptance of one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReceipt {
    /// FCM's `name` (`projects/…/messages/…`) or the `apns-id`.
    pub provider_message_id: Option<String>,
    pub reply: String,
}

/// Hands one notification to a push provider.
#[async_trait]
pub trait PushTransport: Send + Sync {
    async fn send(&self, msg: &PushMessage) -> Result<PushReceipt, ChannelError>;

    fn describe(&self) -> String;
}

/// The transports of one app, one per platform it has.
#[derive(Default)]
pub struct PushRouter {
    pub fcm: Option<Box<dyn PushTransport>>,
    pub apns: Option<Box<dyn PushTransport>>,
}

#[async_trait]
impl PushTransport for PushRouter {
    async fn send(&self, msg: &PushMessage) -> Result<PushReceipt, ChannelError> {
        let t = match msg.platform {
            PushPlatform::Fcm => &self.fcm,
            PushPlatform::Apns => &self.apns,
        };
        match t {
            Some(t) => t.send(msg).await,
            None => Err(ChannelError::permanent(format!(
                "the push configuration has no {} settings",
                msg.platform.as_str()
            ))
            .with_code("platformNotConfigured")),
        }
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = [&self.fcm, &self.apns]
            .into_iter()
            .flatten()
            .map(|t| t.describe())
            .collect();
        parts.join(" + ")
    }
}
