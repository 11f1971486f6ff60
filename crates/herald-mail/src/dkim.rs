//! DKIM signatures (RFC 6376) with RSA-SHA256 or Ed25519-SHA256 (RFC 8463),
//! relaxed/relaxed canonicalization.
//!
//! Written on `ring` (already in the tree for rustls) rather than pulling in
//! `mail-auth`, which brings a DNS resolver and its own crypto stack. Signing
//! is the simple half of DKIM: canonicalize, hash, sign, fold.
//!
//! Every signed header name is listed once more than it occurs
//! ("over-signing"), so a relay cannot add a second From, Subject or
//! List-Unsubscribe without breaking the signature.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

/// The headers Herald signs, in `h=` order, when present.
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// Lines of the DKIM-Signature header stay within this many characters.
const LINE_LIMIT: usize = 76;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DkimAlgorithm {
    RsaSha256,
    Ed25519Sha256,
}

impl DkimAlgorithm {
    /// The `a=` tag value.
    pub fn tag(self) -> &'static str {
        match self {
            Self::RsaSha256 => "rsa-sha256",
            Self::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// The `k=` tag of the DNS record.
    fn key_type(self) -> &'static str {
        match self {
            Self::RsaSha256 => "rsa",
            Self::Ed25519Sha256 => "ed25519",
        }
    }
}

impl fmt::Display for DkimAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("invalid DKIM signing domain {0:?}")]
    InvalidDomain(String),
    #[error("invalid DKIM selector {0:?}")]
    InvalidSelector(String),
    #[error("the DKIM private key is not a PEM private key: {0}")]
    Pem(String),
    #[error("the DKIM private key is not a valid {algorithm} key: {reason}")]
    Key {
        algorithm: DkimAlgorithm,
        reason: String,
    },
    #[error("the message has no From header, which DKIM must sign")]
    MissingFrom,
    #[error("the message's header block is malformed: {0}")]
    MalformedHeader(String),
    #[error("signing failed")]
    Signing,
}

enum SigningKey {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// One domain's DKIM key, parsed once and reused for every message.
pub struct DkimSigner {
    domain: String,
    selector: String,
    algorithm: DkimAlgorithm,
    key: SigningKey,
}

impl fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out of logs.
        f.debug_struct("DkimSigner")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl DkimSigner {
    /// Parses a PEM private key: PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8
    /// (`PRIVATE KEY`) for RSA (2048 to 8192 bits), PKCS#8 for Ed25519.
    pub fn from_pem(
        domain: &str,
        selector: &str,
        algorithm: DkimAlgorithm,
        pem: &str,
    ) -> Result<DkimSigner, DkimError> {
        if !is_dns_name(domain) || !domain.contains('.') {
            return Err(DkimError::InvalidDomain(domain.to_owned()));
        }
        if !is_dns_name(selector) {
            return Err(DkimError::InvalidSelector(selector.to_owned()));
        }
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| DkimError::Pem(e.to_string()))?;
        let bad = |reason: String| DkimError::Key { algorithm, reason };
        let key = match (algorithm, &der) {
            (DkimAlgorithm::RsaSha256, PrivateKeyDer::Pkcs1(k)) => SigningKey::Rsa(
                RsaKeyPair::from_der(k.secret_pkcs1_der()).map_err(|e| bad(e.to_string()))?,
            ),
            (DkimAlgorithm::RsaSha256, PrivateKeyDer::Pkcs8(k)) => SigningKey::Rsa(
                RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()).map_err(|e| bad(e.to_string()))?,
            ),
            (DkimAlgorithm::Ed25519Sha256, PrivateKeyDer::Pkcs8(k)) => SigningKey::Ed25519(
                // "maybe_unchecked" accepts the PKCS#8 v1 files OpenSSL writes
                // (no embedded public key) as well as v2.
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(k.secret_pkcs8_der())
                    .map_err(|e| bad(e.to_string()))?,
            ),
            _ => return Err(bad("unsupported PEM key type for this algorithm".to_owned())),
        };
        Ok(DkimSigner {
            domain: domain.to_ascii_lowercase(),
            selector: selector.to_owned(),
            algorithm,
            key,
        })
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn selector(&self) -> &str {
        &self.selector
    }

    pub fn algorithm(&self) -> DkimAlgorithm {
        self.algorithm
    }

