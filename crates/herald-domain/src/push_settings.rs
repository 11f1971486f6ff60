//! Typed push settings of a channel configuration (`push` of a push channel
//! configuration): the app and the platform(s) it is reachable on, FCM HTTP
//! v1 (a Google service account) and/or APNs (token auth with a .p8 key).
//! The platforms a configuration has are the objects it holds.
//!
//! ```json
//! { "appId": "com.example.shop",
//!   "fcm": { "serviceAccount": { "client_email": "…", "private_key": "-----BEGIN PRIVATE KEY-----…",
//!                                "token_uri": "https://oauth2.googleapis.com/token", "project_id": "shop" } },
//!   "apns": { "teamId": "ABCDE12345", "keyId": "KEY1234567", "privateKey": "-----BEGIN PRIVATE KEY-----…",
//!             "topic": "com.example.shop", "environment": "production" } }
//! ```
//!
//! Parsed with [`PushSettings::from_value`], checked with
//! [`PushSettings::validate`]. Pure: the keys are only checked for their PEM
//! shape here; the transport parses them.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::channel::is_plausible_address;
use crate::error::FieldError;
use crate::settings_reader::{Reader, check_http_url, check_not_blank, check_pkcs8_pem, child};

pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
pub const FCM_DEFAULT_SEND_URL: &str =
    "https://fcm.googleapis.com/v1/projects/{project_id}/messages:send";
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
pub const APNS_PRODUCTION_URL: &str = "https://api.push.apple.com";
pub const APNS_SANDBOX_URL: &str = "https://api.sandbox.push.apple.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PushPlatform {
    Fcm,
    Apns,
}

impl PushPlatform {
    pub fn as_str(self) -> &'static str {
        match self {
            PushPlatform::Fcm => "fcm",
            PushPlatform::Apns => "apns",
        }
    }

    pub fn parse(s: &str) -> Option<PushPlatform> {
        match s {
            "fcm" => Some(PushPlatform::Fcm),
            "apns" => Some(PushPlatform::Apns),
            _ => None,
        }
    }
}

impl fmt::Display for PushPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushSettings {
    /// The app the tokens belong to (`pushNotificationDetails[].appID`).
    pub app_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fcm: Option<FcmSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apns: Option<ApnsSettings>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FcmSettings {
    pub service_account: ServiceAccount,
    /// Where the OAuth token is requested, instead of the service
    /// account's `token_uri` (tests, proxies). The JWT's audience stays
    /// `token_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// Overrides [`FCM_DEFAULT_SEND_URL`]; `{project_id}` is substituted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_url: Option<String>,
}

impl FcmSettings {
    /// Where the OAuth token is requested.
    pub fn token_url(&self) -> &str {
        self.token_url
            .as_deref()
            .unwrap_or(&self.service_account.token_uri)
    }

