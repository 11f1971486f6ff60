//! Herald's domain model. Everything here is plain data and pure functions:
//! no I/O, no async, no storage or HTTP types. The store persists these
//! types; the server validates requests into them.

pub mod audience;
pub mod audience_execution;
pub mod campaign;
pub mod channel;
pub mod content;
pub mod delivery_settings;
pub mod error;
pub mod execution;
pub mod fragment;
pub mod ids;
pub mod json;
pub mod language;
pub mod message;
pub mod policy;
pub mod profile;
pub mod review;
pub mod sandbox;
// --- SMS and push channel settings
pub mod push_settings;
mod settings_reader;
pub mod sms_encoding;
pub mod sms_settings;
// --- suppressions and business rules
pub mod business_rule;
pub mod suppression;
// --- profiles and identity namespaces
pub mod identity;
pub mod import;
// --- signed tracking and unsubscribe tokens
pub mod token;
// --- engagement tracking and reports
pub mod engagement;
pub mod report;

pub use error::FieldError;
// --- feedback webhooks
pub mod webhook;
// --- bounces and complaints received later (DSN, ARF, providers' webhooks)
pub mod feedback;
pub mod verp;