    /// The TXT record to publish at `{selector}._domainkey.{domain}`.
    pub fn dns_txt_record(&self) -> String {
        let p = match &self.key {
            // DKIM's p= is a SubjectPublicKeyInfo; ring hands out the bare
            // PKCS#1 RSAPublicKey.
            SigningKey::Rsa(k) => STANDARD.encode(rsa_spki(k.public().as_ref())),
            SigningKey::Ed25519(k) => STANDARD.encode(k.public_key().as_ref()),
        };
        format!("v=DKIM1; k={}; p={p}", self.algorithm.key_type())
    }

    /// Signs `raw` (an RFC 5322 message) with `t=` now and returns it with
    /// the `DKIM-Signature` header prepended. Bare LF line ends are turned
    /// into CRLF first, so what is signed is what goes on the wire.
    pub fn sign(&self, raw: &[u8]) -> Result<Vec<u8>, DkimError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.sign_at(raw, now)
    }

    /// [`sign`](Self::sign) with a fixed signature timestamp.
    pub fn sign_at(&self, raw: &[u8], timestamp: u64) -> Result<Vec<u8>, DkimError> {
        let message = to_crlf(raw);
        let (head, body) = split_message(&message);
        let fields = parse_fields(head)?;

        let body_hash = STANDARD.encode(Sha256::digest(canonical_body(body)));

        // Bottom-up instances of each signed name, then one more (over-signing).
        let mut names = Vec::new();
        let mut signed = Vec::new();
        for name in SIGNED_HEADERS {
            let instances: Vec<&Field> = fields
                .iter()
                .rev()
                .filter(|f| f.name.eq_ignore_ascii_case(name))
                .collect();
            if *name == "From" && instances.is_empty() {
                return Err(DkimError::MissingFrom);
            }
            for field in &instances {
                signed.push(canonical_header(field.name, field.value));
            }
            for _ in 0..=instances.len() {
                names.push(name.to_ascii_lowercase());
            }
        }

        let mut header = Folder::new("DKIM-Signature:");
        header.push("v=1;", true);
        header.push(&format!("a={};", self.algorithm.tag()), true);
        header.push("c=relaxed/relaxed;", true);
        header.push(&format!("d={};", self.domain), true);
        header.push(&format!("s={};", self.selector), true);
        header.push(&format!("t={timestamp};"), true);
        for (i, name) in names.iter().enumerate() {
            let last = i + 1 == names.len();
            let token = match (i, last) {
                (0, _) => format!("h={name}{}", if last { ";" } else { "" }),
                (_, false) => format!(":{name}"),
                (_, true) => format!(":{name};"),
            };
            header.push(&token, i == 0);
        }
        header.push(&format!("bh={body_hash};"), true);
        header.fold();
        header.push("b=", false);

        // The signature covers the signed headers and this header with an
        // empty b=, without its final CRLF.
        let mut data = signed.concat();
        let unsigned = canonical_header("DKIM-Signature", &header.out["DKIM-Signature:".len()..]);
        data.extend_from_slice(unsigned.strip_suffix(b"\r\n").unwrap_or(&unsigned));
        let signature = match &self.key {
            SigningKey::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), &data, &mut sig)
                    .map_err(|_| DkimError::Signing)?;
                sig
            }
            // RFC 8463: Ed25519 signs the SHA-256 digest of the data.
            SigningKey::Ed25519(k) => k.sign(&Sha256::digest(&data)).as_ref().to_vec(),
        };
        let signature = STANDARD.encode(signature);
        for (i, chunk) in signature.as_bytes().chunks(64).enumerate() {
            if i > 0 {
                header.fold();
            }
            header.push(std::str::from_utf8(chunk).unwrap_or_default(), false);
        }

        let mut out = header.out.into_bytes();
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&message);
        Ok(out)
    }
}

/// The signer for `from_domain`: the one for that domain, or else for its
/// closest parent domain (`news.example.com` falls back to `example.com`).
pub fn select_signer<'a, S: AsRef<DkimSigner>>(
    signers: &'a [S],
    from_domain: &str,
) -> Option<&'a DkimSigner> {
    let from = from_domain.trim_end_matches('.').to_ascii_lowercase();
    signers
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| {
            from == s.domain
                || from
                    .strip_suffix(&s.domain)
                    .is_some_and(|rest| rest.ends_with('.'))
        })
        .max_by_key(|s| s.domain.len())
}

impl AsRef<DkimSigner> for DkimSigner {
    fn as_ref(&self) -> &DkimSigner {
        self
    }
}

/// Letters, digits, '-', '_' and dots between non-empty labels: all that may
/// go into `d=`/`s=` without quoting (and nothing that could end the tag).
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Builds a header with folding whitespace (CRLF TAB) between tokens.
struct Folder {
    out: String,
    line: usize,
}

