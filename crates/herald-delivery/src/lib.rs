//! Herald's delivery engine.
//!
//! A worker claims due messages from the store under a lease, renders them
//! from the compiled campaign version, sends them through the channel's
//! transport and records the outcome. Outcomes are batched into the store's
//! group commit. A worker that dies loses its lease and another claims the
//! message again.

pub mod clock;
mod content_cache;
mod engine;
mod gates;
pub mod limits;
mod retry;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{DeliveryEngine, EngineConfig, EngineHandle, is_hard_bounce};
pub use retry::RetryPolicy;
