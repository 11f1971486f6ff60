//! SMS and push transports: the wire side of the SMS and push channels.
//!
//! Pure transport: a transport takes one rendered message and answers a
//! receipt or a classified [`ChannelError`]; it knows nothing of the store,
//! retries or the engine. Transports:
//!
//! - SMS ([`sms::SmsTransport`]): Twilio's Messages API, a generic JSON HTTP
//!   provider driven by a body template, and the JSON-lines outbox.
//! - Push ([`push::PushTransport`]): FCM HTTP v1 (service-account OAuth),
//!   APNs over HTTP/2 with token auth, and the JSON-lines outbox.
//!
//! [`settings`] builds them from the typed channel-configuration settings.

mod error;
mod http;
mod jwt;
pub mod outbox;
pub mod push;
pub mod settings;
pub mod sms;

pub use error::{ChannelError, ErrorClass};
pub use outbox::{PushOutbox, SmsOutbox};
pub use push::{PushMessage, PushPlatform, PushReceipt, PushTransport};
pub use sms::{SmsMessage, SmsReceipt, SmsTransport};
