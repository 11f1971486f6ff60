//! EmailBuilder end to end: Herald's headers, a List-Unsubscribe link whose
//! token verifies, and a DKIM signature that dkimpy accepts — also after the
//! message went through the SMTP transport to a real server.

// herald-mail's test helpers (aiosmtpd, dkimpy).
#[path = "../../herald-mail/tests/support/mod.rs"]
mod support;

use chrono::Utc;
use herald_delivery::{EmailBuilder, EmailInput};
use herald_domain::channel::{
    Channel, ChannelConfiguration, ConfigurationCategory, DkimKey, DkimKeyAlgorithm, EmailSettings,
};
use herald_domain::message::RenderedEmail;
use herald_domain::token::{TokenKey, TokenPurpose};
use herald_mail::{DkimAlgorithm, DkimSigner, MailTransport, SmtpTransport};
use support::{SmtpServer, dkim_verify};

const MESSAGE_ID: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

fn pem(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../herald-mail/tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn key(domain: &str, selector: &str, algorithm: DkimKeyAlgorithm, file: &str) -> DkimKey {
    DkimKey {
        domain: domain.into(),
        selector: selector.into(),
        algorithm,
        private_key: pem(file),
    }
}

fn configuration(dkim: Vec<DkimKey>, tracking_domain: Option<&str>) -> ChannelConfiguration {
    ChannelConfiguration {
        id: "cfg-news".into(),
        sandbox: "prod".into(),
        name: "News".into(),
        channel: Channel::Email,
        category: ConfigurationCategory::Marketing,
        email: Some(EmailSettings {
            from_address: "news@mail.shop.test".into(),
            from_name: Some("Shop 🛍️".into()),
            reply_to: None,
            tracking_domain: tracking_domain.map(str::to_owned),
            list_unsubscribe: false,
            dkim: Some(dkim),
            bounce_address: None,
        }),
        sms: None,
        push: None,
        delivery: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn rendered() -> RenderedEmail {
    RenderedEmail {
        subject: "Soldes d'été — jusqu'à −50 % 🎉".into(),
        preheader: Some("Cette semaine seulement".into()),
        html: Some("<html><body><h1>Bonjour Jane</h1><p>Nos <a href=\"https://shop.test/s\">soldes</a>.</p></body></html>".into()),
        text: String::new(),
        ..RenderedEmail::default()
    }
}

fn input<'a>(
    cfg: &'a ChannelConfiguration,
    rendered: &'a RenderedEmail,
    marketing: bool,
) -> EmailInput<'a> {
    EmailInput {
        configuration: cfg,
        message_id: MESSAGE_ID,
        rendered,
        to: "jane@example.com",
        marketing,
        tracking: Default::default(),
        date: Utc::now(),
    }
}

fn token_key() -> TokenKey {
    TokenKey::new([42; 32])
}

/// The signer the builder should have used, for its DNS record.
fn signer_for(key: &DkimKey) -> DkimSigner {
    let algorithm = match key.algorithm {
        DkimKeyAlgorithm::RsaSha256 => DkimAlgorithm::RsaSha256,
        DkimKeyAlgorithm::Ed25519Sha256 => DkimAlgorithm::Ed25519Sha256,
    };
    DkimSigner::from_pem(&key.domain, &key.selector, algorithm, &key.private_key).expect("key")
}

#[test]
fn marketing_email_has_headers_unsubscribe_and_a_valid_signature() {
    let keys = vec![
        key(
            "shop.test",
            "rsa1",
            DkimKeyAlgorithm::RsaSha256,
            "dkim-rsa2048.pkcs1.pem",
        ),
        key(
            "mail.shop.test",
            "ed1",
            DkimKeyAlgorithm::Ed25519Sha256,
            "dkim-ed25519.pem",
        ),
    ];
    let cfg = configuration(keys.clone(), Some("t.shop.test"));
    let builder = EmailBuilder::new(Some(token_key()), "https://herald.shop.test")
        .with_mailto_unsubscribe(true);
    let r = rendered();
    let built = builder.build(&input(&cfg, &r, true)).expect("built");
    assert!(built.signed);
    assert_eq!(built.envelope_from, "news@mail.shop.test");
    assert_eq!(
        built.header_message_id,
        format!("{MESSAGE_ID}@mail.shop.test")
    );

    let msg = mail_parser::MessageParser::default()
        .parse(&built.raw)
        .expect("parses");
    assert_eq!(msg.message_id(), Some(built.header_message_id.as_str()));
    assert_eq!(
        msg.header_raw("X-Herald-Message-Id").map(str::trim),
        Some(MESSAGE_ID)
    );
    assert_eq!(msg.subject(), Some(r.subject.as_str()));
    assert!(msg.body_text(0).expect("text").contains("Bonjour Jane"));

    // List-Unsubscribe: the tracking domain, and a token for this message.
    let urls: Vec<String> = msg
        .list_unsubscribe()
        .as_address()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.address())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(urls.len(), 2, "{urls:?}");
    let token = urls[0]
        .strip_prefix("https://t.shop.test/u/")
        .unwrap_or_else(|| panic!("{}", urls[0]));
    let claims = token_key().verify(token).expect("token verifies");
    assert_eq!(claims.purpose, TokenPurpose::Unsubscribe);
    assert_eq!(claims.message_id, MESSAGE_ID);
    assert_eq!(
        urls[1],
        format!("mailto:unsubscribe+{token}@mail.shop.test")
    );
    assert_eq!(
        msg.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );

    // Signed with the From domain's own key (not its parent's), and valid.
    let text = String::from_utf8_lossy(&built.raw).replace("\r\n\t", " ");
    assert!(text.starts_with("DKIM-Signature:"));
    assert!(text.contains("d=mail.shop.test; s=ed1;"), "{text}");
    let verdict = dkim_verify(&built.raw, &signer_for(&keys[1]).dns_txt_record());
    assert!(verdict.valid, "{}", verdict.log);

    // The same message on a retry: the same Message-ID.
    let again = builder.build(&input(&cfg, &r, true)).expect("built");
    assert_eq!(again.header_message_id, built.header_message_id);
}

