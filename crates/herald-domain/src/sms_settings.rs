//! Typed settings of an SMS channel configuration (the `sms` object of a
//! channel configuration), and the body template of the generic HTTP
//! provider.
//!
//! ```json
//! { "provider": "twilio", "from": "+15017122661",
//!   "twilio": { "accountSid": "AC…", "authToken": "…" },
//!   "errorCodes": { "30007": "permanent" } }
//! ```
//! or `"provider": "http"` with an `http` object (`url`, `method`,
//! `headers`, `bodyTemplate`, …).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FieldError;
use crate::settings_reader::{
    Reader, check_http_url, check_not_blank, check_pointer, child, json_kind,
};
use crate::suppression::normalize_phone;

pub const DEFAULT_TWILIO_BASE_URL: &str = "https://api.twilio.com";

/// Which provider sends the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum SmsProviderKind {
    #[default]
    Twilio,
    Http,
}

/// How a provider error code is to be treated, overriding the built-in
/// classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorClassOverride {
    Permanent,
    Transient,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SmsSettingsWire", into = "SmsSettingsWire")]
pub struct SmsSettings {
    pub provider: SmsProvider,
    /// The sender: E.164 number, short code or alphanumeric sender id.
    /// Optional only with a Twilio messaging service, which picks the
    /// sender from its pool.
    pub from: Option<String>,
    /// Provider error code → class, overriding the built-in rules.
    pub error_codes: BTreeMap<String, ErrorClassOverride>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SmsProvider {
    Twilio(TwilioSettings),
    Http(HttpSmsSettings),
}

impl SmsProvider {
    pub fn kind(&self) -> SmsProviderKind {
        match self {
            SmsProvider::Twilio(_) => SmsProviderKind::Twilio,
            SmsProvider::Http(_) => SmsProviderKind::Http,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: String,
    #[serde(default = "default_twilio_base_url")]
    pub base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_service_sid: Option<String>,
}

fn default_twilio_base_url() -> String {
    DEFAULT_TWILIO_BASE_URL.to_string()
}

impl fmt::Debug for TwilioSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioSettings")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("messaging_service_sid", &self.messaging_service_sid)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Post,
    Put,
    Patch,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
        }
    }
}

/// A generic JSON-over-HTTP SMS provider.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSmsSettings {
    pub url: String,
    #[serde(default)]
    pub method: HttpMethod,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The request body; string leaves may hold `{{to}}`, `{{from}}`,
    /// `{{text}}` and `{{messageId}}`.
    pub body_template: Value,
    /// Where the provider's message id is in a successful reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id_pointer: Option<String>,
    /// Where the provider's error code is in an error reply (matched
    /// against `errorCodes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code_pointer: Option<String>,
    /// HTTP statuses that mean a permanent failure (beyond other 4xx).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permanent_statuses: Vec<u16>,
    /// HTTP statuses that mean "try again later" (beyond 408, 429, 5xx).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transient_statuses: Vec<u16>,
}

impl fmt::Debug for HttpSmsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are often credentials.
        let headers: Vec<&String> = self.headers.keys().collect();
        f.debug_struct("HttpSmsSettings")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("headers", &headers)
            .field("body_template", &self.body_template)
            .field("response_id_pointer", &self.response_id_pointer)
            .field("error_code_pointer", &self.error_code_pointer)
            .field("permanent_statuses", &self.permanent_statuses)
            .field("transient_statuses", &self.transient_statuses)
            .finish()
    }
}

/// The values a body template's placeholders stand for.
#[derive(Debug, Clone, Copy)]
pub struct TemplateVars<'a> {
    pub to: &'a str,
    pub from: &'a str,
    pub text: &'a str,
    pub message_id: &'a str,
}

/// The placeholders a body template may use.
pub const PLACEHOLDERS: [&str; 4] = ["to", "from", "text", "messageId"];

/// One `{{name}}` in a template string (inner spaces allowed).
struct Placeholder<'s> {
    start: usize,
    end: usize,
    name: &'s str,
}

fn placeholders(s: &str) -> impl Iterator<Item = Placeholder<'_>> {
    let mut from = 0;
    std::iter::from_fn(move || {
        let open = from + s[from..].find("{{")?;
        let close = open + 2 + s[open + 2..].find("}}")?;
        from = close + 2;
        Some(Placeholder {
            start: open,
            end: close + 2,
            name: s[open + 2..close].trim(),
        })
    })
}

