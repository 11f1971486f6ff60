//! Audience executions: a marketing campaign fired at an audience.
//!
//! [`start`] checks the campaign and stores the execution with its fan-out
//! state (the HTTP handler and the scheduler both use it). A [`Runner`] then
//! walks the audience in batches: it reads a page of candidates, evaluates
//! the rule, applies the exclusion policy (consent, address, suppression,
//! locale; frequency caps inside the store's transaction) and appends the
//! batch's messages together with the checkpoint. A crash loses at most the
//! batch in flight, which is done again on restart; the store's unique
//! (execution, profile) index makes that replay harmless.

mod plan;
mod runner;
mod scheduler;
mod start;
mod suppress;

pub use runner::{Runner, RunnerOptions};
pub use scheduler::run_scheduler;
pub use start::{StartError, StartRequest, check, response, start};