impl Folder {
    fn new(start: &str) -> Folder {
        Folder {
            out: start.to_owned(),
            line: start.len(),
        }
    }

    /// Appends `token`, preceded by a space when `space` and the line has
    /// room, else on a new folded line.
    fn push(&mut self, token: &str, space: bool) {
        if self.line + usize::from(space) + token.len() > LINE_LIMIT && self.line > 1 {
            self.fold();
        } else if space {
            self.out.push(' ');
            self.line += 1;
        }
        self.out.push_str(token);
        self.line += token.len();
    }

    fn fold(&mut self) {
        self.out.push_str("\r\n\t");
        self.line = 1;
    }
}

struct Field<'a> {
    name: &'a str,
    /// Everything after the colon, continuation lines included, without the
    /// final CRLF.
    value: &'a str,
}

fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    let mut previous = 0u8;
    for &b in raw {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

/// Header block (with its last CRLF) and body. A message without a blank
/// line is all header.
fn split_message(message: &[u8]) -> (&[u8], &[u8]) {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&message[..i + 2], &message[i + 4..]),
        None => (message, &[]),
    }
}

fn parse_fields(head: &[u8]) -> Result<Vec<Field<'_>>, DkimError> {
    // Built messages are 7-bit; a UTF-8 header (RFC 6532) is fine too.
    let head = std::str::from_utf8(head)
        .map_err(|_| DkimError::MalformedHeader("headers are not UTF-8".to_owned()))?;
    let mut fields: Vec<Field> = Vec::new();
    let mut start = 0;
    while start < head.len() {
        // A field runs until a CRLF not followed by whitespace.
        let mut end = start;
        loop {
            match head[end..].find("\r\n") {
                Some(i) => {
                    end += i + 2;
                    if !head[end..].starts_with([' ', '\t']) {
                        break;
                    }
                }
                None => {
                    end = head.len();
                    break;
                }
            }
        }
        let line = head[start..end].trim_end_matches("\r\n");
        let (name, value) = line.split_once(':').ok_or_else(|| {
            DkimError::MalformedHeader(format!(
                "line without a colon: {:?}",
                line.chars().take(40).collect::<String>()
            ))
        })?;
        fields.push(Field { name, value });
        start = end;
    }
    Ok(fields)
}

