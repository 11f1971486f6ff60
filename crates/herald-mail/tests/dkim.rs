//! DKIM signatures checked by an independent verifier (dkimpy), over built
//! messages: UTF-8 headers, long folded headers, a real template body, and
//! delivery through the SMTP transport to aiosmtpd.

mod support;

use std::path::Path;

use herald_mail::{
    DkimAlgorithm, DkimError, DkimSigner, ListUnsubscribe, MailTransport, SmtpTransport,
    build_email,
};
use support::{SmtpServer, dkim_verify, sample_email};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rsa(pem: &str) -> DkimSigner {
    DkimSigner::from_pem(
        "herald.test",
        "rsa2026",
        DkimAlgorithm::RsaSha256,
        &fixture(pem),
    )
    .expect("RSA key")
}

fn ed25519() -> DkimSigner {
    DkimSigner::from_pem(
        "herald.test",
        "ed2026",
        DkimAlgorithm::Ed25519Sha256,
        &fixture("dkim-ed25519.pem"),
    )
    .expect("Ed25519 key")
}

/// The message with every occurrence of `from` in its body replaced.
fn replace(raw: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(raw.to_vec()).expect("7-bit message");
    assert!(text.contains(from), "{from:?} not in message");
    text.replace(from, to).into_bytes()
}

fn assert_valid(signed: &[u8], signer: &DkimSigner) {
    let verdict = dkim_verify(signed, &signer.dns_txt_record());
    assert!(
        verdict.valid,
        "dkimpy rejected the signature:\n{}\n---\n{}",
        verdict.log,
        String::from_utf8_lossy(signed)
    );
    let name = format!("{}._domainkey.{}", signer.selector(), signer.domain());
    assert!(
        verdict.log.contains(&name),
        "asked for {name}: {}",
        verdict.log
    );
}

fn assert_invalid(signed: &[u8], signer: &DkimSigner) {
    let verdict = dkim_verify(signed, &signer.dns_txt_record());
    assert!(
        !verdict.valid,
        "tampered message verified:\n{}",
        verdict.log
    );
}

