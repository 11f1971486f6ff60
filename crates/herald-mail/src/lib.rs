//! Email wire format and transports for Herald.
//!
//! - [`message`]: turns an [`OutgoingEmail`] into RFC 5322 bytes (MIME via
//!   `mail-builder`), with header-injection-safe handling of data-driven values.
//! - [`dkim`]: DKIM signatures (RSA-SHA256, Ed25519-SHA256) over built
//!   messages.
//! - [`transport`]: the [`MailTransport`] trait and its two implementations,
//!   SMTP (mail-send, pooled) and a Maildir outbox.

pub mod dkim;
pub mod message;
pub mod tracking;
pub mod transport;

pub use dkim::{DkimAlgorithm, DkimError, DkimSigner, select_signer};
pub use message::{BuildError, ListUnsubscribe, OutgoingEmail, build_email, html_to_text};
pub use transport::{
    ConfigError, Delivered, FailureClass, MailTransport, MaildirTransport, SendError, SmtpTransport,
};
