//! SmtpTransport against a real SMTP server (aiosmtpd, see
//! scripts/install-test-deps.sh).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_mail::{FailureClass, MailTransport, SmtpTransport, build_email};
use support::{SmtpServer, assert_sample_message, raw_header_names, sample_email};

#[tokio::test]
async fn smtp_delivers_multipart_utf8_message() {
    let server = SmtpServer::start();
    let transport = SmtpTransport::from_url(&server.url(), 2).expect("transport");
    let raw = build_email(&sample_email("alice@example.com")).expect("build");

    let delivered = transport
        .send("bounces@herald.test", "alice@example.com", &raw)
        .await
        .expect("send");
    assert!(delivered.reply.starts_with("250"), "{}", delivered.reply);

    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_sample_message(&messages[0], "alice@example.com");
    // aiosmtpd's Mailbox records the envelope it received.
    let stored = String::from_utf8_lossy(&messages[0]);
    assert!(
        stored.contains("X-MailFrom: bounces@herald.test"),
        "{stored}"
    );
    assert!(stored.contains("X-RcptTo: alice@example.com"), "{stored}");
}

#[tokio::test]
async fn smtp_subject_crlf_cannot_inject_headers() {
    let server = SmtpServer::start();
    let transport = SmtpTransport::from_url(&server.url(), 1).expect("transport");
    let mut email = sample_email("alice@example.com");
    email.subject = "x\r\nBcc: victim@example.com".to_owned();
    email.from_name = Some("Evil\r\nBcc: victim2@example.com".to_owned());
    email.extra_headers = vec![(
        "X-Campaign".to_owned(),
        "c1\nBcc: victim3@example.com".to_owned(),
    )];
    let raw = build_email(&email).expect("build");

    for (label, bytes) in [
        ("built", raw.clone()),
        ("received", {
            transport
                .send("bounces@herald.test", "alice@example.com", &raw)
                .await
                .expect("send");
            server.messages().pop().expect("delivered")
        }),
    ] {
        let names = raw_header_names(&bytes);
        assert!(!names.contains(&"bcc".to_owned()), "{label}: {names:?}");
        assert_eq!(
            names.iter().filter(|n| *n == "subject").count(),
            1,
            "{label}: {names:?}"
        );
        let msg = mail_parser::MessageParser::default()
            .parse(&bytes)
            .expect("parses");
        assert!(msg.bcc().is_none(), "{label}");
        assert_eq!(msg.header_values("Subject").count(), 1, "{label}");
        assert_eq!(msg.subject(), Some("x  Bcc: victim@example.com"), "{label}");
        let from = msg.from().and_then(|a| a.first()).expect("From");
        assert_eq!(from.address(), Some("news@herald.test"), "{label}");
    }
}

#[tokio::test]
async fn smtp_reply_codes_are_classified() {
    let server = SmtpServer::start_flaky();
    let transport = SmtpTransport::from_url(&server.url(), 1).expect("transport");
    let send = |to: &'static str| {
        let transport = &transport;
        async move {
            let raw = build_email(&sample_email(to)).expect("build");
            transport.send("bounces@herald.test", to, &raw).await
        }
    };

    for (to, class, code) in [
        ("tempfail-rcpt@example.com", FailureClass::Transient, 451),
        ("nouser@example.com", FailureClass::Permanent, 550),
        ("tempfail-data@example.com", FailureClass::Transient, 451),
        ("reject-data@example.com", FailureClass::Permanent, 554),
    ] {
        let err = send(to).await.expect_err(to);
        assert_eq!((err.class, err.code), (class, Some(code)), "{to}: {err}");
        assert!(!err.message.is_empty());
    }
    // The pooled connection stays usable after rejected transactions.
    send("ok@example.com").await.expect("accepted recipient");
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "only the accepted message is stored");
    assert_sample_message(&messages[0], "ok@example.com");
}

#[tokio::test]
async fn smtp_pool_handles_concurrent_sends() {
    let server = SmtpServer::start();
    let transport = Arc::new(SmtpTransport::from_url(&server.url(), 3).expect("transport"));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let transport = Arc::clone(&transport);
        tasks.push(tokio::spawn(async move {
            let to = format!("user{i}@example.com");
            let raw = build_email(&sample_email(&to)).expect("build");
            transport.send("bounces@herald.test", &to, &raw).await
        }));
    }
    for task in tasks {
        task.await.expect("join").expect("send");
    }
    assert_eq!(server.messages().len(), 8);
}