#[test]
fn rsa_signature_verifies_and_tampering_fails() {
    let signer = rsa("dkim-rsa2048.pkcs1.pem");
    let mut email = sample_email("jane@example.com");
    email.extra_headers.clear();
    email.list_unsubscribe = Some(ListUnsubscribe {
        url: "https://t.herald.test/u/AbC-123_x".to_owned(),
        mailto: Some("unsubscribe+AbC-123_x@herald.test".to_owned()),
    });
    let raw = build_email(&email).expect("build");
    let signed = signer.sign(&raw).expect("sign");
    assert!(signed.starts_with(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;"));
    assert!(
        signed.ends_with(&raw),
        "the message follows the signature unchanged"
    );
    assert_valid(&signed, &signer);

    let text = String::from_utf8_lossy(&signed).replace("\r\n\t", " ");
    assert!(
        text.contains("list-unsubscribe:list-unsubscribe:list-unsubscribe-post"),
        "List-Unsubscribe is signed: {text}"
    );

    // The body: one character of the text part's quoted-printable.
    assert_invalid(&replace(&signed, "the guide", "the gu1de"), &signer);
    // A signed header.
    assert_invalid(
        &replace(&signed, "To: <jane@example.com>", "To: <joe@example.com>"),
        &signer,
    );
    assert_invalid(&replace(&signed, "/u/AbC-123_x", "/u/AbC-123_y"), &signer);
    // An added From (over-signed) breaks it too.
    let mut extra_from = b"From: <mallory@evil.test>\r\n".to_vec();
    let at = signed
        .windows(6)
        .position(|w| w == b"\r\nFrom")
        .expect("From")
        + 2;
    let mut forged = signed[..at].to_vec();
    forged.append(&mut extra_from);
    forged.extend_from_slice(&signed[at..]);
    assert_invalid(&forged, &signer);
}

#[test]
fn pkcs1_and_pkcs8_files_are_the_same_key() {
    let pkcs1 = rsa("dkim-rsa2048.pkcs1.pem");
    let pkcs8 = rsa("dkim-rsa2048.pkcs8.pem");
    assert_eq!(pkcs1.dns_txt_record(), pkcs8.dns_txt_record());
    assert!(
        pkcs1
            .dns_txt_record()
            .starts_with("v=DKIM1; k=rsa; p=MIIBIjAN")
    );
    let raw = build_email(&sample_email("jane@example.com")).expect("build");
    assert_valid(&pkcs8.sign(&raw).expect("sign"), &pkcs1);
}

#[test]
fn ed25519_signature_verifies_and_tampering_fails() {
    let signer = ed25519();
    assert!(
        signer
            .dns_txt_record()
            .starts_with("v=DKIM1; k=ed25519; p=")
    );
    let raw = build_email(&sample_email("jane@example.com")).expect("build");
    let signed = signer.sign(&raw).expect("sign");
    assert!(signed.starts_with(b"DKIM-Signature: v=1; a=ed25519-sha256;"));
    assert_valid(&signed, &signer);
    assert_invalid(&replace(&signed, "the guide", "the gu1de"), &signer);
    // The other key's record does not verify it.
    let verdict = dkim_verify(&signed, &rsa("dkim-rsa2048.pkcs1.pem").dns_txt_record());
    assert!(!verdict.valid);
}

#[test]
fn long_and_utf8_headers_verify() {
    for signer in [rsa("dkim-rsa2048.pkcs1.pem"), ed25519()] {
        let mut email = sample_email("jane@example.com");
        // mail-builder folds this over many encoded-word lines.
        email.subject = format!(
            "{} — {}",
            "🎉 Große Neuigkeiten, שלום! ".repeat(12),
            "x".repeat(200)
        );
        email.from_name = Some("Ünïcödé Sender with a rather long display name ✉️".repeat(3));
        email.extra_headers = vec![("X-Campaign".to_owned(), "a  b\t c ".repeat(40))];
        email.list_unsubscribe = Some(ListUnsubscribe {
            url: format!("https://t.herald.test/u/{}", "T".repeat(300)),
            mailto: Some(format!("unsubscribe+{}@herald.test", "T".repeat(50))),
        });
        let raw = build_email(&email).expect("build");
        let signed = signer.sign(&raw).expect("sign");
        assert_valid(&signed, &signer);
        let head = String::from_utf8_lossy(&signed);
        let head = head.split("\r\n\r\n").next().expect("headers");
        for line in head.split("\r\n") {
            assert!(line.len() <= 998, "line too long: {line}");
        }
    }
}

#[test]
fn real_template_body_verifies() {
    // The repository's copy of shared/fixtures/templates/postmark, rendered.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../herald-template/tests/fixtures/postmark/welcome");
    let html = std::fs::read_to_string(dir.join("expected.html"))
        .unwrap_or_else(|e| panic!("fixture {}: {e}", dir.display()));
    let text = std::fs::read_to_string(dir.join("expected.txt")).expect("text fixture");
    assert!(html.len() > 2000, "a real template");
    for signer in [rsa("dkim-rsa2048.pkcs8.pem"), ed25519()] {
        let mut email = sample_email("jane@example.com");
        email.html = Some(html.clone());
        email.text = Some(text.clone());
        let raw = build_email(&email).expect("build");
        let signed = signer.sign(&raw).expect("sign");
        assert_valid(&signed, &signer);
        // Changing one body line (in whichever part it lands) fails.
        let body_at = signed
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("body")
            + 4;
        let mut tampered = signed.clone();
        let i = body_at
            + tampered[body_at..]
                .iter()
                .position(|b| b.is_ascii_alphabetic())
                .expect("a letter in the body");
        tampered[i] = if tampered[i] == b'x' { b'y' } else { b'x' };
        assert_invalid(&tampered, &signer);
    }
}

#[test]
fn bare_lf_messages_are_signed_as_crlf() {
    let signer = ed25519();
    let raw = b"From: a@herald.test\nTo: b@example.com\nSubject: lf\n\nline one\nline two\n";
    let signed = signer.sign(raw).expect("sign");
    assert!(!signed.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
    assert_valid(&signed, &signer);
}

#[test]
fn short_rsa_keys_are_refused() {
    let err = DkimSigner::from_pem(
        "herald.test",
        "old",
        DkimAlgorithm::RsaSha256,
        &fixture("dkim-rsa1024.pkcs1.pem"),
    )
    .expect_err("1024-bit key");
    assert!(matches!(err, DkimError::Key { .. }), "{err}");
    // An Ed25519 file is not an RSA key and the other way round.
    assert!(
        DkimSigner::from_pem(
            "herald.test",
            "s",
            DkimAlgorithm::RsaSha256,
            &fixture("dkim-ed25519.pem")
        )
        .is_err()
    );
    assert!(
        DkimSigner::from_pem(
            "herald.test",
            "s",
            DkimAlgorithm::Ed25519Sha256,
            &fixture("dkim-rsa2048.pkcs8.pem")
        )
        .is_err()
    );
}

/// What arrives at a real SMTP server (aiosmtpd adds its own headers, e.g.
/// X-Peer, above ours) still verifies.
#[tokio::test]
async fn signed_message_verifies_after_smtp_delivery() {
    let server = SmtpServer::start();
    let transport = SmtpTransport::from_url(&server.url(), 1).expect("transport");
    for signer in [rsa("dkim-rsa2048.pkcs1.pem"), ed25519()] {
        let raw = build_email(&sample_email("jane@example.com")).expect("build");
        let signed = signer.sign(&raw).expect("sign");
        transport
            .send("bounces@herald.test", "jane@example.com", &signed)
            .await
            .expect("delivered");
    }
    let messages = server.messages();
    assert_eq!(messages.len(), 2);
    let signers = [rsa("dkim-rsa2048.pkcs1.pem"), ed25519()];
    for message in &messages {
        let text = String::from_utf8_lossy(message);
        let signer = signers
            .iter()
            .find(|s| text.contains(&format!("a={};", s.algorithm())))
            .expect("a signature");
        assert_valid(message, signer);
    }
}
