//! Signed tokens for tracking and unsubscribe links (`/t/o/{token}`,
//! `/t/c/{token}`, `/u/{token}`).
//!
//! A token names a message and what the link is for, and carries an
//! HMAC-SHA256 tag under the install secret, so a recipient can neither
//! forge a token for another message nor turn an open pixel into an
//! unsubscribe. Layout before base64url (no padding):
//!
//! ```text
//! version (1) | purpose (1) | [link index, u32 BE — click only] | message id (UTF-8) | tag (16)
//! ```
//!
//! The tag is the HMAC truncated to 128 bits (plenty against forgery; it
//! keeps the URLs short) and is checked in constant time.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// Keeps tokens (and the URLs holding them) bounded.
pub const MAX_MESSAGE_ID_LEN: usize = 200;
/// Domain separation: the install secret may one day sign other things.
const CONTEXT: &[u8] = b"herald-token";

/// What a token's link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    Open,
    Click,
    Unsubscribe,
}

impl TokenPurpose {
    fn code(self) -> u8 {
        match self {
            Self::Open => 1,
            Self::Click => 2,
            Self::Unsubscribe => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Open),
            2 => Some(Self::Click),
            3 => Some(Self::Unsubscribe),
            _ => None,
        }
    }
}

/// What a token says. `link` is the index of the link in the message and is
/// present exactly when `purpose` is [`TokenPurpose::Click`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub purpose: TokenPurpose,
    pub message_id: String,
    pub link: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not valid base64url")]
    Encoding,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("unsupported token version {0}")]
    Version(u8),
    #[error("invalid claims: {0}")]
    InvalidClaims(&'static str),
}

/// The install secret, ready to sign and verify tokens.
#[derive(Clone)]
pub struct TokenKey {
    secret: [u8; 32],
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.write_str("TokenKey(***)")
    }
}

impl TokenKey {
    pub fn new(secret: [u8; 32]) -> TokenKey {
        TokenKey { secret }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; 32 bytes cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(CONTEXT);
        mac
    }

    /// Signs `claims`. Fails only on claims that could never verify (a click
    /// without a link index, a link index on another purpose, an empty or
    /// over-long message id).
    pub fn sign(&self, claims: &TokenClaims) -> Result<String, TokenError> {
        check_claims(claims)?;
        let mut bytes = Vec::with_capacity(6 + claims.message_id.len() + TAG_LEN);
        bytes.push(VERSION);
        bytes.push(claims.purpose.code());
        if let Some(link) = claims.link {
            bytes.extend_from_slice(&link.to_be_bytes());
        }
        bytes.extend_from_slice(claims.message_id.as_bytes());
        let mut mac = self.mac();
        mac.update(&bytes);
        let tag = mac.finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_LEN]);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Checks the signature, then decodes the claims. Any change to the token
    /// is rejected.
    pub fn verify(&self, token: &str) -> Result<TokenClaims, TokenError> {
        // Base64 of the longest possible token, so garbage is not decoded.
        if token.len() > (6 + MAX_MESSAGE_ID_LEN + TAG_LEN).div_ceil(3) * 4 {
            return Err(TokenError::Malformed);
        }
        // The default engine rejects non-canonical trailing bits, so two
        // strings never decode to the same token.
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| TokenError::Encoding)?;
        if bytes.len() < 2 + TAG_LEN {
            return Err(TokenError::Malformed);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        let mut mac = self.mac();
        mac.update(payload);
        mac.verify_truncated_left(tag)
            .map_err(|_| TokenError::BadSignature)?;

        if payload[0] != VERSION {
            return Err(TokenError::Version(payload[0]));
        }
        let purpose = TokenPurpose::from_code(payload[1]).ok_or(TokenError::Malformed)?;
        let mut rest = &payload[2..];
        let link = if purpose == TokenPurpose::Click {
            let (index, tail) = rest.split_first_chunk::<4>().ok_or(TokenError::Malformed)?;
            rest = tail;
            Some(u32::from_be_bytes(*index))
        } else {
            None
        };
        let message_id = std::str::from_utf8(rest)
            .map_err(|_| TokenError::Malformed)?
            .to_owned();
        let claims = TokenClaims {
            purpose,
            message_id,
            link,
        };
        check_claims(&claims)?;
        Ok(claims)
    }
}

