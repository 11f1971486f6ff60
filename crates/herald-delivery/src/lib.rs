//! Herald's delivery engine.
//!
//! A worker claims due messages from the store under a lease, renders them
//! from the compiled campaign version, sends them through the channel's
//! transport and records the outcome. Outcomes are batched into the store's
//! group commit. A worker that dies loses its lease and another claims the
//! message again.

pub mod channels;
pub mod clock;
mod content_cache;
pub mod email;
mod engine;
mod gates;
pub mod limits;
mod retry;
pub mod telemetry;

pub use channels::Channels;
pub use clock::{Clock, ManualClock, SystemClock};
pub use email::{BuiltEmail, EmailBuildError, EmailBuilder, EmailInput};
pub use engine::{DeliveryEngine, EngineConfig, EngineHandle, is_hard_bounce};
pub use retry::RetryPolicy;
