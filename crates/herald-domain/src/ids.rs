//! Identifiers. UUIDv7 strings: unique without coordination between nodes,
//! and ordered by creation time so that keyset pagination follows age.

/// A new time-ordered identifier.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