    /// Where messages are sent.
    pub fn send_url(&self) -> String {
        self.send_url
            .as_deref()
            .unwrap_or(FCM_DEFAULT_SEND_URL)
            .replace("{project_id}", &self.service_account.project_id)
    }
}

/// A Google service-account key file. Herald uses four of its fields; the
/// others (`type`, `private_key_id`, `client_id`, …) are kept as given.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServiceAccount {
    pub client_email: String,
    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub private_key: String,
    #[serde(default = "google_token_uri")]
    pub token_uri: String,
    pub project_id: String,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

fn google_token_uri() -> String {
    GOOGLE_TOKEN_URI.to_string()
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("private_key", &"<redacted>")
            .field("token_uri", &self.token_uri)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum ApnsEnvironment {
    #[default]
    Production,
    /// Apple's development environment (`aps-environment: development`).
    #[serde(alias = "development")]
    Sandbox,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApnsSettings {
    pub team_id: String,
    pub key_id: String,
    /// PKCS#8 PEM of the P-256 `.p8` key.
    pub private_key: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// Overrides the environment's host; `http://` means HTTP/2 with prior
    /// knowledge (tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default)]
    pub environment: ApnsEnvironment,
}

impl fmt::Debug for ApnsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApnsSettings")
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("private_key", &"<redacted>")
            .field("topic", &self.topic)
            .field("base_url", &self.base_url)
            .field("environment", &self.environment)
            .finish()
    }
}

impl ApnsSettings {
    pub fn base_url(&self) -> &str {
        match (&self.base_url, self.environment) {
            (Some(u), _) => u,
            (None, ApnsEnvironment::Production) => APNS_PRODUCTION_URL,
            (None, ApnsEnvironment::Sandbox) => APNS_SANDBOX_URL,
        }
    }
}

/// Apple's team and key ids: 10 characters, uppercase letters and digits.
fn is_apple_id(s: &str) -> bool {
    s.len() == 10
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl PushSettings {
    /// Parses the `push` object of a channel configuration, reporting every
    /// problem with a pointer under `/push`.
    pub fn from_value(value: &Value) -> Result<PushSettings, Vec<FieldError>> {
        Self::from_value_at(value, "/push")
    }

    /// [`Self::from_value`] with pointers under `at`.
    pub fn from_value_at(value: &Value, at: &str) -> Result<PushSettings, Vec<FieldError>> {
        let mut r = Reader::default();
        let typed = read_push(&mut r, value, at);
        r.finish(typed, |s| s.validate(at))
    }

    /// The platforms this configuration can deliver to.
    pub fn platforms(&self) -> Vec<PushPlatform> {
        let mut p = Vec::new();
        if self.fcm.is_some() {
            p.push(PushPlatform::Fcm);
        }
        if self.apns.is_some() {
            p.push(PushPlatform::Apns);
        }
        p
    }

    /// Every problem of these settings, located under `pointer_prefix`.
    pub fn validate(&self, pointer_prefix: &str) -> Vec<FieldError> {
        let p = pointer_prefix;
        let mut errors = Vec::new();
        check_not_blank(&mut errors, child(p, "appId"), "appId", &self.app_id);
        if self.fcm.is_none() && self.apns.is_none() {
            errors.push(FieldError::new(
                p.to_string(),
                "required",
                "push settings need at least one platform: fcm and/or apns",
            ));
        }
        if let Some(f) = &self.fcm {
            let fp = child(p, "fcm");
            let sa_at = child(&fp, "serviceAccount");
            let sa = &f.service_account;
            if !is_plausible_address(&sa.client_email) {
                errors.push(FieldError::new(
                    child(&sa_at, "client_email"),
                    "invalid_email",
                    "client_email must be the service account's email address",
                ));
            }
            check_pkcs8_pem(&mut errors, child(&sa_at, "private_key"), &sa.private_key);
            check_http_url(&mut errors, child(&sa_at, "token_uri"), &sa.token_uri);
            if sa.project_id.trim().is_empty()
                || !sa
                    .project_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'_'))
            {
                errors.push(FieldError::new(
                    child(&sa_at, "project_id"),
                    "invalid_value",
                    "project_id must be the Firebase project id",
                ));
            }
            if let Some(t) = sa.other.get("type")
                && t != "service_account"
            {
                errors.push(FieldError::new(
                    child(&sa_at, "type"),
                    "invalid_value",
                    format!(
                        "expected a service account key file (type \"service_account\"), not {t}"
                    ),
                ));
            }
            if let Some(u) = &f.token_url {
                check_http_url(&mut errors, child(&fp, "tokenUrl"), u);
            }
            if f.send_url.is_some() {
                check_http_url(&mut errors, child(&fp, "sendUrl"), &f.send_url());
            }
        }
        if let Some(a) = &self.apns {
            let ap = child(p, "apns");
            for (field, value) in [("teamId", &a.team_id), ("keyId", &a.key_id)] {
                if !is_apple_id(value) {
                    errors.push(FieldError::new(
                        child(&ap, field),
                        "invalid_value",
                        format!("{field} is Apple's 10-character identifier (uppercase letters and digits)"),
                    ));
                }
            }
            check_pkcs8_pem(&mut errors, child(&ap, "privateKey"), &a.private_key);
            if a.topic.trim().is_empty() || a.topic.contains(char::is_whitespace) {
                errors.push(FieldError::new(
                    child(&ap, "topic"),
                    "invalid_value",
                    "topic is the app's bundle id",
                ));
            }
            if let Some(u) = &a.base_url {
                check_http_url(&mut errors, child(&ap, "baseUrl"), u);
            }
        }
        errors
    }
}

