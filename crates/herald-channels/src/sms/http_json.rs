//! A generic SMS provider with a JSON API: the body is a template whose
//! string leaves may hold `{{to}}`, `{{from}}`, `{{text}}` and
//! `{{messageId}}`.

use std::collections::HashMap;

use async_trait::async_trait;
use herald_domain::sms_settings::{HttpSmsSettings, TemplateVars, render_template};
use serde_json::Value;
use tracing::debug;

use super::{SmsMessage, SmsReceipt, SmsTransport};
use crate::error::{ChannelError, ErrorClass};
use crate::http;

pub struct HttpJsonSms {
    config: HttpSmsSettings,
    method: reqwest::Method,
    /// Provider error code (read with `errorCodePointer`) → class.
    error_codes: HashMap<String, ErrorClass>,
    headers: reqwest::header::HeaderMap,
    client: reqwest::Client,
}

impl HttpJsonSms {
    pub fn new(
        config: HttpSmsSettings,
        error_codes: HashMap<String, ErrorClass>,
    ) -> Result<Self, ChannelError> {
        let client = http::build(http::client_builder())?;
        Self::with_client(config, error_codes, client)
    }

    pub fn with_client(
        config: HttpSmsSettings,
        error_codes: HashMap<String, ErrorClass>,
        client: reqwest::Client,
    ) -> Result<Self, ChannelError> {
        let method = reqwest::Method::from_bytes(config.method.as_str().as_bytes())
            .map_err(|_| ChannelError::permanent("invalid HTTP method"))?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &config.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ChannelError::permanent(format!("invalid header name '{name}'")))?;
            let mut value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                ChannelError::permanent(format!("invalid value for header '{name}'"))
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(HttpJsonSms {
            config,
            method,
            error_codes,
            headers,
            client,
        })
    }

    fn classify(&self, status: u16, body: &str) -> ChannelError {
        let code = self.config.error_code_pointer.as_deref().and_then(|p| {
            let v: Value = serde_json::from_str(body).ok()?;
            scalar(v.pointer(p)?)
        });
        let overridden = code.as_deref().and_then(|c| self.error_codes.get(c));
        let class = if let Some(class) = overridden {
            *class
        } else if self.config.transient_statuses.contains(&status) {
            ErrorClass::Transient
        } else if self.config.permanent_statuses.contains(&status) {
            ErrorClass::Permanent
        } else if http::status_is_transient(status) {
            ErrorClass::Transient
        } else {
            ErrorClass::Permanent
        };
        ChannelError::new(
            class,
            Some(code.unwrap_or_else(|| status.to_string())),
            format!(
                "the SMS provider answered {status}: {}",
                http::snippet(body, 200)
            ),
        )
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait]
impl SmsTransport for HttpJsonSms {
    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, ChannelError> {
        let vars = TemplateVars {
            to: &msg.to,
            from: &msg.from,
            text: &msg.text,
            message_id: &msg.message_id,
        };
        let body = render_template(&self.config.body_template, &vars);
        let reply = self
            .client
            .request(self.method.clone(), &self.config.url)
            .headers(self.headers.clone())
            .json(&body)
            .send()
            .await
            .map_err(|e| http::classify(&e, "SMS provider"))?;
        let status = reply.status().as_u16();
        let text = reply
            .text()
            .await
            .map_err(|e| http::classify(&e, "SMS provider reply"))?;
        debug!(message_id = %msg.message_id, status, "SMS provider replied");
        if !(200..300).contains(&status) {
            return Err(self.classify(status, &text));
        }
        let id = self.config.response_id_pointer.as_deref().and_then(|p| {
            let v: Value = serde_json::from_str(&text).ok()?;
            scalar(v.pointer(p)?)
        });
        let reply = match &id {
            Some(id) => format!("{status} {id}"),
            None => format!("{status} {}", http::snippet(&text, 100)),
        };
        Ok(SmsReceipt::for_text(&msg.text, id, reply))
    }

    fn describe(&self) -> String {
        // The URL's query may carry an API key; show scheme and host only.
        let host = self
            .config
            .url
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        format!("HTTP JSON SMS provider {} {host}", self.method)
    }
}
