//! Minimal JWT signing with ring: RS256 for Google's OAuth (FCM) and ES256
//! for APNs provider tokens. Only signing: Herald never verifies tokens.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use serde_json::Value;

use crate::error::ChannelError;

/// DER bytes of the first `-----BEGIN PRIVATE KEY-----` block (PKCS#8).
/// Also accepts JSON-escaped `\n` left in a pasted key.
pub(crate) fn pkcs8_der(pem: &str) -> Result<Vec<u8>, ChannelError> {
    let pem = pem.replace("\\n", "\n");
    let begin = "-----BEGIN PRIVATE KEY-----";
    let end = "-----END PRIVATE KEY-----";
    let start = pem
        .find(begin)
        .ok_or_else(|| ChannelError::permanent("the private key is not a PKCS#8 PEM block"))?;
    let body = &pem[start + begin.len()..];
    let stop = body
        .find(end)
        .ok_or_else(|| ChannelError::permanent("the private key PEM block is not closed"))?;
    let b64: String = body[..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD
        .decode(b64)
        .map_err(|_| ChannelError::permanent("the private key PEM is not valid base64"))
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// An RSA key for RS256 (Google service accounts).
pub(crate) struct Rs256Key {
    key: RsaKeyPair,
    rng: SystemRandom,
}

impl Rs256Key {
    pub(crate) fn from_pem(pem: &str) -> Result<Self, ChannelError> {
        let der = pkcs8_der(pem)?;
        let key = RsaKeyPair::from_pkcs8(&der).map_err(|e| {
            ChannelError::permanent(format!("the RSA private key is unusable: {e}"))
        })?;
        Ok(Rs256Key {
            key,
            rng: SystemRandom::new(),
        })
    }

    pub(crate) fn sign(&self, claims: &Value) -> Result<String, ChannelError> {
        let input = signing_input(&serde_json::json!({"alg": "RS256", "typ": "JWT"}), claims);
        let mut sig = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, input.as_bytes(), &mut sig)
            .map_err(|_| ChannelError::permanent("RS256 signing failed"))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// A P-256 key for ES256 (APNs .p8 keys).
pub(crate) struct Es256Key {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Es256Key {
    pub(crate) fn from_pem(pem: &str) -> Result<Self, ChannelError> {
        let der = pkcs8_der(pem)?;
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng).map_err(
            |e| ChannelError::permanent(format!("the P-256 private key is unusable: {e}")),
        )?;
        Ok(Es256Key { key, rng })
    }

    /// JWS ES256 wants the raw r‖s signature, which is ring's FIXED format.
    pub(crate) fn sign(&self, header: &Value, claims: &Value) -> Result<String, ChannelError> {
        let input = signing_input(header, claims);
        let sig = self
            .key
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| ChannelError::permanent("ES256 signing failed"))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
