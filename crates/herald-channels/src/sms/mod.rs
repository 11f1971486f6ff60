//! SMS: the [`SmsTransport`] trait, its message and receipt, and the
//! providers (Twilio, generic JSON HTTP).

mod http_json;
mod twilio;

use async_trait::async_trait;
use herald_domain::sms_encoding::{self, SmsEncoding};
use serde::Serialize;

use crate::error::ChannelError;

pub use http_json::HttpJsonSms;
pub use twilio::{TWILIO_TRANSIENT_CODES, TwilioConfig, TwilioSms};

/// One rendered SMS for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsMessage {
    pub message_id: String,
    /// E.164.
    pub to: String,
    /// E.164 number or alphanumeric sender id.
    pub from: String,
    pub text: String,
}

/// A provider's acceptance of one SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsReceipt {
    /// The provider's id of the message (Twilio `SM…`), when it gave one.
    pub provider_message_id: Option<String>,
    /// A short description of the reply, for the message's history.
    pub reply: String,
    pub segments: usize,
    pub encoding: SmsEncoding,
}

impl SmsReceipt {
    pub(crate) fn for_text(text: &str, provider_message_id: Option<String>, reply: String) -> Self {
        let size = sms_encoding::size(text);
        SmsReceipt {
            provider_message_id,
            reply,
            segments: size.segments,
            encoding: size.encoding,
        }
    }
}

/// Hands one SMS to a provider.
#[async_trait]
pub trait SmsTransport: Send + Sync {
    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, ChannelError>;

    /// For logs; never contains credentials.
    fn describe(&self) -> String;
}