/// RFC 6376 3.4.2: lowercase name, unfolded value, whitespace runs as one
/// space, none around the colon or at the end.
fn canonical_header(name: &str, value: &str) -> Vec<u8> {
    let mut out = name.trim_end_matches([' ', '\t']).to_ascii_lowercase();
    out.push(':');
    let unfolded = value.replace("\r\n", "");
    let mut pending_space = false;
    for c in unfolded.trim_matches([' ', '\t']).chars() {
        if c == ' ' || c == '\t' {
            pending_space = true;
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// RFC 6376 3.4.4: whitespace runs as one space, none at line ends, no empty
/// lines at the end; an empty body stays empty.
fn canonical_body(body: &[u8]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (line, tail) = match rest.windows(2).position(|w| w == b"\r\n") {
            Some(i) => (&rest[..i], &rest[i + 2..]),
            None => (rest, &[][..]),
        };
        let mut canonical = Vec::with_capacity(line.len());
        let mut pending_space = false;
        for &b in line {
            if b == b' ' || b == b'\t' {
                pending_space = true;
                continue;
            }
            if pending_space {
                canonical.push(b' ');
                pending_space = false;
            }
            canonical.push(b);
        }
        lines.push(canonical);
        rest = tail;
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = Vec::with_capacity(body.len());
    for line in lines {
        out.extend_from_slice(&line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Wraps a PKCS#1 RSAPublicKey into a SubjectPublicKeyInfo (DER).
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    // AlgorithmIdentifier { rsaEncryption, NULL }
    const ALGORITHM: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bit_string = vec![0u8];
    bit_string.extend_from_slice(pkcs1);
    let mut inner = ALGORITHM.to_vec();
    inner.extend(der(0x03, &bit_string));
    der(0x30, &inner)
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed25519_pem() -> String {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("generate");
        let b64 = STANDARD.encode(pkcs8.as_ref());
        format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n")
    }

    #[test]
    fn relaxed_header_canonicalization() {
        assert_eq!(
            canonical_header("SubJect ", " A  \t b\r\n\tc  "),
            b"subject:A b c\r\n"
        );
        assert_eq!(canonical_header("X", ""), b"x:\r\n");
    }

    #[test]
    fn relaxed_body_canonicalization() {
        // RFC 6376 3.4.6's example.
        assert_eq!(
            canonical_body(b" C \r\nD \t E\r\n\r\n\r\n"),
            b" C\r\nD E\r\n"
        );
        assert_eq!(canonical_body(b""), b"");
        assert_eq!(canonical_body(b"\r\n\r\n"), b"");
        assert_eq!(canonical_body(b"no newline"), b"no newline\r\n");
    }

    #[test]
    fn parses_folded_fields() {
        let fields = parse_fields(b"From: a@b.test\r\nSubject: one\r\n two\r\nTo: c@d.test\r\n")
            .expect("ok");
        let pairs: Vec<(&str, &str)> = fields.iter().map(|f| (f.name, f.value)).collect();
        assert_eq!(
            pairs,
            [
                ("From", " a@b.test"),
                ("Subject", " one\r\n two"),
                ("To", " c@d.test")
            ]
        );
        assert!(parse_fields(b"no colon here\r\n").is_err());
    }

    #[test]
    fn signature_header_is_folded_and_oversigns() {
        let signer = DkimSigner::from_pem(
            "example.com",
            "s1",
            DkimAlgorithm::Ed25519Sha256,
            &ed25519_pem(),
        )
        .expect("key");
        let raw = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
        let signed = signer.sign_at(raw, 1_700_000_000).expect("sign");
        let text = String::from_utf8(signed).expect("ascii");
        let (header, rest) = text.split_once("\r\nFrom:").expect("prepended");
        assert!(rest.ends_with("body\r\n"));
        assert!(header.starts_with("DKIM-Signature: v=1; a=ed25519-sha256;"));
        for line in header.split("\r\n") {
            assert!(line.len() <= LINE_LIMIT, "{line:?}");
        }
        let unfolded = header.replace("\r\n\t", " ");
        assert!(
            unfolded.contains(" d=example.com; s=s1; t=1700000000;"),
            "{unfolded}"
        );
        // Folds inside h= sit next to a colon, with no space.
        assert!(
            header
                .replace("\r\n\t", "")
                .contains("h=from:from:to:to:subject:subject:date:message-id:"),
            "{header}"
        );
    }

    #[test]
    fn rejects_bad_inputs() {
        let pem = ed25519_pem();
        let alg = DkimAlgorithm::Ed25519Sha256;
        assert!(matches!(
            DkimSigner::from_pem("example.com; x=1", "s", alg, &pem),
            Err(DkimError::InvalidDomain(_))
        ));
        assert!(matches!(
            DkimSigner::from_pem("localhost", "s", alg, &pem),
            Err(DkimError::InvalidDomain(_))
        ));
        assert!(matches!(
            DkimSigner::from_pem("example.com", "s 1", alg, &pem),
            Err(DkimError::InvalidSelector(_))
        ));
        assert!(matches!(
            DkimSigner::from_pem("example.com", "s", alg, "not a key"),
            Err(DkimError::Pem(_))
        ));
        assert!(matches!(
            DkimSigner::from_pem("example.com", "s", DkimAlgorithm::RsaSha256, &pem),
            Err(DkimError::Key { .. })
        ));
        let signer = DkimSigner::from_pem("example.com", "s", alg, &pem).expect("key");
        assert!(matches!(
            signer.sign(b"To: b@example.org\r\n\r\nbody"),
            Err(DkimError::MissingFrom)
        ));
        assert!(!format!("{signer:?}").contains("PRIVATE"));
    }

    #[test]
    fn picks_the_closest_domain() {
        let pem = ed25519_pem();
        let alg = DkimAlgorithm::Ed25519Sha256;
        let signers = vec![
            DkimSigner::from_pem("example.com", "a", alg, &pem).expect("key"),
            DkimSigner::from_pem("news.example.com", "b", alg, &pem).expect("key"),
        ];
        let pick = |d| select_signer(&signers, d).map(|s| s.selector().to_owned());
        assert_eq!(pick("example.com").as_deref(), Some("a"));
        assert_eq!(pick("News.Example.com").as_deref(), Some("b"));
        assert_eq!(pick("eu.news.example.com").as_deref(), Some("b"));
        assert_eq!(pick("mail.example.com").as_deref(), Some("a"));
        assert_eq!(pick("badexample.com"), None);
        assert_eq!(pick("example.org"), None);
    }

    #[test]
    fn der_lengths() {
        assert_eq!(der(0x04, &[1, 2]), [0x04, 2, 1, 2]);
        let long = der(0x04, &[0; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }
}