impl TemplateVars<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        match name {
            "to" => Some(self.to),
            "from" => Some(self.from),
            "text" => Some(self.text),
            "messageId" => Some(self.message_id),
            _ => None,
        }
    }
}

/// Substitutes the placeholders of one template string, in one pass (a
/// substituted value is never scanned again).
fn render_str(s: &str, vars: &TemplateVars<'_>) -> String {
    let mut out = String::with_capacity(s.len() + vars.text.len());
    let mut last = 0;
    for p in placeholders(s) {
        if let Some(value) = vars.get(p.name) {
            out.push_str(&s[last..p.start]);
            out.push_str(value);
            last = p.end;
        }
    }
    out.push_str(&s[last..]);
    out
}

/// The template with its string leaves rendered. Values land inside JSON
/// strings, so quotes, backslashes and line breaks in them are escaped by
/// the serializer: a text cannot change the shape of the body. Object
/// keys are not templates.
pub fn render_template(template: &Value, vars: &TemplateVars<'_>) -> Value {
    match template {
        Value::String(s) => Value::String(render_str(s, vars)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| render_template(v, vars)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), render_template(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl HttpSmsSettings {
    /// The request body for one message.
    pub fn render_body(&self, vars: &TemplateVars<'_>) -> Value {
        render_template(&self.body_template, vars)
    }

    pub fn validate(&self, at: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_http_url(&mut errors, child(at, "url"), &self.url);
        for (name, value) in &self.headers {
            let p = child(&child(at, "headers"), name);
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !token {
                errors.push(FieldError::new(
                    p,
                    "invalid_header",
                    format!("'{name}' is not an HTTP header name"),
                ));
            } else if matches!(
                name.to_ascii_lowercase().as_str(),
                "content-length" | "transfer-encoding" | "host" | "connection"
            ) {
                errors.push(FieldError::new(
                    p,
                    "invalid_header",
                    format!("{name} is set by the HTTP client and cannot be configured"),
                ));
            } else if value.chars().any(|c| matches!(c, '\r' | '\n' | '\0')) {
                errors.push(FieldError::new(
                    p,
                    "invalid_header",
                    "header values must not contain line breaks",
                ));
            }
        }
        let tp = child(at, "bodyTemplate");
        if !matches!(self.body_template, Value::Object(_) | Value::Array(_)) {
            errors.push(FieldError::new(
                tp.clone(),
                "invalid_type",
                format!(
                    "bodyTemplate must be a JSON object or array, not {}",
                    json_kind(&self.body_template)
                ),
            ));
        }
        let mut used = Vec::new();
        check_template(&self.body_template, &tp, &mut used, &mut errors);
        for needed in ["to", "text"] {
            if !used.contains(&needed.to_string()) {
                errors.push(FieldError::new(
                    tp.clone(),
                    "placeholder_missing",
                    format!("bodyTemplate never uses {{{{{needed}}}}}"),
                ));
            }
        }
        for (key, value) in [
            ("responseIdPointer", &self.response_id_pointer),
            ("errorCodePointer", &self.error_code_pointer),
        ] {
            if let Some(v) = value {
                check_pointer(&mut errors, child(at, key), v);
            }
        }
        for (key, list) in [
            ("permanentStatuses", &self.permanent_statuses),
            ("transientStatuses", &self.transient_statuses),
        ] {
            for (i, s) in list.iter().enumerate() {
                if !(100..=599).contains(s) {
                    errors.push(FieldError::new(
                        format!("{}/{i}", child(at, key)),
                        "out_of_range",
                        format!("{s} is not an HTTP status"),
                    ));
                }
            }
        }
        for (i, s) in self.transient_statuses.iter().enumerate() {
            if self.permanent_statuses.contains(s) {
                errors.push(FieldError::new(
                    format!("{}/{i}", child(at, "transientStatuses")),
                    "conflicting_status",
                    format!("{s} is listed as both permanent and transient"),
                ));
            }
        }
        errors
    }
}

fn check_template(v: &Value, at: &str, used: &mut Vec<String>, errors: &mut Vec<FieldError>) {
    match v {
        Value::String(s) => {
            for p in placeholders(s) {
                if PLACEHOLDERS.contains(&p.name) {
                    used.push(p.name.to_string());
                } else {
                    errors.push(FieldError::new(
                        at.to_string(),
                        "unknown_placeholder",
                        format!(
                            "unknown placeholder {{{{{}}}}}; known are {{{{to}}}}, {{{{from}}}}, {{{{text}}}} and {{{{messageId}}}}",
                            p.name
                        ),
                    ));
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_template(item, &format!("{at}/{i}"), used, errors);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                check_template(item, &child(at, k), used, errors);
            }
        }
        _ => {}
    }
}

fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

impl TwilioSettings {
    pub fn validate(&self, at: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !is_sid(&self.account_sid, "AC") {
            errors.push(FieldError::new(
                child(at, "accountSid"),
                "invalid_sid",
                "accountSid must be 'AC' and 32 hexadecimal digits",
            ));
        }
        check_not_blank(
            &mut errors,
            child(at, "authToken"),
            "authToken",
            &self.auth_token,
        );
        if self
            .auth_token
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            errors.push(FieldError::new(
                child(at, "authToken"),
                "invalid_value",
                "authToken must not contain spaces or control characters",
            ));
        }
        check_http_url(&mut errors, child(at, "baseUrl"), &self.base_url);
        if let Some(sid) = &self.messaging_service_sid
            && !is_sid(sid, "MG")
        {
            errors.push(FieldError::new(
                child(at, "messagingServiceSid"),
                "invalid_sid",
                "messagingServiceSid must be 'MG' and 32 hexadecimal digits",
            ));
        }
        errors
    }
}

/// An E.164 number (`+`, 8 to 15 digits), a short code (3 to 8 digits) or
/// an alphanumeric sender id (1 to 11 letters, digits and spaces, at least
/// one letter).
pub fn is_valid_sender(s: &str) -> bool {
    if s.starts_with('+') {
        return normalize_phone(s).as_deref() == Some(s);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return (3..=8).contains(&s.len());
    }
    (1..=11).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && s.bytes().any(|b| b.is_ascii_alphabetic())
        && s.trim() == s
}

impl SmsSettings {
    /// Every problem of these settings, located under `pointer_prefix`
    /// (e.g. `/sms`).
    pub fn validate(&self, pointer_prefix: &str) -> Vec<FieldError> {
        let at = pointer_prefix;
        let mut errors = Vec::new();
        let messaging_service = matches!(
            &self.provider,
            SmsProvider::Twilio(t) if t.messaging_service_sid.is_some()
        );
        match &self.from {
            None if !messaging_service => errors.push(FieldError::new(
                child(at, "from"),
                "required",
                "from is required (unless a Twilio messagingServiceSid picks the sender)",
            )),
            Some(f) if !is_valid_sender(f) => errors.push(FieldError::new(
                child(at, "from"),
                "invalid_sender",
                format!(
                    "'{f}' is neither an E.164 number (+ and 8 to 15 digits), a short code, nor an alphanumeric sender id (up to 11 letters, digits, spaces)"
                ),
            )),
            _ => {}
        }
        match &self.provider {
            SmsProvider::Twilio(t) => errors.extend(t.validate(&child(at, "twilio"))),
            SmsProvider::Http(h) => errors.extend(h.validate(&child(at, "http"))),
        }
        for code in self.error_codes.keys() {
            if code.trim().is_empty() {
                errors.push(FieldError::new(
                    child(&child(at, "errorCodes"), code),
                    "invalid_value",
                    "an error code must not be empty",
                ));
            }
        }
        errors
    }

    /// Parses the `sms` object of a channel configuration, reporting every
    /// problem with a pointer under `/sms`.
    pub fn from_value(value: &Value) -> Result<SmsSettings, Vec<FieldError>> {
        Self::from_value_at(value, "/sms")
    }

    /// [`Self::from_value`] with pointers under `at`.
    pub fn from_value_at(value: &Value, at: &str) -> Result<SmsSettings, Vec<FieldError>> {
        let mut r = Reader::default();
        let typed = read_sms(&mut r, value, at);
        r.finish(typed, |s| s.validate(at))
    }

    /// The override for a provider error code, if any.
    pub fn error_code_class(&self, code: &str) -> Option<ErrorClassOverride> {
        self.error_codes.get(code).copied()
    }
}

fn read_sms(r: &mut Reader, value: &Value, at: &str) -> Option<SmsSettings> {
    let mut o = r.object(value, at)?;
    let kind: Option<SmsProviderKind> = match o.raw("provider") {
        None => {
            r.fail(
                o.pointer("provider"),
                "required",
                "provider is required: \"twilio\" or \"http\"",
            );
            None
        }
        Some(v) => match v.as_str() {
            Some("twilio") => Some(SmsProviderKind::Twilio),
            Some("http") => Some(SmsProviderKind::Http),
            _ => {
                r.fail(
                    o.pointer("provider"),
                    "invalid_value",
                    format!("unknown provider {v}; expected \"twilio\" or \"http\""),
                );
                None
            }
        },
    };
    let from: Option<String> = o.optional(r, "from");
    let mut error_codes = BTreeMap::new();
    if let Some(v) = o.raw("errorCodes")
        && let Some(mut codes) = r.object(v, &o.pointer("errorCodes"))
    {
        codes = codes.allow_unknown();
        let at = codes.at().to_string();
        for (code, class) in codes_entries(v) {
            if let Some(c) = r.parse::<ErrorClassOverride>(class, child(&at, code)) {
                error_codes.insert(code.to_string(), c);
            }
        }
        codes.done(r);
    }
    let twilio_raw = o.raw("twilio");
    let http_raw = o.raw("http");
    let provider = match kind {
        Some(SmsProviderKind::Twilio) => {
            if http_raw.is_some() {
                r.fail(
                    o.pointer("http"),
                    "unexpected_field",
                    "http settings given with provider \"twilio\"",
                );
            }
            match twilio_raw {
                None => {
                    r.fail(
                        o.pointer("twilio"),
                        "required",
                        "provider \"twilio\" needs a twilio object (accountSid, authToken)",
                    );
                    None
                }
                Some(v) => read_twilio(r, v, &o.pointer("twilio")).map(SmsProvider::Twilio),
            }
        }
        Some(SmsProviderKind::Http) => {
            if twilio_raw.is_some() {
                r.fail(
                    o.pointer("twilio"),
                    "unexpected_field",
                    "twilio settings given with provider \"http\"",
                );
            }
            match http_raw {
                None => {
                    r.fail(
                        o.pointer("http"),
                        "required",
                        "provider \"http\" needs an http object (url, bodyTemplate)",
                    );
                    None
                }
                Some(v) => read_http(r, v, &o.pointer("http")).map(SmsProvider::Http),
            }
        }
        None => None,
    };
    o.done(r);
    Some(SmsSettings {
        provider: provider?,
        from,
        error_codes,
    })
}

fn codes_entries(v: &Value) -> impl Iterator<Item = (&str, &Value)> {
    v.as_object()
        .into_iter()
        .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
}

fn read_twilio(r: &mut Reader, v: &Value, at: &str) -> Option<TwilioSettings> {
    let mut o = r.object(v, at)?;
    let t = TwilioSettings {
        account_sid: o.required(r, "accountSid"),
        auth_token: o.required(r, "authToken"),
        base_url: o
            .optional(r, "baseUrl")
            .unwrap_or_else(default_twilio_base_url),
        messaging_service_sid: o.optional(r, "messagingServiceSid"),
    };
    o.done(r);
    Some(t)
}

fn read_http(r: &mut Reader, v: &Value, at: &str) -> Option<HttpSmsSettings> {
    let mut o = r.object(v, at)?;
    let mut headers = BTreeMap::new();
    if let Some(hv) = o.raw("headers")
        && let Some(h) = r.object(hv, &o.pointer("headers"))
    {
        let h = h.allow_unknown();
        for (name, value) in codes_entries(hv) {
            if let Some(s) = r.parse::<String>(value, child(h.at(), name)) {
                headers.insert(name.to_string(), s);
            }
        }
    }
    let body_template = match o.raw("bodyTemplate") {
        Some(v) => v.clone(),
        None => {
            r.fail(
                o.pointer("bodyTemplate"),
                "required",
                "bodyTemplate is required",
            );
            Value::Null
        }
    };
    let h = HttpSmsSettings {
        url: o.required(r, "url"),
        method: o.optional(r, "method").unwrap_or_default(),
        headers,
        body_template,
        response_id_pointer: o.optional(r, "responseIdPointer"),
        error_code_pointer: o.optional(r, "errorCodePointer"),
        permanent_statuses: o.optional(r, "permanentStatuses").unwrap_or_default(),
        transient_statuses: o.optional(r, "transientStatuses").unwrap_or_default(),
    };
    o.done(r);
    Some(h)
}

/// The stored shape (what the API accepts and shows).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SmsSettingsWire {
    provider: SmsProviderKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    twilio: Option<TwilioSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    http: Option<HttpSmsSettings>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    error_codes: BTreeMap<String, ErrorClassOverride>,
}

impl TryFrom<SmsSettingsWire> for SmsSettings {
    type Error = String;
    fn try_from(w: SmsSettingsWire) -> Result<Self, String> {
        let provider = match (w.provider, w.twilio, w.http) {
            (SmsProviderKind::Twilio, Some(t), None) => SmsProvider::Twilio(t),
            (SmsProviderKind::Http, None, Some(h)) => SmsProvider::Http(h),
            (kind, _, _) => {
                return Err(format!(
                    "provider {kind:?} needs exactly its own settings object"
                ));
            }
        };
        Ok(SmsSettings {
            provider,
            from: w.from,
            error_codes: w.error_codes,
        })
    }
}

impl From<SmsSettings> for SmsSettingsWire {
    fn from(s: SmsSettings) -> Self {
        let (twilio, http) = match s.provider {
            SmsProvider::Twilio(t) => (Some(t), None),
            SmsProvider::Http(h) => (None, Some(h)),
        };
        SmsSettingsWire {
            provider: if twilio.is_some() {
                SmsProviderKind::Twilio
            } else {
                SmsProviderKind::Http
            },
            from: s.from,
            twilio,
            http,
            error_codes: s.error_codes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    fn pointers(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.pointer.as_str()).collect()
    }

    #[test]
    fn twilio_settings_parse_with_defaults_and_round_trip() {
        let v = json!({
            "provider": "twilio",
            "from": "+15017122661",
            "twilio": {"accountSid": SID, "authToken": "secret"},
            "errorCodes": {"30007": "permanent", "21610": "permanent"}
        });
        let s = SmsSettings::from_value(&v).expect("valid");
        let SmsProvider::Twilio(t) = &s.provider else {
            panic!("twilio expected")
        };
        assert_eq!(t.base_url, "https://api.twilio.com");
        assert_eq!(
            s.error_code_class("30007"),
            Some(ErrorClassOverride::Permanent)
        );
        assert!(
            !format!("{t:?}").contains("secret"),
            "Debug hides the token"
        );
        let back = serde_json::to_value(&s).unwrap();
        let again: SmsSettings = serde_json::from_value(back).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn every_problem_has_its_own_pointer() {
        let v = json!({
            "provider": "twilio",
            "from": "not a sender id",
            "twilio": {"accountSid": "XY123", "authToken": 5, "baseUrl": "ftp://x", "extra": 1},
            "errorCodes": {"30007": "sometimes"},
            "bogus": true
        });
        let errors = SmsSettings::from_value(&v).unwrap_err();
        let mut p = pointers(&errors);
        p.sort();
        assert_eq!(
            p,
            [
                "/sms/bogus",
                "/sms/errorCodes/30007",
                "/sms/from",
                "/sms/twilio/accountSid",
                "/sms/twilio/authToken",
                "/sms/twilio/baseUrl",
                "/sms/twilio/extra",
            ],
            "{errors:#?}"
        );
        let token = errors
            .iter()
            .find(|e| e.pointer == "/sms/twilio/authToken")
            .unwrap();
        assert_eq!(token.code, "invalid_type", "reported once, by the reader");
    }

    #[test]
    fn provider_and_its_object_must_agree() {
        let e =
            SmsSettings::from_value(&json!({"provider": "twilio", "from": "Herald"})).unwrap_err();
        assert_eq!(pointers(&e), ["/sms/twilio"]);
        let e = SmsSettings::from_value(&json!({"provider": "carrier-pigeon"})).unwrap_err();
        assert_eq!(pointers(&e), ["/sms/provider"]);
        let e = SmsSettings::from_value(&json!("twilio")).unwrap_err();
        assert_eq!(
            (e[0].pointer.as_str(), e[0].code.as_str()),
            ("/sms", "not_an_object")
        );
        let e = SmsSettings::from_value_at(
            &json!({"provider": "http", "from": "Herald", "twilio": {}}),
            "/x",
        )
        .unwrap_err();
        assert_eq!(pointers(&e), ["/x/twilio", "/x/http"]);
    }

    #[test]
    fn a_messaging_service_makes_from_optional() {
        let v = json!({"provider": "twilio", "twilio": {
            "accountSid": SID, "authToken": "t",
            "messagingServiceSid": "MG0123456789abcdef0123456789abcdef"}});
        assert!(SmsSettings::from_value(&v).is_ok());
        let v = json!({"provider": "twilio", "twilio": {"accountSid": SID, "authToken": "t"}});
        assert_eq!(
            pointers(&SmsSettings::from_value(&v).unwrap_err()),
            ["/sms/from"]
        );
    }

    #[test]
    fn senders() {
        for ok in [
            "+15017122661",
            "+4915112345678",
            "Herald",
            "HERALD Shop",
            "12345",
            "ACME2",
        ] {
            assert!(is_valid_sender(ok), "{ok}");
        }
        for bad in [
            "",
            "+1 501 712",
            "+0123456789",
            "Herald Shop Ltd",
            "12",
            "Her@ld",
            " Herald",
            "15017122661",
        ] {
            assert!(!is_valid_sender(bad), "{bad}");
        }
    }

    fn http_settings(template: Value) -> Value {
        json!({"provider": "http", "from": "Herald", "http": {
            "url": "https://sms.example.com/v1/send",
            "headers": {"Authorization": "Bearer k"},
            "bodyTemplate": template,
            "responseIdPointer": "/data/id"
        }})
    }

    #[test]
    fn http_template_checks() {
        let ok = http_settings(
            json!({"to": "{{to}}", "msg": {"body": "{{ text }}", "ref": "{{messageId}}"}}),
        );
        let s = SmsSettings::from_value(&ok).expect("valid");
        let SmsProvider::Http(h) = &s.provider else {
            panic!()
        };
        assert_eq!(h.method, HttpMethod::Post);
        assert!(
            !format!("{h:?}").contains("Bearer"),
            "Debug hides header values"
        );

        let bad = http_settings(json!({"to": "{{to}}", "list": ["{{txt}}"]}));
        let e = SmsSettings::from_value(&bad).unwrap_err();
        let mut got: Vec<(&str, &str)> = e
            .iter()
            .map(|e| (e.pointer.as_str(), e.code.as_str()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("/sms/http/bodyTemplate", "placeholder_missing"),
                ("/sms/http/bodyTemplate/list/0", "unknown_placeholder"),
            ]
        );

        let mut bad = http_settings(json!({"to": "{{to}}", "text": "{{text}}"}));
        bad["http"]["headers"] =
            json!({"Bad Header": "x", "X-Ok": "a\r\nb", "Content-Length": "1"});
        bad["http"]["responseIdPointer"] = json!("data.id");
        bad["http"]["permanentStatuses"] = json!([400, 700]);
        bad["http"]["transientStatuses"] = json!([400]);
        bad["http"]["method"] = json!("GET");
        let e = SmsSettings::from_value(&bad).unwrap_err();
        let mut p = pointers(&e);
        p.sort();
        assert_eq!(
            p,
            [
                "/sms/http/headers/Bad Header",
                "/sms/http/headers/Content-Length",
                "/sms/http/headers/X-Ok",
                "/sms/http/method",
                "/sms/http/permanentStatuses/1",
                "/sms/http/responseIdPointer",
                "/sms/http/transientStatuses/0",
            ],
            "{e:#?}"
        );
    }

    #[test]
    fn rendering_escapes_and_does_not_rescan() {
        let template = json!({"to": "{{to}}", "text": "{{text}}", "ref": "id-{{messageId}}-{{from}}", "n": 3, "keep": "{{unknown}}"});
        let text = "He said \"hi\"\nand left {{to}} \\ ok";
        let body = render_template(
            &template,
            &TemplateVars {
                to: "+15550001111",
                from: "Herald",
                text,
                message_id: "m1",
            },
        );
        assert_eq!(body["text"], text);
        assert_eq!(body["to"], "+15550001111");
        assert_eq!(body["ref"], "id-m1-Herald");
        assert_eq!(body["n"], 3);
        assert_eq!(body["keep"], "{{unknown}}");
        let wire = body.to_string();
        assert!(
            wire.contains(r#"He said \"hi\"\nand left {{to}} \\ ok"#),
            "{wire}"
        );
    }
}
