//! From a rendered email to the bytes handed to the transport: Herald's own
//! headers (Message-ID, X-Herald-Message-Id), List-Unsubscribe for marketing
//! mail, and the DKIM signature of the configuration's key.
//!
//! DKIM keys are parsed once per configuration version (id + updated_at) and
//! cached; RSA key parsing costs far more than signing one message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use herald_domain::campaign::Tracking;
use herald_domain::channel::{ChannelConfiguration, DkimKeyAlgorithm, EmailSettings};
use herald_domain::message::RenderedEmail;
use herald_domain::token::{TokenClaims, TokenError, TokenKey, TokenPurpose};
use herald_mail::tracking::{Links, add_open_pixel, rewrite_html, rewrite_text};
use herald_mail::{
    BuildError, DkimAlgorithm, DkimError, DkimSigner, ListUnsubscribe, OutgoingEmail, build_email,
    html_to_text,
};

/// What [`EmailBuilder::build`] needs for one message.
#[derive(Debug, Clone, Copy)]
pub struct EmailInput<'a> {
    pub configuration: &'a ChannelConfiguration,
    /// Herald's message id; also names the message in the unsubscribe token.
    pub message_id: &'a str,
    pub rendered: &'a RenderedEmail,
    /// The recipient address.
    pub to: &'a str,
    /// Marketing mail always carries List-Unsubscribe (so does any mail of
    /// a configuration with `listUnsubscribe: true`). The caller decides,
    /// from the campaign's category or the message's priority.
    pub marketing: bool,
    /// The campaign's open and click tracking (HTML links and pixel, and
    /// the links of the text part).
    pub tracking: Tracking,
    pub date: DateTime<Utc>,
}