#[test]
fn transactional_email_has_no_unsubscribe_and_falls_back_to_the_parent_key() {
    let keys = vec![key(
        "shop.test",
        "rsa1",
        DkimKeyAlgorithm::RsaSha256,
        "dkim-rsa2048.pkcs8.pem",
    )];
    let cfg = configuration(keys.clone(), None);
    let builder = EmailBuilder::new(Some(token_key()), "https://herald.shop.test/");
    let r = rendered();
    let built = builder.build(&input(&cfg, &r, false)).expect("built");
    let msg = mail_parser::MessageParser::default()
        .parse(&built.raw)
        .expect("parses");
    assert!(msg.header_raw("List-Unsubscribe").is_none());
    assert!(msg.header_raw("List-Unsubscribe-Post").is_none());
    let text = String::from_utf8_lossy(&built.raw).replace("\r\n\t", " ");
    assert!(text.contains("d=shop.test; s=rsa1;"), "{text}");
    assert!(dkim_verify(&built.raw, &signer_for(&keys[0]).dns_txt_record()).valid);

    // listUnsubscribe: true asks for it on every message; without a
    // tracking domain the public URL serves /u/.
    let mut cfg = cfg;
    cfg.email.as_mut().expect("email").list_unsubscribe = true;
    cfg.updated_at += chrono::Duration::seconds(1);
    let built = builder.build(&input(&cfg, &r, false)).expect("built");
    let msg = mail_parser::MessageParser::default()
        .parse(&built.raw)
        .expect("parses");
    let value = msg
        .header_raw("List-Unsubscribe")
        .expect("List-Unsubscribe");
    assert!(
        value.trim().starts_with("<https://herald.shop.test/u/"),
        "{value}"
    );
    assert!(!value.contains("mailto:"), "mailto is opt-in: {value}");
}

#[test]
fn without_a_matching_key_the_message_is_not_signed() {
    let cfg = configuration(vec![], None);
    let builder = EmailBuilder::new(None, "https://herald.shop.test");
    let r = rendered();
    let built = builder.build(&input(&cfg, &r, true)).expect("built");
    assert!(!built.signed);
    assert!(!built.raw.starts_with(b"DKIM-Signature"));
    // No token key: no unsubscribe link can be made.
    assert!(!String::from_utf8_lossy(&built.raw).contains("List-Unsubscribe"));
}

#[tokio::test]
async fn signed_email_verifies_after_smtp_delivery() {
    let server = SmtpServer::start();
    let transport = SmtpTransport::from_url(&server.url(), 1).expect("transport");
    let keys = vec![key(
        "mail.shop.test",
        "rsa1",
        DkimKeyAlgorithm::RsaSha256,
        "dkim-rsa2048.pkcs1.pem",
    )];
    let cfg = configuration(keys.clone(), None);
    let builder = EmailBuilder::new(Some(token_key()), "https://herald.shop.test");
    let r = rendered();
    let built = builder.build(&input(&cfg, &r, true)).expect("built");
    transport
        .send(&built.envelope_from, "jane@example.com", &built.raw)
        .await
        .expect("delivered");
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    // aiosmtpd adds X-Peer and friends; the signature still holds.
    let verdict = dkim_verify(&messages[0], &signer_for(&keys[0]).dns_txt_record());
    assert!(verdict.valid, "{}", verdict.log);
}
