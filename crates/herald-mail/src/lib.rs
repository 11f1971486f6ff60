//! Email wire format and transports for Herald.
//!
//! - [`message`]: turns an [`OutgoingEmail`] into RFC 5322 bytes (MIME via
//!   `mail-builder`), with header-injection-safe handling of data-driven values.
//! - [`transport`]: the [`MailTransport`] trait and its two implementations,
//!   SMTP (mail-send, pooled) and a Maildir outbox.

pub mod message;
pub mod transport;

pub use message::{BuildError, OutgoingEmail, build_email, html_to_text};
pub use transport::{
    ConfigError, Delivered, FailureClass, MailTransport, MaildirTransport, SendError, SmtpTransport,
};
