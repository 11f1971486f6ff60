//! The engine's operator metrics (the table in README, "Operations: metrics"):
//! transport call time, provider replies by class, messages by final status, and the
//! accept → sent latency.

use std::cell::Cell;
use std::future::Future;
use std::time::Instant;

use chrono::{DateTime, Utc};
use herald_domain::channel::Channel;
use herald_domain::message::Deliverable;
use herald_store::OutcomeKind;

tokio::task_local! {
    /// Set once the attempt reached its transport: only then is its reply a provider's
    /// (a content or settings fault found before the call is not).
    static CALLED: Cell<bool>;
}

/// Runs one attempt (its send and `conclude`) with the "transport called" flag.
pub(crate) async fn attempt<T>(f: impl Future<Output = T>) -> T {
    CALLED.scope(Cell::new(false), f).await
}

/// One transport call, timed into `herald_send_duration_seconds{channel}`.
pub(crate) async fn send<T>(channel: Channel, f: impl Future<Output = T>) -> T {
    let _ = CALLED.try_with(|c| c.set(true));
    let started = Instant::now();
    let out = f.await;
    metrics::histogram!("herald_send_duration_seconds", "channel" => channel.as_str())
        .record(started.elapsed().as_secs_f64());
    out
}

/// The class the engine gave a provider's reply (after reply overrides):
/// `herald_provider_replies_total{channel, class}`; nothing when no transport was called.
pub(crate) fn reply(channel: Channel, class: &'static str) {
    if CALLED.try_with(Cell::get).unwrap_or(false) {
        metrics::counter!("herald_provider_replies_total", "channel" => channel.as_str(), "class" => class)
            .increment(1);
    }
}

/// A message reaching a final status: `herald_messages_total{channel, status}`, and for a
/// sent one `herald_message_latency_seconds{channel, lane}` from its acceptance.
pub(crate) fn outcome(m: &Deliverable, kind: &OutcomeKind, now: DateTime<Utc>) {
    let status = match kind {
        OutcomeKind::Sent { .. } => "sent",
        OutcomeKind::Failed { .. } => "failed",
        OutcomeKind::Unknown { .. } => "unknown",
        OutcomeKind::Bounced { .. } => "bounced",
        OutcomeKind::Excluded { .. } => "excluded",
        // Still queued: counted when it ends.
        OutcomeKind::Retry { .. } | OutcomeKind::Deferred { .. } => return,
    };
    metrics::counter!("herald_messages_total", "channel" => m.channel.as_str(), "status" => status)
        .increment(1);
    if status == "sent" {
        let seconds = (now - m.created_at).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::histogram!("herald_message_latency_seconds", "channel" => m.channel.as_str(), "lane" => lane(m.priority))
            .record(seconds);
    }
}

/// A lane's label from a message's priority.
pub fn lane(priority: i64) -> &'static str {
    match priority {
        0 => "transactional",
        _ => "marketing",
    }
}