#[tokio::test]
async fn smtp_connection_refused_is_transient() {
    support::require_aiosmtpd();
    // Nothing listens on a port we just released.
    let port = support::free_port();
    let transport =
        SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}?timeout=5s"), 1).expect("url");
    let raw = build_email(&sample_email("alice@example.com")).expect("build");
    let err = transport
        .send("bounces@herald.test", "alice@example.com", &raw)
        .await
        .expect_err("refused");
    assert_eq!(err.class, FailureClass::Transient, "{err}");
    assert_eq!(err.code, None);
    assert!(err.message.to_lowercase().contains("refused"), "{err}");
}

#[tokio::test]
async fn smtp_silent_server_times_out_as_transient() {
    // Accepts TCP connections but never sends the SMTP greeting.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let transport =
        SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}?timeout=1s"), 1).expect("url");
    let raw = build_email(&sample_email("alice@example.com")).expect("build");
    let started = Instant::now();
    let err = transport
        .send("bounces@herald.test", "alice@example.com", &raw)
        .await
        .expect_err("timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.class, FailureClass::Transient, "{err}");
    assert!(err.message.contains("timed out"), "{err}");
    hold.abort();
}

/// What the scripted server does once it has read a message's data.
#[derive(Clone, Copy, PartialEq)]
enum AfterData {
    Accept,
    /// Accept, then close the connection (as an idle timeout would).
    AcceptThenClose,
    /// Close the connection without a final reply.
    Close,
    /// Keep the connection open but never reply.
    Hang,
}

/// A minimal line-based SMTP server on a raw socket. Returns its port and a
/// counter of accepted TCP connections.
async fn scripted_server(after_data: AfterData) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                let _ = write.write_all(b"220 scripted ESMTP\r\n").await;
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-scripted\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            let _ = write.write_all(b"354 go ahead\r\n").await;
                            loop {
                                line.clear();
                                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                                    return;
                                }
                                if line == ".\r\n" {
                                    break;
                                }
                            }
                            match after_data {
                                AfterData::Accept => b"250 2.0.0 queued\r\n",
                                AfterData::AcceptThenClose => {
                                    let _ = write.write_all(b"250 2.0.0 queued\r\n").await;
                                    return;
                                }
                                AfterData::Close => return,
                                AfterData::Hang => {
                                    std::future::pending::<()>().await;
                                    return;
                                }
                            }
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn smtp_connection_lost_after_data_is_unknown() {
    let (port, _) = scripted_server(AfterData::Close).await;
    let transport =
        SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}?timeout=5s"), 1).expect("url");
    let raw = build_email(&sample_email("alice@example.com")).expect("build");
    let err = transport
        .send("bounces@herald.test", "alice@example.com", &raw)
        .await
        .expect_err("no final reply");
    assert_eq!(
        (err.class, err.code),
        (FailureClass::Unknown, None),
        "{err}"
    );
}

#[tokio::test]
async fn smtp_timeout_after_data_is_unknown() {
    let (port, _) = scripted_server(AfterData::Hang).await;
    let transport =
        SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}?timeout=1s"), 1).expect("url");
    let raw = build_email(&sample_email("alice@example.com")).expect("build");
    let started = Instant::now();
    let err = transport
        .send("bounces@herald.test", "alice@example.com", &raw)
        .await
        .expect_err("no final reply");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.class, FailureClass::Unknown, "{err}");
    assert!(err.message.contains("timed out"), "{err}");
}

#[tokio::test]
async fn smtp_pool_reuses_one_connection_for_sequential_sends() {
    let (port, accepted) = scripted_server(AfterData::Accept).await;
    let transport =
        SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}?timeout=5s"), 2).expect("url");
    let raw = build_email(&sample_email("alice@example.com")).expect("build");
    for _ in 0..5 {
        let delivered = transport
            .send("bounces@herald.test", "alice@example.com", &raw)
            .await
            .expect("send");
        assert_eq!(delivered.reply, "250 2.0.0 queued");
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn smtp_pooled_connection_closed_by_server_is_replaced() {
    let (port, accepted) = scripted_server(AfterData::AcceptThenClose).await;
    let transport =
        SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}?timeout=5s"), 1).expect("url");
    let raw = build_email(&sample_email("alice@example.com")).expect("build");
    for _ in 0..3 {
        transport
            .send("bounces@herald.test", "alice@example.com", &raw)
            .await
            .expect("send succeeds on a fresh connection");
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
}
