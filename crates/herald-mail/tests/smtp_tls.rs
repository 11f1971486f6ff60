//! SMTP over TLS and with AUTH, against aiosmtpd with a self-signed
//! certificate the transport is told to trust (`cafile=`).

mod support;

use herald_mail::{FailureClass, MailTransport, SmtpTransport, build_email};
use support::{TlsOffer, TlsSmtpServer, assert_sample_message, sample_email};

const TO: &str = "jane@example.com";

fn server_url(scheme: &str, server: &TlsSmtpServer, userinfo: &str, query: &str) -> String {
    format!(
        "{scheme}://{userinfo}127.0.0.1:{}?timeout=10s&cafile={}{query}",
        server.port,
        server.cafile().display()
    )
}

async fn send(url: &str) -> Result<herald_mail::Delivered, herald_mail::SendError> {
    let transport = SmtpTransport::from_url(url, 1).expect("transport");
    let raw = build_email(&sample_email(TO)).expect("build");
    transport.send("bounces@herald.test", TO, &raw).await
}

#[tokio::test]
async fn starttls_with_auth_plain() {
    let server = TlsSmtpServer::start(
        TlsOffer::StartTls { required: true },
        Some(("herald", "s3cr:t@pw", "PLAIN")),
    );
    // The password is percent-encoded in the URL.
    let url = server_url("smtp", &server, "herald:s3cr%3At%40pw@", "&tls=starttls");
    send(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(server.auth_log(), ["PLAIN ok"]);
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_sample_message(&messages[0], TO);
}

#[tokio::test]
async fn starttls_with_auth_login() {
    let server = TlsSmtpServer::start(
        TlsOffer::StartTls { required: false },
        Some(("herald", "pw", "LOGIN")),
    );
    let url = server_url("smtp", &server, "herald:pw@", "&tls=starttls");
    send(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(server.auth_log(), ["LOGIN ok"]);
    assert_eq!(server.messages().len(), 1);
}

/// A wrong password is the sender's configuration problem, not the
/// recipient's: the transport reports the 535 as an AUTH failure and keeps
/// it retryable (see the classification notes in transport/smtp.rs).
#[tokio::test]
async fn wrong_password_is_an_auth_failure() {
    let server = TlsSmtpServer::start(
        TlsOffer::StartTls { required: true },
        Some(("herald", "right", "PLAIN,LOGIN")),
    );
    let url = server_url("smtp", &server, "herald:wrong@", "&tls=starttls");
    let err = send(&url).await.expect_err("wrong password");
    assert_eq!(err.code, Some(535), "{err}");
    assert_eq!(err.class, FailureClass::Transient, "{err}");
    assert!(err.message.starts_with("AUTH failed"), "{err}");
    assert_eq!(server.auth_log().len(), 1);
    assert!(server.auth_log()[0].ends_with(" fail"));
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn required_starttls_against_a_server_without_it_fails() {
    let server = TlsSmtpServer::start(TlsOffer::Plain, None);
    let url = server_url("smtp", &server, "", "&tls=required");
    let err = send(&url).await.expect_err("no STARTTLS");
    assert_eq!(err.class, FailureClass::Transient, "{err}");
    assert!(err.message.to_lowercase().contains("starttls"), "{err}");
    assert!(server.messages().is_empty());
    // Opportunistic TLS falls back to plain text and delivers.
    let url = server_url("smtp", &server, "", "&tls=opportunistic");
    send(&url).await.expect("opportunistic");
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn untrusted_certificate_is_refused() {
    let server = TlsSmtpServer::start(TlsOffer::StartTls { required: true }, None);
    // Without cafile= only the web PKI roots are trusted.
    let url = format!("smtp://127.0.0.1:{}?timeout=10s&tls=starttls", server.port);
    let err = send(&url).await.expect_err("self-signed certificate");
    assert_eq!(err.class, FailureClass::Transient, "{err}");
    assert!(err.message.starts_with("TLS handshake failed"), "{err}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_delivers() {
    let server = TlsSmtpServer::start(TlsOffer::Implicit, Some(("herald", "pw", "PLAIN,LOGIN")));
    let url = server_url("smtps", &server, "herald:pw@", "");
    send(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(server.auth_log().len(), 1);
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_sample_message(&messages[0], TO);
}
