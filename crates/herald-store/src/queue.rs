//! The delivery queue as operators' gauges see it.

/// One lane's queue. `priority` is the messages' lane: 0 transactional, 1 marketing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LaneDepth {
    pub priority: i64,
    /// Messages waiting for a send (`queued`), due or not.
    pub queued: u64,
    /// Of those, the ones whose next attempt is due now: the backlog the engine is behind
    /// on (the rest wait for a retry, a throttle slot or quiet hours to end).
    pub due: u64,
    /// Messages leased to a worker (`sending`).
    pub sending: u64,
}