fn check_claims(claims: &TokenClaims) -> Result<(), TokenError> {
    match (claims.purpose, claims.link) {
        (TokenPurpose::Click, None) => {
            return Err(TokenError::InvalidClaims(
                "a click token needs a link index",
            ));
        }
        (TokenPurpose::Open | TokenPurpose::Unsubscribe, Some(_)) => {
            return Err(TokenError::InvalidClaims(
                "only click tokens carry a link index",
            ));
        }
        _ => {}
    }
    if claims.message_id.is_empty() || claims.message_id.len() > MAX_MESSAGE_ID_LEN {
        return Err(TokenError::InvalidClaims(
            "the message id must be 1 to 200 bytes",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn key() -> TokenKey {
        TokenKey::new([7; 32])
    }

    fn claims(purpose: TokenPurpose, link: Option<u32>) -> TokenClaims {
        TokenClaims {
            purpose,
            message_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".to_owned(),
            link,
        }
    }

    #[test]
    fn round_trips_every_purpose() {
        for c in [
            claims(TokenPurpose::Open, None),
            claims(TokenPurpose::Click, Some(0)),
            claims(TokenPurpose::Click, Some(u32::MAX)),
            claims(TokenPurpose::Unsubscribe, None),
        ] {
            let token = key().sign(&c).expect("sign");
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{token}"
            );
            assert_eq!(key().verify(&token), Ok(c));
        }
    }

    #[test]
    fn other_key_or_purpose_is_rejected() {
        let token = key().sign(&claims(TokenPurpose::Open, None)).expect("sign");
        assert_eq!(
            TokenKey::new([8; 32]).verify(&token),
            Err(TokenError::BadSignature)
        );
        // Rewriting the purpose byte (open -> unsubscribe) breaks the tag.
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).expect("b64");
        bytes[1] = 3;
        assert_eq!(
            key().verify(&URL_SAFE_NO_PAD.encode(bytes)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in ["", "a", "!!!!", "AAAA", &"A".repeat(1000)] {
            assert!(key().verify(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn inconsistent_claims_are_not_signed() {
        assert!(key().sign(&claims(TokenPurpose::Click, None)).is_err());
        assert!(key().sign(&claims(TokenPurpose::Open, Some(1))).is_err());
        let mut c = claims(TokenPurpose::Open, None);
        c.message_id = String::new();
        assert!(key().sign(&c).is_err());
        c.message_id = "x".repeat(MAX_MESSAGE_ID_LEN + 1);
        assert!(key().sign(&c).is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        assert_eq!(format!("{:?}", key()), "TokenKey(***)");
    }

    proptest! {
        /// Replacing any character of a token with any other character of the
        /// alphabet, or truncating or extending it, never verifies.
        #[test]
        fn any_tampering_fails(
            id in "[ -~]{1,60}",
            purpose in 0u8..3,
            link in any::<u32>(),
            position in any::<prop::sample::Index>(),
            replacement in any::<prop::sample::Index>(),
            extra in any::<prop::sample::Index>(),
        ) {
            let purpose = [TokenPurpose::Open, TokenPurpose::Click, TokenPurpose::Unsubscribe][purpose as usize];
            let c = TokenClaims {
                purpose,
                message_id: id,
                link: (purpose == TokenPurpose::Click).then_some(link),
            };
            let token = key().sign(&c).expect("sign");
            prop_assert_eq!(key().verify(&token), Ok(c));

            let mut bytes = token.clone().into_bytes();
            let i = position.index(bytes.len());
            let mut new = ALPHABET[replacement.index(ALPHABET.len())];
            if new == bytes[i] {
                new = if new == b'A' { b'B' } else { b'A' };
            }
            bytes[i] = new;
            let tampered = String::from_utf8(bytes).expect("ascii");
            prop_assert!(key().verify(&tampered).is_err(), "{} verified", tampered);

            prop_assert!(key().verify(&token[..token.len() - 1]).is_err());
            let longer = format!("{token}{}", ALPHABET[extra.index(ALPHABET.len())] as char);
            prop_assert!(key().verify(&longer).is_err());
        }
    }
}
