//! How a call proves it comes from Herald.
//!
//! HMAC: `X-Herald-Signature: t=<unix seconds>,v1=<hex>` where the hex is
//! HMAC-SHA256 with the webhook's secret over `"<t>.<raw body>"`. A
//! receiver recomputes it over the bytes it received and compares in
//! constant time; the timestamp lets it refuse old replays.
//!
//! JWT: an HS256 token (`iss`, `iat`, `exp`, optional `aud`) sent as
//! `Authorization: Bearer <jwt>`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-herald-signature";

fn mac(secret: &str, parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// The `X-Herald-Signature` value for `body` sent at `t` (unix seconds).
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let ts = t.to_string();
    let sig = mac(secret, &[ts.as_bytes(), b".", body]);
    format!("t={ts},v1={}", hex::encode(sig))
}

/// Checks a signature header against `body` (what a receiver does; used
/// by the tests and documented for users).
pub fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.verify_slice(&v1).is_ok()
}

/// An HS256 JWT issued at `now` (unix seconds).
pub fn jwt(secret: &str, issuer: &str, audience: Option<&str>, ttl: u32, now: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let mut claims = serde_json::json!({ "iss": issuer, "iat": now, "exp": now + i64::from(ttl) });
    if let Some(aud) = audience {
        claims["aud"] = aud.into();
    }
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing = format!("{header}.{claims}");
    let sig = URL_SAFE_NO_PAD.encode(mac(secret, &[signing.as_bytes()]));
    format!("{signing}.{sig}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_secret_and_body() {
        let h = signature("k", 1_700_000_000, b"{\"a\":1}");
        assert!(h.starts_with("t=1700000000,v1="));
        assert!(verify("k", &h, b"{\"a\":1}"));
        assert!(!verify("k", &h, b"{\"a\":2}"));
        assert!(!verify("other", &h, b"{\"a\":1}"));
        // The timestamp is signed too.
        let forged = h.replace("t=1700000000", "t=1700000001");
        assert!(!verify("k", &forged, b"{\"a\":1}"));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_t_dot_body() {
        // Known answer computed independently:
        // printf '1.x' | openssl dgst -sha256 -hmac k
        assert_eq!(
            signature("k", 1, b"x"),
            "t=1,v1=976cb87e4f568d1c0f03f32859e90af8597cf00b978ba37c229c97d3a15b8449"
        );
    }

    #[test]
    fn a_jwt_has_three_parts_and_its_claims() {
        let t = jwt("k", "herald", Some("ops"), 60, 1000);
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "herald");
        assert_eq!(claims["aud"], "ops");
        assert_eq!(claims["exp"], 1060);
        let expected =
            URL_SAFE_NO_PAD.encode(mac("k", &[format!("{}.{}", parts[0], parts[1]).as_bytes()]));
        assert_eq!(parts[2], expected);
    }
}