fn read_push(r: &mut Reader, value: &Value, at: &str) -> Option<PushSettings> {
    let mut o = r.object(value, at)?;
    let app_id = o.required(r, "appId");
    let fcm = match o.raw("fcm") {
        None => None,
        Some(v) => read_fcm(r, v, &o.pointer("fcm")),
    };
    let apns = match o.raw("apns") {
        None => None,
        Some(v) => read_apns(r, v, &o.pointer("apns")),
    };
    o.done(r);
    Some(PushSettings { app_id, fcm, apns })
}

fn read_fcm(r: &mut Reader, v: &Value, at: &str) -> Option<FcmSettings> {
    let mut o = r.object(v, at)?;
    let service_account = match o.raw("serviceAccount") {
        None => {
            r.fail(
                o.pointer("serviceAccount"),
                "required",
                "serviceAccount is required: the Google service-account key file (JSON)",
            );
            None
        }
        Some(sv) => read_service_account(r, sv, &o.pointer("serviceAccount")),
    };
    let f = FcmSettings {
        service_account: service_account.unwrap_or_default(),
        token_url: o.optional(r, "tokenUrl"),
        send_url: o.optional(r, "sendUrl"),
    };
    o.done(r);
    Some(f)
}

fn read_service_account(r: &mut Reader, v: &Value, at: &str) -> Option<ServiceAccount> {
    let mut o = r.object(v, at)?.allow_unknown();
    let mut sa = ServiceAccount {
        client_email: o.required(r, "client_email"),
        private_key: o.required(r, "private_key"),
        token_uri: o.optional(r, "token_uri").unwrap_or_else(google_token_uri),
        project_id: o.required(r, "project_id"),
        other: Map::new(),
    };
    if let Some(map) = v.as_object() {
        for (k, val) in map {
            if !matches!(
                k.as_str(),
                "client_email" | "private_key" | "token_uri" | "project_id"
            ) {
                sa.other.insert(k.clone(), val.clone());
            }
        }
    }
    o.done(r);
    Some(sa)
}

