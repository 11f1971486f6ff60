//! Reading a settings object field by field, so that every problem gets its
//! own JSON pointer (serde stops at the first error and names no place).
//!
//! Shared by [`crate::sms_settings`] and [`crate::push_settings`]: a field
//! that cannot be read is reported and replaced by its default, the typed
//! settings are then checked as a whole, and the checks' findings about a
//! field already reported are dropped.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{FieldError, pointer_token};

#[derive(Default)]
pub(crate) struct Reader {
    errors: Vec<FieldError>,
    /// Pointers already reported as unreadable.
    failed: Vec<String>,
}

pub(crate) struct Obj<'v> {
    map: &'v Map<String, Value>,
    at: String,
    known: Vec<&'static str>,
    allow_unknown: bool,
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn child(at: &str, key: &str) -> String {
    format!("{at}/{}", pointer_token(key))
}

impl Reader {
    pub fn fail(&mut self, pointer: String, code: &str, message: impl Into<String>) {
        self.errors
            .push(FieldError::new(pointer.clone(), code, message));
        self.failed.push(pointer);
    }

    /// `v` as an object, or a reported error.
    pub fn object<'v>(&mut self, v: &'v Value, at: &str) -> Option<Obj<'v>> {
        match v {
            Value::Object(map) => Some(Obj {
                map,
                at: at.to_string(),
                known: Vec::new(),
                allow_unknown: false,
            }),
            other => {
                self.fail(
                    at.to_string(),
                    "not_an_object",
                    format!("expected a JSON object here, not {}", json_kind(other)),
                );
                None
            }
        }
    }

    /// Deserializes `v`, reporting a failure at `at`.
    pub fn parse<T: DeserializeOwned>(&mut self, v: &Value, at: String) -> Option<T> {
        match serde_json::from_value::<T>(v.clone()) {
            Ok(t) => Some(t),
            Err(e) => {
                let message = e.to_string();
                let code = if message.starts_with("invalid type") {
                    "invalid_type"
                } else {
                    "invalid_value"
                };
                self.fail(at, code, message);
                None
            }
        }
    }

    /// The typed settings after their own checks, or every problem found.
    pub fn finish<T>(
        self,
        typed: Option<T>,
        validate: impl FnOnce(&T) -> Vec<FieldError>,
    ) -> Result<T, Vec<FieldError>> {
        let Reader { mut errors, failed } = self;
        let Some(typed) = typed else {
            return Err(errors);
        };
        let covered = |p: &str| {
            failed
                .iter()
                .any(|f| p == f || (p.starts_with(f.as_str()) && p[f.len()..].starts_with('/')))
        };
        errors.extend(
            validate(&typed)
                .into_iter()
                .filter(|e| !covered(&e.pointer)),
        );
        if errors.is_empty() {
            Ok(typed)
        } else {
            Err(errors)
        }
    }
}

impl<'v> Obj<'v> {
    /// Keeps fields that are not read (an imported document with more
    /// fields than Herald uses).
    pub fn allow_unknown(mut self) -> Self {
        self.allow_unknown = true;
        self
    }

    pub fn at(&self) -> &str {
        &self.at
    }

    pub fn pointer(&self, key: &str) -> String {
        child(&self.at, key)
    }

    /// The field's value; `null` counts as absent.
    pub fn raw(&mut self, key: &'static str) -> Option<&'v Value> {
        self.known.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A required field; missing or unreadable gives a reported error and
    /// `T::default()`.
    pub fn required<T: DeserializeOwned + Default>(
        &mut self,
        r: &mut Reader,
        key: &'static str,
    ) -> T {
        match self.raw(key) {
            None => {
                r.fail(self.pointer(key), "required", format!("{key} is required"));
                T::default()
            }
            Some(v) => r.parse(v, self.pointer(key)).unwrap_or_default(),
        }
    }

    /// An optional field; unreadable gives a reported error and `None`.
    pub fn optional<T: DeserializeOwned>(
        &mut self,
        r: &mut Reader,
        key: &'static str,
    ) -> Option<T> {
        let v = self.raw(key)?;
        r.parse(v, self.pointer(key))
    }

    /// Reports fields that were not read.
    pub fn done(self, r: &mut Reader) {
        if self.allow_unknown {
            return;
        }
        for key in self.map.keys() {
            if !self.known.contains(&key.as_str()) {
                r.fail(
                    child(&self.at, key),
                    "unknown_field",
                    format!("unknown field `{key}`"),
                );
            }
        }
    }
}

/// `http://` or `https://` with a host, no fragment.
pub(crate) fn check_http_url(errors: &mut Vec<FieldError>, pointer: String, value: &str) {
    match url::Url::parse(value) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.fragment().is_none() => {}
        _ => errors.push(FieldError::new(
            pointer,
            "invalid_url",
            format!("'{value}' is not an http or https URL"),
        )),
    }
}

/// A JSON pointer (RFC 6901): empty or starting with `/`.
pub(crate) fn check_pointer(errors: &mut Vec<FieldError>, pointer: String, value: &str) {
    if !(value.is_empty() || value.starts_with('/')) {
        errors.push(FieldError::new(
            pointer,
            "invalid_pointer",
            format!("'{value}' is not a JSON pointer (it must be empty or start with '/')"),
        ));
    }
}

/// PEM armour of an unencrypted PKCS#8 private key, with a base64 body.
/// (The key itself is parsed by the transport, which has the crypto.)
pub(crate) fn check_pkcs8_pem(errors: &mut Vec<FieldError>, pointer: String, value: &str) {
    let body = value
        .trim()
        .strip_prefix("-----BEGIN PRIVATE KEY-----")
        .and_then(|v| v.strip_suffix("-----END PRIVATE KEY-----"));
    let ok = body.is_some_and(|b| {
        let b = b.trim();
        !b.is_empty()
            && b.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=') || c.is_ascii_whitespace()
            })
    });
    if !ok {
        let hint =
            if value.contains("BEGIN EC PRIVATE KEY") || value.contains("BEGIN RSA PRIVATE KEY") {
                " (this is a traditional key; convert it with `openssl pkcs8 -topk8 -nocrypt`)"
            } else if value.contains("ENCRYPTED") {
                " (it must not be encrypted)"
            } else {
                ""
            };
        errors.push(FieldError::new(
            pointer,
            "invalid_key",
            format!("expected a PEM PKCS#8 private key (-----BEGIN PRIVATE KEY-----){hint}"),
        ));
    }
}

pub(crate) fn check_not_blank(
    errors: &mut Vec<FieldError>,
    pointer: String,
    name: &str,
    value: &str,
) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(
            pointer,
            "required",
            format!("{name} must not be empty"),
        ));
    }
}
