//! A JSON body extractor whose errors name the field: malformed JSON, a
//! wrong type or a missing field all become a 400 problem with a pointer.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use herald_domain::FieldError;
use herald_domain::error::pointer_token;

use crate::problem::Problem;

/// The parsed body, plus the raw JSON value (kept for idempotency hashing).
pub struct JsonBody<T> {
    pub value: T,
    pub raw: Value,
}

impl<S: Send + Sync, T: DeserializeOwned + Serialize> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        let raw = parse_value(&bytes)?;
        let value = from_value(&raw)?;
        Ok(JsonBody { value, raw })
    }
}

/// Answers 413 from the headers alone when the announced body is over the
/// limit: no need to read (or make the client send) megabytes to refuse them.
pub async fn reject_oversized(
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // The profile import streams its body, whatever its size.
    let streamed = req.uri().path() == "/v1/profiles:import";
    if !streamed && announced.is_some_and(|n| n > crate::MAX_BODY_BYTES as u64) {
        return too_large().into_response();
    }
    next.run(req).await
}

fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Payload too large",
        format!("the body is larger than {} bytes", crate::MAX_BODY_BYTES),
    )
}

/// A body that could not be read (too large, broken stream) as problem JSON.
pub fn body_rejection(e: BytesRejection) -> Problem {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "unreadable-body",
            "The body could not be read",
            e.body_text(),
        )
    }
}

pub fn parse_value(bytes: &[u8]) -> Result<Value, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request(vec![FieldError::new(
            "",
            "empty_body",
            "the request body is empty; JSON expected",
        )]));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        Problem::bad_request(vec![FieldError::new(
            "",
            "malformed_json",
            format!(
                "the body is not valid JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            )
            .replace(&format!(" at line {} column {}", e.line(), e.column()), ""),
        )])
    })
}

/// Deserializes a request body (always a JSON object) with the path of the
/// failing field turned into a JSON pointer.
pub fn from_value<T: DeserializeOwned + Serialize>(value: &Value) -> Result<T, Problem> {
    let parsed: T = deserialize(value)?;
    // serde also fills a struct from an array, by position, at any depth:
    // where the parsed value is an object and the body had an array there,
    // the body was wrong.
    if let Ok(back) = serde_json::to_value(&parsed)
        && let Some(pointer) = array_for_object(value, &back, String::new())
    {
        return Err(Problem::bad_request(vec![FieldError::new(
            pointer,
            "invalid_type",
            "expected a JSON object here, not an array",
        )]));
    }
    Ok(parsed)
}

/// The first place where `given` holds an array and `parsed` an object.
fn array_for_object(given: &Value, parsed: &Value, at: String) -> Option<String> {
    match (given, parsed) {
        (Value::Array(_), Value::Object(_)) => Some(at),
        (Value::Array(g), Value::Array(p)) => g
            .iter()
            .zip(p)
            .enumerate()
            .find_map(|(i, (g, p))| array_for_object(g, p, format!("{at}/{i}"))),
        (Value::Object(g), Value::Object(p)) => g.iter().find_map(|(k, g)| {
            p.get(k)
                .and_then(|p| array_for_object(g, p, format!("{at}/{}", pointer_token(k))))
        }),
        _ => None,
    }
}

fn deserialize<T: DeserializeOwned>(value: &Value) -> Result<T, Problem> {
    // serde fills a struct from an array by position; no body here is one.
    if !value.is_object() {
        return Err(Problem::bad_request(vec![FieldError::new(
            "",
            "invalid_type",
            format!("the body must be a JSON object, not {}", json_kind(value)),
        )]));
    }
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let mut pointer = String::new();
        for seg in e.path().iter() {
            use serde_path_to_error::Segment;
            match seg {
                Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
                Segment::Map { key } => pointer.push_str(&format!("/{}", pointer_token(key))),
                Segment::Enum { variant } => {
                    pointer.push_str(&format!("/{}", pointer_token(variant)))
                }
                Segment::Unknown => {}
            }
        }
        let message = e.inner().to_string();
        let (code, pointer) = if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            ("required", format!("{pointer}/{}", pointer_token(field)))
        } else if message.starts_with("unknown field `") {
            // The path already ends at the unknown key.
            ("unknown_field", pointer)
        } else {
            ("invalid_value", pointer)
        };
        Problem::bad_request(vec![FieldError::new(pointer, code, message)])
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A 4xx that an extractor answered in plain text (a path segment that is
/// not UTF-8, a malformed query a handler did not catch) becomes problem
/// JSON like every other client error. The path is the only place left to
/// point at.
pub async fn plain_rejections_as_problems(
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let resp = next.run(req).await;
    let plain = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let status = resp.status();
    if !status.is_client_error() || !plain {
        return resp;
    }
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let detail = String::from_utf8_lossy(&body).trim().to_string();
    Problem::new(
        status,
        "invalid-request",
        "The request is invalid",
        detail.clone(),
    )
    .with_errors(vec![herald_domain::FieldError::new(
        "/",
        "invalid_request",
        detail,
    )])
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Serialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
        n: u32,
    }
    #[derive(Deserialize, Serialize, Debug)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
    }

    #[test]
    fn pointers_name_the_field() {
        let e = from_value::<Outer>(
            &serde_json::json!({"items": [{"name": "a", "n": 1}, {"name": "b", "n": "x"}]}),
        )
        .unwrap_err();
        assert_eq!(e.errors[0].pointer, "/items/1/n");
        let e = from_value::<Outer>(&serde_json::json!({"items": [{"n": 1}]})).unwrap_err();
        assert_eq!(e.errors[0].pointer, "/items/0/name");
        assert_eq!(e.errors[0].code, "required");
        let e =
            from_value::<Outer>(&serde_json::json!({"items": [{"name": "a", "n": 1, "zz": 1}]}))
                .unwrap_err();
        assert_eq!(e.errors[0].pointer, "/items/0/zz");
        for not_an_object in [
            serde_json::json!([[{"name": "a", "n": 1}]]),
            serde_json::json!("x"),
            serde_json::json!(null),
        ] {
            let e = from_value::<Outer>(&not_an_object).unwrap_err();
            assert_eq!(
                (e.errors[0].pointer.as_str(), e.errors[0].code.as_str()),
                ("", "invalid_type")
            );
            assert!(
                !e.errors[0].message.contains("struct"),
                "{}",
                e.errors[0].message
            );
        }
        let e =
            from_value::<Outer>(&serde_json::json!({"items": [{"name": "a", "n": 1}, ["b", 2]]}))
                .unwrap_err();
        assert_eq!(
            (e.errors[0].pointer.as_str(), e.errors[0].code.as_str()),
            ("/items/1", "invalid_type")
        );
        let e = parse_value(b"{\"a\": ").unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.errors[0].code, "malformed_json");
    }
}