/// The message, ready for `MailTransport::send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltEmail {
    pub raw: Vec<u8>,
    /// `message_id@from-domain`, without angle brackets; the same on every
    /// retry.
    pub header_message_id: String,
    /// MAIL FROM: the VERP address of the configuration's bounceAddress
    /// for this message (`bounces+<message id>@…`), else its fromAddress.
    pub envelope_from: String,
    /// Whether a DKIM signature was added (no key for the From domain: no).
    pub signed: bool,
    /// The tracked links, by index (what a click may redirect to).
    pub links: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EmailBuildError {
    #[error("the channel configuration has no email settings")]
    NoEmailSettings,
    #[error("cannot build the email: {0}")]
    Build(#[from] BuildError),
    /// The configuration's key does not parse (it was checked when the
    /// configuration was created, so this means a changed key or parser).
    #[error("the DKIM key of channel configuration {configuration} is unusable: {reason}")]
    DkimKey {
        configuration: String,
        reason: String,
    },
    #[error("DKIM signing failed: {0}")]
    Sign(#[from] DkimError),
    #[error("cannot sign a tracking or unsubscribe token: {0}")]
    Token(#[from] TokenError),
}

type CachedSigner = Result<Option<Arc<DkimSigner>>, String>;

/// Builds and signs outgoing email. Share one per engine.
pub struct EmailBuilder {
    token_key: Option<TokenKey>,
    public_base_url: String,
    mailto_unsubscribe: bool,
    /// Configuration id → (updated_at, the signer for its From domain).
    signers: Mutex<HashMap<String, (DateTime<Utc>, CachedSigner)>>,
}

impl EmailBuilder {
    /// `token_key` signs the unsubscribe links (without it no
    /// List-Unsubscribe is added); `public_base_url` (e.g.
    /// `https://herald.example.com`) is where `/u/{token}` is served unless
    /// the configuration names a `trackingDomain`.
    pub fn new(token_key: Option<TokenKey>, public_base_url: impl Into<String>) -> EmailBuilder {
        EmailBuilder {
            token_key,
            public_base_url: public_base_url.into().trim_end_matches('/').to_owned(),
            mailto_unsubscribe: false,
            signers: Mutex::new(HashMap::new()),
        }
    }

    /// Also offer `<mailto:unsubscribe+{token}@{from-domain}>`. Off by
    /// default: only useful where that mailbox is actually read.
    pub fn with_mailto_unsubscribe(mut self, on: bool) -> EmailBuilder {
        self.mailto_unsubscribe = on;
        self
    }

    pub fn build(&self, input: &EmailInput<'_>) -> Result<BuiltEmail, EmailBuildError> {
        let settings = input
            .configuration
            .email
            .as_ref()
            .ok_or(EmailBuildError::NoEmailSettings)?;
        let domain = from_domain(settings);
        // Derived from the message id: the same on every retry.
        let header_message_id = format!("{}@{}", input.message_id, domain);
        let rendered = input.rendered;
        let mut text = if rendered.text.trim().is_empty() {
            rendered.html.as_deref().map(html_to_text)
        } else {
            Some(rendered.text.clone())
        };
        let mut html = rendered.html.clone();
        let base = self.base_url(settings);
        let mut links = Links::keeping(vec![format!("{base}/u/")]);
        match &self.token_key {
            Some(key) if input.tracking.clicks || input.tracking.opens => {
                let sign = |purpose, link| {
                    key.sign(&TokenClaims {
                        purpose,
                        message_id: input.message_id.to_owned(),
                        link,
                    })
                };
                if input.tracking.clicks {
                    // Signed up front: the rewrite callback cannot fail.
                    let tokens = (0..count_links(html.as_deref(), text.as_deref(), &base))
                        .map(|i| sign(TokenPurpose::Click, Some(i as u32)))
                        .collect::<Result<Vec<_>, _>>()?;
                    let url = |i: u32| {
                        format!(
                            "{base}/t/c/{}",
                            tokens.get(i as usize).map(String::as_str).unwrap_or("")
                        )
                    };
                    html = html.map(|h| rewrite_html(&h, &mut links, &url));
                    text = text.map(|t| rewrite_text(&t, &mut links, &url));
                }
                if input.tracking.opens {
                    let token = sign(TokenPurpose::Open, None)?;
                    html = html.map(|h| add_open_pixel(&h, &format!("{base}/t/o/{token}")));
                }
            }
            Some(_) => {}
            None if input.tracking.clicks || input.tracking.opens => {
                tracing::debug!(
                    message_id = input.message_id,
                    "no token key: tracking is off for this message"
                );
            }
            None => {}
        }

        let list_unsubscribe = match &self.token_key {
            Some(key) if input.marketing || settings.list_unsubscribe => {
                let token = key.sign(&TokenClaims {
                    purpose: TokenPurpose::Unsubscribe,
                    message_id: input.message_id.to_owned(),
                    link: None,
                })?;
                Some(ListUnsubscribe {
                    url: format!("{}/u/{token}", self.base_url(settings)),
                    mailto: self
                        .mailto_unsubscribe
                        .then(|| format!("unsubscribe+{token}@{domain}")),
                })
            }
            Some(_) | None => None,
        };
        if list_unsubscribe.is_none() && input.marketing {
            tracing::debug!(
                message_id = input.message_id,
                "no token key: marketing email without List-Unsubscribe"
            );
        }

        let email = OutgoingEmail {
            from_address: settings.from_address.clone(),
            from_name: settings.from_name.clone(),
            reply_to: settings.reply_to.clone(),
            to: input.to.to_owned(),
            subject: rendered.subject.clone(),
            preheader: rendered.preheader.clone(),
            html,
            text,
            message_id: header_message_id.clone(),
            date: input.date,
            extra_headers: vec![("X-Herald-Message-Id".into(), input.message_id.to_owned())],
            list_unsubscribe,
        };
        let raw = build_email(&email)?;
        let (raw, signed) = match self.signer(input.configuration)? {
            Some(signer) => (signer.sign(&raw)?, true),
            None => (raw, false),
        };
        Ok(BuiltEmail {
            raw,
            header_message_id,
            envelope_from: envelope_from(settings, input.message_id),
            signed,
            links: links.0,
        })
    }

    /// The `/u/{token}` link of a message (`List-Unsubscribe`, and the
    /// body's `{{unsubscribeUrl}}`); `None` without a token key.
    pub fn unsubscribe_url(
        &self,
        configuration: &ChannelConfiguration,
        message_id: &str,
    ) -> Option<String> {
        let key = self.token_key.as_ref()?;
        let token = key
            .sign(&TokenClaims {
                purpose: TokenPurpose::Unsubscribe,
                message_id: message_id.to_owned(),
                link: None,
            })
            .ok()?;
        let base = match configuration.email.as_ref() {
            Some(settings) => self.base_url(settings),
            None => self.public_base_url.clone(),
        };
        Some(format!("{base}/u/{token}"))
    }

    /// Click tracking of a plain text (an SMS): its links rewritten to
    /// `/t/c/{token}`, and the links by index. Without a token key the text
    /// is returned as it is.
    pub fn track_text_links(
        &self,
        configuration: &ChannelConfiguration,
        message_id: &str,
        text: &str,
    ) -> Result<(String, Vec<String>), EmailBuildError> {
        let Some(key) = &self.token_key else {
            return Ok((text.to_owned(), Vec::new()));
        };
        let base = match configuration.email.as_ref() {
            Some(settings) => self.base_url(settings),
            None => self.public_base_url.clone(),
        };
        let tokens = (0..count_links(None, Some(text), &base))
            .map(|i| {
                key.sign(&TokenClaims {
                    purpose: TokenPurpose::Click,
                    message_id: message_id.to_owned(),
                    link: Some(i as u32),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut links = Links::keeping(vec![format!("{base}/u/")]);
        let url = |i: u32| {
            format!(
                "{base}/t/c/{}",
                tokens.get(i as usize).map(String::as_str).unwrap_or("")
            )
        };
        let text = rewrite_text(text, &mut links, &url);
        Ok((text, links.0))
    }

    /// `https://{trackingDomain}` when the configuration has one.
    fn base_url(&self, settings: &EmailSettings) -> String {
        match settings.tracking_domain.as_deref().map(str::trim) {
            Some(d) if d.starts_with("https://") || d.starts_with("http://") => {
                d.trim_end_matches('/').to_owned()
            }
            Some(d) if !d.is_empty() => format!("https://{}", d.trim_end_matches('/')),
            _ => self.public_base_url.clone(),
        }
    }

    /// The cached signer for this configuration version, parsed on first use.
    fn signer(
        &self,
        configuration: &ChannelConfiguration,
    ) -> Result<Option<Arc<DkimSigner>>, EmailBuildError> {
        let cached = {
            let signers = self.signers.lock().unwrap_or_else(|e| e.into_inner());
            signers
                .get(&configuration.id)
                .filter(|(updated_at, _)| *updated_at == configuration.updated_at)
                .map(|(_, signer)| signer.clone())
        };
        let signer = match cached {
            Some(signer) => signer,
            None => {
                // Parsed outside the lock; two racing parses are harmless.
                let signer = parse_signer(configuration);
                self.signers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(
                        configuration.id.clone(),
                        (configuration.updated_at, signer.clone()),
                    );
                signer
            }
        };
        signer.map_err(|reason| EmailBuildError::DkimKey {
            configuration: configuration.id.clone(),
            reason,
        })
    }
}

/// A bounce names its message when it comes back to a VERP address.
fn envelope_from(settings: &EmailSettings, message_id: &str) -> String {
    match &settings.bounce_address {
        Some(b) => herald_domain::verp::verp_address(b, message_id),
        None => settings.from_address.clone(),
    }
}

fn from_domain(settings: &EmailSettings) -> &str {
    settings
        .from_address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("herald.local")
}

fn parse_signer(configuration: &ChannelConfiguration) -> CachedSigner {
    let Some(key) = configuration
        .email
        .as_ref()
        .and_then(EmailSettings::dkim_key_for_from)
    else {
        return Ok(None);
    };
    let algorithm = match key.algorithm {
        DkimKeyAlgorithm::RsaSha256 => DkimAlgorithm::RsaSha256,
        DkimKeyAlgorithm::Ed25519Sha256 => DkimAlgorithm::Ed25519Sha256,
    };
    DkimSigner::from_pem(&key.domain, &key.selector, algorithm, &key.private_key)
        .map(|s| Some(Arc::new(s)))
        .map_err(|e| e.to_string())
}

/// How many distinct links the HTML and text parts hold (the same count the
/// rewrite will assign indices to).
fn count_links(html: Option<&str>, text: Option<&str>, base: &str) -> usize {
    let mut links = Links::keeping(vec![format!("{base}/u/")]);
    if let Some(h) = html {
        let _ = rewrite_html(h, &mut links, &|_| String::new());
    }
    if let Some(t) = text {
        let _ = rewrite_text(t, &mut links, &|_| String::new());
    }
    links.0.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::channel::{Channel, ConfigurationCategory, DkimKey};

    fn configuration(dkim: Option<Vec<DkimKey>>, tracking: Option<&str>) -> ChannelConfiguration {
        ChannelConfiguration {
            id: "cfg1".into(),
            sandbox: "prod".into(),
            name: "news".into(),
            channel: Channel::Email,
            category: ConfigurationCategory::Marketing,
            email: Some(EmailSettings {
                from_address: "news@mail.example.com".into(),
                tracking_domain: tracking.map(str::to_owned),
                dkim,
                ..EmailSettings::default()
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
            subject: "Hi".into(),
            preheader: None,
            html: Some("<p>Hello</p>".into()),
            text: String::new(),
            ..RenderedEmail::default()
        }
    }

    #[test]
    fn tracking_domain_wins_over_the_public_url() {
        let b = EmailBuilder::new(None, "https://herald.example.com/");
        let cfg = configuration(None, Some("t.example.com"));
        assert_eq!(
            b.base_url(cfg.email.as_ref().expect("email")),
            "https://t.example.com"
        );
        let cfg = configuration(None, Some("http://localhost:8080/"));
        assert_eq!(
            b.base_url(cfg.email.as_ref().expect("email")),
            "http://localhost:8080"
        );
        let cfg = configuration(None, None);
        assert_eq!(
            b.base_url(cfg.email.as_ref().expect("email")),
            "https://herald.example.com"
        );
    }

    #[test]
    fn a_bounce_address_makes_mail_from_a_verp_address() {
        let b = EmailBuilder::new(None, "https://h.test");
        let r = rendered();
        let mut cfg = configuration(None, None);
        let input = |cfg: &ChannelConfiguration| {
            b.build(&EmailInput {
                configuration: cfg,
                message_id: "m1",
                rendered: &r,
                to: "jane@example.org",
                marketing: false,
                tracking: Default::default(),
                date: Utc::now(),
            })
            .expect("built")
        };
        assert_eq!(input(&cfg).envelope_from, "news@mail.example.com");
        cfg.email.as_mut().expect("email").bounce_address = Some("bounces@mail.example.com".into());
        let built = input(&cfg);
        assert_eq!(built.envelope_from, "bounces+m1@mail.example.com");
        assert!(
            String::from_utf8_lossy(&built.raw).contains("From: news@mail.example.com")
                || String::from_utf8_lossy(&built.raw).contains("<news@mail.example.com>"),
            "the From header stays the fromAddress"
        );
    }

    #[test]
    fn a_bad_key_is_an_error_and_cached_per_version() {
        let key = DkimKey {
            domain: "example.com".into(),
            selector: "s1".into(),
            algorithm: DkimKeyAlgorithm::Ed25519Sha256,
            private_key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(),
        };
        let mut cfg = configuration(Some(vec![key]), None);
        let b = EmailBuilder::new(None, "https://h.test");
        let r = rendered();
        fn input<'a>(cfg: &'a ChannelConfiguration, r: &'a RenderedEmail) -> EmailInput<'a> {
            EmailInput {
                configuration: cfg,
                message_id: "m1",
                rendered: r,
                to: "jane@example.org",
                marketing: false,
                tracking: Default::default(),
                date: Utc::now(),
            }
        }
        assert!(matches!(
            b.build(&input(&cfg, &r)),
            Err(EmailBuildError::DkimKey { .. })
        ));
        assert_eq!(b.signers.lock().expect("lock").len(), 1);
        // A new version without DKIM replaces the cached entry.
        cfg.email.as_mut().expect("email").dkim = None;
        cfg.updated_at += chrono::Duration::seconds(1);
        let built = b.build(&input(&cfg, &r)).expect("unsigned");
        assert!(!built.signed);
        assert_eq!(built.header_message_id, "m1@mail.example.com");
    }
}
