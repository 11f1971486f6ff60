//! Herald's domain model. Everything here is plain data and pure functions:
//! no I/O, no async, no storage or HTTP types. The store persists these
//! types; the server validates requests into them.

pub mod campaign;
pub mod channel;
pub mod content;
pub mod error;
pub mod execution;
pub mod fragment;
pub mod ids;
pub mod json;
pub mod language;
pub mod message;
pub mod profile;
pub mod review;
pub mod sandbox;
// --- profiles and identity namespaces
pub mod identity;
pub mod import;

pub use error::FieldError;
