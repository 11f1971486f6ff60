//! Sandboxes (tenants). Every tenant-owned record carries one.

/// The sandbox used when a request names none (`x-sandbox-name`).
pub const DEFAULT_SANDBOX: &str = "prod";

/// Sandbox names follow the reference: lower-case letters, digits, `-` and `_`.
pub fn is_valid_sandbox_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