fn read_apns(r: &mut Reader, v: &Value, at: &str) -> Option<ApnsSettings> {
    let mut o = r.object(v, at)?;
    let a = ApnsSettings {
        team_id: o.required(r, "teamId"),
        key_id: o.required(r, "keyId"),
        private_key: o.required(r, "privateKey"),
        topic: o.required(r, "topic"),
        base_url: o.optional(r, "baseUrl"),
        environment: o.optional(r, "environment").unwrap_or_default(),
    };
    o.done(r);
    Some(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

    fn both() -> Value {
        json!({
            "appId": "com.example.app",
            "fcm": {"serviceAccount": {
                "type": "service_account",
                "private_key_id": "abc",
                "client_email": "herald@proj.iam.gserviceaccount.com",
                "private_key": PEM,
                "token_uri": "https://oauth2.googleapis.com/token",
                "project_id": "proj"
            }},
            "apns": {"teamId": "ABCDE12345", "keyId": "KEY1234567", "privateKey": PEM,
                     "topic": "com.example.app", "environment": "sandbox"}
        })
    }

    fn pointers(e: &[FieldError]) -> Vec<&str> {
        e.iter().map(|e| e.pointer.as_str()).collect()
    }

    #[test]
    fn parses_both_platforms_with_defaults() {
        let s = PushSettings::from_value(&both()).unwrap();
        assert_eq!(s.platforms(), [PushPlatform::Fcm, PushPlatform::Apns]);
        let f = s.fcm.as_ref().unwrap();
        assert_eq!(
            f.send_url(),
            "https://fcm.googleapis.com/v1/projects/proj/messages:send"
        );
        assert_eq!(f.token_url(), "https://oauth2.googleapis.com/token");
        assert_eq!(f.service_account.other["private_key_id"], "abc");
        assert_eq!(s.apns.as_ref().unwrap().base_url(), APNS_SANDBOX_URL);
        assert!(!format!("{s:?}").contains("MIGH"), "Debug hides keys");
        // Stored and read back unchanged, the key file's extra fields too.
        let back: PushSettings = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(
            serde_json::to_value(&s).unwrap()["fcm"]["serviceAccount"]["type"],
            "service_account"
        );
    }

    #[test]
    fn one_platform_is_enough_and_development_means_sandbox() {
        let mut v = both();
        v.as_object_mut().unwrap().remove("fcm");
        v["apns"]["environment"] = json!("development");
        let s = PushSettings::from_value(&v).unwrap();
        assert_eq!(s.platforms(), [PushPlatform::Apns]);
        assert_eq!(s.apns.unwrap().environment, ApnsEnvironment::Sandbox);
        let mut v = both();
        v.as_object_mut().unwrap().remove("apns");
        v["fcm"]["sendUrl"] = json!("http://127.0.0.1:9/v1/projects/{project_id}/messages:send");
        let s = PushSettings::from_value(&v).unwrap();
        assert_eq!(
            s.fcm.unwrap().send_url(),
            "http://127.0.0.1:9/v1/projects/proj/messages:send"
        );
    }

    #[test]
    fn missing_and_mistyped_fields_have_pointers() {
        let mut v = both();
        v["apns"].as_object_mut().unwrap().remove("topic");
        v["fcm"]["serviceAccount"]
            .as_object_mut()
            .unwrap()
            .remove("client_email");
        v["apns"]["environment"] = json!("staging");
        v["fcm"]["tokenUrl"] = json!(42);
        v["apns"]["extra"] = json!(1);
        let e = PushSettings::from_value(&v).unwrap_err();
        let mut p = pointers(&e);
        p.sort();
        assert_eq!(
            p,
            [
                "/push/apns/environment",
                "/push/apns/extra",
                "/push/apns/topic",
                "/push/fcm/serviceAccount/client_email",
                "/push/fcm/tokenUrl",
            ],
            "{e:#?}"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut v = both();
        v["fcm"]["serviceAccount"]["private_key"] =
            json!("-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----");
        v["fcm"]["serviceAccount"]["type"] = json!("authorized_user");
        v["fcm"]["sendUrl"] = json!("nope");
        v["apns"]["teamId"] = json!("short");
        v["apns"]["privateKey"] = json!(7);
        v["appId"] = json!("");
        let e = PushSettings::from_value(&v).unwrap_err();
        assert_eq!(
            pointers(&e),
            [
                "/push/apns/privateKey",
                "/push/appId",
                "/push/fcm/serviceAccount/private_key",
                "/push/fcm/serviceAccount/type",
                "/push/fcm/sendUrl",
                "/push/apns/teamId",
            ],
            "{e:#?}"
        );
        let key = e
            .iter()
            .find(|e| e.pointer.ends_with("/private_key"))
            .unwrap();
        assert!(key.message.contains("openssl pkcs8"), "{}", key.message);
        let typed = e
            .iter()
            .find(|e| e.pointer == "/push/apns/privateKey")
            .unwrap();
        assert_eq!(typed.code, "invalid_type", "reported once, as unreadable");
    }

    #[test]
    fn a_platform_is_required() {
        let e = PushSettings::from_value(&json!({"appId": "a"})).unwrap_err();
        assert_eq!(pointers(&e), ["/push"]);
        let e = PushSettings::from_value(&json!({"fcm": null})).unwrap_err();
        assert_eq!(pointers(&e), ["/push/appId", "/push"]);
    }
}
