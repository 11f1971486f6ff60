//! Twilio Programmable Messaging: `POST /2010-04-01/Accounts/{sid}/Messages.json`,
//! form-encoded, HTTP Basic auth with the account SID and auth token.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::Deserialize;
use tracing::debug;

use super::{SmsMessage, SmsReceipt, SmsTransport};
use crate::error::{ChannelError, ErrorClass};
use crate::http;

/// Twilio error codes that mean "try again later" although the HTTP status
/// is a 4xx: 20429 too many requests, 14107 message rate limit exceeded,
/// 30001 queue overflow, 20500 internal error, 20503 service unavailable.
pub const TWILIO_TRANSIENT_CODES: [&str; 5] = ["20429", "14107", "30001", "20500", "20503"];

#[derive(Debug, Clone)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: String,
    /// `https://api.twilio.com` in production.
    pub base_url: String,
    /// When set, Twilio picks the sender from the service's pool and `From`
    /// is not sent.
    pub messaging_service_sid: Option<String>,
    /// Provider error code → class, overriding [`TWILIO_TRANSIENT_CODES`]
    /// and the status rules (`Transient` or `Permanent`).
    pub error_codes: HashMap<String, ErrorClass>,
}

pub struct TwilioSms {
    config: TwilioConfig,
    url: String,
    client: reqwest::Client,
}

impl TwilioSms {
    pub fn new(config: TwilioConfig) -> Result<Self, ChannelError> {
        let client = http::build(http::client_builder())?;
        Ok(Self::with_client(config, client))
    }

    pub fn with_client(config: TwilioConfig, client: reqwest::Client) -> Self {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            config.base_url.trim_end_matches('/'),
            config.account_sid
        );
        TwilioSms {
            config,
            url,
            client,
        }
    }

    fn classify_reply(&self, status: u16, body: &str) -> ChannelError {
        let err: Option<TwilioError> = serde_json::from_str(body).ok();
        let code = err.as_ref().and_then(|e| e.code).map(|c| c.to_string());
        let message = err
            .as_ref()
            .and_then(|e| e.message.clone())
            .unwrap_or_else(|| http::snippet(body, 200));
        let class = match code.as_deref().and_then(|c| self.config.error_codes.get(c)) {
            Some(class) => *class,
            None if status == 429 || status >= 500 => ErrorClass::Transient,
            None if code
                .as_deref()
                .is_some_and(|c| TWILIO_TRANSIENT_CODES.contains(&c)) =>
            {
                ErrorClass::Transient
            }
            None => ErrorClass::Permanent,
        };
        ChannelError::new(
            class,
            Some(code.unwrap_or_else(|| status.to_string())),
            format!("Twilio answered {status}: {message}"),
        )
    }
}

/// Twilio's error body: `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`.
#[derive(Deserialize)]
struct TwilioError {
    code: Option<u64>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct TwilioMessage {
    sid: Option<String>,
    status: Option<String>,
}

#[async_trait]
impl SmsTransport for TwilioSms {
    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, ChannelError> {
        let mut form: Vec<(&str, &str)> = vec![("To", &msg.to)];
        match &self.config.messaging_service_sid {
            Some(sid) => form.push(("MessagingServiceSid", sid)),
            None => form.push(("From", &msg.from)),
        }
        form.push(("Body", &msg.text));
        let reply = self
            .client
            .post(&self.url)
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(|e| http::classify(&e, "Twilio"))?;
        let status = reply.status().as_u16();
        let body = reply
            .text()
            .await
            .map_err(|e| http::classify(&e, "Twilio reply"))?;
        debug!(message_id = %msg.message_id, status, "Twilio replied");
        if !(200..300).contains(&status) {
            return Err(self.classify_reply(status, &body));
        }
        let parsed: Option<TwilioMessage> = serde_json::from_str(&body).ok();
        let sid = parsed.as_ref().and_then(|m| m.sid.clone());
        let state = parsed
            .and_then(|m| m.status)
            .unwrap_or_else(|| "accepted".into());
        let reply = match &sid {
            Some(sid) => format!("{status} {state} {sid}"),
            None => format!("{status} {state}"),
        };
        Ok(SmsReceipt::for_text(&msg.text, sid, reply))
    }

    fn describe(&self) -> String {
        format!(
            "Twilio account {} at {}",
            self.config.account_sid, self.config.base_url
        )
    }
}
