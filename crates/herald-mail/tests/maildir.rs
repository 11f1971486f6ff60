//! MaildirTransport writes files any mail client can read.

mod support;

use herald_mail::{FailureClass, MailTransport, MaildirTransport, build_email};
use support::{assert_sample_message, read_maildir_new, sample_email};

#[tokio::test]
async fn maildir_delivery_lands_in_new_and_parses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("outbox");
    let transport = MaildirTransport::new(&root).expect("maildir");
    for sub in ["tmp", "new", "cur"] {
        assert!(root.join(sub).is_dir(), "{sub}/ created");
    }
    assert_eq!(transport.describe(), format!("maildir:{}", root.display()));

    let raw = build_email(&sample_email("alice@example.com")).expect("build");
    let delivered = transport
        .send("bounces@herald.test", "alice@example.com", &raw)
        .await
        .expect("deliver");
    let path = std::path::Path::new(&delivered.reply);
    assert_eq!(path.parent(), Some(root.join("new").as_path()));
    assert!(path.is_file());
    assert_eq!(std::fs::read_dir(root.join("tmp")).expect("tmp").count(), 0);

    let messages = read_maildir_new(&root);
    assert_eq!(messages.len(), 1);
    let stored = &messages[0];
    assert!(
        stored
            .starts_with(b"Return-Path: <bounces@herald.test>\nDelivered-To: alice@example.com\n")
    );
    assert!(
        !stored.contains(&b'\r'),
        "Maildir files use LF line endings"
    );
    assert_sample_message(stored, "alice@example.com");
    let msg = mail_parser::MessageParser::default()
        .parse(stored.as_slice())
        .expect("parses");
    assert_eq!(msg.return_path().as_text(), Some("bounces@herald.test"));

    // A second delivery gets its own file.
    transport
        .send("bounces@herald.test", "bob@example.com", &raw)
        .await
        .expect("deliver");
    assert_eq!(read_maildir_new(&root).len(), 2);
}

#[tokio::test]
async fn maildir_rejects_envelope_with_line_breaks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let transport = MaildirTransport::new(dir.path()).expect("maildir");
    let err = transport
        .send(
            "a@b.test",
            "x@y.test\nBcc: z@w.test",
            b"Subject: x\r\n\r\nbody\r\n",
        )
        .await
        .expect_err("rejected");
    assert_eq!(err.class, FailureClass::Permanent);
    assert!(read_maildir_new(dir.path()).is_empty());
}
